"""Paths the infrastructure depends on, importable without loading the service's dependencies."""

# The shallow liveness path every cloud's load balancer checks.
HEALTH_PATH = "/health"
