"""Start-up: bad configuration stops the process with a clear message; the cache AUTH token comes from
CACHE_PASSWORD or, once, from Secrets Manager (CACHE_AUTH_SECRET_ID)."""

from __future__ import annotations

import json
import socket
import uuid
from typing import Any

import pytest

from sample_service.cache_auth import CacheAuthError, password_from_secret_string


@pytest.mark.parametrize(
    ("secret_string", "password"),
    [
        ("raw-token", "raw-token"),
        ('{"password": "from-json", "username": "default"}', "from-json"),
        ('"a quoted string"', '"a quoted string"'),
        ("12345", "12345"),
    ],
)
def test_secret_string_is_raw_token_or_json_with_password(secret_string: str, password: str) -> None:
    assert password_from_secret_string(secret_string) == password


@pytest.mark.parametrize("secret_string", ["", '{"user": "x"}', '{"password": ""}', '{"password": 1}'])
def test_unusable_secret_string_is_rejected(secret_string: str) -> None:
    with pytest.raises(CacheAuthError):
        password_from_secret_string(secret_string)


def start_failure(service: Any) -> str:
    assert service.proc.wait(15) == 2
    [record] = [r for r in service.log_records() if r["message"] == "cannot start"]
    assert record["level"] == "ERROR"
    return record["error"]


@pytest.mark.servers
def test_invalid_configuration_exits_2_naming_the_variable(start_service: Any) -> None:
    service = start_service(wait=False, CACHE_TIMEOUT_MS="fast")
    assert start_failure(service) == "CACHE_TIMEOUT_MS='fast' is invalid: expected an integer from 1 to 60000"


@pytest.mark.servers
@pytest.mark.parametrize("as_json", [True, False], ids=["json", "raw"])
def test_cache_password_from_secrets_manager(
    start_service: Any, make_redis: Any, secretsmanager: Any, moto_endpoint: str, as_json: bool
) -> None:
    password = f"tok-{uuid.uuid4().hex}"
    cache = make_redis("--requirepass", password)
    secret_id = secretsmanager.create_secret(
        Name=f"cache-auth-{uuid.uuid4().hex}",
        SecretString=json.dumps({"password": password}) if as_json else password,
    )["ARN"]
    service = start_service(
        CACHE_PORT=str(cache.port),
        CACHE_AUTH_SECRET_ID=secret_id,
        AWS_ENDPOINT_URL_SECRETS_MANAGER=moto_endpoint,
    )

    assert service.request("GET", "/ready").status == 200
    token = service.request("POST", "/sessions", {"a": 1}).body["token"]
    assert cache.client(password=password).exists(f"session:{token}") == 1
    assert password not in service.log_path.read_text()


@pytest.mark.servers
def test_unreadable_secret_exits_2(start_service: Any, moto_endpoint: str) -> None:
    service = start_service(
        wait=False, CACHE_AUTH_SECRET_ID="no-such-secret", AWS_ENDPOINT_URL_SECRETS_MANAGER=moto_endpoint
    )
    error = start_failure(service)
    assert error.startswith("CACHE_AUTH_SECRET_ID='no-such-secret': cannot read the secret:")
    assert "ResourceNotFoundException" in error


@pytest.mark.servers
def test_wrong_cache_password_is_503_not_a_crash(start_service: Any, make_redis: Any) -> None:
    cache = make_redis("--requirepass", "right")
    service = start_service(CACHE_PORT=str(cache.port), CACHE_PASSWORD="wrong")
    service.request("POST", "/sessions", {"a": 1}).assert_error(503, "session cache unavailable")
    assert service.request("GET", "/ready").body["checks"] == {"cache": "unavailable", "store": "ok"}
    assert service.request("GET", "/health").status == 200


@pytest.mark.servers
def test_port_in_use_exits_1(start_service: Any) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        service = start_service(wait=False, SERVICE_PORT=str(taken.getsockname()[1]))
        assert service.proc.wait(15) == 1
    [record] = [r for r in service.log_records() if r["message"] == "cannot listen"]
    assert "address already in use" in record["error"]
