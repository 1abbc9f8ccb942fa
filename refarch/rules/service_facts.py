"""The sample service's facts the rules read, from the service's own modules (dependency-free)."""

from sample_service.defaults import SHUTDOWN_GRACE_SECONDS as DEFAULT_SHUTDOWN_GRACE_SECONDS
from sample_service.paths import HEALTH_PATH

# The in-process session backend: the one a stateless fleet must never run.
MEMORY_SESSION_BACKEND = "memory"

__all__ = ["DEFAULT_SHUTDOWN_GRACE_SECONDS", "HEALTH_PATH", "MEMORY_SESSION_BACKEND"]
