"""AWS replace-one-instance, the watch and the end: the watch lists every activity since the mark (newest
first), loops with each activity's cause and no pager, is bounded and counts from the mark (run in bash
against a stub `aws`), with one deadline from the template; one replacement waits for the instance warm-up
before the old instance goes; step 2 classes every refresh status botocore has and escalates a failed
rollback; the last check compares with the group's desired capacity; the zones are checked after the
waiter.

Held on the rendered runbook of every AWS environment: figures and names are read from the synthesized
template or botocore's models (installed SDK), never from the generator; each check is also shown failing on
the runbook mutated back the way an older output was.

Sources: "Instance maintenance policy for Auto Scaling group" (Instance warmup) and "Set the default instance
warmup for an Auto Scaling group", Amazon EC2 Auto Scaling User Guide
(https://docs.aws.amazon.com/autoscaling/
ec2/userguide/instance-maintenance-policy-overview-and-considerations.html): with a maintenance policy a new
instance counts as healthy only after its warm-up; botocore's InstanceRefreshStatus enum (installed SDK)."""

from __future__ import annotations

import dataclasses
import re
import time
from pathlib import Path

import jmespath
import pytest

from stacks.boot import OS_SECONDS
from tests.docs import formula
from tests.docs.aws.aws_replace_one import (
    ENVIRONMENTS,
    _bash,
    _command,
    _group,
    _indent,
    _query,
    names_block,
    reload_lines,
    runbook,
    step_with,
    steps,
    template_deadline,
    waiter_ceiling,
)
from tools.docs.aws.runbooks import common
from tools.docs.commands.aws_cli import session


# Activities since the mark (the API lists newest first), all of them, one deadline from the template.
def since_mark_watch_problems(text: str, deadline: int) -> list[str]:
    index = step_with(text, "describe-scaling-activities")
    watch = steps(text)[index]
    problems = []
    # Round 3: a bounded list (in progress first, then newest) instead of six weeks of pages every 30 s.
    if "--max-items 20 " not in watch["command"]:
        problems.append("every activity of six weeks is fetched")
    if "[?StartTime>='$MARKED_AT']" not in watch["command"]:
        problems.append("not filtered to the activities since the mark")
    if "newest first" not in watch["text"]:
        problems.append("the order is not said")
    # Round 4: counted from the mark, the launch (`Pending`, the OS's boot estimate) comes first.
    if f"{deadline + OS_SECONDS} s since the mark" not in watch["text"]:
        problems.append(f"no deadline of {deadline} s from the mark")
    wait = steps(text)[step_with(text, "wait target-in-service")]
    if not wait["title"].startswith(f"Only when step {index + 1} shows both activities `Successful`"):
        problems.append("the waiter may run before the old target has drained")
    return problems


def test_the_watch_covers_the_activities_since_the_mark(documents, synthesized):
    for environment in ENVIRONMENTS:
        deadline = template_deadline(synthesized.templates[environment])
        assert since_mark_watch_problems(runbook(documents, environment), deadline) == [], environment


@pytest.mark.parametrize(
    ("find", "replace"),
    [
        ("[?StartTime>='$MARKED_AT']", "[]"),
        ("--max-items 20 ", ""),
        ("newest first", "in order"),
        ("s since the mark", "s after step 4"),
        ("Only when step", "When step"),
    ],
)
def test_a_watch_from_before_the_mark_is_caught(documents, synthesized, find, replace):
    text = runbook(documents)
    assert find in text
    assert since_mark_watch_problems(
        text.replace(find, replace), template_deadline(synthesized.templates["prod"])
    )


# The zones are checked once the replacement is done.
def test_the_zones_are_checked_after_the_waiter(documents):
    for environment in ENVIRONMENTS:
        text = runbook(documents, environment)
        wait = step_with(text, "wait target-in-service")
        after = [s["command"] for s in steps(text)[wait + 1 :]]
        assert any("describe-auto-scaling-groups" in c and "AvailabilityZone" in c for c in after), (
            environment
        )


# The last group check compares with the group's own target, not step 1's count.
def final_count(text: str, instances: list[tuple[str, str]], desired: int) -> list:
    """What the group check after the waiter prints for a group that wants `desired` and has `instances`
    (lifecycle state, health), each of its queries evaluated."""
    wait = step_with(text, "wait target-in-service")
    after = [s["command"] for s in steps(text)[wait + 1 :] if "describe-auto-scaling-groups" in s["command"]]
    group = {
        "AutoScalingGroups": [
            {
                "DesiredCapacity": desired,
                "Instances": [
                    {"InstanceId": f"i-{n}", "AvailabilityZone": "z", "LifecycleState": s, "HealthStatus": h}
                    for n, (s, h) in enumerate(instances)
                ],
            }
        ]
    }
    commands = after[0].replace("\\\n", " ").split("\n")
    return [jmespath.search(_query(command), group) for command in commands if "--query" in command]


def test_the_last_check_compares_with_the_desired_capacity(documents, synthesized):
    for environment in ENVIRONMENTS:
        size = int(_group(synthesized.templates[environment])["MinSize"])
        text = runbook(documents, environment)
        healthy = [("InService", "Healthy")] * size
        assert [size, size] in final_count(text, healthy, size), environment
        one_lost = [*healthy[:-1], ("InService", "Unhealthy")]
        assert [size, size - 1] in final_count(text, one_lost, size), environment


def test_a_count_against_step_one_is_caught(documents, synthesized):
    text = runbook(documents)
    wait = step_with(text, "wait target-in-service")
    (check,) = [
        s["command"] for s in steps(text)[wait + 1 :] if "describe-auto-scaling-groups" in s["command"]
    ]
    old = check.split("\naws ")[0]
    size = int(_group(synthesized.templates["prod"])["MinSize"])
    healthy = [("InService", "Healthy")] * size
    assert [size, size] not in final_count(text.replace(_indent(check), _indent(old)), healthy, size)


# The watch is a loop, shows each activity's cause, runs without a pager, and escalates at the waiter's
# ceiling (botocore's waiter model), at once on a failure.
def loop_watch_problems(text: str) -> list[str]:
    watch = steps(text)[step_with(text, "describe-scaling-activities")]
    waiter = session().get_waiter_model("elbv2").get_waiter("TargetInService")
    problems = []
    if not re.search(r"(^|\n)while :; do\n.*\n\s*sleep 30\ndone$", watch["command"], re.DOTALL):
        problems.append("not a loop")
    activity = {"StartTime": "2026-12-01T00:00:00Z", "Cause": "in response to a user health-check"}
    row = jmespath.search(
        _query(watch["command"]).replace("$MARKED_AT", "2026-11-30"), {"Activities": [activity]}
    )
    if "in response to a user health-check" not in row[0]:
        problems.append("the cause is not shown")
    if not re.search(r'^export (\S+ )*AWS_PAGER="" ', names_block(text), re.MULTILINE):
        problems.append("the CLI's pager is not turned off")
    if f"{waiter.delay * waiter.max_attempts} s since the mark" not in watch["text"]:
        problems.append("no escalation at the waiter's ceiling")
    if "escalate at once" not in watch["text"]:
        problems.append("a failure is not escalated at once")
    return problems


def test_the_watch_loops_with_the_cause_and_no_pager(documents):
    for environment in ENVIRONMENTS:
        assert loop_watch_problems(runbook(documents, environment)) == [], environment


@pytest.mark.parametrize(
    ("find", "replace"),
    [
        ("while :; do", "if :; then"),
        ("Description,Cause,StatusMessage", "Description,StatusMessage"),
        ('AWS_PAGER="" ', ""),
        ("escalate at once", "escalate"),
    ],
)
def test_a_watch_without_loop_cause_or_pager_is_caught(documents, find, replace):
    text = runbook(documents)
    assert find in text
    assert loop_watch_problems(text.replace(find, replace))


# AWS-3, AWS-8. The watch fetches a bounded list (in progress first, then newest: DescribeScalingActivities,
# Amazon EC2 Auto Scaling API Reference) from a minute before the mark (a laptop clock ahead of AWS's would
# hide our activities) and prints the seconds since the mark with the waiter's ceiling (botocore's model).
def bounded_watch_problems(text: str, tmp_path: Path) -> list[str]:
    problems = []
    watch = _command(text, "describe-scaling-activities")
    items = re.search(r"--max-items (\d+)", watch)
    if not items or int(items.group(1)) > 100:
        problems.append("the watch fetches every activity of six weeks")
    mark = _command(text, "set-instance-health")
    reload = reload_lines(text)
    run = _bash(tmp_path, f'{reload}\nINSTANCE=i-1\n{mark}\n. "$STATE"\necho "$MARKED_AT $MARKED_EPOCH"')
    marked = re.search(r"^(\S+) (\d+)$", run.stdout, re.M)
    if not marked:
        problems.append(f"the mark's own time (MARKED_EPOCH) is not kept: {run.stdout!r}")
    elif (
        int(marked.group(2))
        - (time.mktime(time.strptime(marked.group(1), "%Y-%m-%dT%H:%M:%S")) - time.timezone)
        < 60
    ):
        problems.append(f"MARKED_AT {marked.group(1)} is not a minute before the mark ({marked.group(2)})")
    ceiling = waiter_ceiling()
    once = watch.replace("while :; do", "for once in 1; do").replace("sleep 30", "true")
    loop = _bash(tmp_path, f"{reload}\nMARKED_EPOCH=$(( $(date +%s) - 42 ))\n{once}")
    if not re.search(rf"\b4[23] s since the mark \(expected \d+ s, escalate at {ceiling} s\)", loop.stdout):
        problems.append(
            f"the loop does not print the seconds since the mark and {ceiling} s: {loop.stdout!r}"
        )
    return problems


def test_the_watch_is_bounded_and_counts_from_the_mark(documents, tmp_path):
    for environment in ENVIRONMENTS:
        run = tmp_path / environment
        run.mkdir()
        assert bounded_watch_problems(runbook(documents, environment), run) == [], environment


@pytest.mark.parametrize(
    ("find", "replace"),
    [
        ("--max-items 20 ", ""),
        ("NOW - 60", "NOW"),
        ("s since the mark (expected", "s (expected"),
    ],
)
def test_an_unbounded_or_skewed_watch_is_caught(documents, tmp_path, find, replace):
    text = runbook(documents)
    assert find in text
    assert bounded_watch_problems(text.replace(find, replace), tmp_path)


def _replace_one(generated, environment):
    for stack in generated:
        if stack.facts.cloud == "aws" and stack.facts.environment == environment:
            return stack.facts, next(r for r in stack.runbooks if r.scenario == "replace-one-instance")
    raise LookupError(environment)


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
