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

from sample_service.__main__ import UNWIND_SECONDS

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

    cache.client().client_pause(6000, all=True)
    thread, outcome = request_in_background(service, "GET", f"/sessions/{token}")
    time.sleep(0.3)
    signalled = time.monotonic()
    service.proc.send_signal(signal.SIGTERM)

    assert service.proc.wait(8) == 0
    # The 1 s grace period (with slack for a busy machine), not the 6 s the paused cache would take.
    assert 0.9 <= time.monotonic() - signalled < 3.5
    thread.join(5)
    assert "response" not in outcome  # cut off, not answered
    [warning] = [r for r in service.log_records() if r["message"] == "grace period over"]
    assert warning["cancelled_requests"] == 1


def slow_and_hung_clients(service: Any, token: str) -> list[socket.socket]:
    """Connections in every state a slow or dead client can leave one in, all still open."""
    port = service.port
    idle = socket.create_connection(("127.0.0.1", port))
    idle.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")  # answered, then left idle (keep-alive)
    partial_head = socket.create_connection(("127.0.0.1", port))
    partial_head.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")  # the headers never end
    partial_body = socket.create_connection(("127.0.0.1", port))
    partial_body.sendall(b'POST /sessions HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{"a":')
    # A client that asks for a large response and never reads it: tiny receive buffer, nothing read.
    not_reading = socket.socket()
    not_reading.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    not_reading.connect(("127.0.0.1", port))
    not_reading.sendall(f"GET /sessions/{token} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    return [idle, partial_head, partial_body, not_reading]


def test_slow_and_hung_clients_do_not_hold_up_shutdown(start_service: Any) -> None:
    service = start_service(SHUTDOWN_GRACE_SECONDS="2", MAX_BODY_BYTES=str(10 * 1024 * 1024))
    created = service.request("POST", "/sessions", {"blob": "x" * (8 * 1024 * 1024)})
    assert created.status == 201
    clients = slow_and_hung_clients(service, created.body["token"])
    try:
        time.sleep(0.5)  # every connection has reached the service and its handler, if any, is waiting
        signalled = time.monotonic()
        service.proc.send_signal(signal.SIGTERM)
        assert service.proc.wait(10) == 0
        # The grace period, then at most the service's unwind time, with slack for a busy machine:
        # a hung client would hold the exit until wait(10) gave up.
        assert time.monotonic() - signalled < 2 + UNWIND_SECONDS + 1.5
    finally:
        for client in clients:
            client.close()
    assert not [r for r in service.log_records() if r["level"] in ("ERROR", "CRITICAL")]
