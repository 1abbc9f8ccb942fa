"""The Cosmos DB item store: the real azure-cosmos async client against a local fake of the Cosmos DB REST API
(tests/service/fake_cosmos.py). Proves the requests the client makes (Entra ID token, partition key = id,
upserts), the document and TTL it writes, and the store's contract: misses, expiry, size limit, timeouts
and outages. It cannot prove the real service's behaviour beyond what the fake reproduces."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest
from azure.core.credentials import AccessToken
from fake_cosmos import CONTAINER, DATABASE, FakeCosmos

from sample_service.config import ServiceConfig
from sample_service.entra_id import SharedToken
from sample_service.stores import build_item_store
from sample_service.stores.base import Item, ItemTooLarge, StoreUnavailable
from sample_service.stores.cosmos import MAX_ITEM_BYTES, READINESS_PROBE_KEY, CosmosItemStore

TIMEOUT = 0.5
# For a scenario whose point is not the timeout: a 4 MiB upload over TLS once took over 0.5 s under load.
UNHURRIED = 30.0


class StaticToken:
    """Stands in for the managed identity credential (no metadata service here)."""

    def __init__(self, token: str = "entra-token") -> None:
        self.token = token
        self.closed = False

    async def get_token(self, *scopes: str, **kwargs) -> AccessToken:
        return AccessToken(self.token, int(time.time()) + 3600)

    async def close(self) -> None:
        self.closed = True


@pytest.fixture(scope="module")
def cosmos(tmp_path_factory) -> Iterator[FakeCosmos]:
    fake = FakeCosmos(tmp_path_factory.mktemp("cosmos"))
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def fake(cosmos: FakeCosmos) -> FakeCosmos:
    cosmos.documents.clear()
    cosmos.requests.clear()
    cosmos.mode = "serve"
    return cosmos


def run(fake: FakeCosmos, scenario, credential: StaticToken | None = None, timeout: float = TIMEOUT):
    """Run `scenario(store)` with a fresh store, as one request handler would, and close the store after."""

    async def main():
        store = CosmosItemStore(
            endpoint=fake.endpoint,
            database=DATABASE,
            container=CONTAINER,
            # Wrapped as build_item_store wraps the managed identity credential.
            credential=SharedToken(credential or StaticToken()),
            timeout=timeout,
            connection_verify=False,  # the fake's certificate is self-signed
        )
        try:
            return await scenario(store)
        finally:
            await store.close()

    return asyncio.run(main())


def test_round_trip_writes_one_document_per_item_with_cosmos_ttl(fake):
    expires_at = int(time.time()) + 600
    item = Item("order-1", {"total": 12.5, "lines": [{"sku": "a"}]}, expires_at)

    async def scenario(store):
        await store.put(item)
        return await store.get("order-1")

    assert run(fake, scenario) == item
    document = fake.documents["order-1"]
    assert {k: document[k] for k in ("id", "data", "expires_at")} == {
        "id": "order-1",
        "data": item.data,
        "expires_at": expires_at,
    }
    assert 595 <= document["ttl"] <= 600


def test_items_without_expiry_carry_no_ttl(fake):
    async def scenario(store):
        await store.put(Item("kept", {"a": 1}))
        return await store.get("kept")

    assert run(fake, scenario) == Item("kept", {"a": 1}, None)
    assert "ttl" not in fake.documents["kept"]


def test_missing_and_expired_items_are_none(fake):
    fake.documents["stale"] = {
        "id": "stale",
        "data": {},
        "expires_at": int(time.time()) - 1,
        "_ts": int(time.time()),
    }

    async def scenario(store):
        return await store.get("absent"), await store.get("stale")

    assert run(fake, scenario) == (None, None)


def test_requests_use_an_entra_id_token_and_the_id_as_partition_key(fake):
    async def scenario(store):
        await store.put(Item("p-1", {}))
        await store.get("p-1")

    run(fake, scenario, StaticToken("the-token"))
    data_calls = [(method, path, headers) for method, path, headers in fake.requests if "/docs" in path]
    assert [(method, path) for method, path, _ in data_calls] == [
        ("POST", f"dbs/{DATABASE}/colls/{CONTAINER}/docs"),
        ("GET", f"dbs/{DATABASE}/colls/{CONTAINER}/docs/p-1"),
    ]
    for _, _, headers in data_calls:
        assert headers["Authorization"] == "type=aad&ver=1.0&sig=the-token"
        assert headers["x-ms-documentdb-partitionkey"] == '["p-1"]'
    assert data_calls[0][2]["x-ms-documentdb-is-upsert"] == "True"


def test_too_large_items_are_refused_before_any_request(fake):
    huge = Item("big", {"blob": "x" * MAX_ITEM_BYTES})

    async def scenario(store):
        with pytest.raises(ItemTooLarge):
            await store.put(huge)

    run(fake, scenario)
    assert not [path for _, path, _ in fake.requests if "/docs" in path]


def test_the_services_own_size_refusal_is_item_too_large(fake, monkeypatch):
    monkeypatch.setattr("sample_service.stores.cosmos.document_size", lambda document: 0)

    async def scenario(store):
        with pytest.raises(ItemTooLarge):
            await store.put(Item("big", {"blob": "x" * (2 * MAX_ITEM_BYTES)}))

    run(fake, scenario, timeout=UNHURRIED)


@pytest.mark.parametrize("mode", ["error", "stall"])
def test_outages_and_stalls_are_store_unavailable_within_the_timeout(fake, mode):
    fake.mode = mode

    async def scenario(store):
        for call in (store.get("x"), store.put(Item("x", {})), store.ping()):
            started = time.monotonic()
            with pytest.raises(StoreUnavailable):
                await call
            assert time.monotonic() - started < TIMEOUT + 1.0

    run(fake, scenario)


def test_ping_reads_the_probe_key_and_a_miss_is_healthy(fake):
    async def scenario(store):
        await store.ping()

    run(fake, scenario)
    assert [path for _, path, _ in fake.requests if "/docs" in path] == [
        f"dbs/{DATABASE}/colls/{CONTAINER}/docs/{READINESS_PROBE_KEY}"
    ]


def test_a_rejected_token_is_store_unavailable(fake):
    class NoToken(StaticToken):
        async def get_token(self, *scopes, **kwargs):
            return AccessToken("", int(time.time()) + 3600)

    async def scenario(store):
        with pytest.raises(StoreUnavailable):
            await store.get("x")

    run(fake, scenario, NoToken())
    assert fake.requests, "the client never called the fake"


def test_close_closes_the_credential(fake):
    credential = StaticToken()

    async def scenario(store):
        await store.ping()

    run(fake, scenario, credential)
    assert credential.closed


def test_store_backend_cosmos_builds_this_store_without_any_request():
    config = ServiceConfig.from_env(
        {
            "CACHE_HOST": "cache.internal",
            "STORE_BACKEND": "cosmos",
            "COSMOS_ENDPOINT": "https://items.documents.azure.com:443/",
            "COSMOS_DATABASE": "service",
            "COSMOS_CONTAINER": "items",
            "AZURE_CLIENT_ID": "8f2a1c3e-0b6d-4e7a-9c1f-2d3e4f5a6b7c",
        }
    )
    store = build_item_store(config)
    assert isinstance(store, CosmosItemStore)
    asyncio.run(store.close())
