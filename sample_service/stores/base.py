"""The contract every durable item store (DynamoDB now; Cosmos DB, Firestore later) implements."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Protocol

log = logging.getLogger("sample_service.stores")


@dataclass(frozen=True)
class Item:
    item_id: str
    data: dict[str, Any]
    # Epoch seconds after which the item no longer exists, or None to keep it.
    expires_at: int | None = None


class StoreUnavailable(Exception):
    """The store failed or did not answer within STORE_TIMEOUT_MS."""


def unavailable(operation: str, exc: BaseException) -> StoreUnavailable:
    """Log a failed store call once, as every backend does, and give the error the routes answer 503 for."""
    log.warning("store call failed", extra={"fields": {"operation": operation, "error": repr(exc)}})
    return StoreUnavailable(operation)


class ItemTooLarge(Exception):
    """The item is valid JSON within MAX_BODY_BYTES but exceeds the store's own item size limit."""


class ItemStore(Protocol):
    """Implementations bound every call by STORE_TIMEOUT_MS and report any failure as StoreUnavailable,
    so a slow or broken store costs a request at most that long and never crashes it."""

    async def get(self, item_id: str) -> Item | None:
        """The item, or None if it does not exist or has expired (TTL deletion is lazy in every backend)."""
        ...

    async def put(self, item: Item) -> None:
        """Create or replace the item; raises ItemTooLarge if the backend cannot hold it."""
        ...

    async def ping(self) -> None:
        """Prove the store answers a read for this service's credentials; used by /ready."""
        ...

    async def close(self) -> None: ...
