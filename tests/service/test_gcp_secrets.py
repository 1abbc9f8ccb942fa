"""On GCP the cache AUTH string comes from Secret Manager at start-up, and the cache's CA from a file:
exercised against a local HTTP stand-in for the Secret Manager API with anonymous credentials."""

from __future__ import annotations

import base64
import http.server
import json
import threading
from collections.abc import Iterator

import google.auth.credentials
import pytest

from sample_service import gcp_secrets
from sample_service.cache_auth import CacheAuthError, resolve_cache_password
from sample_service.config import ServiceConfig
from sample_service.sessions import SessionStore

SECRET = "projects/123456789012/secrets/dev-cache-auth/versions/latest"


class _SecretManager(http.server.BaseHTTPRequestHandler):
    status = 200
    body: bytes = b""
    paths: list[str] = []

    def do_GET(self) -> None:
        type(self).paths.append(self.path)
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def secret_manager(monkeypatch) -> Iterator[type[_SecretManager]]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _SecretManager)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    monkeypatch.setattr(gcp_secrets, "API", f"http://127.0.0.1:{server.server_port}/v1")
    anonymous = google.auth.credentials.AnonymousCredentials()
    monkeypatch.setattr(gcp_secrets.google.auth, "default", lambda scopes: (anonymous, None))
    _SecretManager.status, _SecretManager.paths = 200, []
    yield _SecretManager
    server.shutdown()


def _payload(text: str) -> bytes:
    return json.dumps(
        {"name": SECRET, "payload": {"data": base64.b64encode(text.encode()).decode()}}
    ).encode()


def _config(**extra: str) -> ServiceConfig:
    return ServiceConfig.from_env(
        {
            "CACHE_HOST": "10.0.0.3",
            "STORE_BACKEND": "firestore",
            "GOOGLE_CLOUD_PROJECT": "refarch-dev-1",
            "FIRESTORE_DATABASE": "dev-items",
            "CACHE_AUTH_SECRET_ID": SECRET,
            **extra,
        }
    )


def test_a_secret_manager_version_needs_no_aws_region_and_is_read_once(secret_manager) -> None:
    secret_manager.body = _payload("s3cr3t-auth-string")
    assert resolve_cache_password(_config()) == "s3cr3t-auth-string"
    assert secret_manager.paths == [f"/v1/{SECRET}:access"]


def test_a_json_secret_gives_its_password(secret_manager) -> None:
    secret_manager.body = _payload('{"password": "from-json"}')
    assert resolve_cache_password(_config()) == "from-json"


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (403, b'{"error": {"message": "s3cr3t"}}'),
        (200, b'{"payload": {}}'),
        (200, b"<html>s3cr3t</html>"),
        (200, b'{"payload": {"data": "s3cr3t!!"}}'),  # not base64
        (200, _payload('{"password": ""}')),  # a JSON secret without a usable password
    ],
)
def test_failures_name_the_secret_but_never_a_value(secret_manager, status, body) -> None:
    secret_manager.status, secret_manager.body = status, body
    with pytest.raises(CacheAuthError, match="CACHE_AUTH_SECRET_ID='projects/") as refused:
        resolve_cache_password(_config())
    assert "s3cr3t" not in str(refused.value)


def test_the_cache_client_verifies_the_server_against_the_given_ca(secret_manager) -> None:
    secret_manager.body = _payload("pw")
    store = SessionStore.from_config(_config(CACHE_TLS_CA_FILE="/etc/sample-service/cache-ca.pem"))
    kwargs = store._client.connection_pool.connection_kwargs
    assert kwargs["ssl_ca_certs"] == "/etc/sample-service/cache-ca.pem"
    assert kwargs["ssl_cert_reqs"] == "required" and kwargs["password"] == "pw"


def test_the_ca_file_must_be_an_absolute_path() -> None:
    with pytest.raises(
        ValueError, match=r"CACHE_TLS_CA_FILE='cache-ca\.pem' is invalid: expected an absolute"
    ):
        _config(CACHE_TLS_CA_FILE="cache-ca.pem")
