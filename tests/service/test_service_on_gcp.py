"""The service as GCP's instances run it, end to end: `python -m sample_service` with STORE_BACKEND=firestore
and gateway-only access, against real redis-server, the local Firestore endpoint and a local key set."""

from __future__ import annotations

import http.client
import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from firestore_fake import FakeFirestore
from test_gateway_auth import AUDIENCE, SUBJECT, _jwks, token

from sample_service.paths import HEALTH_PATH
from tests.service.conftest import Service, launch


class _Keys(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps(_jwks()).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Cache-Control", "public, max-age=3600")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def gcp_service(service_env: dict[str, str], tmp_path: Path) -> Iterator[tuple[Service, FakeFirestore]]:
    firestore = FakeFirestore()
    firestore_server, firestore_port = firestore.serve()
    keys = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Keys)
    threading.Thread(target=keys.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    overrides = {
        "STORE_BACKEND": "firestore",
        "ITEMS_TABLE": None,
        "GOOGLE_CLOUD_PROJECT": "refarch-test-1",
        "FIRESTORE_DATABASE": "dev-items",
        "FIRESTORE_EMULATOR_HOST": f"127.0.0.1:{firestore_port}",
        "GATEWAY_JWT_AUDIENCE": AUDIENCE,
        "GATEWAY_JWT_SUBJECT": SUBJECT,
        "GATEWAY_JWKS_URL": f"http://127.0.0.1:{keys.server_port}/oauth2/v3/certs",
    }
    service = launch(service_env, tmp_path / "service.log", overrides)
    try:
        service.wait_healthy()
        yield service, firestore
    finally:
        service.kill()
        keys.shutdown()
        firestore_server.stop(grace=None)


def _call(service: Service, method: str, path: str, body=None, bearer: str | None = None):
    conn = http.client.HTTPConnection("127.0.0.1", service.port, timeout=10)
    headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
    try:
        conn.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
        response = conn.getresponse()
        return response.status, json.loads(response.read() or b"null")
    finally:
        conn.close()


def test_items_and_sessions_through_the_gateway_only(gcp_service) -> None:
    service, firestore = gcp_service
    gateway = token()
    assert _call(service, "GET", HEALTH_PATH)[0] == 200
    assert _call(service, "PUT", "/items/a1", {"x": 1, "ttl_seconds": 60})[0] == 401
    status, item = _call(service, "PUT", "/items/a1", {"x": 1, "ttl_seconds": 60}, bearer=gateway)
    assert status == 200 and item["data"] == {"x": 1}
    assert _call(service, "GET", "/items/a1", bearer=gateway) == (200, item)
    assert any(name.endswith("/documents/items/a1") for name in firestore.documents)
    status, session = _call(service, "POST", "/sessions", {"user": "u1"}, bearer=gateway)
    assert status == 201
    assert _call(service, "GET", f"/sessions/{session['token']}", bearer=gateway)[0] == 200
    assert _call(service, "GET", "/ready", bearer=gateway) == (
        200,
        {"status": "ready", "checks": {"cache": "ok", "store": "ok"}},
    )
    assert _call(service, "GET", "/ready", bearer=token(sub="1"))[0] == 401
    assert service.stop() == 0
