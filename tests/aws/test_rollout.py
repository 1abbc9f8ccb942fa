"""A release that passes the shallow health check but fails real requests must not replace the whole fleet.

CloudFormation UpdatePolicy AutoScalingInstanceRefresh (CfnAutoScalingInstanceRefreshPreferences in
aws-cdk-lib 2.275.0): AlarmSpecification, CheckpointPercentages, CheckpointDelay, BakeTime. When an alarm
fails the refresh, CloudFormation rolls the stack back; EC2 Auto Scaling's AutoRollback preference is not
part of the CloudFormation policy (and does not support launch templates that resolve an SSM parameter)."""

from __future__ import annotations

import pytest
from aws_cdk import aws_cloudwatch as cloudwatch
from cfn_queries import of_type, only

from refarch.alarm_policy import WINDOW
from stacks.monitoring import ROLLOUT_MARGIN_PERIODS, SYNTHETIC_PERIOD, ServiceMonitoring


def _preferences(resources: dict) -> dict:
    (group,) = of_type(resources, "AWS::AutoScaling::AutoScalingGroup").values()
    return group["UpdatePolicy"]["AutoScalingInstanceRefresh"]["Preferences"]


def _period_seconds(alarm: dict) -> int:
    props = alarm["Properties"]
    return props.get("Period") or max(
        q["MetricStat"]["Period"] for q in props["Metrics"] if "MetricStat" in q
    )


def _observation_seconds(alarm: dict) -> int:
    """The alarm's window, plus the periods its last datapoint takes to be published and evaluated."""
    return _period_seconds(alarm) * (alarm["Properties"]["EvaluationPeriods"] + ROLLOUT_MARGIN_PERIODS)


def test_the_refresh_stops_on_real_request_failures(resources):
    alarms = of_type(resources, "AWS::CloudWatch::Alarm")
    watched = [reference["Ref"] for reference in _preferences(resources)["AlarmSpecification"]["Alarms"]]
    names = {name for name in watched for key in ("Errors5xx", "SyntheticCheck") if key in name}
    assert len(names) == 2 == len(watched), watched
    assert all(name in alarms for name in watched)


def test_the_refresh_pauses_long_enough_for_its_alarms_to_judge(resources):
    # A pause exactly as long as the window ends before the window's last datapoint is evaluated.
    preferences = _preferences(resources)
    alarms = of_type(resources, "AWS::CloudWatch::Alarm")
    longest = max(
        _observation_seconds(alarms[ref["Ref"]]) for ref in preferences["AlarmSpecification"]["Alarms"]
    )
    assert ROLLOUT_MARGIN_PERIODS >= 2
    assert preferences["CheckpointDelay"] >= longest and preferences["BakeTime"] >= longest


def test_an_alarm_whose_window_has_another_period_than_its_metric_is_refused():
    # The pause is computed from each alarm's window (ServiceMonitoring.windows), CloudWatch evaluates the
    # metric's period: the two must agree, or the pause would be too short. Refused before anything is built.
    metric = cloudwatch.Metric(namespace="Probe", metric_name="Probe", period=SYNTHETIC_PERIOD)
    assert SYNTHETIC_PERIOD.to_seconds() != WINDOW.period_seconds
    with pytest.raises(ValueError, match="SyntheticCheck: the metric's period is not its window's"):
        ServiceMonitoring._alarm(None, "SyntheticCheck", metric, 100, "probe", window=WINDOW)


def test_the_refresh_pauses_early_and_ends_with_the_bake(resources):
    # The last checkpoint must be 100 to replace every instance (CloudFormation,
    # AutoScalingInstanceRefresh CheckpointPercentages); reaching it completes the refresh, and BakeTime
    # is the observation there. The first pause comes while most of the fleet is still the old release.
    checkpoints = _preferences(resources)["CheckpointPercentages"]
    assert checkpoints[-1] == 100 and checkpoints == sorted(set(checkpoints))
    assert len(checkpoints) >= 3 and checkpoints[0] <= 25


def test_rollout_alarms_fire_on_missing_synthetic_results(resources):
    # A canary that stops reporting during a rollout is as bad as one that fails.
    alarms = of_type(resources, "AWS::CloudWatch::Alarm")
    for reference in _preferences(resources)["AlarmSpecification"]["Alarms"]:
        props = alarms[reference["Ref"]]["Properties"]
        if props.get("Namespace") == "CloudWatchSynthetics":
            assert props["TreatMissingData"] == "breaching"
    assert only(resources, "AWS::Synthetics::Canary")
