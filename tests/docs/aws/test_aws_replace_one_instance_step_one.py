"""AWS replace-one-instance, step 1 and the checks before the marking: step 1 shows the load balancer's view
(the group may still call the failing instance Healthy) and stops on every lifecycle state but InService;
the live group is checked for launch-before-terminate (maintenance policy, health check, suspended
processes) before the instance is marked; a replacement already under way is watched from before the page,
not waited on with an empty mark (run in bash against a stub `aws`).

Held on the rendered runbook of every AWS environment: figures and names are read from the synthesized
template or botocore's models (installed SDK), never from the generator; each check is also shown failing on
the runbook mutated back the way an older output was.

Sources: botocore's autoscaling model (the LifecycleState enum); the CLI's --query language is JMESPath,
evaluated here with jmespath."""

from __future__ import annotations

import re
import time
from pathlib import Path

import jmespath
import pytest

from tests.docs.aws.aws_replace_one import (
    ENVIRONMENTS,
    STATE,
    _bash,
    _command,
    _group,
    _query,
    runbook,
    step_with,
    steps,
)
from tests.docs.runbook_harness import section
from tools.docs.commands.aws_cli import session


# The load balancer's view in step 1: the group may still call the failing instance Healthy.
def lb_view_problems(text: str) -> list[str]:
    first = steps(text)[0]["command"]
    if not re.search(r"aws elbv2 describe-target-health .*State!='healthy'", first.replace("\\\n", " ")):
        return ["step 1 does not list the targets the load balancer finds not healthy"]
    return []


def test_step_one_shows_the_load_balancers_view(documents):
    for environment in ENVIRONMENTS:
        assert lb_view_problems(runbook(documents, environment)) == [], environment


def test_a_step_one_without_the_load_balancer_is_caught(documents):
    text = runbook(documents)
    first = steps(text)[0]["command"]
    group_only = first[: first.index("aws elbv2")].rstrip("\n")
    assert lb_view_problems(text.replace(first.replace("\n", "\n   "), group_only.replace("\n", "\n   ")))


# Any lifecycle state but InService stops the procedure, every one of botocore's states named.
def lifecycle_problems(text: str) -> list[str]:
    states = session().get_service_model("autoscaling").shape_for("LifecycleState").enum
    stop = steps(text)[0]["text"].split("Stop if:", 1)[1]
    return [state for state in states if state != "InService" and f"`{state}`" not in stop]


def test_step_one_stops_on_every_state_but_in_service(documents):
    for environment in ENVIRONMENTS:
        assert lifecycle_problems(runbook(documents, environment)) == [], environment


def test_a_stop_on_pending_or_terminating_only_is_caught(documents):
    text = runbook(documents)
    stop = steps(text)[0]["text"].split("Stop if:", 1)[1]
    mutated = text.replace(stop, " the group shows instances `Pending` or `Terminating` already.\n")
    assert "Standby" in lifecycle_problems(mutated)


# Before marking, the live group is checked for launch before terminate: its maintenance policy, health
# check type, suspended processes and room below the maximum, against the template.
def group_check_problems(text: str, template: dict) -> list[str]:
    name = step_with(text, "describe-auto-scaling-instances")
    before = [s for s in steps(text)[:name] if "InstanceMaintenancePolicy" in s["command"]]
    if not before:
        return ["no step before naming the instance checks the group's maintenance policy"]
    step = before[0]
    command = next(line for line in step["command"].split("\naws ") if "InstanceMaintenancePolicy" in line)
    group = _group(template)
    policy = group["InstanceMaintenancePolicy"]
    live = {  # a group as DescribeAutoScalingGroups returns it, deployed from this template, one suspension
        "AutoScalingGroups": [
            {
                "DesiredCapacity": group["MinSize"],
                "MaxSize": group["MaxSize"],
                "HealthCheckType": group["HealthCheckType"],
                "InstanceMaintenancePolicy": policy,
                "SuspendedProcesses": [{"ProcessName": "ReplaceUnhealthy"}],
            }
        ]
    }
    try:
        row = jmespath.search(_query(command), live)
        live["AutoScalingGroups"][0]["SuspendedProcesses"] = []
        quiet = jmespath.search(_query(command), live)
    except jmespath.exceptions.JMESPathError as error:
        return [f"the query fails on the group: {error}"]
    problems = []
    if quiet[5] != "":
        problems.append("no suspended process does not print an empty last column")
    wanted = [group["HealthCheckType"], policy["MinHealthyPercentage"], policy["MaxHealthyPercentage"]]
    if row[2:5] != wanted:
        problems.append(f"the query prints {row[2:5]}, not the health check type and the policy")
    if row[5] != "ReplaceUnhealthy":
        problems.append("a suspended process is not printed")
    expected = f"`<desired> <max> {' '.join(map(str, wanted))}`"
    if expected not in step["text"]:
        problems.append(f"the expected line {expected} (the template's values) is not said")
    stop = step["text"].split("Stop if:", 1)[1]
    if "`ReplaceUnhealthy`" not in stop or "equals the maximum" not in stop:
        problems.append("no stop on a suspended process or a group at its maximum")
    return problems


def test_the_live_group_is_checked_before_the_marking(documents, synthesized):
    for environment in ENVIRONMENTS:
        template = synthesized.templates[environment]
        assert group_check_problems(runbook(documents, environment), template) == [], environment


def test_a_runbook_without_the_group_check_is_caught(documents, synthesized):
    text = runbook(documents)
    template = synthesized.templates["prod"]
    assert group_check_problems(text.replace("InstanceMaintenancePolicy", "Policy"), template)
    assert group_check_problems(text.replace("join(',',SuspendedProcesses", "join(',',Suspended"), template)
    assert group_check_problems(text.replace("200` and nothing", "100` and nothing"), template)


# AWS-1. The group replaces the instance on its own (ELB health check): step 1 sets MARKED_AT to before the
# page and sends the reader to step 6, which names the ELB cause too; "When to use it" says how long the group
# takes to act (its grace + the load balancer's detection, from the template).
# The Cause of the group's own replacement: "At 2022-05-14T20:11:53Z an instance was taken out of service in
# response to an ELB system health check failure" (Amazon EC2 Auto Scaling User Guide, "Health checks for
# instances in an Auto Scaling group", its example of the Cause column).
ELB_CAUSE = "in response to an ELB system health check failure"


USER_CAUSE = "in response to a user health-check"


def already_replacing_problems(text: str, template: dict, tmp_path: Path) -> list[str]:
    problems = []
    first = steps(text)[0]["text"].split("Stop if:", 1)[1]
    # After step 3 named the instance (`in-group`): INSTANCE and CHOSEN the same, in the state file.
    command = re.search(r"`((?:test [^`]*&& )?MARKED_AT=\$\(date [^`]*)`", first)
    if not command or not re.match(
        r" \([^)]*\), run step 4 \([^)]*\), then go to step 6\.", first[command.end() :]
    ):
        return ["step 1 does not set MARKED_AT and send the reader to step 6 when the group is replacing"]
    before = time.time()
    named = f'STATE="$HOME/{STATE}"\nINSTANCE=i-0abc CHOSEN=i-0abc\necho INSTANCE=i-0abc > "$STATE"'
    run = _bash(tmp_path, f'{named}\n{command.group(1)}\necho "$MARKED_AT $MARKED_EPOCH"')
    marked_at, epoch = run.stdout.split()[-2:]
    since = time.mktime(time.strptime(marked_at, "%Y-%m-%dT%H:%M:%S")) - time.timezone
    if not before - 3600 < since < before - 60:
        problems.append(f"MARKED_AT {marked_at} is not shortly before now")
    if abs(int(epoch) - before) > 5:
        problems.append("the seconds are not counted from now")
    watch = _command(text, "describe-scaling-activities")
    rows = jmespath.search(
        _query(watch).replace("$MARKED_AT", marked_at),
        {
            "Activities": [
                {"StartTime": f"{marked_at[:11]}23:59:59Z", "Cause": f"At ... was taken out {ELB_CAUSE}"}
            ]
        },
    )
    if not rows:
        problems.append("the group's own replacement is not listed")
    watch_text = steps(text)[step_with(text, "describe-scaling-activities")]["text"]
    if ELB_CAUSE not in watch_text or USER_CAUSE not in watch_text:
        problems.append("step 6 does not name both causes")
    group = _group(template)
    resources = template["Resources"].values()
    (target,) = (
        b["Properties"] for b in resources if b["Type"] == "AWS::ElasticLoadBalancingV2::TargetGroup"
    )
    acts = int(group["HealthCheckGracePeriod"]) + int(target["HealthCheckIntervalSeconds"]) * int(
        target["UnhealthyThresholdCount"]
    )
    if f"= {acts} s after the instance turned unhealthy" not in section(text, "When to use it"):
        problems.append(f"'When to use it' does not say the group acts within {acts} s")
    return problems


def test_a_replacement_already_under_way_is_watched_from_before_the_page(documents, synthesized, tmp_path):
    for environment in ENVIRONMENTS:
        run = tmp_path / environment
        run.mkdir()
        text = runbook(documents, environment)
        assert already_replacing_problems(text, synthesized.templates[environment], run) == [], environment


@pytest.mark.parametrize(
    ("find", "replace"),
    [
        ("&& MARKED_AT=$(date", "&& MARKED_AT=$(true"),
        ("then go to step 6.", "then go on."),
        (f"`... {ELB_CAUSE}`", "`...`"),
        ("330 s after the instance", "some time after the instance"),
    ],
)
def test_a_step_one_that_waits_on_an_empty_mark_is_caught(documents, synthesized, tmp_path, find, replace):
    text = runbook(documents)
    assert find in text
    problems = already_replacing_problems(
        text.replace(find, replace), synthesized.templates["prod"], tmp_path
    )
    assert problems
