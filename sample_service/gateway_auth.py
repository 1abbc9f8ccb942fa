"""Gateway-only access (GCP): serve a request only if it carries the ID token the API gateway minted.

GCP's API Gateway reaches the backend over the internet, so the load balancer is public. The gateway signs
every backend call with a Google ID token of its own service account for the audience `jwt_audience`; here
the token's signature is checked against Google's published keys, then its issuer, audience, expiry and
subject (the gateway account's unique ID: anyone can mint a Google ID token for any audience, only the
gateway can mint one as the gateway). Failures answer 401, or 503 if Google's keys cannot be fetched;
never 500. Paths in `open_paths` (the load balancer's shallow health check) stay open.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Iterable

import aiohttp
import jwt
from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from sample_service.config import GatewayAuth

log = logging.getLogger(__name__)

ALGORITHMS = ["RS256"]
# Google writes its issuer both ways in ID tokens.
ISSUER_ALIASES = {"https://accounts.google.com": ("https://accounts.google.com", "accounts.google.com")}
LEEWAY_SECONDS = 30
FETCH_TIMEOUT_SECONDS = 5
DEFAULT_MAX_AGE_SECONDS = 3600
# An unknown key id refetches at most this often, so forged tokens cannot hammer the key endpoint.
MIN_REFETCH_SECONDS = 60
_MAX_AGE = re.compile(r"max-age=([0-9]+)")


class InvalidToken(Exception):
    """The request did not come through the gateway (or its token is no longer valid)."""


class KeysUnavailable(Exception):
    """Google's signing keys could not be fetched and none are cached."""


class GatewayTokenVerifier:
    def __init__(self, auth: GatewayAuth) -> None:
        self._auth = auth
        self._issuers = ISSUER_ALIASES.get(auth.issuer, (auth.issuer,))
        self._keys: dict[str, jwt.PyJWK] = {}
        self._expires = 0.0
        self._fetched = float("-inf")
        self._lock = asyncio.Lock()
        self._session: aiohttp.ClientSession | None = None

    async def verify(self, token: str) -> dict:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise InvalidToken("malformed token") from exc
        kid = header.get("kid")
        if header.get("alg") not in ALGORITHMS or not isinstance(kid, str):
            raise InvalidToken("unexpected token header")
        key = await self._key(kid)
        try:
            claims = jwt.decode(
                token,
                key.key,
                algorithms=ALGORITHMS,
                audience=self._auth.audience,
                issuer=self._issuers,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )
        except jwt.PyJWTError as exc:
            raise InvalidToken(str(exc)) from exc
        if claims["sub"] != self._auth.subject:
            raise InvalidToken("token is not the gateway's")
        return claims

    def _needs_refresh(self, kid: str) -> bool:
        """The key set has expired, or names no such key and may be fetched again (rotation)."""
        now = time.monotonic()
        return now >= self._expires or (kid not in self._keys and now - self._fetched >= MIN_REFETCH_SECONDS)

    async def _key(self, kid: str) -> jwt.PyJWK:
        if self._needs_refresh(kid):
            async with self._lock:
                # Another request may have refreshed while this one waited.
                if self._needs_refresh(kid):
                    await self._refresh()
        if kid not in self._keys:
            raise InvalidToken("unknown signing key")
        return self._keys[kid]

    async def _refresh(self) -> None:
        self._fetched = time.monotonic()
        try:
            if self._session is None:
                self._session = aiohttp.ClientSession(
                    timeout=aiohttp.ClientTimeout(total=FETCH_TIMEOUT_SECONDS)
                )
            async with self._session.get(self._auth.jwks_url) as response:
                response.raise_for_status()
                document = await response.json(content_type=None)
                cache_control = response.headers.get("Cache-Control", "")
            keys = {key.key_id: key for key in jwt.PyJWKSet.from_dict(document).keys if key.key_id}
        except (aiohttp.ClientError, TimeoutError, ValueError, jwt.PyJWTError) as exc:
            log.warning("cannot fetch the gateway's signing keys", extra={"fields": {"error": repr(exc)}})
            if not self._keys:
                raise KeysUnavailable from exc
            # Keep the keys we have (Google rotates slowly) and try again after the refetch interval.
            self._expires = self._fetched + MIN_REFETCH_SECONDS
            return
        match = _MAX_AGE.search(cache_control)
        max_age = int(match.group(1)) if match else DEFAULT_MAX_AGE_SECONDS
        self._keys = keys
        self._expires = self._fetched + min(max(max_age, MIN_REFETCH_SECONDS), 86400)

    async def close(self, _: web.Application | None = None) -> None:
        if self._session is not None:
            await self._session.close()


def _unauthorized(message: str) -> web.Response:
    return web.json_response({"error": message}, status=401, headers={"WWW-Authenticate": "Bearer"})


def gateway_only(verifier: GatewayTokenVerifier, open_paths: Iterable[str]) -> Middleware:
    exempt = frozenset(open_paths)

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path in exempt:
            return await handler(request)
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return _unauthorized("a gateway token is required")
        try:
            await verifier.verify(token.strip())
        except InvalidToken as exc:
            log.info(
                "rejected a request without a valid gateway token", extra={"fields": {"reason": str(exc)}}
            )
            return _unauthorized("invalid gateway token")
        except KeysUnavailable:
            return web.json_response({"error": "cannot verify gateway tokens right now"}, status=503)
        return await handler(request)

    return middleware
