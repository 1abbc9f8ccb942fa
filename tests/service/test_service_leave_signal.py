"""SIGUSR1 (a planned stop is coming): the health path fails, so the load balancer stops sending new
requests after its probes, while every other route keeps answering the requests already on their way.
SIGTERM still drains and exits as before."""

from __future__ import annotations

import signal
import time
from typing import Any

import pytest

from sample_service.paths import HEALTH_PATH

pytestmark = pytest.mark.servers


def test_sigusr1_fails_the_health_check_and_keeps_serving(start_service: Any) -> None:
    service = start_service()
    assert service.request("GET", HEALTH_PATH).status == 200

    service.proc.send_signal(signal.SIGUSR1)
    deadline = time.monotonic() + 5
    while (health := service.request("GET", HEALTH_PATH)).status == 200 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert (health.status, health.body) == (503, {"status": "leaving"})
    assert service.proc.poll() is None, "SIGUSR1 must not stop the service"

    # Every other route still serves: sessions and items, reads and writes.
    created = service.request("POST", "/sessions", {"n": 1})
    assert created.status == 201
    token = created.body["token"]
    assert service.request("GET", f"/sessions/{token}").body == {"token": token, "data": {"n": 1}}
    assert service.request("PUT", f"/sessions/{token}", {"n": 2}).status == 200
    assert service.request("PUT", "/items/leave-1", {"v": 1}).status == 200
    assert service.request("GET", "/items/leave-1").body["data"] == {"v": 1}
    assert service.request("DELETE", f"/sessions/{token}").status == 204

    # A second signal changes nothing and is not logged again.
    service.proc.send_signal(signal.SIGUSR1)
    assert service.request("GET", HEALTH_PATH).status == 503

    service.proc.send_signal(signal.SIGTERM)
    assert service.proc.wait(10) == 0
    messages = [record["message"] for record in service.log_records()]
    assert messages.count("leaving the load balancer") == 1
    assert messages.index("leaving the load balancer") < messages.index("shutting down")
