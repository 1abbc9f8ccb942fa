"""The sample service's environment variables that the spec tunes. Every cloud's stack writes these
(plus the endpoints of its own cache and store), and so does the replacement drill."""

from __future__ import annotations

from refarch.spec import Service


def tuned_settings(service: Service) -> dict[str, str]:
    return {
        "SERVICE_PORT": str(service.port),
        "CACHE_TIMEOUT_MS": str(service.cache_timeout_ms),
        "SESSION_TTL_SECONDS": str(service.session_ttl_seconds),
        "STORE_TIMEOUT_MS": str(service.store_timeout_ms),
        "SHUTDOWN_GRACE_SECONDS": str(service.shutdown_grace_seconds),
    }
