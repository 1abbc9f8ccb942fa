"""ServiceConfig.from_env: defaults, parsing, and a precise ValueError for every bad value."""

from __future__ import annotations

import dataclasses

import pytest

from sample_service.config import STORE_BACKENDS, ServiceConfig

ALLOWED_BACKENDS = " or ".join(repr(backend) for backend in STORE_BACKENDS)

MINIMAL = {
    "CACHE_HOST": "cache.internal",
    "STORE_BACKEND": "dynamodb",
    "ITEMS_TABLE": "items",
    "AWS_REGION": "eu-west-1",
}


def config(**overrides: str | None) -> ServiceConfig:
    environ = {**MINIMAL, **overrides}
    return ServiceConfig.from_env({k: v for k, v in environ.items() if v is not None})


def test_defaults() -> None:
    assert config() == ServiceConfig(
        service_host="0.0.0.0",
        service_port=8080,
        cache_host="cache.internal",
        cache_port=6379,
        cache_tls=True,
        cache_password=None,
        cache_auth_secret_id=None,
        cache_timeout_ms=250,
        session_ttl_seconds=1800,
        store_backend="dynamodb",
        items_table="items",
        store_timeout_ms=500,
        aws_region="eu-west-1",
        shutdown_grace_seconds=30,
        max_body_bytes=65536,
    )


def test_every_variable_is_read() -> None:
    parsed = config(
        SERVICE_HOST="127.0.0.1",
        SERVICE_PORT="9000",
        CACHE_PORT="6380",
        CACHE_TLS="FALSE",
        CACHE_AUTH_SECRET_ID="arn:aws:secretsmanager:eu-west-1:123456789012:secret:cache-auth-AbCdEf",
        CACHE_TIMEOUT_MS="100",
        SESSION_TTL_SECONDS="60",
        ITEMS_TABLE="arn:aws:dynamodb:eu-west-1:123456789012:table/items",
        STORE_TIMEOUT_MS="750",
        SHUTDOWN_GRACE_SECONDS="0",
        MAX_BODY_BYTES="1024",
    )
    assert (parsed.service_host, parsed.service_port, parsed.cache_port, parsed.cache_tls) == (
        "127.0.0.1",
        9000,
        6380,
        False,
    )
    assert parsed.cache_auth_secret_id.endswith(":secret:cache-auth-AbCdEf")
    assert (parsed.cache_timeout, parsed.store_timeout) == (0.1, 0.75)
    assert (parsed.session_ttl_seconds, parsed.shutdown_grace_seconds, parsed.max_body_bytes) == (60, 0, 1024)
    assert parsed.items_table == "arn:aws:dynamodb:eu-west-1:123456789012:table/items"


def test_empty_values_count_as_unset() -> None:
    assert config(SERVICE_PORT="", CACHE_TLS="", CACHE_PASSWORD="") == config()


def test_aws_region_wins_over_aws_default_region() -> None:
    assert config(AWS_REGION="us-west-2", AWS_DEFAULT_REGION="eu-central-1").aws_region == "us-west-2"
    assert config(AWS_REGION=None, AWS_DEFAULT_REGION="eu-central-1").aws_region == "eu-central-1"


def test_password_is_kept_out_of_repr() -> None:
    parsed = config(CACHE_PASSWORD="s3cr3t-token")
    assert parsed.cache_password == "s3cr3t-token"
    assert "s3cr3t-token" not in repr(parsed)


def test_config_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        config().service_port = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    ("name", "value", "allowed"),
    [
        ("SERVICE_HOST", "bad host", "a hostname or IP address"),
        ("SERVICE_PORT", "0", "an integer from 1 to 65535"),
        ("SERVICE_PORT", "65536", "an integer from 1 to 65535"),
        ("SERVICE_PORT", "http", "an integer from 1 to 65535"),
        ("SERVICE_PORT", " 8080", "an integer from 1 to 65535"),
        ("SERVICE_PORT", "8_080", "an integer from 1 to 65535"),
        ("CACHE_HOST", "cache/0", "a hostname or IP address"),
        ("CACHE_PORT", "-1", "an integer from 1 to 65535"),
        ("CACHE_TLS", "yes", "'true' or 'false'"),
        ("CACHE_AUTH_SECRET_ID", "not a secret id", "a secret name or ARN"),
        ("CACHE_TIMEOUT_MS", "0", "an integer from 1 to 60000"),
        ("CACHE_TIMEOUT_MS", "2.5", "an integer from 1 to 60000"),
        ("SESSION_TTL_SECONDS", "0", "an integer from 1 to 2592000"),
        ("STORE_BACKEND", "cosmosdb", ALLOWED_BACKENDS),
        ("ITEMS_TABLE", "x", "a DynamoDB table name or table ARN"),
        ("STORE_TIMEOUT_MS", "99999999999", "an integer from 1 to 60000"),
        ("AWS_REGION", "Mars", "an AWS region name such as 'us-east-1'"),
        ("SHUTDOWN_GRACE_SECONDS", "3601", "an integer from 0 to 3600"),
        ("MAX_BODY_BYTES", "10", "an integer from 1024 to 10485760"),
    ],
)
def test_invalid_value_names_variable_value_and_allowed(name: str, value: str, allowed: str) -> None:
    with pytest.raises(ValueError) as excinfo:
        config(**{name: value})
    assert str(excinfo.value) == f"{name}={value!r} is invalid: expected {allowed}"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"CACHE_HOST": None}, "CACHE_HOST is required: expected a hostname or IP address"),
        ({"STORE_BACKEND": None}, f"STORE_BACKEND is required: expected {ALLOWED_BACKENDS}"),
        ({"ITEMS_TABLE": None}, "ITEMS_TABLE is required when STORE_BACKEND is 'dynamodb'"),
        (
            {"AWS_REGION": None},
            "AWS_REGION (or AWS_DEFAULT_REGION) is required when STORE_BACKEND is 'dynamodb'",
        ),
        (
            {"CACHE_PASSWORD": "a", "CACHE_AUTH_SECRET_ID": "b"},
            "CACHE_PASSWORD and CACHE_AUTH_SECRET_ID are both set: expected at most one of them",
        ),
    ],
)
def test_missing_or_conflicting_variables(overrides: dict[str, str | None], message: str) -> None:
    with pytest.raises(ValueError) as excinfo:
        config(**overrides)
    assert str(excinfo.value) == message
