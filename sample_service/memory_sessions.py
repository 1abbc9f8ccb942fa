"""TEST ONLY (SESSION_BACKEND=memory): sessions in this process's memory. This is exactly what a stateless
service must not do; the replacement drill's control run uses it to prove the drill catches lost sessions.
The same interface and semantics as the Redis SessionStore, so the only difference the drill sees is where
the state lives."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from sample_service.sessions import encode, new_token


class MemorySessionStore:
    def __init__(self, *, ttl_seconds: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl_seconds
        self._clock = clock
        # token -> (encoded data, monotonic expiry); encoded so callers never share a mutable dict.
        self._sessions: dict[str, tuple[str, float]] = {}

    def _live(self, token: str) -> str | None:
        entry = self._sessions.get(token)
        if entry is None:
            return None
        if entry[1] <= self._clock():
            del self._sessions[token]
            return None
        return entry[0]

    async def create(self, data: dict[str, Any]) -> str:
        token = new_token()
        self._sessions[token] = (encode(data), self._clock() + self._ttl)
        return token

    async def get(self, token: str) -> dict[str, Any] | None:
        raw = self._live(token)
        return None if raw is None else json.loads(raw)

    async def replace(self, token: str, data: dict[str, Any]) -> bool:
        if self._live(token) is None:
            return False
        self._sessions[token] = (encode(data), self._clock() + self._ttl)
        return True

    async def delete(self, token: str) -> None:
        self._sessions.pop(token, None)

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        self._sessions.clear()
