"""Each AWS runbook's IAM policy is derived from its own commands: every command's action is allowed,
nothing else is, and the service prefixes are IAM's, not the endpoints'.

IAM prefixes: Elastic Load Balancing v2 is `elasticloadbalancing`
(https://docs.aws.amazon.com/service-authorization/latest/reference/list_awselasticloadbalancingv2.html),
CloudWatch is `cloudwatch` though its endpoint is `monitoring`
(https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoncloudwatch.html).
"""

from __future__ import annotations

import json

from tools.docs.aws.iam import DATA_KEY_SID, LAUNCH_SIDS, TOPIC_KEY_SID, actions, policy


def allowed(runbook) -> set[str]:
    """The actions the runbook's policy allows, but those on the table's and the topic's keys (tests/docs/
    test_aws_restore_store.py and test_aws_permission_scopes.py check those statements): they follow from
    the stack's encryption, not from one command; and launching from the fleet's template, which a call
    naming it needs (test_aws_policy_resources.py)."""
    document = json.loads(runbook.permissions)
    return {
        action
        for statement in document["Statement"]
        if statement["Sid"] not in (DATA_KEY_SID, TOPIC_KEY_SID, *LAUNCH_SIDS)
        for action in statement["Action"]
    }


def test_each_runbook_allows_exactly_what_its_commands_call(generated):
    for stack in generated:
        if stack.facts.cloud != "aws":
            continue
        for runbook in stack.runbooks:
            assert allowed(runbook) == set(actions(runbook.commands())), runbook.scenario
            assert "autoscaling:DescribeAutoScalingGroups" in allowed(runbook) or runbook.scenario not in (
                "replace-one-instance",
            )


def test_prefixes_are_iams():
    assert actions(['aws elbv2 describe-target-health --target-group-arn "$A"']) == [
        "elasticloadbalancing:DescribeTargetHealth"
    ]
    assert actions(['aws cloudwatch describe-alarms --alarm-name-prefix "$S"']) == [
        "cloudwatch:DescribeAlarms"
    ]
    # A waiter needs the operation it polls.
    assert actions(['aws dynamodb wait table-exists --table-name "$T"']) == ["dynamodb:DescribeTable"]


def test_a_restore_also_needs_writes_on_the_new_table():
    # "DynamoDB RestoreTableToPointInTime permissions are necessary on the source table, and DynamoDB read and
    # write permissions on the target table" (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/
    # backuprestore_IAM.html).
    found = actions(
        ["aws dynamodb restore-table-to-point-in-time --source-table-name a --target-table-name b"]
    )
    assert {"dynamodb:RestoreTableToPointInTime", "dynamodb:BatchWriteItem", "dynamodb:Scan"} <= set(found)


def test_a_command_added_to_a_runbook_widens_its_policy():
    before = json.loads(policy(["aws sts get-caller-identity"], stack="S", region="eu-west-1"))
    after = json.loads(
        policy(
            [
                "aws sts get-caller-identity",
                'aws autoscaling cancel-instance-refresh --auto-scaling-group-name "$A"',
            ],
            stack="S",
            region="eu-west-1",
        )
    )
    assert before["Statement"] == []  # GetCallerIdentity needs no permission
    assert after["Statement"][0]["Action"] == ["autoscaling:CancelInstanceRefresh"]
    assert after["Statement"][0]["Condition"] == {"StringEquals": {"aws:RequestedRegion": "eu-west-1"}}
