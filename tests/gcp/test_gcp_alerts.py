"""Alert conditions that can fire, on the right resource, and not on noise.

Sources: monitored resource labels (cloud.google.com/monitoring/api/resources: redis_instance's instance_id is
the full projects/P/locations/R/instances/NAME; https_lb_rule's backend_target_name is the backend service's
name; firestore.googleapis.com/Database's database_id is the database's short name); metrics
(cloud.google.com/monitoring/api/metrics_gcp: loadbalancing https/backend_latencies, firestore
api/request_count with response_code the gRPC status name); the uptime alert Cloud Monitoring builds itself
(check_passed, ALIGN_NEXT_OLDER, REDUCE_COUNT_FALSE across checker regions, COMPARISON_GT)."""

from __future__ import annotations

import re

from gcp_queries import ref

# `resource.label.X = "V"` (or `resource.labels.X`, `metric.label.X`) in a filter.
_LABEL = re.compile(r'\b(resource|metric)\.labels?\.(\w+)\s*=\s*"([^"]*)"')


def _policies(inventory) -> dict:
    return {p.name: p for p in inventory.of_type("gcp:monitoring/alertPolicy:AlertPolicy")}


def _condition(policy) -> dict:
    condition = policy.get("conditions.0")
    return condition.get("conditionThreshold") or condition["conditionMatchedLog"]


def _expected_labels(inventory, gcp) -> dict[tuple[str, str], str]:
    """Each label an alert filter may name, and the value it must hold: read from the resource it watches,
    as the mocks computed it (the id, an output), never a name string rebuilt by hand."""
    group = inventory.only("gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager")
    backend = inventory.only("gcp:compute/backendService:BackendService")
    auto_name = gcp.module("offline").auto_name
    return {
        ("resource", "instance_id"): ref(inventory.only("gcp:redis/instance:Instance")),
        ("resource", "backend_target_name"): auto_name(backend.name, backend.type),
        ("resource", "database_id"): inventory.only("gcp:firestore/database:Database").get("name"),
        ("resource", "instance_group_name"): auto_name(group.name, group.type),
        (
            "metric",
            "check_id",
        ): f"{inventory.only('gcp:monitoring/uptimeCheckConfig:UptimeCheckConfig').name}-check",
    }


def test_every_label_in_every_alert_filter_comes_from_the_resource_it_watches(inventory, gcp):
    expected, seen = _expected_labels(inventory, gcp), set()
    for name, policy in _policies(inventory).items():
        for where, label, value in _LABEL.findall(_condition(policy)["filter"]):
            if (where, label) == ("metric", "response_code"):
                continue  # a set of codes, tested below
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
