"""Every alarm of the alarm policy (refarch.alarm_policy) is an alert policy of each stack, on its window."""

from __future__ import annotations

from refarch.alarm_policy import WINDOW, implementation_problems
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


def test_threshold_conditions_hold_for_the_policys_window(inventory: Inventory, gcp):
    # "Alerting behavior", alignment periods and retest windows: each point aligns one period; the condition
    # must hold for the whole retest window (duration), a multiple of a minute.
    policies = {policy.name: policy for policy in inventory.of_type(POLICY)}
    checked = 0
    for key, name in policy_alarms(gcp).items():
        threshold = policies[name].get("conditions.0.conditionThreshold", None)
        if threshold is None:  # a log-match condition fires on each matching entry
            continue
        checked += 1
        assert threshold["duration"] == f"{WINDOW.seconds}s", key
        assert threshold["aggregations"][0]["alignmentPeriod"] == f"{WINDOW.period_seconds}s", key
    assert checked >= 4
