"""The gateway's OpenAPI 2.0 document, generated from the spec and the service's routes.

Every operation but the health check needs an API key (it names the consumer project the quota is charged
to) and a JWT signed as the API client service account. The gateway calls the backend with an ID token of
its own service account for `jwt_audience`; the service verifies that token (sample_service/gateway_auth.py).
"""

from __future__ import annotations

from typing import Any

from refarch.spec import EnvironmentSpec
from sample_service.paths import HEALTH_PATH

QUOTA_METRIC = "requests"
QUOTA_LIMIT = "requests-per-minute"
# API Gateway gives up on a backend after this many seconds (its maximum is longer; AWS's is 29).
BACKEND_DEADLINE_SECONDS = 29.0
API_KEY_HEADER = "x-api-key"

# (path, method, operationId): the service's routes (sample_service/app.py); a test keeps them in step.
ROUTES = (
    (HEALTH_PATH, "get", "health"),
    ("/ready", "get", "ready"),
    ("/sessions", "post", "createSession"),
    ("/sessions/{token}", "get", "getSession"),
    ("/sessions/{token}", "put", "replaceSession"),
    ("/sessions/{token}", "delete", "deleteSession"),
    ("/items/{item_id}", "get", "getItem"),
    ("/items/{item_id}", "put", "putItem"),
)
# Open through the gateway so the uptime check can probe the whole path; it reveals only "ok".
PUBLIC_PATHS = (HEALTH_PATH,)


def requests_per_minute(spec: EnvironmentSpec) -> int:
    """The spec's steady rate as the per-minute quota API Gateway enforces per consumer project."""
    return round(spec.api.throttle_rate_per_second * 60)


def client_jwks_uri(client_email: str) -> str:
    return f"https://www.googleapis.com/service_accounts/v1/metadata/x509/{client_email}"


def _operation(path: str, method: str, operation_id: str) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": operation_id,
        "responses": {"default": {"description": "The service's JSON response"}},
    }
    parameters = [
        {"name": part[1:-1], "in": "path", "required": True, "type": "string"}
        for part in path.split("/")
        if part.startswith("{")
    ]
    if method in ("post", "put"):
        parameters.append({"name": "body", "in": "body", "required": True, "schema": {"type": "object"}})
    if parameters:
        operation["parameters"] = parameters
    if path in PUBLIC_PATHS:
        operation["security"] = []
    else:
        operation["x-google-quota"] = {"metricCosts": {QUOTA_METRIC: 1}}
    return operation


def openapi_document(
    environment: str,
    *,
    requests_per_minute: int,
    backend_address: str,
    backend_audience: str,
    client_email: str,
    client_audience: str,
) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for path, method, operation_id in ROUTES:
        paths.setdefault(path, {})[method] = _operation(path, method, operation_id)
    return {
        "swagger": "2.0",
        "info": {"title": f"Stateless service API ({environment})", "version": "1.0.0"},
        "schemes": ["https"],
        "produces": ["application/json"],
        "x-google-backend": {
            "address": backend_address,
            "jwt_audience": backend_audience,
            "deadline": BACKEND_DEADLINE_SECONDS,
            "path_translation": "APPEND_PATH_TO_ADDRESS",
        },
        "x-google-management": {
            "metrics": [
                {"name": QUOTA_METRIC, "displayName": "Requests", "valueType": "INT64", "metricKind": "DELTA"}
            ],
            "quota": {
                "limits": [
                    {
                        "name": QUOTA_LIMIT,
                        "metric": QUOTA_METRIC,
                        "unit": "1/min/{project}",
                        "values": {"STANDARD": requests_per_minute},
                    }
                ]
            },
        },
        "securityDefinitions": {
            "api_key": {"type": "apiKey", "name": API_KEY_HEADER, "in": "header"},
            "api_client": {
                "authorizationUrl": "",
                "flow": "implicit",
                "type": "oauth2",
                "x-google-issuer": client_email,
                "x-google-jwks_uri": client_jwks_uri(client_email),
                "x-google-audiences": client_audience,
            },
        },
        # Both at once: the key for quotas, the signed JWT for who is calling.
        "security": [{"api_key": [], "api_client": []}],
        "paths": paths,
    }
