"""Monitoring tier: alert policies on what users feel (5xx ratio, latency, the gateway path being up) and on
what the stateless tier depends on (healthy backends, cache memory, Firestore errors), all notifying the
channels from the stack config; and the logs, kept as long as the spec says."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp.monitoring as monitoring

from gcp_stack.edge_rate import THROTTLED_STATUS
from gcp_stack.service_logs import retained_logs
from gcp_stack.settings import StackSettings
from gcp_stack.tier import Tier, labels
from refarch.alarm_policy import WINDOW
from refarch.spec import EnvironmentSpec
from sample_service.paths import HEALTH_PATH

# How long a condition must hold (every aligned point of the policy's window: the closest a threshold
# condition comes to "N of M"), and the alignment of each point (one policy period).
DURATION = WINDOW.gcp_duration()
ALIGNMENT = f"{WINDOW.period_seconds}s"
# The alarm policy's alarms (refarch.alarm_policy) -> the alert policy that implements each here.
POLICY_ALARMS = {
    "errors_5xx": "errors-5xx",
    "latency_p99": "latency-p99",
    "unhealthy_hosts": "unhealthy-backends",
    "cache_memory": "cache-memory",
    "store_throttles": "store-errors",
}
UPTIME_PERIOD = "60s"
LB_RESOURCE = 'resource.type = "https_lb_rule"'
# Firestore answers the service can do nothing about but wait or back off: the store failing or throttling.
# NOT_FOUND, ALREADY_EXISTS and ABORTED (a contended transaction, retried) are the service's normal traffic.
STORE_FAILURE_CODES = ("UNAVAILABLE", "RESOURCE_EXHAUSTED", "DEADLINE_EXCEEDED", "INTERNAL")
# The gateway is down when more than this many of the uptime check's regions fail at once; one region
# failing is that region's network, not the service.
UPTIME_REGIONS_FAILING = 1
# How far back the uptime condition looks for each region's latest result (as Cloud Monitoring's own uptime
# alert does): a region that stops reporting keeps its last result instead of vanishing.
UPTIME_ALIGNMENT = "1200s"
# The generated document on-call opens for each alert (`make docs` writes runbooks/gcp/<env>/<document>.md;
# tests/docs checks that each exists): a runbook that handles the alert, or the reliability report where
# the alert has several causes.
ALERT_DOCUMENTS = {
    "errors-5xx": "roll-back-release",
    "latency-p99": "roll-back-release",
    "unhealthy-backends": "replace-one-instance",
    "cache-memory": "cache-primary-failure",
    "store-errors": "restore-store",
    "throttled-429": "reliability-report",
    "gateway-down": "reliability-report",
}


def runbook_path(environment: str, alert: str) -> str:
    return f"runbooks/gcp/{environment}/{ALERT_DOCUMENTS[alert]}.md"


@dataclass(frozen=True, kw_only=True)
class MonitoringArgs:
    spec: EnvironmentSpec
    settings: StackSettings
    gateway_host: pulumi.Input[str]
    backend_service: pulumi.Input[str]
    instance_group: pulumi.Input[str]
    # The instance's full id (projects/P/locations/R/instances/NAME): redis_instance's instance_id label.
    cache_instance_id: pulumi.Input[str]
    database: pulumi.Input[str]


def _aggregation(
    aligner: str, reducer: str | None = None, group_by: list[str] | None = None, period: str = ALIGNMENT
):
    return monitoring.AlertPolicyConditionConditionThresholdAggregationArgs(
        alignment_period=period,
        per_series_aligner=aligner,
        cross_series_reducer=reducer,
        group_by_fields=group_by,
    )


def _quoted(values: tuple[str, ...]) -> str:
    return ", ".join(f'"{value}"' for value in values)


class ServiceMonitoring(Tier):
    def __init__(self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ServiceMonitoring", name, opts)
        spec, settings = args.spec, args.settings
        thresholds = spec.alarms
        self._environment = spec.name
        self.channels: list[pulumi.Input[str]] = list(settings.gcp.alert_channels)
        email = settings.gcp.alert_email or thresholds.email
        if email:
            channel = monitoring.NotificationChannel(
                "on-call",
                display_name=f"On call ({spec.name})",
                type="email",
                labels={"email_address": email},
                user_labels=labels(spec),
                opts=self.child(),
            )
            self.channels.append(channel.name)
        self.policies: list[monitoring.AlertPolicy] = []
        self.logs = retained_logs(spec, settings.project, self.child())

        backend = pulumi.Output.from_input(args.backend_service)
        requests = backend.apply(
            lambda name: (
                f'{LB_RESOURCE} AND resource.label.backend_target_name = "{name}" AND '
                'metric.type = "loadbalancing.googleapis.com/https/request_count"'
            )
        )
        self._threshold(
            "errors-5xx",
            "5xx responses above the spec's rate",
            requests.apply(lambda f: f"{f} AND metric.label.response_code_class = 500"),
            thresholds.error_5xx_percent / 100,
            denominator=requests,
            aggregation=_aggregation("ALIGN_RATE", "REDUCE_SUM"),
        )
        # Cloud Armor's throttle answers 429 at the load balancer (the response_code label is the code sent to
        # the client): sustained, the gateway's own addresses may be hitting the per-address limit, or
        # someone is flooding the edge. Either way someone should look.
        self._threshold(
            "throttled-429",
            "Requests throttled at the edge (429)",
            requests.apply(lambda f: f"{f} AND metric.label.response_code = {THROTTLED_STATUS}"),
            0,
            aggregation=_aggregation("ALIGN_DELTA", "REDUCE_SUM"),
        )
        self._threshold(
            "latency-p99",
            "p99 latency above the spec",
            backend.apply(
                lambda name: (
                    f'{LB_RESOURCE} AND resource.label.backend_target_name = "{name}" AND '
                    # The backend's own latency: total_latencies adds each client's network, so one slow
                    # distant client would page.
                    'metric.type = "loadbalancing.googleapis.com/https/backend_latencies"'
                )
            ),
            thresholds.p99_latency_ms,
            # Each series' distribution over the period, then one 99th percentile across every response
            # code and country: the latency of the service, not of its slowest corner.
            aggregation=_aggregation("ALIGN_DELTA", "REDUCE_PERCENTILE_99"),
        )
        self._log_match(
            "unhealthy-backends",
            f"Instances failing {HEALTH_PATH} (autohealing replaces them)",
            pulumi.Output.from_input(args.instance_group).apply(
                lambda group: (
                    'logName:"compute.googleapis.com%2Fhealthchecks" AND '
                    'jsonPayload.healthCheckProbeResult.healthState = "UNHEALTHY" AND '
                    f'resource.labels.instance_group_name = "{group.rsplit("/", 1)[-1]}"'
                )
            ),
        )
        self._threshold(
            "cache-memory",
            "Session cache memory high",
            pulumi.Output.from_input(args.cache_instance_id).apply(
                lambda cache: (
                    'resource.type = "redis_instance" AND '
                    f'resource.label.instance_id = "{cache}" AND '
                    'metric.type = "redis.googleapis.com/stats/memory/usage_ratio"'
                )
            ),
            thresholds.cache_memory_percent / 100,
            aggregation=_aggregation("ALIGN_MAX"),
        )
        self._threshold(
            "store-errors",
            "Item store calls failing or throttled",
            pulumi.Output.from_input(args.database).apply(
                lambda db: (
                    'resource.type = "firestore.googleapis.com/Database" AND '
                    f'resource.label.database_id = "{db}" AND '
                    'metric.type = "firestore.googleapis.com/api/request_count" AND '
                    f"metric.label.response_code = one_of({_quoted(STORE_FAILURE_CODES)})"
                )
            ),
            thresholds.store_throttled_requests,
            aggregation=_aggregation("ALIGN_DELTA", "REDUCE_SUM"),
        )
        self.uptime = monitoring.UptimeCheckConfig(
            "through-gateway",
            display_name=f"Service through the API gateway ({spec.name})",
            timeout="10s",
            period=UPTIME_PERIOD,
            http_check=monitoring.UptimeCheckConfigHttpCheckArgs(
                path=HEALTH_PATH,
                port=443,
                use_ssl=True,
                validate_ssl=True,
                request_method="GET",
                accepted_response_status_codes=[
                    monitoring.UptimeCheckConfigHttpCheckAcceptedResponseStatusCodeArgs(status_value=200)
                ],
            ),
            monitored_resource=monitoring.UptimeCheckConfigMonitoredResourceArgs(
                type="uptime_url", labels={"project_id": settings.project, "host": args.gateway_host}
            ),
            user_labels=labels(spec),
            opts=self.child(),
        )
        self._threshold(
            "gateway-down",
            "The service does not answer through the API gateway",
            self.uptime.uptime_check_id.apply(
                lambda check: (
                    'resource.type = "uptime_url" AND '
                    'metric.type = "monitoring.googleapis.com/uptime_check/check_passed" AND '
                    f'metric.label.check_id = "{check}"'
                )
            ),
            UPTIME_REGIONS_FAILING,
            # Per checker region, its latest result; then how many regions failed.
            aggregation=_aggregation(
                "ALIGN_NEXT_OLDER", "REDUCE_COUNT_FALSE", ["resource.label.host"], period=UPTIME_ALIGNMENT
            ),
        )
        self.register_outputs({"policies": [policy.name for policy in self.policies]})

    def _policy(self, name: str, description: str, condition, **kwargs) -> None:
        self.policies.append(
            monitoring.AlertPolicy(
                name,
                display_name=f"{description} ({self._environment})",
                combiner="OR",
                conditions=[condition],
                notification_channels=self.channels,
                severity="ERROR",
                documentation=monitoring.AlertPolicyDocumentationArgs(
                    content=f"{description}. Runbook: {runbook_path(self._environment, name)}",
                    mime_type="text/markdown",
                ),
                opts=self.child(),
                **kwargs,
            )
        )

    def _threshold(
        self,
        name: str,
        description: str,
        filter_: pulumi.Input[str],
        threshold: float,
        *,
        aggregation: monitoring.AlertPolicyConditionConditionThresholdAggregationArgs,
        denominator: pulumi.Input[str] | None = None,
        comparison: str = "COMPARISON_GT",
    ) -> None:
        condition = monitoring.AlertPolicyConditionArgs(
            display_name=description,
            condition_threshold=monitoring.AlertPolicyConditionConditionThresholdArgs(
                filter=filter_,
                aggregations=[aggregation],
                denominator_filter=denominator,
                denominator_aggregations=[aggregation] if denominator is not None else None,
                comparison=comparison,
                threshold_value=threshold,
                duration=DURATION,
                trigger=monitoring.AlertPolicyConditionConditionThresholdTriggerArgs(count=1),
            ),
        )
        self._policy(name, description, condition)

    def _log_match(self, name: str, description: str, filter_: pulumi.Input[str]) -> None:
        condition = monitoring.AlertPolicyConditionArgs(
            display_name=description,
            condition_matched_log=monitoring.AlertPolicyConditionConditionMatchedLogArgs(filter=filter_),
        )
        # Log-match policies must say how often they may notify.
        strategy = monitoring.AlertPolicyAlertStrategyArgs(
            notification_rate_limit=monitoring.AlertPolicyAlertStrategyNotificationRateLimitArgs(
                period="300s"
            ),
            auto_close="1800s",
        )
        self._policy(name, description, condition, alert_strategy=strategy)
