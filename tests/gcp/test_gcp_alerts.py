"""Alert conditions that can fire, on the right resource, and not on noise.

Sources: monitored resource labels (cloud.google.com/monitoring/api/resources: redis_instance's instance_id is
the full projects/P/locations/R/instances/NAME; https_lb_rule's backend_target_name is the backend service's
name; firestore.googleapis.com/Database's database_id is the database's short name); metrics
(cloud.google.com/monitoring/api/metrics_gcp: loadbalancing https/backend_latencies, firestore
api/request_count with response_code the gRPC status name); metrics_gcp_a_b: apigateway
proxy/request_count on apigateway.googleapis.com/Gateway (resource label gateway_id, metric label
response_code_class "2xx".."5xx");
cloud.google.com/memorystore/docs/redis/supported-monitoring-metrics (stats/cpu_utilization_main_thread:
CPU-seconds of the main thread by role and space, so ALIGN_RATE summed per node is its share of one core;
stats/memory/system_memory_usage_ratio); the uptime alert Cloud Monitoring builds itself (check_passed,
ALIGN_NEXT_OLDER, REDUCE_COUNT_FALSE across checker regions, COMPARISON_GT); health check logs
(cloud.google.com/load-balancing/docs/health-check-logging, "Health check log entry": jsonPayload
.healthCheckProbeResult.healthState and .previousHealthState, each HEALTHY or UNHEALTHY; resource type
gce_instance_group); AlertPolicy.Condition.EvaluationMissingData (cloud.google.com/monitoring/api/ref_v3:
INACTIVE evaluates a condition without data as false; unspecified is NO_OP)."""

from __future__ import annotations

import re

from gcp_queries import ref

LOG_METRIC = "gcp:logging/metric:Metric"
# A condition on a user-defined log-based metric: Cloud Monitoring answers 404 until it has learnt a new
# metric (up to about 10 minutes), so such an alert fails in the `pulumi up` that creates the metric
# (hashicorp/terraform-provider-google#11102).
USER_LOG_METRIC = "logging.googleapis.com/user/"
# `resource.label.X = "V"` (or `resource.labels.X`, `metric.label.X`) in a filter.
_LABEL = re.compile(r'\b(resource|metric)\.labels?\.(\w+)\s*=\s*"([^"]*)"')


def _policies(inventory) -> dict:
    return {p.name: p for p in inventory.of_type("gcp:monitoring/alertPolicy:AlertPolicy")}


def _condition(policy) -> dict:
    return policy.get("conditions.0.conditionThreshold")


def _criterion(condition: dict) -> dict:
    return condition.get("conditionThreshold") or condition["conditionMatchedLog"]


def _filters(inventory) -> dict[str, list[str]]:
    """Every filter that selects what an alert watches: each condition's, metric or log (a denominator is its
    numerator's without the code)."""
    return {
        name: [_criterion(condition)["filter"] for condition in policy.get("conditions")]
        for name, policy in _policies(inventory).items()
    }


def _expected_labels(inventory, gcp) -> dict[tuple[str, str], str]:
    """Each label an alert filter may name, and the value it must hold: read from the resource it watches,
    as the mocks computed it (the id, an output), never a name string rebuilt by hand."""
    group = inventory.only("gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager")
    gateway = inventory.only("gcp:apigateway/gateway:Gateway")
    backend = inventory.only("gcp:compute/backendService:BackendService")
    auto_name = gcp.module("offline").auto_name
    return {
        ("resource", "instance_id"): ref(inventory.only("gcp:redis/instance:Instance")),
        ("resource", "backend_target_name"): auto_name(backend.name, backend.type),
        ("resource", "database_id"): inventory.only("gcp:firestore/database:Database").get("name"),
        ("resource", "gateway_id"): gateway.get("gatewayId"),
        ("resource", "instance_group_name"): auto_name(group.name, group.type),
        (
            "metric",
            "check_id",
        ): f"{inventory.only('gcp:monitoring/uptimeCheckConfig:UptimeCheckConfig').name}-check",
    }


def test_every_label_in_every_alert_filter_comes_from_the_resource_it_watches(inventory, gcp):
    expected, seen = _expected_labels(inventory, gcp), set()
    for name, filters in _filters(inventory).items():
        for where, label, value in (found for text in filters for found in _LABEL.findall(text)):
            if (where, label) in {("metric", "response_code"), ("metric", "response_code_class")}:
                continue  # a set of codes or a class, tested below
            assert (where, label) in expected, f"{name}: {where}.label.{label} is not known to this test"
            assert value == expected[where, label], f"{name}: {where}.label.{label} = {value!r}"
            seen.add((where, label))
    assert seen == set(expected), "every watched resource is named by some alert"


def test_the_cache_alert_names_the_instance_by_its_full_id(inventory):
    # redis_instance's instance_id label is projects/P/locations/R/instances/NAME: the instance's id output.
    policy = _policies(inventory)["cache-memory"]
    cache = inventory.only("gcp:redis/instance:Instance")
    assert f'resource.label.instance_id = "{ref(cache)}"' in _condition(policy)["filter"]


def test_latency_is_the_backends_one_percentile_across_all_series(inventory):
    threshold = _condition(_policies(inventory)["latency-p99"])
    assert 'metric.type = "loadbalancing.googleapis.com/https/backend_latencies"' in threshold["filter"]
    [aggregation] = threshold["aggregations"]
    assert aggregation["perSeriesAligner"] == "ALIGN_DELTA"
    assert aggregation["crossSeriesReducer"] == "REDUCE_PERCENTILE_99"
    assert not aggregation.get("groupByFields"), "one series for the service, not one per code or country"


def test_the_gateway_is_down_only_when_more_than_one_region_fails(inventory, gcp):
    threshold = _condition(_policies(inventory)["gateway-down"])
    [aggregation] = threshold["aggregations"]
    assert (aggregation["perSeriesAligner"], aggregation["crossSeriesReducer"]) == (
        "ALIGN_NEXT_OLDER",
        "REDUCE_COUNT_FALSE",
    )
    assert threshold["comparison"] == "COMPARISON_GT" and threshold["thresholdValue"] == 1
    assert gcp.module("monitoring").UPTIME_REGIONS_FAILING == 1


def test_store_errors_count_only_failures_and_throttling(inventory):
    text = _condition(_policies(inventory)["store-errors"])["filter"]
    codes = re.search(r"metric\.label\.response_code = one_of\(([^)]*)\)", text)
    assert codes, text
    assert set(re.findall(r'"([A-Z_]+)"', codes.group(1))) == {
        "UNAVAILABLE",
        "RESOURCE_EXHAUSTED",
        "DEADLINE_EXCEEDED",
        "INTERNAL",
    }
    assert "!=" not in text


def test_a_throttled_edge_alerts_on_the_status_cloud_armor_answers(inventory):
    """request_count's response_code label is the HTTP code sent to the client, an INT64
    (cloud.google.com/monitoring/api/metrics_gcp, loadbalancing https/request_count); the code is the one the
    edge's throttle answers, read from the recorded policy."""
    [limited] = [
        rule
        for rule in inventory.only("gcp:compute/securityPolicy:SecurityPolicy").get("rules")
        if "rateLimitOptions" in rule
    ]
    status = re.fullmatch(r"deny\((\d{3})\)", limited["rateLimitOptions"]["exceedAction"]).group(1)
    threshold = _condition(_policies(inventory)["throttled-429"])
    assert 'metric.type = "loadbalancing.googleapis.com/https/request_count"' in threshold["filter"]
    assert re.search(rf"metric\.label\.response_code = {status}\b", threshold["filter"])
    assert (threshold["comparison"], threshold["thresholdValue"]) == ("COMPARISON_GT", 0)


def test_the_gateway_alerts_on_its_own_5xx_share_of_all_its_requests(inventory, spec):
    threshold = _condition(_policies(inventory)["gateway-errors"])
    every = threshold["denominatorFilter"]
    assert 'resource.type = "apigateway.googleapis.com/Gateway"' in every
    assert 'metric.type = "apigateway.googleapis.com/proxy/request_count"' in every
    assert "response_code" not in every, "the denominator is every request"
    assert threshold["filter"] == f'{every} AND metric.label.response_code_class = "5xx"'
    for aggregations in (threshold["aggregations"], threshold["denominatorAggregations"]):
        [aggregation] = aggregations
        assert (aggregation["perSeriesAligner"], aggregation["crossSeriesReducer"]) == (
            "ALIGN_RATE",
            "REDUCE_SUM",
        )
        assert not aggregation.get("groupByFields"), "one ratio for the gateway"
    assert threshold["thresholdValue"] == spec.alarms.error_5xx_percent / 100


def test_cache_cpu_is_the_main_threads_share_of_a_core_per_node(inventory, spec):
    threshold = _condition(_policies(inventory)["cache-cpu"])
    assert 'metric.type = "redis.googleapis.com/stats/cpu_utilization_main_thread"' in threshold["filter"]
    [aggregation] = threshold["aggregations"]
    assert (aggregation["perSeriesAligner"], aggregation["crossSeriesReducer"]) == (
        "ALIGN_RATE",
        "REDUCE_SUM",
    )
    # User and system space summed; the primary and the replica each their own series.
    assert aggregation["groupByFields"] == ["resource.label.instance_id", "resource.label.node_id"]
    assert threshold["thresholdValue"] == spec.alarms.cache_cpu_percent / 100


def test_cache_memory_also_fires_on_memorystores_own_memory_pressure(inventory, gcp, spec):
    monitoring = gcp.module("monitoring")
    policy = _policies(inventory)["cache-memory"]
    assert policy.get("combiner") == "OR"
    used, system = (condition["conditionThreshold"] for condition in policy.get("conditions"))
    assert 'metric.type = "redis.googleapis.com/stats/memory/usage_ratio"' in used["filter"]
    assert used["thresholdValue"] == spec.alarms.cache_memory_percent / 100
    assert 'metric.type = "redis.googleapis.com/stats/memory/system_memory_usage_ratio"' in system["filter"]
    assert system["aggregations"][0]["perSeriesAligner"] == "ALIGN_MAX"
    assert (system["comparison"], system["thresholdValue"]) == (
        "COMPARISON_GT",
        monitoring.SYSTEM_MEMORY_PRESSURE,
    )
    # Memory management best practices, "System memory usage ratio": above 80 % the instance is under memory
    # pressure (cloud.google.com/memorystore/docs/redis/memory-management-best-practices).
    assert monitoring.SYSTEM_MEMORY_PRESSURE == 0.8


def test_unhealthy_backends_page_when_a_serving_instance_turns_unhealthy(inventory):
    policy = _policies(inventory)["unhealthy-backends"]
    [condition] = policy.get("conditions")
    assert "conditionThreshold" not in condition, "a log match, not a count of a log-based metric"
    log_filter = condition["conditionMatchedLog"]["filter"]
    assert 'logName:"compute.googleapis.com%2Fhealthchecks"' in log_filter
    assert 'resource.type = "gce_instance_group"' in log_filter
    assert 'jsonPayload.healthCheckProbeResult.healthState = "UNHEALTHY"' in log_filter
    # A transition from serving: a booting instance's first UNHEALTHY report does not page on every rollout.
    assert 'jsonPayload.healthCheckProbeResult.previousHealthState = "HEALTHY"' in log_filter
    # A log-match policy must say how often it may notify; its incident closes itself.
    assert policy.get("alertStrategy.notificationRateLimit.period") == "300s"
    assert policy.get("alertStrategy.autoClose") == "1800s"


def test_no_alert_reads_a_log_based_metric_the_same_deployment_creates(inventory):
    assert LOG_METRIC not in inventory.types()
    for name, filters in _filters(inventory).items():
        assert not any(USER_LOG_METRIC in text for text in filters), name


def test_error_counts_and_ratios_close_when_the_errors_stop(inventory):
    # A series of errors (a status code in the filter) exists only while errors happen: without data the
    # condition must count as false, or the incident stays open after the errors stop.
    sparse = set()
    for name, policy in _policies(inventory).items():
        for condition in policy.get("conditions"):
            threshold = condition.get("conditionThreshold")
            if threshold is None:
                continue
            missing = threshold.get("evaluationMissingData")
            if re.search(r"metric\.label\.response_code(_class)? = ", threshold["filter"]):
                assert missing == "EVALUATION_MISSING_DATA_INACTIVE", name
                sparse.add(name)
            else:
                assert missing is None, f"{name}: a state, kept as it was while no data arrives"
    assert {"gateway-errors", "store-errors", "throttled-429", "errors-5xx"} <= sparse


def test_an_alert_no_runbook_handles_points_at_the_failure_modes_and_says_what_to_do(
    inventory, gcp, environment
):
    monitoring = gcp.module("monitoring")
    report = {
        alert for alert, document in monitoring.ALERT_DOCUMENTS.items() if document == monitoring.REPORT
    }
    assert set(monitoring.ALERT_ACTIONS) == report
    for name, policy in _policies(inventory).items():
        content = policy.get("documentation.content")
        assert f"Runbook: runbooks/gcp/{environment}/{monitoring.ALERT_DOCUMENTS[name]}.md" in content, name
        if name in report:
            assert f"What to do: {monitoring.ALERT_ACTIONS[name]}." in content, name
        assert policy.get("documentation.links", None) is None, "no links without the repository's address"


def test_throttling_and_memory_pressure_are_not_sent_to_a_restore_or_a_failover(gcp):
    # Firestore throttling is not fixed by restoring the store, nor a full cache by failing it over: both
    # need capacity or backing off, which the alert's own text says.
    documents = gcp.module("monitoring").ALERT_DOCUMENTS
    assert documents["store-errors"] != "restore-store"
    assert documents["cache-memory"] != "cache-primary-failure"


def test_alerts_link_their_document_when_the_stack_gives_the_repositorys_address(gcp):
    monitoring = gcp.module("monitoring")
    base = "https://github.com/example/refarch/blob/main"
    inventory = gcp.preview("dev", {**gcp.config("dev"), f"{gcp.name}:runbookBaseUrl": f"{base}/"})
    for policy in _policies(inventory).values():
        document = monitoring.ALERT_DOCUMENTS[policy.name]
        anchor = "#failure-modes" if document == monitoring.REPORT else ""
        assert policy.get("documentation.links") == [
            {"displayName": document, "url": f"{base}/runbooks/gcp/dev/{document}.md{anchor}"}
        ], policy.name
