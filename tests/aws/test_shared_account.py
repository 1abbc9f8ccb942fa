"""Two environments deployed to one account and region must not share or overwrite anything."""

from __future__ import annotations

import json
from collections import Counter

from cfn_queries import of_type

from stacks.account import ACCOUNT_STACK_NAME

# Properties that give a resource a physical name of its own choosing ...
NAME_PROPERTIES = (
    "Name",
    "CanaryName",
    "LogGroupName",
    "TableName",
    "BucketName",
    "RoleName",
    "DashboardName",
)
# ... except where the name is scoped to a parent the stack creates itself.
SCOPED_NAMES = ("AWS::Cognito::UserPoolResourceServer",)


def _account_resources(synthesized) -> dict:
    path = synthesized.directory / f"{ACCOUNT_STACK_NAME}.template.json"
    return json.loads(path.read_text())["Resources"]


def test_the_account_level_api_gateway_role_is_set_once_outside_the_environments(synthesized):
    for environment, template in synthesized.templates.items():
        resources = template["Resources"]
        assert not [b for b in resources.values() if b["Type"] == "AWS::ApiGateway::Account"], environment
        roles = [b for b in resources.values() if b["Type"] == "AWS::IAM::Role"]
        assert "apigateway.amazonaws.com" not in json.dumps(roles), environment
    account = _account_resources(synthesized)
    (setting,) = of_type(account, "AWS::ApiGateway::Account").values()
    assert setting["DeletionPolicy"] == "Retain"
    for stack in synthesized.stacks.values():
        assert ACCOUNT_STACK_NAME in {dependency.stack_name for dependency in stack.dependencies}


def test_environments_choose_no_physical_name_twice(synthesized):
    names = Counter()
    for template in synthesized.templates.values():
        for body in template["Resources"].values():
            if body["Type"] in SCOPED_NAMES:
                continue
            for key in NAME_PROPERTIES:
                value = body.get("Properties", {}).get(key)
                # Strings only: a Ref or GetAtt names another resource of the same stack.
                if isinstance(value, str):
                    names[(body["Type"], value)] += 1
    assert names, "no named resources found: this test would prove nothing"
    assert [name for name, count in names.items() if count > 1] == []


def test_api_gateway_alarms_count_only_this_environment_api_and_stage(synthesized):
    for environment, template in synthesized.templates.items():
        resources = template["Resources"]
        (api,) = of_type(resources, "AWS::ApiGateway::RestApi").values()
        (stage,) = of_type(resources, "AWS::ApiGateway::Stage")
        checked = 0
        for alarm in of_type(resources, "AWS::CloudWatch::Alarm").values():
            for query in alarm["Properties"].get("Metrics", []):
                metric = query.get("MetricStat", {}).get("Metric", {})
                if metric.get("Namespace") != "AWS/ApiGateway":
                    continue
                dimensions = {d["Name"]: d["Value"] for d in metric["Dimensions"]}
                assert dimensions["ApiName"] == api["Properties"]["Name"], environment
                assert dimensions["Stage"] == {"Ref": stage}, environment
                checked += 1
        assert checked, f"{environment}: no API Gateway alarm metric found"
