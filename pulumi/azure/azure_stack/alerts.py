"""Monitoring tier, part two: alerts on what users feel (5xx rate, p99 latency) and on what the stateless tier
depends on (healthy instances, cache load, store throttling), all to the on-call action group.

Metric alerts cannot divide or take percentiles, so the error rate and p99 latency are log alerts over the
load balancer's access log, matching the AWS stack's 5xx-percent and p99 alarms exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_azure_native.monitor as monitor

from azure_stack.placement import Placement
from azure_stack.tier import Tier
from refarch.alarm_policy import WINDOW
from refarch.spec import Alarms

# The alarm policy's alarms (refarch.alarm_policy) -> the alert that implements each here.
POLICY_ALARMS = {
    "errors_5xx": "errors-5xx",
    "latency_p99": "latency-p99",
    "too_few_healthy_hosts": "healthy-hosts",
    "gateway_errors": "api-errors-5xx",
    "cache_cpu": "cache-cpu",
    "cache_memory": "cache-memory",
    "store_throttles": "store-throttles",
}
# Metric and log search alerts alike: the aggregate (or the query) over the policy's window, evaluated every
# period (once per window left a breach unseen for up to a window). Metric alerts with static thresholds
# have no "N of M" ("Create or edit a metric alert rule": frequency at most the window). For log search
# alerts ("Create or edit a log search alert rule",
# https://learn.microsoft.com/azure/azure-monitor/alerts/alerts-create-log-alert-rule) the frequency of
# evaluation may be as short as one minute and is at most the aggregation granularity (windowSize).
WINDOW_SIZE = WINDOW.iso8601()
FREQUENCY = WINDOW.period_iso8601()
# Azure Managed Redis metrics have a 5-minute grain.
CACHE_GRAIN = "PT5M"
# Long enough for a replacement instance to boot and pass its health check before the alert decides.
HEALTH_WINDOW = "PT15M"


def error_rate_query(percent: float) -> str:
    return (
        "AGWAccessLogs | summarize total = count(), errors = countif(HttpStatus >= 500)"
        f" | extend percent = 100.0 * errors / max_of(total, 1) | where percent >= {percent}"
    )


def api_own_errors_query(percent: float) -> str:
    # 5xx that API Management answered itself (the backend never answered) as a % of its requests, like
    # API Gateway's 5xx-rate alarm on AWS: the same spec threshold as the load balancer's.
    return (
        "ApiManagementGatewayLogs | summarize total = count(), errors = countif(ResponseCode >= 500"
        " and (isnull(BackendResponseCode) or BackendResponseCode == 0))"
        f" | extend percent = 100.0 * errors / max_of(total, 1) | where percent >= {percent}"
    )


def p99_latency_query(milliseconds: int) -> str:
    # TimeTaken is in seconds.
    return f"AGWAccessLogs | summarize p99 = percentile(TimeTaken, 99) | where p99 * 1000 >= {milliseconds}"


@dataclass(frozen=True, kw_only=True)
class ServiceAlertsArgs:
    placement: Placement
    workspace_id: pulumi.Input[str]
    action_group_id: pulumi.Input[str]
    gateway_id: pulumi.Input[str]
    cache_id: pulumi.Input[str]
    store_id: pulumi.Input[str]
    # The spec's alarm thresholds (`alarms`), and the fleet's minimum the healthy-hosts alert holds it to.
    thresholds: Alarms
    min_healthy_hosts: int


class ServiceAlerts(Tier):
    def __init__(
        self, name: str, args: ServiceAlertsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ServiceAlerts", name, opts)
        self.args = args
        thresholds = args.thresholds
        self._log_alert(
            "errors-5xx",
            error_rate_query(thresholds.error_5xx_percent),
            "5xx responses above the spec's rate",
        )
        self._log_alert(
            "api-errors-5xx",
            api_own_errors_query(thresholds.error_5xx_percent),
            "API Management answering 5xx itself above the spec's rate",
        )
        self._log_alert(
            "latency-p99", p99_latency_query(thresholds.p99_latency_ms), "p99 latency above the spec"
        )
        # Fewer healthy instances than the fleet's minimum for a sustained window: a scale-out, repair or
        # surge upgrade adds booting (unhealthy) instances next to healthy ones and does not fire this.
        self._metric_alert(
            "healthy-hosts",
            args.gateway_id,
            "Microsoft.Network/applicationGateways",
            "HealthyHostCount",
            args.min_healthy_hosts,
            "Average",
            "Fewer instances passing /health than the fleet's minimum",
            operator="LessThan",
            window=HEALTH_WINDOW,
        )
        # Azure Managed Redis publishes its metrics every 5 minutes (PT5M is its finest grain): evaluate at
        # that grain. Microsoft asks for alerts on both CPU and server load ("Manage server load for Azure
        # Managed Redis": monitor server load and CPU); server load can exceed 100 on these caches.
        for name, metric, what in (
            ("cache-cpu", "percentProcessorTime", "Cache CPU high"),
            ("cache-server-load", "serverLoad", "Cache server load high"),
        ):
            self._metric_alert(
                name,
                args.cache_id,
                "Microsoft.Cache/redisEnterprise",
                metric,
                thresholds.cache_cpu_percent,
                "Maximum",
                what,
                frequency=CACHE_GRAIN,
            )
        self._metric_alert(
            "cache-memory",
            args.cache_id,
            "Microsoft.Cache/redisEnterprise",
            "usedmemorypercentage",
            thresholds.cache_memory_percent,
            "Maximum",
            "Cache memory high",
            frequency=CACHE_GRAIN,
        )
        self._metric_alert(
            "store-throttles",
            args.store_id,
            "Microsoft.DocumentDB/databaseAccounts",
            "TotalRequests",
            thresholds.store_throttled_requests,
            "Count",
            "Item store throttling (HTTP 429)",
            dimensions=[{"name": "StatusCode", "operator": "Include", "values": ["429"]}],
        )
        self.register_outputs({})

    def _metric_alert(
        self,
        name: str,
        scope: pulumi.Input[str],
        namespace: str,
        metric: str,
        threshold: float,
        aggregation: str,
        description: str,
        dimensions: list[dict] | None = None,
        operator: str = "GreaterThanOrEqual",
        frequency: str = FREQUENCY,
        window: str = WINDOW_SIZE,
    ) -> None:
        placement = self.args.placement
        monitor.MetricAlert(
            name,
            resource_group_name=placement.resource_group_name,
            location="global",
            description=f"{description} ({placement.environment})",
            severity=2,
            enabled=True,
            scopes=[scope],
            evaluation_frequency=frequency,
            window_size=window,
            auto_mitigate=True,
            # Typed args, not a dict: criteria is a union, so the SDK would not rename a dict's keys.
            criteria=monitor.MetricAlertSingleResourceMultipleMetricCriteriaArgs(
                odata_type="Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria",
                all_of=[
                    monitor.MetricCriteriaArgs(
                        criterion_type="StaticThresholdCriterion",
                        name=metric,
                        metric_name=metric,
                        metric_namespace=namespace,
                        operator=operator,
                        threshold=threshold,
                        time_aggregation=aggregation,
                        dimensions=[
                            monitor.MetricDimensionArgs(**dimension) for dimension in dimensions or []
                        ]
                        or None,
                    )
                ],
            ),
            actions=[{"action_group_id": self.args.action_group_id}],
            tags=placement.tags,
            opts=self.child(),
        )

    def _log_alert(self, name: str, query: str, description: str) -> None:
        placement = self.args.placement
        monitor.ScheduledQueryRule(
            name,
            resource_group_name=placement.resource_group_name,
            location=placement.location,
            kind="LogAlert",
            description=f"{description} ({placement.environment})",
            severity=2,
            enabled=True,
            scopes=[self.args.workspace_id],
            evaluation_frequency=FREQUENCY,
            window_size=WINDOW_SIZE,
            auto_mitigate=True,
            criteria={
                "all_of": [
                    {
                        "query": query,
                        "time_aggregation": "Count",
                        "operator": "GreaterThan",
                        "threshold": 0,
                        "failing_periods": {
                            "number_of_evaluation_periods": 1,
                            "min_failing_periods_to_alert": 1,
                        },
                    }
                ]
            },
            actions={"action_groups": [self.args.action_group_id]},
            tags=placement.tags,
            opts=self.child(),
        )
