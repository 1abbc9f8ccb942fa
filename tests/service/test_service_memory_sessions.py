"""SESSION_BACKEND=memory exists only for the replacement drill's control run: refused unless opted in,
and otherwise the same semantics as the Redis store, so the control differs only in where state lives."""

from __future__ import annotations

import asyncio

import pytest

from sample_service.config import ServiceConfig
from sample_service.memory_sessions import MemorySessionStore
from sample_service.sessions import TOKEN_PATTERN

MINIMAL = {
    "CACHE_HOST": "127.0.0.1",
    "STORE_BACKEND": "dynamodb",
    "ITEMS_TABLE": "items",
    "AWS_REGION": "eu-west-1",
}


def test_redis_is_the_default() -> None:
    assert ServiceConfig.from_env(MINIMAL).session_backend == "redis"


@pytest.mark.parametrize("opt_in", [None, "false", ""])
def test_memory_is_refused_without_the_test_only_opt_in(opt_in: str | None) -> None:
    environ = {**MINIMAL, "SESSION_BACKEND": "memory"}
    if opt_in is not None:
        environ["ALLOW_TEST_ONLY_SETTINGS"] = opt_in
    with pytest.raises(ValueError, match=r"only for the replacement drill's control run"):
        ServiceConfig.from_env(environ)


def test_memory_is_accepted_with_the_opt_in() -> None:
    environ = {**MINIMAL, "SESSION_BACKEND": "memory", "ALLOW_TEST_ONLY_SETTINGS": "true"}
    assert ServiceConfig.from_env(environ).session_backend == "memory"


def test_unknown_session_backend_is_named() -> None:
    with pytest.raises(ValueError) as excinfo:
        ServiceConfig.from_env({**MINIMAL, "SESSION_BACKEND": "disk"})
    assert str(excinfo.value) == "SESSION_BACKEND='disk' is invalid: expected 'redis' or 'memory'"


def test_memory_store_behaves_like_the_redis_store() -> None:
    async def scenario() -> None:
        store = MemorySessionStore(ttl_seconds=60)
        token = await store.create({"n": 1})
        assert TOKEN_PATTERN.fullmatch(token)
        data = await store.get(token)
        assert data == {"n": 1}
        data["n"] = 99  # a caller's copy, not the stored state
        assert await store.get(token) == {"n": 1}
        assert await store.replace(token, {"n": 2})
        assert await store.get(token) == {"n": 2}
        assert not await store.replace("A" * 43, {"n": 1})  # never resurrects or creates
        assert await store.get("A" * 43) is None
        await store.delete(token)
        assert await store.get(token) is None

    asyncio.run(scenario())


def test_memory_sessions_expire() -> None:
    now = [1000.0]

    async def scenario() -> None:
        store = MemorySessionStore(ttl_seconds=60, clock=lambda: now[0])
        token = await store.create({"n": 1})
        now[0] += 59
        assert await store.replace(token, {"n": 2})  # and the TTL starts again
        now[0] += 59
        assert await store.get(token) == {"n": 2}
        now[0] += 1
        assert await store.get(token) is None
        assert not await store.replace(token, {"n": 3})

    asyncio.run(scenario())
