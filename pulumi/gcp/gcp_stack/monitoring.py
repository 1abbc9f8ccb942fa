"""Monitoring tier: alert policies on what users feel (5xx ratio at the load balancer and at the gateway,
latency, the gateway path being up) and on what the stateless tier depends on (healthy backends, cache CPU
and memory, Firestore errors), all notifying the channels from the stack config, each linking the generated
document that handles it; and the logs, kept as long as the spec says."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_gcp.monitoring as monitoring

from gcp_stack.edge_rate import THROTTLED_STATUS
from gcp_stack.service_logs import retained_logs
from gcp_stack.tier import Tier, environment_labels
from refarch.alarm_policy import WINDOW
from refarch.spec import Alarms, Retention
from sample_service.paths import HEALTH_PATH

# How long a condition must hold (every aligned point of the policy's window: the closest a threshold
# condition comes to "N of M"), and the alignment of each point (one policy period).
DURATION = WINDOW.gcp_duration()
ALIGNMENT = f"{WINDOW.period_seconds}s"
# The alarm policy's alarms (refarch.alarm_policy) -> the alert policy that implements each here.
POLICY_ALARMS = {
    "errors_5xx": "errors-5xx",
    "latency_p99": "latency-p99",
    "gateway_errors": "gateway-errors",
    "cache_cpu": "cache-cpu",
    "cache_memory": "cache-memory",
    "store_throttles": "store-errors",
}
# Conditions on series that exist only while something goes wrong (a count of errors, of 429s, a 5xx ratio
# whose numerator vanishes when the 5xx stop): no data means "not breaching", so the incident closes when the
# errors stop instead of staying open (AlertPolicy.Condition.EvaluationMissingData: INACTIVE evaluates the
# condition as false when there is no data; unspecified is NO_OP, which evaluates it to nothing).
SPARSE = "EVALUATION_MISSING_DATA_INACTIVE"
# The health checks log each transition of an instance (cloud.google.com/load-balancing/docs/
# health-check-logging, "Health check log entry": healthState and previousHealthState, HEALTHY or UNHEALTHY):
# an instance that was serving and stopped, not a booting one's first report.
TURNED_UNHEALTHY = (
    'jsonPayload.healthCheckProbeResult.healthState = "UNHEALTHY" AND '
    'jsonPayload.healthCheckProbeResult.previousHealthState = "HEALTHY"'
)
# A log-match policy must say how often it may notify, and closes its incident itself after this long.
LOG_MATCH_NOTIFY_PERIOD = "300s"
LOG_MATCH_AUTO_CLOSE = "1800s"
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
# Memorystore's own line for memory pressure: above 80 % system memory usage the instance is under memory
# pressure and may be terminated out of memory (cloud.google.com/memorystore/docs/redis/
# memory-management-best-practices, "System memory usage ratio"). A fact of the service, not a tunable.
SYSTEM_MEMORY_PRESSURE = 0.8
# The generated document on-call opens for each alert (`make docs` writes runbooks/gcp/<env>/<document>.md;
# tests/docs checks that each exists): a runbook that handles the alert, or the reliability report's failure
# modes where no runbook does, with what to do said in ALERT_ACTIONS.
REPORT = "reliability-report"
ALERT_DOCUMENTS = {
    "errors-5xx": "roll-back-release",
    "latency-p99": "roll-back-release",
    "unhealthy-backends": "replace-one-instance",
    "gateway-errors": REPORT,
    "cache-cpu": REPORT,
    "cache-memory": REPORT,
    "store-errors": REPORT,
    "throttled-429": REPORT,
    "gateway-down": REPORT,
}
# What to do, for each alert whose document is the reliability report (no runbook handles it).
ALERT_ACTIONS = {
    "gateway-errors": (
        "if errors-5xx fires too, the service is failing: follow roll-back-release; otherwise the gateway "
        "itself fails: check the API config's latest deployment and the gateway's logs"
    ),
    "cache-cpu": (
        "the cache's main thread is saturated: look for expensive commands (SLOWLOG GET) and a growth in "
        "session traffic; a scale-up (the spec's gcp.cache_memory_gb) moves to a larger capacity tier"
    ),
    "cache-memory": (
        "the cache is running out of memory: raise the spec's gcp.cache_memory_gb or shorten "
        "service.session_ttl_seconds; a failover does not help"
    ),
    "store-errors": (
        "Firestore is throttling or failing: check the Firestore status page and the service's request rate; "
        "ramp traffic up gradually (500/50/5) and back off; restoring the store does not help"
    ),
    "throttled-429": (
        "the edge's per-address limit answers 429: if the gateway's own addresses are limited, raise the "
        "spec's api.throttle_rate_per_second; if one client floods, leave the limit in place"
    ),
    "gateway-down": (
        "the service does not answer through the gateway from several regions: check errors-5xx and "
        "unhealthy-backends, then the gateway and the load balancer"
    ),
}
FAILURE_MODES = "failure-modes"


def runbook_path(environment: str, alert: str) -> str:
    return f"runbooks/gcp/{environment}/{ALERT_DOCUMENTS[alert]}.md"


def documentation(
    environment: str, alert: str, description: str, base_url: str | None
) -> monitoring.AlertPolicyDocumentationArgs:
    """The alert's text (the document's repository-relative path, and what to do where no runbook handles
    it) and, when the stack config gives the repository's address, a link on-call can open from the alert."""
    path = runbook_path(environment, alert)
    anchor = f"#{FAILURE_MODES}" if ALERT_DOCUMENTS[alert] == REPORT else ""
    content = f"{description}. Runbook: {path}"
    if alert in ALERT_ACTIONS:
        content += f" (section Failure modes). What to do: {ALERT_ACTIONS[alert]}."
    links = None
    if base_url:
        links = [
            monitoring.AlertPolicyDocumentationLinkArgs(
                display_name=ALERT_DOCUMENTS[alert], url=f"{base_url.rstrip('/')}/{path}{anchor}"
            )
        ]
    return monitoring.AlertPolicyDocumentationArgs(content=content, mime_type="text/markdown", links=links)


def at_least(count: int) -> int:
    """The threshold that makes COMPARISON_GT mean "at or above `count`" for an integer count: metric
    threshold conditions offer only COMPARISON_GT and COMPARISON_LT (AlertPolicy conditionThreshold)."""
    return count - 1


@dataclass(frozen=True, kw_only=True)
class MonitoringArgs:
    environment: str
    project: str
    # The thresholds and the spec's on-call address: the spec's alarms section.
    alarms: Alarms
    # How long the tier's logs are kept (service_logs reads it).
    retention: Retention
    # The stack's own notification channels and address (the address before the spec's alarms.email).
    alert_channels: Sequence[str]
    alert_email: str | None
    # Where the runbooks are published: each alert links its document there when set.
    runbook_base_url: str | None
    gateway_host: pulumi.Input[str]
    backend_service: pulumi.Input[str]
    instance_group: pulumi.Input[str]
    # The gateway's short id (apigateway.googleapis.com/Gateway's gateway_id label).
    gateway_id: pulumi.Input[str]
    # The instance's full id (projects/P/locations/R/instances/NAME): redis_instance's instance_id label.
    cache_instance_id: pulumi.Input[str]
    database: pulumi.Input[str]
    # During a switch, the database instances not yet replaced still call: watched with the served one.
    draining_database: pulumi.Input[str] | None = None
    # The stack's own database: while a clone is served, instances not yet replaced by the forward switch
    # (no draining database then: the own one is always granted) still call it, so it stays watched.
    own_database: pulumi.Input[str] | None = None


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


def _database_ids(served: str, draining: str | None, own: str | None) -> str:
    """The served database, and the draining and the stack's own one when other than it, once each (`one_of`:
    monitoring/api/v3/filters)."""
    ids = tuple(dict.fromkeys(db for db in (served, draining, own) if db))
    return f"one_of({_quoted(ids)})" if len(ids) > 1 else f'"{served}"'


class ServiceMonitoring(Tier):
    def __init__(self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ServiceMonitoring", name, opts)
        thresholds, labels = args.alarms, environment_labels(args.environment)
        self._environment = args.environment
        self._base_url = args.runbook_base_url
        self.channels: list[pulumi.Input[str]] = list(args.alert_channels)
        email = args.alert_email or thresholds.email
        if email:
            channel = monitoring.NotificationChannel(
                "on-call",
                display_name=f"On call ({args.environment})",
                type="email",
                labels={"email_address": email},
                user_labels=labels,
                opts=self.child(),
            )
            self.channels.append(channel.name)
        self.policies: list[monitoring.AlertPolicy] = []
        self.logs = retained_logs(args.environment, args.retention, args.project, self.child())

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
            missing_data=SPARSE,
        )
        # The gateway's own answers (cloud.google.com/monitoring/api/metrics_gcp_a_b, apigateway
        # proxy/request_count on apigateway.googleapis.com/Gateway; response_code_class is "2xx".."5xx"): the
        # gateway failing in front of a healthy backend, which errors-5xx at the load balancer cannot see.
        gateway_requests = pulumi.Output.from_input(args.gateway_id).apply(
            lambda gateway: (
                'resource.type = "apigateway.googleapis.com/Gateway" AND '
                f'resource.label.gateway_id = "{gateway}" AND '
                'metric.type = "apigateway.googleapis.com/proxy/request_count"'
            )
        )
        self._threshold(
            "gateway-errors",
            "5xx responses from the API gateway above the spec's rate",
            gateway_requests.apply(lambda f: f'{f} AND metric.label.response_code_class = "5xx"'),
            thresholds.error_5xx_percent / 100,
            denominator=gateway_requests,
            aggregation=_aggregation("ALIGN_RATE", "REDUCE_SUM"),
            missing_data=SPARSE,
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
            missing_data=SPARSE,
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
        # Each instance that turns unhealthy pages once (a log-match condition): not the spec's count of
        # instances (alarms.unhealthy_hosts, opted out in refarch.alarm_policy), since counting log entries
        # needs a log-based metric, and an alert on a new one fails in the deployment that creates it.
        self._log_match(
            "unhealthy-backends",
            f"Instances failing {HEALTH_PATH} (autohealing replaces them)",
            pulumi.Output.from_input(args.instance_group).apply(
                lambda group: (
                    'logName:"compute.googleapis.com%2Fhealthchecks" AND '
                    'resource.type = "gce_instance_group" AND '
                    f'resource.labels.instance_group_name = "{group.rsplit("/", 1)[-1]}" AND '
                    f"{TURNED_UNHEALTHY}"
                )
            ),
        )
        cache = pulumi.Output.from_input(args.cache_instance_id)

        def cache_metric(metric: str) -> pulumi.Output[str]:
            return cache.apply(
                lambda instance: (
                    f'resource.type = "redis_instance" AND resource.label.instance_id = "{instance}" AND '
                    f'metric.type = "redis.googleapis.com/{metric}"'
                )
            )

        # The main thread's CPU-seconds per second (Redis runs commands on one thread): ALIGN_RATE of the
        # metric, summed over user and system space per node, is that thread's share of one core
        # (cloud.google.com/memorystore/docs/redis/supported-monitoring-metrics, Main Thread CPU Seconds).
        self._threshold(
            "cache-cpu",
            "Session cache main thread CPU high",
            cache_metric("stats/cpu_utilization_main_thread"),
            thresholds.cache_cpu_percent / 100,
            aggregation=_aggregation(
                "ALIGN_RATE", "REDUCE_SUM", ["resource.label.instance_id", "resource.label.node_id"]
            ),
        )
        self._policy(
            "cache-memory",
            "Session cache memory high",
            [
                self._condition(
                    "Session cache memory above the spec's share of maxmemory",
                    cache_metric("stats/memory/usage_ratio"),
                    thresholds.cache_memory_percent / 100,
                    aggregation=_aggregation("ALIGN_MAX"),
                ),
                self._condition(
                    "Session cache system memory under pressure",
                    cache_metric("stats/memory/system_memory_usage_ratio"),
                    SYSTEM_MEMORY_PRESSURE,
                    aggregation=_aggregation("ALIGN_MAX"),
                ),
            ],
        )
        self._threshold(
            "store-errors",
            "Item store calls failing or throttled",
            pulumi.Output.all(args.database, args.draining_database, args.own_database).apply(
                lambda dbs: (
                    'resource.type = "firestore.googleapis.com/Database" AND '
                    f"resource.label.database_id = {_database_ids(*dbs)} AND "
                    'metric.type = "firestore.googleapis.com/api/request_count" AND '
                    f"metric.label.response_code = one_of({_quoted(STORE_FAILURE_CODES)})"
                )
            ),
            at_least(thresholds.store_throttled_requests),
            aggregation=_aggregation("ALIGN_DELTA", "REDUCE_SUM"),
            missing_data=SPARSE,
        )
        self.uptime = monitoring.UptimeCheckConfig(
            "through-gateway",
            display_name=f"Service through the API gateway ({args.environment})",
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
                type="uptime_url", labels={"project_id": args.project, "host": args.gateway_host}
            ),
            user_labels=labels,
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

    def _policy(self, name: str, description: str, conditions: list, **kwargs) -> None:
        self.policies.append(
            monitoring.AlertPolicy(
                name,
                display_name=f"{description} ({self._environment})",
                combiner="OR",
                conditions=conditions,
                notification_channels=self.channels,
                severity="ERROR",
                documentation=documentation(self._environment, name, description, self._base_url),
                opts=self.child(),
                **kwargs,
            )
        )

    @staticmethod
    def _condition(
        description: str,
        filter_: pulumi.Input[str],
        threshold: float,
        *,
        aggregation: monitoring.AlertPolicyConditionConditionThresholdAggregationArgs,
        denominator: pulumi.Input[str] | None = None,
        missing_data: str | None = None,
    ) -> monitoring.AlertPolicyConditionArgs:
        return monitoring.AlertPolicyConditionArgs(
            display_name=description,
            condition_threshold=monitoring.AlertPolicyConditionConditionThresholdArgs(
                filter=filter_,
                aggregations=[aggregation],
                denominator_filter=denominator,
                denominator_aggregations=[aggregation] if denominator is not None else None,
                # Metric thresholds offer only GT and LT: counts pass at_least(N) to mean "N or more".
                comparison="COMPARISON_GT",
                threshold_value=threshold,
                duration=DURATION,
                evaluation_missing_data=missing_data,
                trigger=monitoring.AlertPolicyConditionConditionThresholdTriggerArgs(count=1),
            ),
        )

    def _threshold(self, name: str, description: str, filter_: pulumi.Input[str], threshold: float, **kwargs):
        self._policy(name, description, [self._condition(description, filter_, threshold, **kwargs)])

    def _log_match(self, name: str, description: str, filter_: pulumi.Input[str]) -> None:
        condition = monitoring.AlertPolicyConditionArgs(
            display_name=description,
            condition_matched_log=monitoring.AlertPolicyConditionConditionMatchedLogArgs(filter=filter_),
        )
        strategy = monitoring.AlertPolicyAlertStrategyArgs(
            notification_rate_limit=monitoring.AlertPolicyAlertStrategyNotificationRateLimitArgs(
                period=LOG_MATCH_NOTIFY_PERIOD
            ),
            auto_close=LOG_MATCH_AUTO_CLOSE,
        )
        self._policy(name, description, [condition], alert_strategy=strategy)
