"""What the final AWS architect review found in replace-one-instance (briefs s18, review-final-aws.md, items
5-7), held on every AWS environment's runbook: figures from the synthesized template and botocore's model,
step 1's state-file command run in bash.

Sources: "Instance maintenance policy for Auto Scaling group" (Instance warmup) and "Set the default instance
warmup for an Auto Scaling group", Amazon EC2 Auto Scaling User Guide (https://docs.aws.amazon.com/autoscaling/
ec2/userguide/instance-maintenance-policy-overview-and-considerations.html): with a maintenance policy a new
instance counts as healthy only after its warm-up; botocore's InstanceRefreshStatus enum (installed SDK).
"""

from __future__ import annotations

import dataclasses
import re
import subprocess

import pytest

from stacks.boot import OS_SECONDS
from tests.docs import formula
from tests.docs.test_aws_replace_one_reader import ENVIRONMENTS, runbook, steps
from tools.docs.aws.runbooks import common
from tools.docs.commands.aws_cli import session


def _replace_one(generated, environment):
    for stack in generated:
        if stack.facts.cloud == "aws" and stack.facts.environment == environment:
            return stack.facts, next(r for r in stack.runbooks if r.scenario == "replace-one-instance")
    raise LookupError(environment)


def _group(template):
    (group,) = [
        b["Properties"]
        for b in template["Resources"].values()
        if b["Type"] == "AWS::AutoScaling::AutoScalingGroup"
    ]
    return group


def _target_group(template):
    (target,) = [
        b["Properties"]
        for b in template["Resources"].values()
        if b["Type"] == "AWS::ElasticLoadBalancingV2::TargetGroup"
    ]
    return target


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_one_replacement_waits_for_the_warm_up_before_the_old_one_goes(generated, synthesized, environment):
    template = synthesized.templates[environment]
    group, target = _group(template), _target_group(template)
    assert "InstanceMaintenancePolicy" in group  # what makes the warm-up count
    attributes = {a["Key"]: a["Value"] for a in target["TargetGroupAttributes"]}
    healthy = int(target["HealthCheckIntervalSeconds"]) * int(target["HealthyThresholdCount"])
    warmup = int(group["DefaultInstanceWarmup"])
    booted = int(group["HealthCheckGracePeriod"]) + healthy
    expected = max(booted, warmup) + int(attributes["deregistration_delay.timeout_seconds"])
    facts, found = _replace_one(generated, environment)
    replacement = next(d for d in found.durations if d.name.startswith("one replacement"))
    assert replacement.seconds == expected
    assert f"warm-up {warmup} s" in replacement.formula
    watch = next(s for s in found.steps if "describe-scaling-activities" in s.command)
    # Round 4: step 6 counts from the mark, the launch (`Pending`, the OS's boot estimate) first.
    assert f"No `GONE` at {expected + OS_SECONDS:g} s since the mark" in watch.stop_if
    assert f"`WaitingForInstanceWarmup` for about {warmup} s" in watch.expected
    # A warm-up longer than boot and checks is what the old one waits for.
    longer = common.warmed_replacement(dataclasses.replace(facts, warmup_seconds=booted + 100))
    assert longer.seconds == booted + 100 + facts.draining_seconds
    assert formula.problems(longer.formula, longer.seconds) == []


def test_step_two_classes_every_refresh_status_and_escalates_a_failed_rollback(generated):
    statuses = session().get_service_model("autoscaling").shape_for("InstanceRefreshStatus").enum
    for environment in ENVIRONMENTS:
        _, found = _replace_one(generated, environment)
        step = next(s for s in found.steps if "describe-instance-refreshes" in s.command)
        for status in statuses:
            assert f"`{status}`" in step.expected + step.stop_if, (environment, status)
        failed = step.stop_if.index("`RollbackFailed`")
        assert "escalate" in step.stop_if[failed:], environment
        assert "`RollbackFailed`" not in step.expected


def test_a_status_the_sdk_does_not_have_is_refused(monkeypatch):
    monkeypatch.setattr(common, "REFRESH_ESCALATE", ("RollbackFailed", "RolledBackPartly"))
    with pytest.raises(ValueError, match="RolledBackPartly"):
        common.refresh_statuses()


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_already_replacing_saves_the_instance_too(documents, tmp_path, environment):
    first = steps(runbook(documents, environment))[0]["text"].split("Stop if:", 1)[1]
    # Step 3 named the instance (its checks: test_aws_runbooks_act_only_on_what_this_run_named.py).
    command = re.search(r"`(test \"\$\{INSTANCE:-\}\" = \"\$CHOSEN\" && MARKED_AT=[^`]*)`", first).group(1)
    state = tmp_path / "state.env"
    state.write_text("INSTANCE=i-0123456789abcdef0\n")
    script = (
        f'STATE="{state}"\nINSTANCE=i-0123456789abcdef0 CHOSEN=i-0123456789abcdef0\n{command}\n'
        'unset INSTANCE\n. "$STATE"\n'
    )
    run = subprocess.run(
        ["bash", "-c", script + 'echo "$INSTANCE"'], capture_output=True, text=True, check=False
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["marked", "i-0123456789abcdef0"]
    assert re.fullmatch(r"INSTANCE=i-0123456789abcdef0\nMARKED_AT=\S+\nMARKED_EPOCH=\d+\n", state.read_text())
