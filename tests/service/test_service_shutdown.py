"""SIGTERM (scale-in, deployment): stop accepting, drain in-flight requests within the grace period, exit 0.

A request is held in flight honestly: CLIENT PAUSE makes the real redis-server sit on the service's
command, as it does during a failover."""

from __future__ import annotations

import signal
import socket
import threading
import time
from typing import Any

import pytest

pytestmark = pytest.mark.servers


def request_in_background(service: Any, method: str, path: str) -> tuple[threading.Thread, dict[str, Any]]:
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["response"] = service.request(method, path)
        except OSError as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def test_sigterm_drains_the_in_flight_request_then_exits_0(start_service: Any, make_redis: Any) -> None:
    cache = make_redis()
    service = start_service(CACHE_PORT=str(cache.port), CACHE_TIMEOUT_MS="5000", SHUTDOWN_GRACE_SECONDS="10")
    token = service.request("POST", "/sessions", {"n": 1}).body["token"]

    cache.client().client_pause(1500, all=True)
    thread, outcome = request_in_background(service, "GET", f"/sessions/{token}")
    time.sleep(0.3)  # the request is now waiting on the paused cache
    service.proc.send_signal(signal.SIGTERM)
    time.sleep(0.2)

    # No new connections while draining...
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", service.port), timeout=1).close()
    assert service.proc.poll() is None
    # ...but the in-flight request completes normally once the cache answers.
    thread.join(10)
    response = outcome["response"]
    assert (response.status, response.body) == (200, {"token": token, "data": {"n": 1}})
    assert response.elapsed >= 1.0
    assert service.proc.wait(5) == 0

    messages = [record["message"] for record in service.log_records()]
    assert messages.index("shutting down") < messages.index("stopped")
    assert messages[-1] == "stopped"


def test_sigterm_gives_up_on_requests_after_the_grace_period(start_service: Any, make_redis: Any) -> None:
    cache = make_redis()
    service = start_service(CACHE_PORT=str(cache.port), CACHE_TIMEOUT_MS="10000", SHUTDOWN_GRACE_SECONDS="1")
    token = service.request("POST", "/sessions", {"n": 1}).body["token"]

    cache.client().client_pause(4000, all=True)
    thread, outcome = request_in_background(service, "GET", f"/sessions/{token}")
    time.sleep(0.3)
    signalled = time.monotonic()
    service.proc.send_signal(signal.SIGTERM)

    assert service.proc.wait(5) == 0
    assert 0.9 <= time.monotonic() - signalled < 1.8  # the grace period, not the 4 s the cache would take
    thread.join(5)
    assert "response" not in outcome  # cut off, not answered
    [warning] = [r for r in service.log_records() if r["message"] == "grace period over"]
    assert warning["cancelled_requests"] == 1
