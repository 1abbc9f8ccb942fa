"""The Firestore item store through the real client library against a local fake endpoint (firestore_fake):
the documents it writes match the TTL policy the GCP program creates, and its failure semantics match
the DynamoDB store's (timeouts and errors become StoreUnavailable, oversized items ItemTooLarge)."""

from __future__ import annotations

import asyncio
import datetime
import time
from collections.abc import Awaitable, Callable, Iterator

import grpc
import pytest
from firestore_fake import FakeFirestore

from sample_service.config import ServiceConfig
from sample_service.stores import Item, ItemTooLarge, StoreUnavailable, build_item_store
from sample_service.stores.firestore import (
    COLLECTION,
    DATA_FIELD,
    MAX_DOCUMENT_BYTES,
    READINESS_PROBE_KEY,
    TTL_FIELD,
    FirestoreItemStore,
)

PROJECT = "refarch-test-1"
DATABASE = "dev-items"
# Roomy for the calls that must succeed (a fresh gRPC channel on a busy CI machine), short for the test
# that a stalled store is given up on; either way the bound asserted is what the service promises.
TIMEOUT_MS = 3000
SHORT_TIMEOUT_MS = 300


@pytest.fixture
def fake(monkeypatch) -> Iterator[FakeFirestore]:
    fake = FakeFirestore()
    server, port = fake.serve()
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", f"127.0.0.1:{port}")
    yield fake
    server.stop(grace=None)


def run(scenario: Callable[[FirestoreItemStore], Awaitable[None]], timeout_ms: int = TIMEOUT_MS) -> None:
    config = ServiceConfig.from_env(
        {
            "CACHE_HOST": "127.0.0.1",
            "STORE_BACKEND": "firestore",
            "GOOGLE_CLOUD_PROJECT": PROJECT,
            "FIRESTORE_DATABASE": DATABASE,
            "STORE_TIMEOUT_MS": str(timeout_ms),
        }
    )

    # Built outside the event loop, as create_app builds it before the service's loop starts.
    store = build_item_store(config)
    assert isinstance(store, FirestoreItemStore)

    async def main() -> None:
        try:
            await scenario(store)
        finally:
            await store.close()

    asyncio.run(main())


def _path(item_id: str) -> str:
    return f"projects/{PROJECT}/databases/{DATABASE}/documents/{COLLECTION}/{item_id}"


def test_put_then_get_round_trips_through_this_database_and_collection(fake) -> None:
    async def scenario(store: FirestoreItemStore) -> None:
        await store.put(Item("a1", {"name": "café", "n": [1, 2.5, None]}))
        assert await store.get("a1") == Item("a1", {"name": "café", "n": [1, 2.5, None]}, None)
        assert await store.get("missing") is None

    run(scenario)
    stored = fake.documents[_path("a1")]
    assert set(stored.fields) == {DATA_FIELD}
    assert stored.fields[DATA_FIELD].string_value == '{"name":"café","n":[1,2.5,null]}'


def test_expiry_is_a_timestamp_in_the_ttl_field_and_expired_items_are_gone(fake) -> None:
    later, earlier = int(time.time()) + 600, int(time.time()) - 1

    async def scenario(store: FirestoreItemStore) -> None:
        await store.put(Item("fresh", {"x": 1}, expires_at=later))
        await store.put(Item("stale", {"x": 2}, expires_at=earlier))
        assert await store.get("fresh") == Item("fresh", {"x": 1}, later)
        # The TTL policy deletes late; the store must not serve what has expired.
        assert await store.get("stale") is None
        # Replacing an item without a TTL drops the old expiry, as DynamoDB's put does.
        await store.put(Item("fresh", {"x": 3}))
        assert await store.get("fresh") == Item("fresh", {"x": 3}, None)

    run(scenario)
    stamp = fake.documents[_path("stale")].fields[TTL_FIELD].timestamp_value
    assert datetime.datetime.fromtimestamp(
        stamp.timestamp(), datetime.UTC
    ) == datetime.datetime.fromtimestamp(earlier, datetime.UTC)


def test_items_beyond_firestores_document_limit_are_refused_before_any_call(fake) -> None:
    async def scenario(store: FirestoreItemStore) -> None:
        with pytest.raises(ItemTooLarge, match=str(MAX_DOCUMENT_BYTES)):
            await store.put(Item("big", {"blob": "x" * MAX_DOCUMENT_BYTES}))
        # Just under the limit is accepted (the fake does not check sizes; this checks our arithmetic).
        await store.put(Item("fits", {"blob": "x" * (MAX_DOCUMENT_BYTES - 200)}))

    run(scenario)
    assert [name for name, _ in fake.requests] == ["Commit"]


def test_ping_reads_the_probe_document_only(fake) -> None:
    async def scenario(store: FirestoreItemStore) -> None:
        await store.ping()

    run(scenario)
    [(name, request)] = fake.requests
    assert name == "BatchGetDocuments" and list(request.documents) == [_path(READINESS_PROBE_KEY)]
    assert list(request.mask.field_paths) == [DATA_FIELD]


def test_a_store_slower_than_the_timeout_is_unavailable_within_the_timeout(fake) -> None:
    fake.delay_seconds = 5.0

    async def scenario(store: FirestoreItemStore) -> None:
        for call in (store.get("a1"), store.put(Item("a1", {})), store.ping()):
            started = time.monotonic()
            with pytest.raises(StoreUnavailable):
                await call
            # Given up on at the timeout, long before the stalled store would answer.
            assert time.monotonic() - started < SHORT_TIMEOUT_MS / 1000 + 1.0

    run(scenario, SHORT_TIMEOUT_MS)


@pytest.mark.parametrize("code", [grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.RESOURCE_EXHAUSTED])
def test_errors_from_the_store_become_store_unavailable(fake, code) -> None:
    fake.fail_with, fake.failures_left = code, 100

    async def scenario(store: FirestoreItemStore) -> None:
        with pytest.raises(StoreUnavailable):
            await store.get("a1")
        with pytest.raises(StoreUnavailable):
            await store.put(Item("a1", {}))

    run(scenario)


def test_one_transient_failure_is_retried_within_the_deadline(fake) -> None:
    fake.fail_with, fake.failures_left = grpc.StatusCode.UNAVAILABLE, 1

    async def scenario(store: FirestoreItemStore) -> None:
        await store.put(Item("a1", {"ok": True}))
        assert (await store.get("a1")).data == {"ok": True}

    run(scenario)
    assert [name for name, _ in fake.requests] == ["Commit", "Commit", "BatchGetDocuments"]


def test_an_unreachable_store_is_unavailable(monkeypatch) -> None:
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", "127.0.0.1:9")  # nothing listens on the discard port

    async def scenario(store: FirestoreItemStore) -> None:
        with pytest.raises(StoreUnavailable):
            await store.get("a1")

    run(scenario)


def test_firestore_needs_its_project_and_database() -> None:
    base = {"CACHE_HOST": "h", "STORE_BACKEND": "firestore"}
    with pytest.raises(ValueError, match="GOOGLE_CLOUD_PROJECT is required"):
        ServiceConfig.from_env({**base, "FIRESTORE_DATABASE": DATABASE})
    with pytest.raises(ValueError, match="FIRESTORE_DATABASE='Items' is invalid"):
        ServiceConfig.from_env({**base, "GOOGLE_CLOUD_PROJECT": PROJECT, "FIRESTORE_DATABASE": "Items"})
