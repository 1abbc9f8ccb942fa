"""Cache AUTH: a token given directly, or read once at start-up from AWS Secrets Manager or (for a
`projects/.../secrets/.../versions/...` name) Google Secret Manager; or (Azure) Entra ID tokens of the
instance's managed identity."""

from __future__ import annotations

import json
from typing import Any

from sample_service.config import GCP_SECRET_VERSION, ServiceConfig

# Start-up only, so these can be more patient than the per-request timeouts.
_SECRETS_CLIENT_TIMEOUTS = {
    "connect_timeout": 3,
    "read_timeout": 5,
    "retries": {"max_attempts": 3, "mode": "standard"},
}


class CacheAuthError(RuntimeError):
    """The cache AUTH token could not be obtained; the service cannot start."""


def password_from_secret_string(secret_string: str) -> str:
    """Accept either the raw token or a JSON object with a "password" key."""
    try:
        parsed = json.loads(secret_string)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        password = parsed.get("password")
        if not isinstance(password, str) or not password:
            raise CacheAuthError('the secret is a JSON object without a non-empty string "password" key')
        return password
    if not secret_string:
        raise CacheAuthError("the secret string is empty")
    return secret_string


def _aws_secret_string(secret_id: str, region: str | None) -> str:
    # Imported here: only AWS instances carry boto3 (each cloud's release installs its own clients).
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    client = boto3.client("secretsmanager", region_name=region, config=Config(**_SECRETS_CLIENT_TIMEOUTS))
    try:
        response = client.get_secret_value(SecretId=secret_id)
    except (BotoCoreError, ClientError) as exc:
        raise CacheAuthError(f"cannot read the secret: {exc}") from exc
    finally:
        client.close()
    if "SecretString" not in response:
        raise CacheAuthError("the secret has no SecretString")
    return response["SecretString"]


def resolve_cache_password(config: ServiceConfig) -> str | None:
    secret_id = config.cache_auth_secret_id
    if secret_id is None:
        return config.cache_password
    try:
        if GCP_SECRET_VERSION.fullmatch(secret_id):
            from sample_service.gcp_secrets import access_secret_version

            text = access_secret_version(secret_id)
        else:
            text = _aws_secret_string(secret_id, config.aws_region)
        return password_from_secret_string(text)
    except CacheAuthError as exc:
        # Every failure names the secret, whichever cloud holds it, and never its value.
        raise CacheAuthError(f"CACHE_AUTH_SECRET_ID={secret_id!r}: {exc}") from exc


def cache_login(config: ServiceConfig) -> dict[str, Any]:
    """The Redis client's login arguments for this configuration."""
    if config.cache_auth == "entra-id" and config.cache_username and config.azure_client_id:
        from sample_service.entra_id import EntraIdCacheLogin, managed_identity_credential

        credential = managed_identity_credential(config.azure_client_id)
        return {"credential_provider": EntraIdCacheLogin(config.cache_username, credential)}
    return {"password": resolve_cache_password(config)}
