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

from sample_service import defaults

STORE_BACKENDS = ("dynamodb", "cosmos", "firestore")
# How the service logs in to the cache: a password (given, from a secret, or none) or Entra ID tokens.
CACHE_AUTH_MODES = ("password", "entra-id")
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
_GUID = re.compile(r"[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}")
_COSMOS_ENDPOINT = re.compile(r"https://[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?/?")
_COSMOS_NAME = re.compile(r"[A-Za-z0-9_-]{1,255}")
# A Secret Manager secret version: Google Cloud's form of CACHE_AUTH_SECRET_ID.
GCP_SECRET_VERSION = re.compile(
    r"projects/[a-z0-9-]{1,30}/secrets/[A-Za-z0-9_-]{1,255}/versions/[a-z0-9]{1,20}"
)
_GCP_PROJECT = re.compile(r"[a-z][a-z0-9-]{4,28}[a-z0-9]")
_FIRESTORE_DATABASE = re.compile(r"\(default\)|[a-z][a-z0-9-]{2,61}[a-z0-9]")
_URL = re.compile(r"https://[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?(/[^\s]*)?")
_LOCAL_URL = re.compile(r"http://127\.0\.0\.1:[0-9]{1,5}(/[^\s]*)?")
_UINT_ID = re.compile(r"[0-9]{1,30}")
_FILE_PATH = re.compile(r"/[A-Za-z0-9._/-]{1,4095}")


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


def _required(
    environ: Mapping[str, str],
    name: str,
    pattern: re.Pattern[str],
    allowed: str,
    needed_by: str | None = None,
) -> str:
    raw = _get(environ, name)
    if raw is None:
        when = f" when {needed_by}" if needed_by else ""
        raise ValueError(f"{name} is required{when}: expected {allowed}")
    if not pattern.fullmatch(raw):
        raise _invalid(name, raw, allowed)
    return raw


@dataclass(frozen=True)
class CosmosSettings:
    endpoint: str
    database: str
    container: str


def _azure_settings(environ: Mapping[str, str], store_backend: str, cache_password_given: bool) -> dict:
    """Azure's variables: Entra ID login to the cache, the Cosmos DB container, the managed identity."""
    cache_auth = _get(environ, "CACHE_AUTH") or "password"
    if cache_auth not in CACHE_AUTH_MODES:
        raise _invalid("CACHE_AUTH", cache_auth, " or ".join(repr(mode) for mode in CACHE_AUTH_MODES))
    settings: dict = {
        "cache_auth": cache_auth,
        "cache_username": None,
        "azure_client_id": None,
        "cosmos": None,
    }
    uses_identity = []
    if cache_auth == "entra-id":
        if cache_password_given:
            raise ValueError(
                "CACHE_AUTH is 'entra-id': expected neither CACHE_PASSWORD nor CACHE_AUTH_SECRET_ID"
            )
        settings["cache_username"] = _required(
            environ,
            "CACHE_USERNAME",
            _GUID,
            "the object ID of the managed identity",
            "CACHE_AUTH is 'entra-id'",
        )
        uses_identity.append("CACHE_AUTH is 'entra-id'")
    if store_backend == "cosmos":
        needed_by = "STORE_BACKEND is 'cosmos'"
        settings["cosmos"] = CosmosSettings(
            endpoint=_required(
                environ, "COSMOS_ENDPOINT", _COSMOS_ENDPOINT, "an https:// account endpoint", needed_by
            ),
            database=_required(environ, "COSMOS_DATABASE", _COSMOS_NAME, "a database name", needed_by),
            container=_required(environ, "COSMOS_CONTAINER", _COSMOS_NAME, "a container name", needed_by),
        )
        uses_identity.append(needed_by)
    if uses_identity:
        settings["azure_client_id"] = _required(
            environ,
            "AZURE_CLIENT_ID",
            _GUID,
            "the client ID of the managed identity",
            " and ".join(uses_identity),
        )
    return settings


@dataclass(frozen=True)
class GatewayAuth:
    """Serve only requests carrying an ID token the API gateway minted (GCP): set the audience to enable."""

    audience: str
    # The `sub` of the gateway's tokens: its service account's unique ID. Anyone can mint a Google ID token
    # for any audience, so the audience alone would not prove the token is the gateway's.
    subject: str
    issuer: str = "https://accounts.google.com"
    jwks_url: str = "https://www.googleapis.com/oauth2/v3/certs"

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> GatewayAuth | None:
        audience = _get(environ, "GATEWAY_JWT_AUDIENCE")
        subject = _get(environ, "GATEWAY_JWT_SUBJECT")
        if audience is None and subject is None:
            return None
        if audience is None or subject is None:
            raise ValueError("GATEWAY_JWT_AUDIENCE and GATEWAY_JWT_SUBJECT: expected both or neither")
        if not _URL.fullmatch(audience):
            raise _invalid("GATEWAY_JWT_AUDIENCE", audience, "an https:// URL")
        if not _UINT_ID.fullmatch(subject):
            raise _invalid("GATEWAY_JWT_SUBJECT", subject, "a service account's numeric unique ID")
        defaults = cls(audience, subject)
        issuer = _get(environ, "GATEWAY_JWT_ISSUER") or defaults.issuer
        jwks_url = _get(environ, "GATEWAY_JWKS_URL") or defaults.jwks_url
        for name, value in (("GATEWAY_JWT_ISSUER", issuer), ("GATEWAY_JWKS_URL", jwks_url)):
            if not (_URL.fullmatch(value) or _LOCAL_URL.fullmatch(value)):
                raise _invalid(name, value, "an https:// URL (http:// only on 127.0.0.1)")
        return cls(audience, subject, issuer, jwks_url)


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
    cache_auth: str = "password"
    cache_username: str | None = None
    azure_client_id: str | None = None
    cosmos: CosmosSettings | None = None
    # Google Cloud: the CA that signs the cache's certificate, Firestore, and the gateway's ID token.
    cache_tls_ca_file: str | None = None
    gcp_project: str | None = None
    firestore_database: str | None = None
    gateway_auth: GatewayAuth | None = None
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

        gcp_project = firestore_database = None
        if store_backend == "firestore":
            needed_by = "STORE_BACKEND is 'firestore'"
            gcp_project = _required(
                environ, "GOOGLE_CLOUD_PROJECT", _GCP_PROJECT, "a Google Cloud project ID", needed_by
            )
            firestore_database = _required(
                environ,
                "FIRESTORE_DATABASE",
                _FIRESTORE_DATABASE,
                "a Firestore database ID or (default)",
                needed_by,
            )

        aws_region = None
        if store_backend == "dynamodb":
            aws_region = _aws_region(environ, "STORE_BACKEND is 'dynamodb'")
        elif cache_auth_secret_id is not None and not GCP_SECRET_VERSION.fullmatch(cache_auth_secret_id):
            aws_region = _aws_region(environ, "CACHE_AUTH_SECRET_ID is set")

        cache_tls_ca_file = _get(environ, "CACHE_TLS_CA_FILE")
        if cache_tls_ca_file is not None and not _FILE_PATH.fullmatch(cache_tls_ca_file):
            raise _invalid("CACHE_TLS_CA_FILE", cache_tls_ca_file, "an absolute file path")
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
            service_port=_int(environ, "SERVICE_PORT", defaults.SERVICE_PORT, 1, 65535),
            cache_host=_host(environ, "CACHE_HOST", None),
            cache_port=_int(environ, "CACHE_PORT", 6379, 1, 65535),
            cache_tls=_bool(environ, "CACHE_TLS", True),
            cache_password=cache_password,
            cache_auth_secret_id=cache_auth_secret_id,
            cache_timeout_ms=_int(environ, "CACHE_TIMEOUT_MS", defaults.CACHE_TIMEOUT_MS, 1, 60_000),
            session_ttl_seconds=_int(
                environ, "SESSION_TTL_SECONDS", defaults.SESSION_TTL_SECONDS, 1, 30 * 24 * 3600
            ),
            store_backend=store_backend,
            items_table=items_table,
            store_timeout_ms=_int(environ, "STORE_TIMEOUT_MS", defaults.STORE_TIMEOUT_MS, 1, 60_000),
            aws_region=aws_region,
            shutdown_grace_seconds=_int(
                environ, "SHUTDOWN_GRACE_SECONDS", defaults.SHUTDOWN_GRACE_SECONDS, 0, 3600
            ),
            max_body_bytes=_int(environ, "MAX_BODY_BYTES", defaults.MAX_BODY_BYTES, 1024, 10 * 1024 * 1024),
            **_azure_settings(
                environ, store_backend, cache_password is not None or cache_auth_secret_id is not None
            ),
            cache_tls_ca_file=cache_tls_ca_file,
            gcp_project=gcp_project,
            firestore_database=firestore_database,
            gateway_auth=GatewayAuth.from_env(environ),
            session_backend=session_backend,
        )
