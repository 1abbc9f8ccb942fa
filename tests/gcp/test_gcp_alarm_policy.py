"""Every alarm of the alarm policy (refarch.alarm_policy) is an alert policy of each stack, on its window."""

from __future__ import annotations

from refarch.alarm_policy import ALARMS, WINDOW, implementation_problems
from refarch.inventory import Inventory

POLICY = "gcp:monitoring/alertPolicy:AlertPolicy"


def policy_alarms(gcp) -> dict[str, str]:
    return gcp.module("monitoring").POLICY_ALARMS


def test_every_policy_alarm_is_an_alert_policy(inventory: Inventory, gcp):
    names = {policy.name for policy in inventory.of_type(POLICY)}
    assert implementation_problems("gcp", policy_alarms(gcp), names) == []


def test_a_removed_alert_policy_is_reported(inventory: Inventory, gcp):
    names = {policy.name for policy in inventory.of_type(POLICY)} - {"store-errors"}
    assert implementation_problems("gcp", policy_alarms(gcp), names) == [
        "gcp: 'store_throttles' names 'store-errors', which the stack does not have"
    ]


def _thresholds(policy) -> list[dict]:
    return [condition["conditionThreshold"] for condition in policy.get("conditions")]


def test_threshold_conditions_hold_for_the_policys_window(inventory: Inventory, gcp):
    # "Alerting behavior", alignment periods and retest windows: each point aligns one period; the condition
    # must hold for the whole retest window (duration), a multiple of a minute.
    policies = {policy.name: policy for policy in inventory.of_type(POLICY)}
    checked = set()
    for key, name in policy_alarms(gcp).items():
        for threshold in _thresholds(policies[name]):
            period, duration = threshold["aggregations"][0]["alignmentPeriod"], threshold["duration"]
            assert (period, duration) == (f"{WINDOW.period_seconds}s", f"{WINDOW.seconds}s"), key
            checked.add(key)
    assert checked == set(policy_alarms(gcp)), "every policy alarm is a threshold condition"


# How each alarm's spec value becomes Cloud Monitoring's threshold: a percentage is a ratio, a count "N or
# more" is GT N - 1 (the API supports only COMPARISON_LT and COMPARISON_GT for metric-threshold conditions:
# cloud.google.com/monitoring/api/ref_v3/rest/v3/projects.alertPolicies#MetricThreshold, and pulumi_gcp
# 10.2's AlertPolicyConditionConditionThresholdArgs says so), latency is the metric's own milliseconds.
def _ratio(value: float) -> float:
    return value / 100


def _at_least(count: int) -> int:
    return count - 1


THRESHOLD_OF = {
    "errors_5xx": _ratio,
    "gateway_errors": _ratio,
    "latency_p99": float,
    "cache_cpu": _ratio,
    "cache_memory": _ratio,
    "store_throttles": _at_least,
}


def test_every_alarm_fires_at_the_spec_threshold_and_counts_at_or_above_it(inventory: Inventory, gcp, spec):
    requirements = {alarm.key: alarm for alarm in ALARMS}
    policies = {policy.name: policy for policy in inventory.of_type(POLICY)}
    assert set(THRESHOLD_OF) == set(policy_alarms(gcp)), "every implemented alarm is known to this test"
    for key, name in policy_alarms(gcp).items():
        # The policy's own condition is the first; a second one (cache-memory) has its own test.
        threshold = _thresholds(policies[name])[0]
        expected = THRESHOLD_OF[key](requirements[key].threshold(spec))
        assert (threshold["comparison"], threshold["thresholdValue"]) == ("COMPARISON_GT", expected), key
