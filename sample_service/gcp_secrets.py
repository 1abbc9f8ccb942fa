"""Google Secret Manager, read once at start-up with the instance's own service account."""

from __future__ import annotations

import base64
import binascii

import google.auth
from google.auth import exceptions as auth_exceptions
from google.auth.transport.requests import AuthorizedSession
from requests import RequestException

from sample_service.cache_auth import CacheAuthError

API = "https://secretmanager.googleapis.com/v1"
SCOPE = "https://www.googleapis.com/auth/cloud-platform"
# Start-up only: as patient as the Secrets Manager client on AWS.
TIMEOUT_SECONDS = 5


def access_secret_version(name: str) -> str:
    """The payload of `projects/P/secrets/S/versions/V` as text; a CacheAuthError never holds its value."""
    try:
        credentials, _ = google.auth.default(scopes=[SCOPE])
        with AuthorizedSession(credentials) as session:
            response = session.get(f"{API}/{name}:access", timeout=TIMEOUT_SECONDS)
    except (auth_exceptions.GoogleAuthError, RequestException) as exc:
        raise CacheAuthError(f"cannot read the secret: {exc}") from exc
    if response.status_code != 200:
        raise CacheAuthError(f"cannot read the secret: HTTP {response.status_code}")
    try:
        return base64.b64decode(response.json()["payload"]["data"], validate=True).decode()
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise CacheAuthError("the response has no readable payload") from exc
