"""Entry point: `python -m sample_service`, configured only through environment variables."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

from aiohttp import web

from sample_service.app import LOAD_BALANCER_EXIT, LoadBalancerExit, create_app
from sample_service.cache_auth import CacheAuthError
from sample_service.config import ServiceConfig
from sample_service.logs import ACCESS_LOGGER, JsonAccessLogger, configure_logging

log = logging.getLogger("sample_service")

# The grace period is enforced by the app's drain (draining.py). Once it is over, any request left has
# been cancelled; this only bounds how long aiohttp then waits for those to unwind and connections to close.
UNWIND_SECONDS = 1.0


async def serve(app: web.Application, config: ServiceConfig) -> None:
    # Our own signal handling rather than run_app's, which runs the shutdown inside the task it has
    # just cancelled; here shutdown is a plain, logged sequence in an uncancelled task.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    # Before a planned stop: fail the health check, keep serving (app.py LoadBalancerExit).
    loop.add_signal_handler(signal.SIGUSR1, app[LOAD_BALANCER_EXIT].leave)

    runner = web.AppRunner(
        app,
        access_log_class=JsonAccessLogger,
        access_log=ACCESS_LOGGER,
        shutdown_timeout=UNWIND_SECONDS,
    )
    await runner.setup()
    try:
        await web.TCPSite(runner, config.service_host, config.service_port).start()
        log.info(
            "listening",
            extra={"fields": {"host": config.service_host, "port": config.service_port}},
        )
        await stop.wait()
        log.info("shutting down", extra={"fields": {"grace_seconds": config.shutdown_grace_seconds}})
    finally:
        # Closes the listening socket and idle connections, drains in-flight requests (on_shutdown),
        # then runs on_cleanup, which closes the cache and store clients.
        await runner.cleanup()
    log.info("stopped")


def main() -> int:
    # First: SIGUSR1's default action ends the process (signal(7)), and a planned stop may announce itself
    # while start-up still reads a secret or builds its clients. serve() replaces this with the loop's own.
    load_balancer_exit = LoadBalancerExit()
    signal.signal(signal.SIGUSR1, lambda _signum, _frame: load_balancer_exit.leave())
    configure_logging()
    try:
        config = ServiceConfig.from_env()
        app = create_app(config, load_balancer_exit=load_balancer_exit)
    except (ValueError, CacheAuthError) as exc:
        log.error("cannot start", extra={"fields": {"error": str(exc)}})
        return 2
    try:
        asyncio.run(serve(app, config))
    except OSError as exc:  # typically the port is taken
        log.error("cannot listen", extra={"fields": {"error": str(exc)}})
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
