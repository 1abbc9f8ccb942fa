"""Alarms that can fire: every input of metric math is filled, every operation-level metric is one the
service calls, and the checks that a count of errors or unhealthy hosts cannot make are made."""

from __future__ import annotations

import json
import re

from cfn_queries import of_type, only, ref_id
from service_facts import store_operations

from refarch.spec import load_environment
from sample_service.dynamodb_layout import OPERATIONS


def _math_alarms(resources: dict) -> dict[str, dict]:
    return {
        name: body["Properties"]
        for name, body in of_type(resources, "AWS::CloudWatch::Alarm").items()
        if "Metrics" in body["Properties"]
    }


def unfilled_inputs(alarm: dict) -> list[str]:
    """Inputs of the alarm's expression used anywhere other than inside FILL(input, ...).

    CloudWatch, "Using metric math": a metric with no datapoint in a period makes the expression have
    none, and an alarm without data treats it per TreatMissingData; FILL(m, 0) turns gaps into zeros.
    The load balancer's and the gateway's 5xx counts are published only when non-zero."""
    inputs = [query["Id"] for query in alarm["Metrics"] if "MetricStat" in query]
    expressions = " ".join(query["Expression"] for query in alarm["Metrics"] if "Expression" in query)
    return [
        name
        for name in inputs
        if len(re.findall(rf"\b{name}\b", expressions))
        != len(re.findall(rf"FILL\(\s*{name}\s*,", expressions))
    ]


def test_every_metric_math_alarm_fills_missing_inputs(resources):
    alarms = _math_alarms(resources)
    assert {"Errors5xx", "ApiServerErrors", "StoreThrottles"} <= {
        key for name in alarms for key in ("Errors5xx", "ApiServerErrors", "StoreThrottles") if key in name
    }
    assert {name: unfilled_inputs(alarm) for name, alarm in alarms.items()} == {name: [] for name in alarms}


def test_the_fill_check_catches_a_bare_input():
    alarm = {
        "Metrics": [
            {"Id": "target5xx", "MetricStat": {}},
            {"Id": "requests", "MetricStat": {}},
            {"Id": "expr", "Expression": "100 * FILL(target5xx, 0) / MAX([requests, 1])"},
        ]
    }
    assert unfilled_inputs(alarm) == ["requests"]


def _operation_dimensions(resources: dict) -> list[str]:
    found = []
    for alarm in of_type(resources, "AWS::CloudWatch::Alarm").values():
        props = alarm["Properties"]
        stats = [q["MetricStat"]["Metric"] for q in props.get("Metrics", []) if "MetricStat" in q]
        for metric in [*stats, props]:
            for dimension in metric.get("Dimensions", []):
                if dimension["Name"] == "Operation":
                    found.append(dimension["Value"])
    return found


def test_operation_metrics_are_only_of_operations_the_service_calls(resources):
    watched = _operation_dimensions(resources)
    assert watched, "no operation-level metric found: this test would prove nothing"
    assert set(watched) == store_operations()


def test_the_store_exposes_exactly_the_operations_it_calls():
    # The stack's grant and the throttle alarm read OPERATIONS; the store's code is what it calls.
    assert set(OPERATIONS) == store_operations()


def test_too_few_healthy_hosts_alarms_below_the_fleet_minimum(resources, environment):
    spec = load_environment(environment)
    alarms = of_type(resources, "AWS::CloudWatch::Alarm")
    (healthy,) = [body["Properties"] for name, body in alarms.items() if "TooFewHealthyHosts" in name]
    assert healthy["MetricName"] == "HealthyHostCount" and healthy["Statistic"] == "Minimum"
    assert healthy["ComparisonOperator"] == "LessThanThreshold" and healthy["Threshold"] == spec.capacity.min
    # No data (no registered target at all) is itself a reason to page.
    assert healthy["TreatMissingData"] == "breaching"


def test_api_errors_alarm_on_a_rate_of_this_stage(resources, environment):
    spec = load_environment(environment)
    alarms = of_type(resources, "AWS::CloudWatch::Alarm")
    (api,) = [body["Properties"] for name, body in alarms.items() if "ApiServerErrors" in name]
    assert api["Threshold"] == spec.alarms.error_5xx_percent
    expression = next(q["Expression"] for q in api["Metrics"] if "Expression" in q)
    assert expression.startswith("100 *") and "/" in expression
    names = {q["MetricStat"]["Metric"]["MetricName"] for q in api["Metrics"] if "MetricStat" in q}
    assert names == {"5XXError", "Count"}


def test_the_topic_key_serves_cloudwatch_only_for_this_account(resources):
    topic = only(resources, "AWS::SNS::Topic")
    key = resources[ref_id(topic["KmsMasterKeyId"])]["Properties"]
    statements = key["KeyPolicy"]["Statement"]
    cloudwatch = [s for s in statements if s["Principal"].get("Service") == "cloudwatch.amazonaws.com"]
    assert cloudwatch
    for statement in cloudwatch:
        assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
        # SNS asks for the source ARN as well ("Managing Amazon SNS encryption keys and costs").
        source_arn = json.dumps(statement["Condition"]["ArnLike"]["aws:SourceArn"])
        assert ":cloudwatch:" in source_arn and ":alarm:*" in source_arn


def test_access_logs_record_integration_status_latency_and_client(resources):
    stage = only(resources, "AWS::ApiGateway::Stage")
    log_format = json.loads(stage["AccessLogSetting"]["Format"])
    values = set(log_format.values())
    assert {
        "$context.integration.status",
        "$context.integration.latency",
        "$context.authorizer.claims.client_id",
        "$context.status",
        "$context.requestId",
    } <= values


def test_outputs_name_the_client_and_the_synthetic_check(synthesized, environment):
    outputs = synthesized.templates[environment]["Outputs"]
    resources = synthesized.templates[environment]["Resources"]
    clients = of_type(resources, "AWS::Cognito::UserPoolClient")
    assert ref_id(outputs["ClientId"]["Value"]) in clients
    assert "SyntheticCheckName" in outputs
