"""Items in Firestore (native mode), laid out as sample_service/firestore_layout.py says: document id =
item id, the item as compact JSON in a string field, its expiry as a timestamp in the TTL policy's field."""

from __future__ import annotations

import asyncio
import datetime
import json
from collections.abc import Awaitable
from typing import Any, TypeVar

from google.api_core import exceptions as api_exceptions
from google.api_core import retry_async
from google.auth import exceptions as auth_exceptions
from google.cloud.firestore_v1.async_client import AsyncClient

from sample_service.firestore_layout import COLLECTION, DATA_FIELD, TTL_FIELD
from sample_service.stores.base import Item, ItemTooLarge, unavailable

T = TypeVar("T")

# Firestore's hard limit on a document, counted by its storage-size rules (see _document_size).
MAX_DOCUMENT_BYTES = 1024 * 1024
# Never a valid item id (those start with a letter or digit), so the probe cannot collide with data.
READINESS_PROBE_KEY = "#readiness-probe"
_TIMESTAMP_BYTES = 8
_DOCUMENT_OVERHEAD = 32
_NAME_OVERHEAD = 16
# Transient failures worth one quick retry within the call's deadline (a dropped channel, a failover).
_RETRYABLE = (api_exceptions.ServiceUnavailable, api_exceptions.InternalServerError, api_exceptions.Aborted)


def _string_size(value: str) -> int:
    return len(value.encode()) + 1


def _document_size(item_id: str, data_json: str, expires_at: int | None) -> int:
    """Firestore's storage size: the document name, each field name and value, and 32 bytes."""
    name = _string_size(COLLECTION) + _string_size(item_id) + _NAME_OVERHEAD
    fields = _string_size(DATA_FIELD) + _string_size(data_json)
    if expires_at is not None:
        fields += _string_size(TTL_FIELD) + _TIMESTAMP_BYTES
    return name + fields + _DOCUMENT_OVERHEAD


class FirestoreItemStore:
    def __init__(
        self, *, project: str, database: str, timeout: float, client: AsyncClient | None = None
    ) -> None:
        self._timeout = timeout
        # Credentials come from the instance's service account; FIRESTORE_EMULATOR_HOST (tests, local
        # development) makes the library talk plain gRPC to that host instead.
        self._client = client or AsyncClient(project=project, database=database)
        self._collection = self._client.collection(COLLECTION)
        self._retry = retry_async.AsyncRetry(
            predicate=retry_async.if_exception_type(*_RETRYABLE), initial=0.01, maximum=0.05, timeout=timeout
        )

    async def _call(self, operation: str, awaitable: Awaitable[T]) -> T:
        # The per-RPC timeout and retry deadline bound each attempt; this bounds the whole call.
        try:
            async with asyncio.timeout(self._timeout):
                return await awaitable
        except (api_exceptions.GoogleAPIError, auth_exceptions.GoogleAuthError, TimeoutError) as exc:
            raise unavailable(operation, exc) from exc

    async def get(self, item_id: str) -> Item | None:
        # Firestore reads are strongly consistent: a client's next request may land on any instance.
        snapshot = await self._call(
            "get", self._collection.document(item_id).get(retry=self._retry, timeout=self._timeout)
        )
        if not snapshot.exists:
            return None
        fields: dict[str, Any] = snapshot.to_dict() or {}
        stamp = fields.get(TTL_FIELD)
        expires_at = int(stamp.timestamp()) if isinstance(stamp, datetime.datetime) else None
        # The TTL policy deletes expired documents only eventually (typically within a day): filter here.
        if expires_at is not None and expires_at <= datetime.datetime.now(datetime.UTC).timestamp():
            return None
        return Item(item_id=item_id, data=json.loads(fields[DATA_FIELD]), expires_at=expires_at)

    async def put(self, item: Item) -> None:
        data_json = json.dumps(item.data, separators=(",", ":"), ensure_ascii=False)
        if _document_size(item.item_id, data_json, item.expires_at) > MAX_DOCUMENT_BYTES:
            raise ItemTooLarge(f"item exceeds the store's limit of {MAX_DOCUMENT_BYTES} bytes")
        fields: dict[str, Any] = {DATA_FIELD: data_json}
        if item.expires_at is not None:
            fields[TTL_FIELD] = datetime.datetime.fromtimestamp(item.expires_at, datetime.UTC)
        # set() replaces the whole document, so an item stored without a TTL loses any earlier one.
        await self._call(
            "put",
            self._collection.document(item.item_id).set(fields, retry=self._retry, timeout=self._timeout),
        )

    async def ping(self) -> None:
        # A real data-plane read: proves reachability and this account's read permission.
        await self._call(
            "ping",
            self._collection.document(READINESS_PROBE_KEY).get(
                field_paths=[DATA_FIELD], retry=self._retry, timeout=self._timeout
            ),
        )

    async def close(self) -> None:
        self._client.close()
