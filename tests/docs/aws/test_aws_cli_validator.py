"""The aws CLI validator: every AWS runbook command parses against botocore's service models, and a command
mutated the four ways a runbook could go wrong fails, naming what is wrong.

The CLI's naming (operation DescribeTargetHealth -> `describe-target-health`, member TargetGroupArn ->
`--target-group-arn`) is botocore's `xform_name` ("AWS CLI Command Reference": each operation page lists its
options in that form, https://docs.aws.amazon.com/cli/latest/reference/elbv2/describe-target-health.html).
"""

from __future__ import annotations

import pytest

from tools.docs.commands import simple_commands
from tools.docs.commands.aws_cli import validate


def aws_commands(generated) -> list[list[str]]:
    return [
        argv
        for stack in generated
        if stack.facts.cloud == "aws"
        for runbook in stack.runbooks
        for command in runbook.commands()
        for argv in simple_commands(command)
        if argv[0] == "aws"
    ]


def test_every_aws_runbook_command_parses(generated):
    commands = aws_commands(generated)
    # Six runbooks in each of the three environments, each with lookups, steps and checks.
    assert len(commands) > 6 * 3 * 5
    problems = {" ".join(argv): validate(argv) for argv in commands}
    assert not {command: found for command, found in problems.items() if found}


def _one(generated, operation: str) -> list[str]:
    return next(argv for argv in aws_commands(generated) if argv[1:3] == operation.split())


def test_an_unknown_operation_fails(generated):
    argv = _one(generated, "elbv2 describe-target-health")
    broken = [*argv[:2], "describe-targets-health", *argv[3:]]
    assert any("no operation `elbv2 describe-targets-health`" in problem for problem in validate(broken))


def test_an_option_the_operation_lacks_fails(generated):
    argv = _one(generated, "autoscaling set-instance-health")
    broken = [*argv, "--force"]
    assert any("--force is not a parameter of SetInstanceHealth" in problem for problem in validate(broken))


def test_a_missing_required_option_fails(generated):
    argv = _one(generated, "autoscaling set-instance-health")
    index = argv.index("--health-status")
    broken = argv[:index] + argv[index + 2 :]
    assert "missing required --health-status" in validate(broken)


@pytest.mark.parametrize(
    ("operation", "option", "bad"),
    [
        ("autoscaling start-instance-refresh", "--strategy", "Roll"),
        ("elasticache describe-events", "--source-type", "replication-groups"),
        ("cloudformation describe-stacks", "--output", "txt"),
    ],
)
def test_a_value_outside_the_enum_fails(generated, operation, option, bad):
    argv = _one(generated, operation)
    index = argv.index(option)
    broken = [*argv[: index + 1], bad, *argv[index + 2 :]]
    assert any(f"{option} {bad!r} is not one of" in problem for problem in validate(broken))


def test_a_structure_argument_is_checked_member_by_member(generated):
    argv = _one(generated, "autoscaling start-instance-refresh")
    index = argv.index("--preferences")
    assert validate(argv) == []
    broken = [
        *argv[: index + 1],
        argv[index + 1].replace("MinHealthyPercentage", "MinHealthy"),
        *argv[index + 2 :],
    ]
    assert any("--preferences.MinHealthy is not a member" in problem for problem in validate(broken))


def test_a_waiter_is_checked_against_the_waiter_model():
    assert validate(["aws", "dynamodb", "wait", "table-exists", "--table-name", "$TABLE"]) == []
    assert any("no waiter `table-ready`" in p for p in validate(["aws", "dynamodb", "wait", "table-ready"]))


def test_auto_rollback_only_with_a_desired_configuration(generated):
    # The API refuses AutoRollback=true without a DesiredConfiguration ("The AutoRollback parameter cannot be
    # set to true when the DesiredConfiguration parameter is empty",
    # https://github.com/hashicorp/terraform-provider-aws/issues/29830); botocore's model cannot say so.
    refreshes = [
        argv for argv in aws_commands(generated) if argv[1:3] == ["autoscaling", "start-instance-refresh"]
    ]
    assert refreshes
    for argv in refreshes:
        preferences = argv[argv.index("--preferences") + 1]
        if "AutoRollback=true" in preferences:
            assert "--desired-configuration" in argv, argv
