"""HTTP routes. A request's state lives only in the cache or the store, never in this process."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import re
import time
from collections.abc import Awaitable
from typing import Any

from aiohttp import hdrs, web
from aiohttp.typedefs import Handler, Middleware

from sample_service.config import ServiceConfig
from sample_service.draining import InFlightRequests
from sample_service.gateway_auth import GatewayTokenVerifier, gateway_only
from sample_service.memory_sessions import MemorySessionStore
from sample_service.paths import HEALTH_PATH
from sample_service.sessions import TOKEN_PATTERN, CacheUnavailable, SessionStore
from sample_service.stores import Item, ItemStore, ItemTooLarge, StoreUnavailable, build_item_store

log = logging.getLogger(__name__)

ITEM_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
MAX_ITEM_TTL_SECONDS = 365 * 24 * 3600
DECODED_CONTENT_ENCODINGS = ("identity", "gzip", "deflate")


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"error": message}, status=status, headers=headers)


def _error_middleware(max_body_bytes: int) -> Middleware:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except ApiError as exc:
            return _error(exc.status, exc.message)
        except web.HTTPRequestEntityTooLarge:
            return _error(413, f"request body exceeds {max_body_bytes} bytes")
        except web.HTTPException as exc:
            # The router's own 404 and 405; keep Allow so clients learn the valid methods.
            allow = exc.headers.get("Allow")
            return _error(exc.status, exc.reason.lower(), headers={"Allow": allow} if allow else None)
        except ItemTooLarge as exc:
            return _error(413, str(exc))
        except CacheUnavailable:
            return _error(503, "session cache unavailable")
        except StoreUnavailable:
            return _error(503, "item store unavailable")
        except Exception:
            log.exception("unhandled error", extra={"fields": {"method": request.method}})
            return _error(500, "internal error")

    return middleware


def _finite_float(text: str) -> float:
    # Python would turn 1e999 into inf, which json.dumps then writes as the non-JSON "Infinity".
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number out of range: {text}")
    return value


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _is_json(content_type: str) -> bool:
    return content_type == "application/json" or (
        content_type.startswith("application/") and content_type.endswith("+json")
    )


async def _json_object(request: web.Request) -> dict[str, Any]:
    # A body labelled as something else is a client mistake worth naming; no label at all is accepted.
    if hdrs.CONTENT_TYPE in request.headers and not _is_json(request.content_type):
        raise ApiError(415, "request body must be application/json")
    # aiohttp decodes these before we read; anything else would otherwise be read as if not encoded.
    if request.headers.get(hdrs.CONTENT_ENCODING, "identity").lower() not in DECODED_CONTENT_ENCODINGS:
        raise ApiError(415, f"content encoding must be one of {', '.join(DECODED_CONTENT_ENCODINGS)}")
    try:
        body = await request.read()  # raises 413 beyond client_max_size (MAX_BODY_BYTES)
    except web.RequestPayloadError:  # e.g. not valid gzip although Content-Encoding says so
        raise ApiError(400, "request body could not be decoded") from None
    except ConnectionResetError:  # the client left mid-body: no one to answer, and no server error
        raise ApiError(400, "request body incomplete") from None
    try:
        value = json.loads(body, parse_float=_finite_float, parse_constant=_reject_constant)
    except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting like [[[[...]]]]
        raise ApiError(400, "request body is not valid JSON") from None
    if not isinstance(value, dict):
        raise ApiError(400, "request body must be a JSON object")
    return value


def _token(request: web.Request) -> str:
    token = request.match_info["token"]
    if not TOKEN_PATTERN.fullmatch(token):
        raise ApiError(400, "malformed session token")
    return token


def _item_id(request: web.Request) -> str:
    item_id = request.match_info["item_id"]
    if not ITEM_ID_PATTERN.fullmatch(item_id):
        raise ApiError(400, "malformed item id: expected 1-128 of A-Z a-z 0-9 _ . -, starting alphanumeric")
    return item_id


def _item_json(item: Item) -> dict[str, Any]:
    return {"item_id": item.item_id, "data": item.data, "expires_at": item.expires_at}


async def _check(dependency: str, probe: Awaitable[None]) -> str:
    try:
        await probe
    except (CacheUnavailable, StoreUnavailable):
        return "unavailable"
    except Exception:
        log.exception("readiness probe failed unexpectedly", extra={"fields": {"dependency": dependency}})
        return "unavailable"
    return "ok"


class LoadBalancerExit:
    """SIGUSR1 (sent before a planned stop): the health path fails so the load balancer stops sending new
    requests, while every other route keeps serving those already on their way. SIGTERM comes later."""

    def __init__(self) -> None:
        self.leaving = False

    def leave(self) -> None:
        if not self.leaving:
            self.leaving = True
            log.info("leaving the load balancer")


LOAD_BALANCER_EXIT = web.AppKey("load_balancer_exit", LoadBalancerExit)


class _Routes:
    def __init__(
        self,
        sessions: SessionStore | MemorySessionStore,
        items: ItemStore,
        load_balancer_exit: LoadBalancerExit,
    ) -> None:
        self._sessions = sessions
        self._items = items
        self._exit = load_balancer_exit

    async def health(self, request: web.Request) -> web.Response:
        # Shallow on purpose: a cache or store outage must not get every instance replaced.
        if self._exit.leaving:
            return web.json_response({"status": "leaving"}, status=503)
        return web.json_response({"status": "ok"})

    async def ready(self, request: web.Request) -> web.Response:
        cache, store = await asyncio.gather(
            _check("cache", self._sessions.ping()), _check("store", self._items.ping())
        )
        ready = cache == store == "ok"
        return web.json_response(
            {"status": "ready" if ready else "not ready", "checks": {"cache": cache, "store": store}},
            status=200 if ready else 503,
        )

    async def create_session(self, request: web.Request) -> web.Response:
        data = await _json_object(request)
        token = await self._sessions.create(data)
        return web.json_response({"token": token, "data": data}, status=201)

    async def get_session(self, request: web.Request) -> web.Response:
        token = _token(request)
        data = await self._sessions.get(token)
        if data is None:
            raise ApiError(404, "session not found")
        return web.json_response({"token": token, "data": data})

    async def replace_session(self, request: web.Request) -> web.Response:
        token = _token(request)
        data = await _json_object(request)
        if not await self._sessions.replace(token, data):
            raise ApiError(404, "session not found")
        return web.json_response({"token": token, "data": data})

    async def delete_session(self, request: web.Request) -> web.Response:
        await self._sessions.delete(_token(request))
        return web.Response(status=204)

    async def get_item(self, request: web.Request) -> web.Response:
        item = await self._items.get(_item_id(request))
        if item is None:
            raise ApiError(404, "item not found")
        return web.json_response(_item_json(item))

    async def put_item(self, request: web.Request) -> web.Response:
        item_id = _item_id(request)
        data = await _json_object(request)
        ttl_seconds = data.pop("ttl_seconds", None)
        expires_at = None
        if ttl_seconds is not None:
            # type(), not isinstance(): JSON true must not pass for 1.
            if type(ttl_seconds) is not int or not 1 <= ttl_seconds <= MAX_ITEM_TTL_SECONDS:
                raise ApiError(400, f"ttl_seconds must be an integer from 1 to {MAX_ITEM_TTL_SECONDS}")
            expires_at = int(time.time()) + ttl_seconds
        item = Item(item_id=item_id, data=data, expires_at=expires_at)
        await self._items.put(item)
        return web.json_response(_item_json(item))


def _session_store(config: ServiceConfig) -> SessionStore | MemorySessionStore:
    if config.session_backend == "memory":  # test only; ServiceConfig refuses it without the opt-in
        return MemorySessionStore(ttl_seconds=config.session_ttl_seconds)
    return SessionStore.from_config(config)


def create_app(
    config: ServiceConfig,
    sessions: SessionStore | MemorySessionStore | None = None,
    items: ItemStore | None = None,
    load_balancer_exit: LoadBalancerExit | None = None,
) -> web.Application:
    """Build the app; stores not given are built from config. The app closes its stores on cleanup.
    `load_balancer_exit` is the state a SIGUSR1 received before the app existed has already set."""
    session_store = sessions if sessions is not None else _session_store(config)
    item_store = items if items is not None else build_item_store(config)
    load_balancer_exit = load_balancer_exit if load_balancer_exit is not None else LoadBalancerExit()
    routes = _Routes(session_store, item_store, load_balancer_exit)

    in_flight = InFlightRequests(config.shutdown_grace_seconds)
    # GCP: only requests through the API gateway (see gateway_auth.py); the health check stays open.
    verifier = GatewayTokenVerifier(config.gateway_auth) if config.gateway_auth else None
    gateway = [gateway_only(verifier, open_paths=(HEALTH_PATH,))] if verifier else []
    app = web.Application(
        client_max_size=config.max_body_bytes,
        # Outermost first: draining must see every request, including those answered with an error.
        middlewares=[in_flight.middleware, *gateway, _error_middleware(config.max_body_bytes)],
    )
    app[LOAD_BALANCER_EXIT] = load_balancer_exit
    app.add_routes(
        [
            web.get(HEALTH_PATH, routes.health),
            web.get("/ready", routes.ready),
            web.post("/sessions", routes.create_session),
            web.get("/sessions/{token}", routes.get_session),
            web.put("/sessions/{token}", routes.replace_session),
            web.delete("/sessions/{token}", routes.delete_session),
            web.get("/items/{item_id}", routes.get_item),
            web.put("/items/{item_id}", routes.put_item),
        ]
    )

    async def close_stores(_: web.Application) -> None:
        try:
            await session_store.close()
        finally:
            await item_store.close()

    app.on_shutdown.append(in_flight.drain)
    app.on_cleanup.append(close_stores)
    if verifier:
        app.on_cleanup.append(verifier.close)
    return app
