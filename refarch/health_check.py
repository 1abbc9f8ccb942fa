"""How every cloud's load balancer decides an instance may take traffic: one policy, read by the stacks
and by the replacement drill's HAProxy, so the drill checks instances the way production does."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class HealthCheckPolicy:
    interval_seconds: int
    timeout_seconds: int
    # Consecutive passes before a new instance gets traffic, and failures before one stops getting it.
    healthy_threshold: int
    unhealthy_threshold: int
    healthy_status: int = 200


HEALTH_CHECK = HealthCheckPolicy(
    interval_seconds=10, timeout_seconds=5, healthy_threshold=2, unhealthy_threshold=3
)

# (cloud, field) -> why that cloud's load balancer cannot honour a field of the policy. Every other field is
# used by every cloud.
NOT_HONOURED: dict[tuple[str, str], str] = {
    ("azure", "healthy_threshold"): (
        "an Application Gateway v2 probe has interval, timeout and unhealthyThreshold but no healthy count: "
        "one passing probe returns an instance to the pool ('Application Gateway health probe overview'); "
        "an instance answers /health only once its process serves requests, so one pass means it can serve"
    ),
}
