"""Service configuration: read from environment variables once, validated, then immutable.

Every instance behind the load balancer gets the same environment from the stack, so the
environment is the only input; nothing is read from local files or earlier runs.
An empty variable counts as unset, so a stack can always write every name.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

STORE_BACKENDS = ("dynamodb",)
# "memory" keeps sessions in this process, which breaks statelessness on purpose: it exists only so the
# replacement drill's control run can prove the drill detects lost sessions. Refused unless opted in.
SESSION_BACKENDS = ("redis", "memory")
TEST_ONLY_OPT_IN = "ALLOW_TEST_ONLY_SETTINGS"

_UINT = re.compile(r"[0-9]{1,10}")
_HOST = re.compile(r"[A-Za-z0-9._:-]{1,253}")
_SECRET_ID = re.compile(r"[A-Za-z0-9/_+=.@:-]{1,2048}")
_TABLE_NAME = re.compile(r"[A-Za-z0-9_.-]{3,255}")
_TABLE_ARN = re.compile(r"arn:aws[a-z-]*:dynamodb:[a-z0-9-]+:[0-9]{12}:table/[A-Za-z0-9_.-]{3,255}")
_AWS_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]{1,2}")


def _get(environ: Mapping[str, str], name: str) -> str | None:
    value = environ.get(name)
    return value if value else None


def _invalid(name: str, value: str, allowed: str) -> ValueError:
    return ValueError(f"{name}={value!r} is invalid: expected {allowed}")


def _int(environ: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = _get(environ, name)
    if raw is None:
        return default
    # A strict pattern, because int() would also accept " 8080", "+8080" and "8_080".
    if not _UINT.fullmatch(raw) or not low <= int(raw) <= high:
        raise _invalid(name, raw, f"an integer from {low} to {high}")
    return int(raw)


def _host(environ: Mapping[str, str], name: str, default: str | None) -> str:
    raw = _get(environ, name)
    if raw is None:
        if default is None:
            raise ValueError(f"{name} is required: expected a hostname or IP address")
        return default
    if not _HOST.fullmatch(raw):
        raise _invalid(name, raw, "a hostname or IP address")
    return raw


def _bool(environ: Mapping[str, str], name: str, default: bool) -> bool:
    raw = _get(environ, name)
    if raw is None:
        return default
    if raw.lower() not in ("true", "false"):
        raise _invalid(name, raw, "'true' or 'false'")
    return raw.lower() == "true"


def _aws_region(environ: Mapping[str, str], needed_by: str) -> str:
    # The same precedence as the AWS SDKs: AWS_REGION wins over AWS_DEFAULT_REGION.
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        raw = _get(environ, name)
        if raw is not None:
            if not _AWS_REGION.fullmatch(raw):
                raise _invalid(name, raw, "an AWS region name such as 'us-east-1'")
            return raw
    raise ValueError(f"AWS_REGION (or AWS_DEFAULT_REGION) is required when {needed_by}")


@dataclass(frozen=True)
class ServiceConfig:
    service_host: str
    service_port: int
    cache_host: str
    cache_port: int
    cache_tls: bool
    cache_password: str | None = field(repr=False)
    cache_auth_secret_id: str | None
    cache_timeout_ms: int
    session_ttl_seconds: int
    store_backend: str
    items_table: str | None
    store_timeout_ms: int
    aws_region: str | None
    shutdown_grace_seconds: int
    max_body_bytes: int
    session_backend: str = "redis"

    @property
    def cache_timeout(self) -> float:
        return self.cache_timeout_ms / 1000

    @property
    def store_timeout(self) -> float:
        return self.store_timeout_ms / 1000

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> ServiceConfig:
        cache_password = _get(environ, "CACHE_PASSWORD")
        cache_auth_secret_id = _get(environ, "CACHE_AUTH_SECRET_ID")
        if cache_password is not None and cache_auth_secret_id is not None:
            raise ValueError(
                "CACHE_PASSWORD and CACHE_AUTH_SECRET_ID are both set: expected at most one of them"
            )
        if cache_auth_secret_id is not None and not _SECRET_ID.fullmatch(cache_auth_secret_id):
            raise _invalid("CACHE_AUTH_SECRET_ID", cache_auth_secret_id, "a secret name or ARN")

        store_backend = _get(environ, "STORE_BACKEND")
        if store_backend not in STORE_BACKENDS:
            allowed = " or ".join(repr(b) for b in STORE_BACKENDS)
            if store_backend is None:
                raise ValueError(f"STORE_BACKEND is required: expected {allowed}")
            raise _invalid("STORE_BACKEND", store_backend, allowed)

        items_table = None
        if store_backend == "dynamodb":
            items_table = _get(environ, "ITEMS_TABLE")
            if items_table is None:
                raise ValueError("ITEMS_TABLE is required when STORE_BACKEND is 'dynamodb'")
            if not (_TABLE_NAME.fullmatch(items_table) or _TABLE_ARN.fullmatch(items_table)):
                raise _invalid("ITEMS_TABLE", items_table, "a DynamoDB table name or table ARN")

        aws_region = None
        if store_backend == "dynamodb":
            aws_region = _aws_region(environ, "STORE_BACKEND is 'dynamodb'")
        elif cache_auth_secret_id is not None:
            aws_region = _aws_region(environ, "CACHE_AUTH_SECRET_ID is set")

        session_backend = _get(environ, "SESSION_BACKEND") or "redis"
        if session_backend not in SESSION_BACKENDS:
            raise _invalid("SESSION_BACKEND", session_backend, " or ".join(map(repr, SESSION_BACKENDS)))
        if session_backend == "memory" and not _bool(environ, TEST_ONLY_OPT_IN, False):
            raise ValueError(
                "SESSION_BACKEND='memory' loses every session when an instance is replaced and whenever a"
                " request lands on another instance; it is only for the replacement drill's control run"
                f" (set {TEST_ONLY_OPT_IN}=true to use it there)"
            )

        return cls(
            service_host=_host(environ, "SERVICE_HOST", "0.0.0.0"),
            service_port=_int(environ, "SERVICE_PORT", 8080, 1, 65535),
            cache_host=_host(environ, "CACHE_HOST", None),
            cache_port=_int(environ, "CACHE_PORT", 6379, 1, 65535),
            cache_tls=_bool(environ, "CACHE_TLS", True),
            cache_password=cache_password,
            cache_auth_secret_id=cache_auth_secret_id,
            cache_timeout_ms=_int(environ, "CACHE_TIMEOUT_MS", 250, 1, 60_000),
            session_ttl_seconds=_int(environ, "SESSION_TTL_SECONDS", 1800, 1, 30 * 24 * 3600),
            store_backend=store_backend,
            items_table=items_table,
            store_timeout_ms=_int(environ, "STORE_TIMEOUT_MS", 500, 1, 60_000),
            aws_region=aws_region,
            shutdown_grace_seconds=_int(environ, "SHUTDOWN_GRACE_SECONDS", 30, 0, 3600),
            max_body_bytes=_int(environ, "MAX_BODY_BYTES", 65536, 1024, 10 * 1024 * 1024),
            session_backend=session_backend,
        )
