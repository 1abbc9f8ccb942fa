"""Rolling back a release: cancel a running deployment, or refresh onto the previous launch template."""

from __future__ import annotations

from typing import Any

from tools.docs.aws import steps as c
from tools.docs.aws.runbooks.common import (
    alarm_lookups,
    assemble,
    in_service_count,
    refresh_duration,
    refresh_preferences,
    refresh_status,
    timings,
)
from tools.docs.model import Runbook, StackFacts, Step


def shorthand(value: Any) -> str:
    """A template value in the AWS CLI's shorthand syntax (`{Key=Value,...}`, `[...]`)."""
    if isinstance(value, dict):
        return "{" + ",".join(f"{key}={shorthand(item)}" for key, item in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(shorthand(item) for item in value) + "]"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str | int | float):
        return str(value)
    raise TypeError(f"no shorthand for {value!r}")


def desired_configuration(mixed: dict[str, Any] | None) -> str:
    """The previous launch template version, in the group's own shape: with its instance-type overrides and
    instances distribution when it has them (DesiredConfiguration, botocore's autoscaling model)."""
    template = {"LaunchTemplateId": "$LAUNCH_TEMPLATE", "Version": "$PREVIOUS"}
    if mixed is None:
        return f"LaunchTemplate={shorthand(template)}"
    policy = {
        "LaunchTemplate": {"LaunchTemplateSpecification": template, "Overrides": mixed["Overrides"]},
        "InstancesDistribution": mixed["InstancesDistribution"],
    }
    return f"MixedInstancesPolicy={shorthand(policy)}"


def roll_back_release(facts: StackFacts) -> Runbook:
    refresh = facts.details["refresh"]
    steps = (
        Step(
            title="Is a deployment still running?",
            command=(
                f"aws cloudformation describe-stacks --stack-name {facts.stack} "
                '--query "Stacks[0].StackStatus" --output text'
            ),
            expected="`UPDATE_IN_PROGRESS` (go to step 2) or `UPDATE_COMPLETE` (go to step 3).",
        ),
        Step(
            title="Still deploying: cancel the update; CloudFormation puts the previous launch template back "
            "and its instance refresh replaces the new instances",
            command=f"aws cloudformation cancel-update-stack --stack-name {facts.stack}",
            expected="no output; the status goes `UPDATE_ROLLBACK_IN_PROGRESS`, then "
            "`UPDATE_ROLLBACK_COMPLETE`.",
        ),
        Step(
            title="Deployed already: the launch template's versions (the latest is the bad release)",
            command=(
                'aws ec2 describe-launch-template-versions --launch-template-id "$LAUNCH_TEMPLATE" '
                "--max-items 3 \\\n"
                '  --query "LaunchTemplateVersions[].[VersionNumber,CreateTime]" --output text'
            ),
            expected="the newest versions first.",
        ),
        Step(
            title="Fastest way back: refresh the fleet onto the previous version (the group drifts from the "
            "stack until step 6)",
            command=(
                "PREVIOUS=1  # replace with the previous version's number from step 3\n"
                'aws autoscaling start-instance-refresh --auto-scaling-group-name "$ASG" --strategy Rolling '
                "\\\n  --desired-configuration "
                f'"{desired_configuration(facts.details["mixed_instances"])}" \\\n'
                f'  --preferences "{refresh_preferences(refresh, desired_configuration=True)}"'
            ),
            expected="an `InstanceRefreshId`.",
        ),
        refresh_status(),
        Step(
            title="Make the stack say so: deploy the previous release from its commit",
            command="PREVIOUS_RELEASE=v0.0.0  # replace with the previous release's tag\n"
            f'git checkout "$PREVIOUS_RELEASE"\ncdk deploy {facts.stack} -c region={facts.region}',
            expected="`UPDATE_COMPLETE`. The deploy changes the group's launch template version (its "
            "`LatestVersionNumber` goes up by one) and so starts another full instance refresh (about "
            f"{round(refresh_duration(facts).seconds / 60)} min, the refresh above): every instance is "
            "replaced once more. The image's SSM parameter is resolved again by this deploy, so the new "
            "instances may boot a newer Amazon Linux image than the ones the rollback put back.",
        ),
    )
    return assemble(
        facts,
        "roll-back-release",
        purpose="Put the previous release back on every instance after a release misbehaves.",
        when=(
            "Errors, latency or the synthetic check got worse right after a deployment.",
            "A rollout alarm rolled a refresh back and the stack must follow.",
        ),
        blast_radius="The whole fleet, batch by batch, like a release; sessions and items stay (writes the "
        "bad release made stay too: if it corrupted items, follow restore-store.md as well).",
        capacity=(
            f"An instance refresh: capacity never falls below {facts.minimum_healthy} of {facts.min_size} "
            "during this procedure.",
        ),
        durations=(timings(facts)["replace"], refresh_duration(facts)),
        preconditions=(
            "AWS CLI v2 configured for the stack's account, `jq` and `curl`.",
            "A checkout of this repository with `make setup` done (for step 6), and the previous release's "
            "tag.",
            "The permissions below, and those `cdk deploy` needs (its bootstrap roles).",
        ),
        lookups=c.lookups(
            facts,
            "AutoScalingGroupName",
            extra=(
                c.resource(
                    facts, "LAUNCH_TEMPLATE", facts.details["launch_template"], "the fleet's launch template"
                ),
                *alarm_lookups(facts),
            ),
        ),
        steps=steps,
        rollback=(
            Step(
                title="If the previous release is no better, roll forward: refresh onto the latest version "
                "again",
                command='aws autoscaling rollback-instance-refresh --auto-scaling-group-name "$ASG"',
                expected="an `InstanceRefreshId` while the refresh of step 4 is still running; otherwise "
                "deploy the fixed release (replace-every-instance.md).",
            ),
        ),
        expected_targets=in_service_count(facts),
    )
