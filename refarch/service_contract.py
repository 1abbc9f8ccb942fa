"""The contract between the stacks and the service they run: what every cloud's stack owes the service
(an environment it accepts and reads in full) and what the stacks expect of any service that replaces the
sample (sample_service/CONTRACT.md says it in prose; tests check both against this).

A variable the service never reads (renamed, misspelt, or left over) would silently fall back to a
default, so each cloud's tests parse the variables its stack writes through this and expect nothing unread.
"""

from __future__ import annotations

import signal
from collections.abc import Mapping

from sample_service import defaults, paths
from sample_service.config import ServiceConfig

# The port the load balancer sends requests to and probes; the service reads it from this variable.
PORT_VARIABLE = "SERVICE_PORT"
PORT = defaults.SERVICE_PORT
# Shallow: 200 while the process serves requests, whatever the cache and store do. Every cloud's load
# balancer and instance health check probe it.
HEALTH_PATH = paths.HEALTH_PATH
# Deep: 200 only when the cache and the store answer; for operators and the synthetic check, never the
# load balancer (one dependency outage must not take every instance out at once).
READY_PATH = "/ready"
# Scale-in and replacement: stop accepting, finish in-flight requests within SHUTDOWN_GRACE_SECONDS, exit 0.
# systemd sends it (refarch/service_unit.sh) and kills what is left after refarch.boot.stop_timeout_seconds.
STOP_SIGNAL = signal.SIGTERM
# Azure only, before a planned stop (its Scheduled Events terminate notice, azure_stack/terminate_watch.py):
# fail the health path with 503 and keep serving, so the Application Gateway drains the instance first.
LEAVE_SIGNAL = signal.SIGUSR1
LEAVING_STATUS = 503

# Every variable a stack may write to the service's environment, and what it carries (an empty value is
# unset). A test keeps this list equal to what sample_service/config.py reads.
VARIABLES = {
    "SERVICE_HOST": "address to listen on (default 0.0.0.0)",
    PORT_VARIABLE: f"port to listen on (default {PORT})",
    "MAX_BODY_BYTES": "largest request body read; larger ones get 413",
    "SHUTDOWN_GRACE_SECONDS": "how long in-flight requests may take after SIGTERM",
    "CACHE_HOST": "the session cache's host",
    "CACHE_PORT": "the session cache's port",
    "CACHE_TLS": "TLS to the cache (default on)",
    "CACHE_TLS_CA_FILE": "CA bundle for the cache's certificate, where the cloud's is private",
    "CACHE_TLS_CHECK_HOSTNAME": "whether the cache's certificate must name its host",
    "CACHE_AUTH": "how to log in to the cache: password or entra-id (Azure)",
    "CACHE_USERNAME": "the cache user (Azure: the managed identity's object id)",
    "CACHE_PASSWORD": "the cache password itself (local runs only; stacks pass a secret id)",
    "CACHE_AUTH_SECRET_ID": "the secret holding the cache password (an AWS ARN, a GCP secret version)",
    "CACHE_TIMEOUT_MS": "client timeout of every cache call",
    "SESSION_TTL_SECONDS": "how long an idle session lives in the cache",
    "SESSION_BACKEND": "redis; memory only for the drill's control run (test only)",
    "ALLOW_TEST_ONLY_SETTINGS": "opt-in for the test-only settings above; never set by a stack",
    "STORE_BACKEND": "the item store: dynamodb, cosmos or firestore",
    "STORE_TIMEOUT_MS": "client timeout of every store call",
    "ITEMS_TABLE": "AWS: the DynamoDB table",
    "AWS_REGION": "AWS: the region of the table and secret",
    "AWS_DEFAULT_REGION": "AWS: read when AWS_REGION is unset",
    "COSMOS_ENDPOINT": "Azure: the Cosmos DB account endpoint",
    "COSMOS_DATABASE": "Azure: the Cosmos DB database",
    "COSMOS_CONTAINER": "Azure: the Cosmos DB container",
    "AZURE_CLIENT_ID": "Azure: the managed identity the service signs in as",
    "GOOGLE_CLOUD_PROJECT": "GCP: the project of the database and secret",
    "FIRESTORE_DATABASE": "GCP: the Firestore database",
    "GATEWAY_JWT_AUDIENCE": "GCP: the audience of the gateway's ID token the service verifies",
    "GATEWAY_JWT_SUBJECT": "GCP: the gateway service account the token must name",
    "GATEWAY_JWT_ISSUER": "GCP: the token issuer (default Google's)",
    "GATEWAY_JWKS_URL": "GCP: where the issuer's keys are (default Google's)",
}


class _ReadRecorder(dict):
    def __init__(self, values: Mapping[str, str]) -> None:
        super().__init__(values)
        self.read: set[str] = set()

    def get(self, key, default=None):
        self.read.add(key)
        return super().get(key, default)

    def __getitem__(self, key):
        self.read.add(key)
        return super().__getitem__(key)


def parse_service_environment(variables: Mapping[str, str]) -> tuple[ServiceConfig, set[str]]:
    """The config the service builds from `variables` (ValueError if it rejects them), and the names it
    never read."""
    recorder = _ReadRecorder(variables)
    config = ServiceConfig.from_env(recorder)
    return config, set(variables) - recorder.read
