"""Graceful shutdown: in-flight requests get SHUTDOWN_GRACE_SECONDS to finish, then are cancelled.

aiohttp's own shutdown_timeout is applied twice (wait for the handler, then cancel it and wait again),
so relying on it alone would let shutdown take up to twice the grace period and overrun the platform's
stop timeout (after which it sends SIGKILL)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

log = logging.getLogger(__name__)


class InFlightRequests:
    def __init__(self, grace_seconds: float) -> None:
        self._grace = grace_seconds
        self._tasks: set[asyncio.Task[Any]] = set()

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        # aiohttp runs each request in a task of its own, which ends once the response is written.
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            response = await handler(request)
            # Written here, inside the tracked section: a client that never reads its response would
            # otherwise hold up shutdown beyond the grace period, for aiohttp's own timeout (twice).
            # A client that has gone away is aiohttp's to handle, as it does when it writes the response.
            with contextlib.suppress(ConnectionError):
                await response.prepare(request)
                await response.write_eof()
            return response
        finally:
            self._tasks.discard(task)

    async def drain(self, _: web.Application) -> None:
        """An on_shutdown hook: by then aiohttp has closed the listener and the idle connections."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._grace
        while self._tasks:
            remaining = deadline - loop.time()
            if remaining <= 0:
                log.warning("grace period over", extra={"fields": {"cancelled_requests": len(self._tasks)}})
                for task in list(self._tasks):
                    task.cancel()
                return
            # Loop rather than wait once: a request already received may start after the first snapshot.
            await asyncio.wait(set(self._tasks), timeout=remaining)
