"""What the third reader trial of the AWS replace-one-instance runbook found (briefs s18, readerfix3-aws.md),
held on the rendered runbook of every AWS environment: figures are read from the synthesized template and
botocore, the state-file steps and the watch loop run in bash against a stub `aws`. Each check is also shown
failing on the runbook mutated back the way the old output was."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import jmespath
import pytest

from tests.docs import runbook_harness as harness
from tests.docs.runbook_harness import section
from tests.docs.test_aws_replace_one_reader import (
    ENVIRONMENTS,
    aws_shell,
    reload_lines,
    runbook,
    step_with,
    steps,
)
from tests.docs.test_aws_replace_one_reader2 import _group, _query
from tools.docs.commands.aws_cli import session

STATE = "replace-one-instance-StatelessService-prod.env"
# A stub `aws`: records its calls; set-instance-health fails the way IAM refuses it when STUB_DENY is set.
STUB = """#!/bin/sh
echo "$*" >> "$AWS_CALLS"
case "$2" in
  describe-auto-scaling-instances) echo "the-group" ;;
  set-instance-health) if [ -n "$STUB_DENY" ]; then
    echo "An error occurred (AccessDenied) when calling the SetInstanceHealth operation" >&2; exit 254; fi ;;
esac
"""


def _bash(tmp_path: Path, script: str, **env: str) -> subprocess.CompletedProcess:
    return aws_shell(tmp_path, STUB, script, inherit=False, **env)


def _command(text: str, needle: str) -> str:
    return steps(text)[step_with(text, needle)]["command"]


def _calls(tmp_path: Path) -> list[str]:
    return harness.logged_calls(tmp_path / "calls")


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
    # After step 3 named the instance (`in-group`): INSTANCE and CHOSEN the same.
    command = re.search(r"`((?:test [^`]*&& )?MARKED_AT=\$\(date [^`]*)`", first)
    if not command or not re.match(
        r" \([^)]*\), run step 4 \([^)]*\), then go to step 6\.", first[command.end() :]
    ):
        return ["step 1 does not set MARKED_AT and send the reader to step 6 when the group is replacing"]
    before = time.time()
    named = f'STATE="$HOME/{STATE}"\nINSTANCE=i-0abc CHOSEN=i-0abc'
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


# AWS-3, AWS-8. The watch fetches a bounded list (in progress first, then newest: DescribeScalingActivities,
# Amazon EC2 Auto Scaling API Reference) from a minute before the mark (a laptop clock ahead of AWS's would
# hide our activities) and prints the seconds since the mark with the waiter's ceiling (botocore's model).
def watch_problems(text: str, tmp_path: Path) -> list[str]:
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
    waiter = session().get_waiter_model("elbv2").get_waiter("TargetInService")
    ceiling = waiter.delay * waiter.max_attempts
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
        assert watch_problems(runbook(documents, environment), run) == [], environment


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
    assert watch_problems(text.replace(find, replace), tmp_path)


# AWS-6. A failed mark and an earlier mark print different lines; an AccessDenied is a stop that says nothing
# changed. AWS-7. Step 3 run again during a replacement leaves its state alone.
def rerun_problems(text: str, tmp_path: Path) -> list[str]:
    problems = []
    reload = reload_lines(text)
    name = _command(text, "describe-auto-scaling-instances").replace("<id from step 1>", "i-1")
    mark = _command(text, "set-instance-health")
    denied = _bash(tmp_path / "denied", f"{reload}\n{name}\n{mark}", STUB_DENY="1")
    if (
        "MARK FAILED: read the error above" not in denied.stdout
        or "MARKED_AT" in (tmp_path / "denied" / STATE).read_text()
    ):
        problems.append(f"a refused mark is not reported as failed: {denied.stdout!r}")
    _bash(tmp_path / "twice", f"{reload}\n{name}\n{mark}")
    state = (tmp_path / "twice" / STATE).read_text()
    again = _bash(tmp_path / "twice", f"{reload}\n{mark}\n{name}")
    if not re.search(r"^already marked at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$", again.stdout, re.M):
        problems.append(f"an earlier mark is not told apart: {again.stdout!r}")
    if (tmp_path / "twice" / STATE).read_text() != state:
        problems.append("step 3 run again overwrote the state of a replacement under way")
    if not re.search(r"^replacement of i-1 already under way since \S+: go to step 6$", again.stdout, re.M):
        problems.append("step 3 run again does not send the reader to step 6")
    stop = steps(text)[step_with(text, "set-instance-health")]["text"].split("Stop if:", 1)[1]
    if not re.search(
        r"`AccessDenied` \([^)]*autoscaling:SetInstanceHealth[^)]*\): nothing was changed; escalate", stop
    ):
        problems.append("no stop for AccessDenied")
    return problems


def test_reruns_and_refusals_say_what_happened(documents, tmp_path):
    for environment in ENVIRONMENTS:
        for case in ("denied", "twice"):
            (tmp_path / environment / case).mkdir(parents=True)
        assert rerun_problems(runbook(documents, environment), tmp_path / environment) == [], environment


@pytest.mark.parametrize(
    ("find", "replace"),
    [
        ('echo "MARK FAILED: read the error above"', 'echo "not marked now: MARKED_AT=${MARKED_AT:-}"'),
        ('echo "already marked at ${MARKED_AT:-}"', 'echo "not marked now: MARKED_AT=${MARKED_AT:-}"'),
        (
            'elif test -n "${MARKED_AT:-}"; then\n     echo "replacement',
            'elif false; then\n     echo "replacement',
        ),
        ("`AccessDenied`", "`Denied`"),
    ],
)
def test_a_rerun_that_wipes_or_confuses_is_caught(documents, tmp_path, find, replace):
    for case in ("denied", "twice"):
        (tmp_path / case).mkdir()
    text = runbook(documents)
    assert find in text
    assert rerun_problems(text.replace(find, replace), tmp_path)
