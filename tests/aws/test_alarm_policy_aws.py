"""Every alarm of the alarm policy (refarch.alarm_policy) is in each template, on the policy's window."""

from __future__ import annotations

from cfn_queries import of_type

from refarch.alarm_policy import WINDOW, implementation_problems
from stacks.monitoring import POLICY_ALARMS


def _policy_alarms(resources: dict) -> dict[str, dict]:
    """Policy key -> the alarm's properties, found by the construct id in its logical id."""
    alarms = of_type(resources, "AWS::CloudWatch::Alarm")
    return {
        key: body["Properties"]
        for key, construct_id in POLICY_ALARMS.items()
        for logical_id, body in alarms.items()
        if construct_id in logical_id
    }


def test_every_policy_alarm_is_in_the_template(resources):
    found = _policy_alarms(resources)
    present = {POLICY_ALARMS[key] for key in found}
    assert implementation_problems("aws", POLICY_ALARMS, present) == []


def test_a_removed_alarm_is_reported(resources):
    alarms = of_type(resources, "AWS::CloudWatch::Alarm")
    without = {
        name: body for name, body in resources.items() if "CacheMemory1" not in name or name not in alarms
    }
    present = {POLICY_ALARMS[key] for key in _policy_alarms(without)}
    assert implementation_problems("aws", POLICY_ALARMS, present) == [
        "aws: 'cache_memory' names 'CacheMemory1', which the stack does not have"
    ]


def _periods(alarm: dict) -> set[int]:
    if "Period" in alarm:
        return {alarm["Period"]}
    return {query["MetricStat"]["Period"] for query in alarm["Metrics"] if "MetricStat" in query}


def test_policy_alarms_fire_on_n_of_m_one_minute_periods(resources):
    # CloudWatch "Evaluating an alarm": DatapointsToAlarm of the last EvaluationPeriods periods breach.
    for key, alarm in _policy_alarms(resources).items():
        assert _periods(alarm) == {WINDOW.period_seconds}, key
        assert (alarm["EvaluationPeriods"], alarm["DatapointsToAlarm"]) == (
            WINDOW.periods,
            WINDOW.breaching_periods,
        ), key
