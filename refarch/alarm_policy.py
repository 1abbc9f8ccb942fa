"""The alarms every cloud must have, each one's threshold in the spec, and how long a breach must last
before an alarm fires: one policy, read by stacks/monitoring.py, pulumi/azure/azure_stack/alerts.py and
pulumi/gcp/gcp_stack/monitoring.py. A cloud without an alarm opts out here, by name, with a reason.

The evaluation window: a breach must be seen in `breaching_periods` of the last `periods` one-minute periods.
Each cloud says it as closely as its alerting allows (tests pin each against the provider's documentation):
- CloudWatch: Period 60, EvaluationPeriods M, DatapointsToAlarm N ("M out of N" alarms) - exactly this.
- Azure Monitor metric alerts: windowSize M minutes, evaluated every minute; static thresholds have no
  "N of M", so the window's aggregate (average, maximum, count) over the M minutes must cross the threshold.
  Log search alerts run their query over the same M minutes, also every minute.
- Cloud Monitoring: 60 s alignment and a `duration` of M minutes: the condition must hold for the whole
  window (every aligned point), the closest a threshold condition comes.
Whatever the cloud, a breach that lasts the whole window fires everywhere; shorter blips differ by cloud.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from refarch.spec import EnvironmentSpec


@dataclass(frozen=True)
class EvaluationWindow:
    period_seconds: int
    # M: how many periods an alarm looks at; N: how many of them must breach.
    periods: int
    breaching_periods: int

    def __post_init__(self) -> None:
        # Azure counts an alert's window and frequency in whole minutes (`PT5M`, `PT1M`): refused here, once,
        # so no form of the window is ever truncated.
        if self.period_seconds % 60:
            raise ValueError(f"a period of {self.period_seconds}s is not whole minutes, as Azure counts them")

    @property
    def seconds(self) -> int:
        return self.period_seconds * self.periods

    @property
    def minutes(self) -> int:
        return self.seconds // 60

    def iso8601(self) -> str:
        """Azure's form (`PT5M`)."""
        return f"PT{self.minutes}M"

    def period_iso8601(self) -> str:
        """One period in Azure's form (`PT1M`): how often Azure evaluates an alert over the window."""
        return f"PT{self.period_seconds // 60}M"

    def gcp_duration(self) -> str:
        """Cloud Monitoring's form (`300s`)."""
        return f"{self.seconds}s"


WINDOW = EvaluationWindow(period_seconds=60, periods=5, breaching_periods=3)


@dataclass(frozen=True)
class AlarmRequirement:
    key: str
    what: str
    threshold: Callable[[EnvironmentSpec], float]
    # Whether the alarm fires above (at or above) the threshold or below it.
    below: bool = False


ALARMS = (
    AlarmRequirement(
        "errors_5xx",
        "5xx responses as a % of requests at the load balancer",
        lambda s: s.alarms.error_5xx_percent,
    ),
    AlarmRequirement("latency_p99", "p99 latency of the service (ms)", lambda s: s.alarms.p99_latency_ms),
    AlarmRequirement(
        "too_few_healthy_hosts",
        "fewer instances passing /health than the fleet's minimum",
        lambda s: s.capacity.min,
        below=True,
    ),
    AlarmRequirement("unhealthy_hosts", "instances failing /health", lambda s: s.alarms.unhealthy_hosts),
    AlarmRequirement(
        "gateway_errors", "the API gateway answering 5xx itself", lambda s: s.alarms.error_5xx_percent
    ),
    AlarmRequirement("cache_cpu", "session cache CPU (%)", lambda s: s.alarms.cache_cpu_percent),
    AlarmRequirement("cache_memory", "session cache memory (%)", lambda s: s.alarms.cache_memory_percent),
    AlarmRequirement(
        "store_throttles",
        "item store requests throttled or failing",
        lambda s: s.alarms.store_throttled_requests,
    ),
)

# (cloud, alarm key) -> why that cloud has no such alarm. Everything else must be implemented.
OPT_OUTS: dict[tuple[str, str], str] = {
    ("azure", "unhealthy_hosts"): (
        "Application Gateway's UnhealthyHostCount counts the booting instances of every scale-out, repair "
        "and surge upgrade; too_few_healthy_hosts (HealthyHostCount below the minimum) catches a real loss"
    ),
    ("gcp", "unhealthy_hosts"): (
        "alerts on the first instance turning unhealthy (a log-match alert on the health checks' log of each "
        "transition), not at the spec's count: counting log entries needs a log-based metric, and Cloud "
        "Monitoring does not know a new one for minutes, so its alert cannot be created in the same "
        "deployment"
    ),
    ("gcp", "too_few_healthy_hosts"): (
        "not built yet: unhealthy_hosts (health-check log entries) and gateway-down (the uptime check "
        "through the gateway) cover a loss of instances; a healthy-backend count alarm is a follow-up"
    ),
}


def required(cloud: str) -> tuple[AlarmRequirement, ...]:
    """The alarms `cloud` must implement: the policy's, less the ones it opted out of."""
    return tuple(alarm for alarm in ALARMS if (cloud, alarm.key) not in OPT_OUTS)


def implementation_problems(cloud: str, implemented: Mapping[str, str], present: Iterable[str]) -> list[str]:
    """What is wrong with `cloud`'s alarms against the policy: `implemented` maps each policy key to the name
    of the alarm that implements it; `present` are the alarm names the stack actually has."""
    present = set(present)
    keys = {alarm.key for alarm in ALARMS}
    problems = [
        f"{cloud}: no alarm implements {alarm.key!r}"
        for alarm in required(cloud)
        if alarm.key not in implemented
    ]
    problems += [f"{cloud}: {key!r} is not an alarm of the policy" for key in implemented if key not in keys]
    problems += [
        f"{cloud}: {key!r} is opted out and implemented" for key in implemented if (cloud, key) in OPT_OUTS
    ]
    problems += [
        f"{cloud}: {key!r} names {name!r}, which the stack does not have"
        for key, name in implemented.items()
        if name not in present
    ]
    return problems
