"""SIGUSR1 (a planned stop is coming): the health path fails, so the load balancer stops sending new
requests after its probes, while every other route keeps answering the requests already on their way.
SIGTERM still drains and exits as before."""

from __future__ import annotations

import http.server
import json
import signal
import threading
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


class _SlowSecretsManager:
    """Secrets Manager on 127.0.0.1 whose GetSecretValue answers only once the test lets it: start-up
    (create_app reads the cache's AUTH secret) is held there, well before the service listens."""

    def __init__(self) -> None:
        self.asked = threading.Event()
        self.answer = threading.Event()
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["Content-Length"]))
                fake.asked.set()
                fake.answer.wait(10)
                body = json.dumps({"Name": "slow-secret", "SecretString": "any-token"}).encode()
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/x-amz-json-1.1")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except BrokenPipeError:  # the service is gone (the failure the test is about)
                    pass

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}"


def test_sigusr1_during_start_up_is_kept_and_is_not_fatal(start_service: Any) -> None:
    # SIGUSR1's default action terminates the process (signal(7), "Standard signals"): a planned stop
    # announced while the service is still starting must not kill it, and must not be forgotten.
    secrets = _SlowSecretsManager()
    try:
        service = start_service(
            wait=False, CACHE_AUTH_SECRET_ID="slow-secret", AWS_ENDPOINT_URL_SECRETS_MANAGER=secrets.url
        )
        assert secrets.asked.wait(15), "start-up never read the secret"
        service.proc.send_signal(signal.SIGUSR1)
        time.sleep(0.2)  # delivered (and, before the fix, fatal) before start-up goes on
        secrets.answer.set()
        deadline = time.monotonic() + 15
        health = None
        while health is None and time.monotonic() < deadline:
            assert service.proc.poll() is None, service.log_path.read_text()
            try:
                health = service.request("GET", HEALTH_PATH, timeout=1)
            except OSError:
                time.sleep(0.05)
        assert health is not None and (health.status, health.body) == (503, {"status": "leaving"})
    finally:
        secrets.server.shutdown()
    service.proc.send_signal(signal.SIGTERM)
    assert service.proc.wait(10) == 0
    messages = [record["message"] for record in service.log_records()]
    assert messages.count("leaving the load balancer") == 1
    assert messages.index("leaving the load balancer") < messages.index("listening")
