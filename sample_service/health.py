"""The shallow liveness path every cloud's load balancer checks (served by app.py).

Its own module, so the stacks read it without importing the service's dependencies.
"""

HEALTH_PATH = "/health"
