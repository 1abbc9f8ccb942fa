"""Every alarm of the alarm policy (refarch.alarm_policy) is an alert of each stack, on the policy window."""

from __future__ import annotations

from refarch.alarm_policy import WINDOW, implementation_problems
from refarch.inventory import Inventory

AZ = "azure-native:"
KINDS = (AZ + "monitor:MetricAlert", AZ + "monitor:ScheduledQueryRule")


def policy_alarms(azure) -> dict[str, str]:
    return azure.module("alerts").POLICY_ALARMS


def _alerts(inventory: Inventory) -> dict:
    return {alert.name: alert for kind in KINDS for alert in inventory.of_type(kind)}


def test_every_policy_alarm_is_an_alert(inventory: Inventory, azure):
    assert implementation_problems("azure", policy_alarms(azure), _alerts(inventory)) == []


def test_a_removed_alert_is_reported(inventory: Inventory, azure):
    alerts = _alerts(inventory)
    del alerts["latency-p99"]
    assert implementation_problems("azure", policy_alarms(azure), alerts) == [
        "azure: 'latency_p99' names 'latency-p99', which the stack does not have"
    ]


def test_policy_alerts_look_back_over_the_policys_window(inventory: Inventory, azure):
    # "Understand how metric alerts work in Azure Monitor": a static rule evaluated every minute over the last
    # five minutes fires when the window's aggregate crosses the threshold; log alerts query the same window,
    # every minute too ("Create or edit a log search alert rule", frequency of evaluation from one minute, at
    # most the aggregation granularity): once per window a breach could go unseen for up to a window.
    alerts = _alerts(inventory)
    module = azure.module("alerts")
    # Deliberately longer or coarser, each for its own reason (alerts.py): the host count waits out a boot,
    # and the cache publishes its metrics at a five-minute grain.
    own_window = {"healthy-hosts": (module.HEALTH_WINDOW, "PT1M")}
    cache = {name: (WINDOW.iso8601(), module.CACHE_GRAIN) for name in ("cache-cpu", "cache-memory")}
    for key, name in policy_alarms(azure).items():
        alert = alerts[name]
        expected = {**own_window, **cache}.get(name)
        if expected is None:
            expected = (WINDOW.iso8601(), WINDOW.period_iso8601())
        assert (alert.get("windowSize"), alert.get("evaluationFrequency")) == expected, key


def test_the_probe_opts_out_of_the_healthy_threshold_only_because_it_has_none(inventory: Inventory):
    import inspect

    import pulumi_azure_native.network as network

    from refarch.health_check import HEALTH_CHECK, NOT_HONOURED

    # The installed SDK's probe (ARM ApplicationGatewayProbePropertiesFormat) has no healthy count to set.
    fields = set(inspect.signature(network.ApplicationGatewayProbeArgs.__init__).parameters)
    assert "unhealthy_threshold" in fields
    assert not {field for field in fields if "healthy" in field} - {"unhealthy_threshold"}
    assert ("azure", "healthy_threshold") in NOT_HONOURED
    # Everything else of the policy is honoured by the gateway's probe.
    (probe,) = inventory.only(AZ + "network:ApplicationGateway").get("probes")
    assert (probe["interval"], probe["timeout"], probe["unhealthyThreshold"]) == (
        HEALTH_CHECK.interval_seconds,
        HEALTH_CHECK.timeout_seconds,
        HEALTH_CHECK.unhealthy_threshold,
    )
    assert probe["match"]["statusCodes"] == [str(HEALTH_CHECK.healthy_status)]


def test_every_log_search_alert_runs_every_period_and_no_less_often_than_its_window(inventory: Inventory):
    # "Create or edit a log search alert rule" (learn.microsoft.com/azure/azure-monitor/alerts/
    # alerts-create-log-alert-rule): frequency of evaluation from one minute up, at most the aggregation
    # granularity. Run once per window (PT5M/PT5M), a breach could wait up to a window to be seen.
    from tools.docs.azure.inventory import iso_seconds

    rules = list(inventory.of_type(AZ + "monitor:ScheduledQueryRule"))
    assert rules
    for rule in rules:
        frequency, window = iso_seconds(rule.get("evaluationFrequency")), iso_seconds(rule.get("windowSize"))
        assert frequency == WINDOW.period_seconds <= window, rule.name
