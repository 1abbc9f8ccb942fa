"""Sessions kept in Redis/Valkey, so any instance can serve any client's next request."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import secrets
from collections.abc import Awaitable
from typing import Any, TypeVar

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from sample_service.cache_auth import cache_login
from sample_service.config import ServiceConfig

log = logging.getLogger(__name__)

# secrets.token_urlsafe(32) always yields 43 URL-safe base64 characters.
TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{43}")
KEY_PREFIX = "session:"

T = TypeVar("T")


class CacheUnavailable(Exception):
    """The session cache did not answer correctly within its timeout."""


def new_token() -> str:
    return secrets.token_urlsafe(32)


def encode(data: dict[str, Any]) -> str:
    # Compact and UTF-8 as is: the stored form is never larger than the validated request body.
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


class SessionStore:
    def __init__(self, client: Redis, *, ttl_seconds: int, timeout: float) -> None:
        self._client = client
        self._ttl = ttl_seconds
        self._timeout = timeout

    @classmethod
    def from_config(cls, config: ServiceConfig) -> SessionStore:
        client = Redis(
            host=config.cache_host,
            port=config.cache_port,
            **cache_login(config),
            ssl=config.cache_tls,
            # Memorystore signs with its own CA; None keeps the system's trust store (ElastiCache).
            ssl_ca_certs=config.cache_tls_ca_file,
            # The chain is always verified; the host name only where the certificate can carry it.
            ssl_cert_reqs="required",
            ssl_check_hostname=config.cache_tls_check_hostname,
            socket_timeout=config.cache_timeout,
            socket_connect_timeout=config.cache_timeout,
            # One immediate retry replaces a pooled connection the server closed (failover, restart);
            # anything more would only stretch the time a client waits for a 503.
            retry=Retry(NoBackoff(), retries=1),
            decode_responses=True,
        )
        return cls(client, ttl_seconds=config.session_ttl_seconds, timeout=config.cache_timeout)

    async def _call(self, operation: str, awaitable: Awaitable[T]) -> T:
        # The socket timeouts bound each read and connect; this bounds the whole call including retries.
        try:
            async with asyncio.timeout(self._timeout):
                return await awaitable
        except (RedisError, TimeoutError) as exc:
            log.warning("cache call failed", extra={"fields": {"operation": operation, "error": repr(exc)}})
            raise CacheUnavailable(operation) from exc

    async def create(self, data: dict[str, Any]) -> str:
        token = new_token()
        await self._call("create", self._client.set(KEY_PREFIX + token, encode(data), ex=self._ttl))
        return token

    async def get(self, token: str) -> dict[str, Any] | None:
        raw = await self._call("get", self._client.get(KEY_PREFIX + token))
        return None if raw is None else json.loads(raw)

    async def replace(self, token: str, data: dict[str, Any]) -> bool:
        """Replace the data and restart the TTL; False if the session does not exist (or expired)."""
        # XX makes this atomic with the existence check, so an expired session is never resurrected.
        stored = await self._call(
            "replace", self._client.set(KEY_PREFIX + token, encode(data), ex=self._ttl, xx=True)
        )
        return bool(stored)

    async def delete(self, token: str) -> None:
        await self._call("delete", self._client.delete(KEY_PREFIX + token))

    async def ping(self) -> None:
        await self._call("ping", self._client.ping())

    async def close(self) -> None:
        await self._client.aclose()
