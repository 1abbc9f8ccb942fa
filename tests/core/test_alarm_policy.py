"""The alarm policy itself (refarch.alarm_policy): a window every cloud can express, thresholds from the spec,
opt-outs that name real alarms, and a checker that reports a missing alarm."""

from __future__ import annotations

import re

import pytest

from refarch.alarm_policy import (
    ALARMS,
    OPT_OUTS,
    WINDOW,
    EvaluationWindow,
    implementation_problems,
    required,
)
from refarch.spec import load_environment

CLOUDS = ("aws", "azure", "gcp")


def test_the_window_is_one_every_cloud_accepts():
    # CloudWatch, "Using Amazon CloudWatch alarms", Evaluating an alarm: Period 60 s for standard metrics, and
    # DatapointsToAlarm (M) at most EvaluationPeriods (N): "M out of N".
    assert WINDOW.period_seconds == 60
    assert 1 <= WINDOW.breaching_periods <= WINDOW.periods
    # Cloud Monitoring, AlertPolicy.Condition.MetricThreshold.duration: "only values that are a multiple of a
    # minute--e.g., 0, 60, 120, or 300 seconds--are supported".
    assert WINDOW.seconds % 60 == 0
    # Azure Monitor, "Understand how metric alerts work in Azure Monitor" (static threshold example): the rule
    # "runs every 1 min and looks at metric values for the last 5 minutes" - the pair the Azure alerts use.
    assert (WINDOW.iso8601(), WINDOW.period_iso8601()) == ("PT5M", "PT1M")


def _iso_minutes(duration: str) -> int:
    match = re.fullmatch(r"PT(\d+)M", duration)
    assert match, duration
    return int(match[1])


@pytest.mark.parametrize("period_seconds", [60, 120, 300])
def test_a_period_in_azures_form_is_one_period_of_the_window(period_seconds):
    window = EvaluationWindow(period_seconds=period_seconds, periods=5, breaching_periods=3)
    period = _iso_minutes(window.period_iso8601())
    assert period * 60 == window.period_seconds
    assert period * window.periods == _iso_minutes(window.iso8601())


def test_a_period_of_part_of_a_minute_is_refused():
    # Refused when the window is made, so neither Azure form (window nor frequency) is ever truncated.
    with pytest.raises(ValueError, match="not whole minutes"):
        EvaluationWindow(period_seconds=WINDOW.period_seconds + 30, periods=5, breaching_periods=3)


def test_every_threshold_comes_from_the_spec():
    spec = load_environment("staging")
    assert len({alarm.key for alarm in ALARMS}) == len(ALARMS)
    # Move every alarm threshold and the fleet's minimum (within their allowed ranges): each policy
    # threshold must follow its spec field.
    moved = {
        f"staging.alarms.{name}": value - 1 if value > 50 else value + 1
        for name, value in spec.alarms.model_dump().items()
        if isinstance(value, int | float)
    }
    moved["staging.capacity.min"] = spec.capacity.min + 1
    moved["staging.capacity.desired"] = max(spec.capacity.desired, spec.capacity.min + 1)
    moved["staging.capacity.max"] = max(spec.capacity.max, spec.capacity.min + 1)
    other = load_environment("staging", overrides=moved)
    assert [a.key for a in ALARMS if a.threshold(spec) == a.threshold(other)] == []


def test_opt_outs_name_policy_alarms_and_say_why():
    keys = {alarm.key for alarm in ALARMS}
    for (cloud, key), reason in OPT_OUTS.items():
        assert cloud in CLOUDS and key in keys and len(reason) > 40


def test_the_checker_reports_a_removed_alarm():
    implemented = {alarm.key: alarm.key for alarm in required("aws")}
    assert implementation_problems("aws", implemented, implemented.values()) == []
    removed = dict(implemented)
    del removed["cache_memory"]
    assert implementation_problems("aws", removed, removed.values()) == [
        "aws: no alarm implements 'cache_memory'"
    ]
    assert implementation_problems("aws", implemented, set(implemented.values()) - {"errors_5xx"}) == [
        "aws: 'errors_5xx' names 'errors_5xx', which the stack does not have"
    ]
    skipped = next(key for cloud, key in OPT_OUTS if cloud == "gcp")
    opted_out = {**{a.key: a.key for a in required("gcp")}, skipped: skipped}
    assert implementation_problems("gcp", opted_out, opted_out.values()) == [
        f"gcp: {skipped!r} is opted out and implemented"
    ]
