"""Resuming and watching one instance's replacement on AWS (briefs s19, reader4-aws.md): a state file an
earlier procedure left is not resumed, step 3 takes its id on a first line and refuses another instance's
state, step 6 counts from now without a mark, expects the launch as well as the replacement since the mark and
ends when the old instance has left the group (a scale-in included), the close comes after the verification,
and step 1 prints only the exceptions with an outcome each. Held on every AWS environment's rendered runbook
(its blocks run in bash against a stub `aws`), figures read from the synthesized template, botocore and
stacks/boot.py; each check also fails on the runbook as the fourth reader got it (frozen in data/).

Sources: DescribeAutoScalingInstances lists no instance for an id in no group, and the CLI's text output
prints a null as `None` (step 3 relies on it too); the Cause the group gives a change of its size, "an
instance was started in response to a difference between desired and actual capacity" (AWS CLI Command
Reference, describe-scaling-activities, its example), a scale-in's "... taken out of service in response to a
difference between desired and actual capacity, shrinking the capacity from 4 to 1" (the group's activity
notifications); Pending:Wait and Terminating:Wait
hold an instance until its lifecycle action completes or times out ("How lifecycle hooks work in Amazon EC2
Auto Scaling groups", https://docs.aws.amazon.com/autoscaling/ec2/userguide/lifecycle-hooks-overview.html).
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

import jmespath
import pytest

from stacks.boot import OS_SECONDS
from tests.docs import formula
from tests.docs import runbook_harness as harness
from tests.docs.aws.aws_replace_one import (
    ENVIRONMENTS,
    STATE,
    _bash,
    _command,
    reload_lines,
    runbook,
    step_with,
    steps,
    template_deadline,
    waiter_ceiling,
)
from tests.docs.runbook_harness import section
from tools.docs.aws.runbooks.replace import SESSION_SECONDS
from tools.docs.commands.aws_cli import session

# main when the fourth reader trial read the runbook (frozen in data/).
READ_BY_THE_FOURTH_READER = "a06f0c1"
# A stub `aws`: the group an instance is in (STUB_GROUP) and its lifecycle state (STUB_LIFECYCLE, `None`: in
# no group, as the CLI prints the null), one activity; every call logged.
STUB = """#!/bin/sh
echo "$*" >> "$AWS_CALLS"
case "$*" in
  *LifecycleState*) echo "${STUB_LIFECYCLE:-InService}" ;;
  *AutoScalingGroupName*) echo "${STUB_GROUP:-the-group}" ;;
  *describe-scaling-activities*) echo "2026-12-01T00:00:00Z Successful Launching a new EC2 instance" ;;
esac
"""


def _old() -> str:
    return harness.rendered_at(READ_BY_THE_FOURTH_READER, "aws", "prod")


def _run(tmp_path: Path, script: str, **env: str) -> subprocess.CompletedProcess:
    return _bash(tmp_path, script, stub=STUB, **env)


def _template(synthesized, environment: str) -> dict:
    return synthesized.templates[environment]


def _state_lines(instance: str, marked_epoch: int) -> str:
    marked_at = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(marked_epoch - 60))
    return f"INSTANCE={instance}\nMARKED_AT={marked_at}\nMARKED_EPOCH={marked_epoch}\n"


# 6. Step 6 reached without a mark in this shell: the seconds count from now, not from 1970.
def unmarked_watch_problems(text: str, tmp_path: Path) -> list[str]:
    once = _command(text, "describe-scaling-activities").replace("sleep 30", "break")
    run = _run(tmp_path, once)
    seconds = re.search(r"(-?\d+) s since the mark", run.stdout)
    if not seconds:
        return [f"the watch prints no seconds: {run.stdout!r} {run.stderr!r}"]
    if not 0 <= int(seconds.group(1)) < 60:
        return [f"without a mark the watch counts {seconds.group(1)} s"]
    return []


def test_the_watch_counts_from_now_without_a_mark(documents, tmp_path):
    for environment in ENVIRONMENTS:
        assert unmarked_watch_problems(runbook(documents, environment), tmp_path / environment) == []


def test_the_watch_from_1970_is_caught(tmp_path):
    assert unmarked_watch_problems(_old(), tmp_path)


# 2. A state file nobody wrote to for longer than a procedure under way would is not resumed (and says how
# to close it); step 3 refuses to name another instance than the state file's.
def stale_bound(template: dict) -> int:
    """The longest a procedure goes without writing its state: step 6's escalation and step 7's waiter, each
    the waiter's ceiling (botocore), or the verification's two canary runs (the template's schedule), plus
    an assumed role's default session for an escalation (test_aws_runbooks_act_only_on_what_this_run_named.py
    pins it to botocore's STS model)."""
    (canary,) = (
        b["Properties"] for b in template["Resources"].values() if b["Type"] == "AWS::Synthetics::Canary"
    )
    every = re.fullmatch(r"rate\((\d+) (minute|hour)s?\)", canary["Schedule"]["Expression"])
    seconds = int(every.group(1)) * {"minute": 60, "hour": 3600}[every.group(2)]
    return max(2 * waiter_ceiling(), 2 * seconds) + SESSION_SECONDS


def stale_state_problems(text: str, template: dict, tmp_path: Path) -> list[str]:
    problems = []
    bound = stale_bound(template)
    if f"over {bound} s ago" not in section(text, "Names, looked up from the stack"):
        problems.append(f"the names block does not state its bound {bound} s")
    state = tmp_path / STATE
    now = int(time.time())
    # Last week's file, and one just past the bound: neither is resumed.
    for age in (7 * 86400, bound + 60):
        tmp_path.mkdir(parents=True, exist_ok=True)
        state.write_text(_state_lines("i-old", now - age))
        os.utime(state, (now - age, now - age))
        run = _run(tmp_path, f'{reload_lines(text)}\necho "MARKED_AT=${{MARKED_AT:-}}"')
        if "MARKED_AT=\n" not in run.stdout or "NOT RESUMED" not in run.stdout:
            problems.append(f"a state file {age} s old is resumed: {run.stdout!r}")
        elif "close it" not in run.stdout:
            problems.append("the refusal does not say how to close the file")
    # One written within the bound is resumed, and step 3 refuses another instance.
    state.write_text(_state_lines("i-old", now - 120))
    name = _command(text, "describe-auto-scaling-instances").replace("<id from step 1>", "i-new")
    run = _run(tmp_path, f"{reload_lines(text)}\n{name}")
    if "resumed from" not in run.stdout:
        problems.append(f"a fresh state file is not resumed: {run.stdout!r}")
    if not re.search(r"^ANOTHER INSTANCE UNDER WAY: i-old, marked at \S+$", run.stdout, re.M):
        problems.append(f"step 3 takes another instance than the state file's: {run.stdout!r}")
    if "INSTANCE=i-old" not in state.read_text():
        problems.append("step 3 overwrote the state file of a replacement under way")
    return problems


def test_a_stale_state_file_is_not_resumed(documents, synthesized, tmp_path):
    for environment in ENVIRONMENTS:
        text = runbook(documents, environment)
        template = _template(synthesized, environment)
        assert stale_state_problems(text, template, tmp_path / environment) == [], environment


def test_a_stale_state_file_resumed_is_caught(synthesized, tmp_path):
    assert stale_state_problems(_old(), _template(synthesized, "prod"), tmp_path)


# 4. Step 3's id is a first line to edit; unedited, the block says so before calling AWS; another group's
# instance is named.
def name_step_problems(text: str, tmp_path: Path) -> list[str]:
    problems = []
    name = _command(text, "describe-auto-scaling-instances")
    if not re.fullmatch(r'\w+="<id from step 1>"', name.splitlines()[0]):
        problems.append("the id to edit is not the block's first line")
    unedited = _run(tmp_path / "unedited", name)
    if harness.logged_calls(tmp_path / "unedited" / "calls"):
        problems.append("the unedited block calls AWS with the placeholder")
    if not re.search(r"^set \w+ first", unedited.stdout, re.M):
        problems.append(f"the unedited block does not say to set the id: {unedited.stdout!r}")
    foreign = _run(tmp_path / "foreign", name.replace("<id from step 1>", "i-1"), STUB_GROUP="other")
    if "NOT IN GROUP: other" not in foreign.stdout:
        problems.append(f"another group's instance is not named: {foreign.stdout!r}")
    return problems


def test_step_three_is_edited_on_its_first_line(documents, tmp_path):
    for environment in ENVIRONMENTS:
        assert name_step_problems(runbook(documents, environment), tmp_path / environment) == []


def test_a_placeholder_in_the_middle_is_caught(tmp_path):
    assert len(name_step_problems(_old(), tmp_path)) == 4


# 5. The state file is closed after the verification, whose commands and the escalation's message still read
# INSTANCE and MARKED_AT.
def close_problems(text: str) -> list[str]:
    verification = section(text, "Verification")
    blocks = harness.SH_BLOCK.findall(verification)
    if any(re.search(r"(^|\s)INSTANCE=(\s|$)", s["command"]) for s in steps(text)):
        return ["a step of the procedure forgets INSTANCE before the verification"]
    if not blocks or 'mv "$STATE"' not in blocks[-1]:
        return ["the state file is not closed after the last verification check"]
    return []


def test_the_state_is_closed_after_the_verification(documents):
    for environment in ENVIRONMENTS:
        assert close_problems(runbook(documents, environment)) == [], environment


def test_a_close_before_the_verification_is_caught():
    assert close_problems(_old())


# 9. Step 6's expectation counts from the mark: the launch (`Pending`, within the OS's boot estimate) before
# the replacement counted from InService; the escalation bound comes after it.
def since_mark_problems(text: str, template: dict) -> list[str]:
    expected = OS_SECONDS + template_deadline(template)
    watch = steps(text)[step_with(text, "describe-scaling-activities")]
    problems = []
    if f"at {expected} s since the mark" not in watch["text"].split("Stop if:", 1)[1]:
        problems.append(f"step 6 does not expect {expected} s since the mark")
    if not expected < waiter_ceiling():
        problems.append(f"the escalation at {waiter_ceiling()} s comes before the expected {expected} s")
    rows = [r for r in section(text, "Expected duration").splitlines() if "from the mark" in r]
    if not rows:
        return [*problems, "the duration table has no row counted from the mark"]
    _, _, formula_text, _, _ = rows[0].split("|")
    problems += formula.problems(formula_text.strip(), expected)
    return problems


def test_the_watch_expects_the_launch_too(documents, synthesized):
    for environment in ENVIRONMENTS:
        template = _template(synthesized, environment)
        assert since_mark_problems(runbook(documents, environment), template) == [], environment


def test_an_expectation_from_in_service_is_caught(synthesized):
    assert since_mark_problems(_old(), _template(synthesized, "prod"))


# 11. The watch ends by itself once the old instance has left the group, whoever terminated it (a scale-in
# launches nothing); while it is in the group the watch goes on.
def gone_problems(text: str, tmp_path: Path) -> list[str]:
    once = _command(text, "describe-scaling-activities").replace("sleep 30", 'echo "still watching"; break')
    problems = []
    gone = _run(tmp_path / "gone", f"INSTANCE=i-1\n{once}", STUB_LIFECYCLE="None")
    if not re.search(r"^GONE: i-1 has left the group: go on at step 7$", gone.stdout, re.M):
        problems.append(f"a gone instance does not end the watch: {gone.stdout!r}")
    if "still watching" in gone.stdout:
        problems.append("the watch goes on after the instance has gone")
    calls = harness.logged_calls(tmp_path / "gone" / "calls")
    asked = [c for c in calls if c.startswith("autoscaling describe-auto-scaling-instances")]
    query = re.search(r"--query (\S+)", asked[0]).group(1) if asked else ""
    if not asked or "--instance-ids i-1" not in asked[0]:
        problems.append("the watch does not ask for the old instance")
    elif jmespath.search(query, {"AutoScalingInstances": []}) is not None:
        problems.append(f"{query} is not null for an instance in no group")
    staying = _run(tmp_path / "staying", f"INSTANCE=i-1\n{once}", STUB_LIFECYCLE="Terminating")
    if "GONE" in staying.stdout or "still watching" not in staying.stdout:
        problems.append(f"an instance still in the group ends the watch: {staying.stdout!r}")
    if (
        "difference between desired and actual capacity"
        not in steps(text)[step_with(text, "scaling-act")]["text"]
    ):
        problems.append("a scale-in's termination is not named")
    return problems


def test_the_watch_ends_when_the_old_instance_has_gone(documents, tmp_path):
    for environment in ENVIRONMENTS:
        assert gone_problems(runbook(documents, environment), tmp_path / environment) == [], environment


def test_a_watch_waiting_for_a_launch_that_never_comes_is_caught(tmp_path):
    assert gone_problems(_old(), tmp_path)


# 7, 8, 12. Step 1 prints only the instances not in service and healthy; its outcomes are a list, one action
# each: the group's own replacement saves the evidence (step 4) before watching (step 6); a state the group
# leaves by itself is watched, one someone holds is not (botocore's LifecycleState enum).
# Detaching ends by itself in Detached ("Amazon EC2 Auto Scaling instance lifecycle"): watched, not held.
HELD = ("Standby", "Detached", "Quarantined")


def step_one_problems(text: str) -> list[str]:
    first = steps(text)[0]
    problems = []
    query = re.search(r'--query "([^"]*)"', first["command"].split("\naws elbv2")[0]).group(1)
    group = {
        "AutoScalingGroups": [
            {
                "Instances": [
                    {"InstanceId": f"i-{n}", "AvailabilityZone": "z", "LifecycleState": s, "HealthStatus": h}
                    for n, (s, h) in enumerate(
                        [("InService", "Healthy")] * 3 + [("InService", "Unhealthy"), ("Pending", "Healthy")]
                    )
                ]
            }
        ]
    }
    if [row[0] for row in jmespath.search(query, group)] != ["i-3", "i-4"]:
        problems.append("step 1 does not print only the instances not in service and healthy")
    outcomes = re.findall(r"^   - (.*)$", first["text"].split("Stop if:", 1)[1], re.M)
    if len(outcomes) < 4:
        return [*problems, "step 1's outcomes are not a list"]
    replacing = next((o for o in outcomes if "already replacing" in o), "")
    if not re.search(r"run step 4 .*then go to step 6\.$", replacing):
        problems.append("the group's own replacement does not save the evidence before the watch")
    states = session().get_service_model("autoscaling").shape_for("LifecycleState").enum
    held = [s for s in states if s in HELD or s.endswith((":Retained", ":Wait"))]
    watched = next((o for o in outcomes if "step 6, `Successful`" in o), "")
    holding = next((o for o in outcomes if "nothing to watch" in o and "escalate" in o), "")
    for state in states:
        where = [o for o in (watched, holding) if f"`{state}`" in o]
        if state != "InService" and len(where) != 1:
            problems.append(f"{state} is not in exactly one outcome")
        elif state in held and where != [holding]:
            problems.append(f"{state} is held by someone, yet watched in step 6")
    return problems


def test_step_one_prints_the_exceptions_with_an_outcome_each(documents):
    for environment in ENVIRONMENTS:
        assert step_one_problems(runbook(documents, environment)) == [], environment


def test_a_dense_step_one_is_caught():
    assert step_one_problems(_old())


@pytest.mark.parametrize(
    ("find", "replace"),
    [
        ("run step 4 (", "skip step 4 ("),
        ("`Standby`, ", ""),
        ("Instances[?LifecycleState!='InService' || HealthStatus!='Healthy']", "Instances[]"),
    ],
)
def test_a_step_one_mutated_back_is_caught(documents, find, replace):
    text = runbook(documents)
    assert find in text
    assert step_one_problems(text.replace(find, replace, 1))
