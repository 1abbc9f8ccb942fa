"""The sample service's environment on Azure: it reads nothing but these variables (see
sample_service/config.py)."""

from __future__ import annotations

import pulumi

from azure_stack.network import CACHE_PORT
from refarch.service_settings import tuned_settings
from refarch.spec import Service


def service_environment(
    service: Service,
    *,
    cache_host: pulumi.Input[str],
    identity_client_id: pulumi.Input[str],
    identity_principal_id: pulumi.Input[str],
    cosmos_endpoint: pulumi.Input[str],
    cosmos_database: str,
    cosmos_container: str,
) -> dict[str, pulumi.Input[str]]:
    return {
        **tuned_settings(service),
        "CACHE_HOST": cache_host,
        "CACHE_PORT": str(CACHE_PORT),
        "CACHE_TLS": "true",
        # Entra ID instead of a key: the managed identity's token is the password, its object ID the user.
        "CACHE_AUTH": "entra-id",
        "CACHE_USERNAME": identity_principal_id,
        "AZURE_CLIENT_ID": identity_client_id,
        "STORE_BACKEND": "cosmos",
        "COSMOS_ENDPOINT": cosmos_endpoint,
        "COSMOS_DATABASE": cosmos_database,
        "COSMOS_CONTAINER": cosmos_container,
    }
