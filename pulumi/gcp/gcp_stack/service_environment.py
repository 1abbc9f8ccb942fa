"""The sample service's environment on GCP: it reads nothing but these variables (a test holds it to that)."""

from __future__ import annotations

import pulumi

from refarch.service_settings import tuned_settings
from refarch.spec import EnvironmentSpec

# Where the boot script writes Memorystore's CA certificate.
CACHE_CA_FILE = "/etc/sample-service/cache-ca.pem"


def service_environment(
    spec: EnvironmentSpec,
    *,
    project: str,
    cache_host: pulumi.Input[str],
    cache_port: int,
    cache_auth_secret: pulumi.Input[str],
    database: pulumi.Input[str],
    gateway_audience: str,
    gateway_account_id: pulumi.Input[str],
) -> dict[str, pulumi.Input[str]]:
    return {
        **tuned_settings(spec.service),
        "CACHE_HOST": cache_host,
        "CACHE_PORT": str(cache_port),
        "CACHE_TLS": "true",
        "CACHE_TLS_CA_FILE": CACHE_CA_FILE,
        # Memorystore's server certificate names the instance's IP in its subject CN and carries no IP
        # subjectAltName, so a host name check against the IP it is reached by fails (OpenSSL matches IPs
        # against iPAddress SANs only). The CA is the instance's own (CACHE_TLS_CA_FILE): the chain alone
        # says it is this instance.
        "CACHE_TLS_CHECK_HOSTNAME": "false",
        # A Secret Manager version name: the service reads the AUTH string itself at start-up.
        "CACHE_AUTH_SECRET_ID": cache_auth_secret,
        "STORE_BACKEND": "firestore",
        "GOOGLE_CLOUD_PROJECT": project,
        "FIRESTORE_DATABASE": database,
        # Only requests carrying the gateway's ID token are served (the health path excepted).
        "GATEWAY_JWT_AUDIENCE": gateway_audience,
        "GATEWAY_JWT_SUBJECT": gateway_account_id,
    }
