"""Items in Cosmos DB for NoSQL: one document per item, {"id", "data", "expires_at"} plus Cosmos DB's own
"ttl" so expired items are also deleted by the service, not only hidden by get()."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable
from typing import Any, TypeVar

from azure.core.exceptions import AzureError
from azure.cosmos import exceptions
from azure.cosmos.aio import CosmosClient

from sample_service.cosmos_layout import TTL_FIELD
from sample_service.stores.base import Item, ItemTooLarge, unavailable

T = TypeVar("T")

DATA_FIELD = "data"
EXPIRES_FIELD = "expires_at"
# Cosmos DB's limit on a stored document, system properties (_rid, _etag, _ts ...) included.
MAX_ITEM_BYTES = 2 * 1024 * 1024
_SYSTEM_PROPERTIES_BYTES = 256
# Never a valid item id (those start with a letter or digit), so the probe cannot collide with data.
# ("#", the DynamoDB store's marker, is one of the characters Cosmos DB forbids in ids.)
READINESS_PROBE_KEY = "_readiness-probe"


def document_size(document: dict[str, Any]) -> int:
    return (
        len(json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode())
        + _SYSTEM_PROPERTIES_BYTES
    )


class CosmosItemStore:
    def __init__(
        self,
        *,
        endpoint: str,
        database: str,
        container: str,
        credential: Any,
        timeout: float,
        **client_options: Any,
    ) -> None:
        self._timeout = timeout
        self._credential = credential
        self._client = CosmosClient(
            endpoint,
            credential=credential,
            # Per-request socket timeouts; the asyncio timeout in _call caps the whole call, retries included.
            connection_timeout=timeout,
            read_timeout=timeout,
            # One retry covers a pooled connection the far end dropped; throttled calls retry within the cap.
            retry_total=1,
            **client_options,
        )
        self._container = self._client.get_database_client(database).get_container_client(container)

    async def _call(self, operation: str, awaitable: Awaitable[T], *, missing: T | None = None) -> T | None:
        """Bounded by STORE_TIMEOUT_MS; a missing document is `missing`, other failures StoreUnavailable."""
        try:
            async with asyncio.timeout(self._timeout):
                return await awaitable
        except exceptions.CosmosResourceNotFoundError:
            return missing
        except exceptions.CosmosHttpResponseError as exc:
            if exc.status_code == 413:
                raise ItemTooLarge(f"item exceeds the store's limit of {MAX_ITEM_BYTES} bytes") from exc
            self._unavailable(operation, exc)
        except (AzureError, OSError, TimeoutError) as exc:
            self._unavailable(operation, exc)

    def _unavailable(self, operation: str, exc: BaseException) -> None:
        raise unavailable(operation, exc) from exc

    async def _read(self, operation: str, item_id: str) -> dict[str, Any] | None:
        return await self._call(operation, self._container.read_item(item=item_id, partition_key=item_id))

    async def get(self, item_id: str) -> Item | None:
        # The account's Strong consistency makes this read see any instance's last write.
        document = await self._read("get", item_id)
        if document is None:
            return None
        expires_at = document.get(EXPIRES_FIELD)
        # Cosmos DB hides and deletes expired documents in the background; filter exactly here as well.
        if expires_at is not None and expires_at <= time.time():
            return None
        return Item(item_id=item_id, data=document[DATA_FIELD], expires_at=expires_at)

    async def put(self, item: Item) -> None:
        document: dict[str, Any] = {"id": item.item_id, DATA_FIELD: item.data, EXPIRES_FIELD: item.expires_at}
        if item.expires_at is not None:
            # Cosmos DB's TTL counts seconds from the write; at least 1, or an item expiring now never would.
            document[TTL_FIELD] = max(1, item.expires_at - int(time.time()))
        if document_size(document) > MAX_ITEM_BYTES:
            raise ItemTooLarge(f"item exceeds the store's limit of {MAX_ITEM_BYTES} bytes")
        await self._call("put", self._container.upsert_item(document, no_response=True))

    async def ping(self) -> None:
        # A real data-plane read: proves reachability and the identity's data role; a miss costs 1 RU.
        await self._read("ping", READINESS_PROBE_KEY)

    async def close(self) -> None:
        try:
            await self._client.close()
        finally:
            close = getattr(self._credential, "close", None)
            if close is not None:
                await close()
