"""The service's defaults for the settings the environment spec tunes.

The spec (refarch/spec.py) takes its defaults from here, so a service started without a stack's
environment behaves like one deployed with an untuned spec. Kept apart so the spec imports no
service dependencies.
"""

SERVICE_PORT = 8080
CACHE_TIMEOUT_MS = 250
STORE_TIMEOUT_MS = 500
SESSION_TTL_SECONDS = 1800
SHUTDOWN_GRACE_SECONDS = 30
# Largest request body the service reads (MAX_BODY_BYTES); the AWS WAF admits bodies up to this size.
MAX_BODY_BYTES = 65536
