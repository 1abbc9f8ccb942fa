"""create_app with injected stores, in process: the ItemStore contract is all the routes need, and a
bug in a store becomes a JSON 500 rather than a dropped connection."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiohttp.test_utils import TestClient, TestServer

from sample_service.app import create_app
from sample_service.config import ServiceConfig
from sample_service.stores import Item, StoreUnavailable

CONFIG = ServiceConfig.from_env(
    {
        "CACHE_HOST": "127.0.0.1",
        "STORE_BACKEND": "dynamodb",
        "ITEMS_TABLE": "items",
        "AWS_REGION": "us-east-1",
    }
)


class MemoryItems:
    """The smallest ItemStore: what a Cosmos DB or Firestore store has to provide."""

    def __init__(self, fail_with: Exception | None = None) -> None:
        self.items: dict[str, Item] = {}
        self.fail_with = fail_with
        self.closed = False

    async def get(self, item_id: str) -> Item | None:
        if self.fail_with:
            raise self.fail_with
        return self.items.get(item_id)

    async def put(self, item: Item) -> None:
        if self.fail_with:
            raise self.fail_with
        self.items[item.item_id] = item

    async def ping(self) -> None:
        if self.fail_with:
            raise self.fail_with

    async def close(self) -> None:
        self.closed = True


class NoSessions:
    closed = False

    async def ping(self) -> None:
        pass

    async def close(self) -> None:
        self.closed = True


def run(items: MemoryItems, sessions: NoSessions, scenario: Callable[[TestClient], Awaitable[None]]) -> None:
    async def main() -> None:
        app = create_app(CONFIG, sessions=sessions, items=items)  # type: ignore[arg-type]
        async with TestClient(TestServer(app, host="127.0.0.1")) as client:
            await scenario(client)

    asyncio.run(main())


def test_routes_use_only_the_item_store_contract() -> None:
    items, sessions = MemoryItems(), NoSessions()

    async def scenario(client: TestClient) -> None:
        put = await client.put("/items/a1", json={"x": 1, "ttl_seconds": 60})
        assert put.status == 200
        assert items.items["a1"].data == {"x": 1}
        assert items.items["a1"].expires_at is not None
        got = await client.get("/items/a1")
        assert (await got.json())["data"] == {"x": 1}
        assert (await client.get("/ready")).status == 200

    run(items, sessions, scenario)
    assert items.closed and sessions.closed  # the app owns injected stores and closes them on cleanup


def test_store_unavailable_is_503_and_unexpected_store_error_is_json_500() -> None:
    async def unavailable(client: TestClient) -> None:
        response = await client.get("/items/a1")
        assert (response.status, await response.json()) == (503, {"error": "item store unavailable"})
        ready = await client.get("/ready")
        assert (await ready.json())["checks"] == {"cache": "ok", "store": "unavailable"}

    run(MemoryItems(fail_with=StoreUnavailable("get")), NoSessions(), unavailable)

    async def broken(client: TestClient) -> None:
        response = await client.get("/items/a1")
        assert (response.status, await response.json()) == (500, {"error": "internal error"})
        ready = await client.get("/ready")
        assert (ready.status, (await ready.json())["checks"]["store"]) == (503, "unavailable")
        assert (await client.get("/health")).status == 200

    run(MemoryItems(fail_with=KeyError("bug")), NoSessions(), broken)
