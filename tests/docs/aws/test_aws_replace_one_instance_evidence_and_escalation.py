"""What the second reader trial of the AWS replace-one-instance runbook found (briefs s18, reader-aws.md),
held on the rendered runbook of every AWS environment: figures and names are read from the synthesized
template or botocore's models, never from the generator. Each check is also shown failing on the runbook
mutated back the way the old output was; the state-file steps are run in bash against a stub `aws`."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.docs import runbook_harness as harness
from tests.docs.runbook_harness import SH_BLOCK as SH
from tests.docs.runbook_harness import section
from tools.docs.commands.aws_cli import session

ENVIRONMENTS = ("dev", "staging", "prod")
STEP = re.compile(r"^(\d+)\. \*\*(.*?)\*\*$", re.MULTILINE)


def runbook(documents: dict[str, str], environment: str = "prod") -> str:
    return harness.runbook(documents, "aws", environment)


def steps(text: str) -> list[dict[str, str]]:
    """The procedure's steps in order: title, command (the sh block, indentation removed) and prose."""
    body = section(text, "Steps")
    marks = list(STEP.finditer(body))
    found = []
    for mark, following in zip(marks, [*marks[1:], None], strict=True):
        chunk = body[mark.end() : following.start() if following else None]
        block = SH.search(chunk)
        command = "\n".join(line.removeprefix("   ") for line in block.group(1).splitlines()) if block else ""
        found.append({"title": mark.group(2), "command": command, "text": chunk})
    return found


def step_with(text: str, needle: str) -> int:
    """The index of the first step whose command contains `needle` (-1: none)."""
    return next((i for i, step in enumerate(steps(text)) if needle in step["command"]), -1)


def names_block(text: str) -> str:
    return SH.search(section(text, "Names, looked up from the stack")).group(1)


# 1. The load balancer's view in step 1: the group may still call the failing instance Healthy.
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


# 8. Any lifecycle state but InService stops the procedure, every one of botocore's states named.
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


# 3, 11. State that must survive a lost shell: run the rendered commands in bash with a stub `aws`.
STUB = """#!/bin/sh
echo "$*" >> "$AWS_CALLS"
case "$2" in
  describe-auto-scaling-instances) echo "$STUB_GROUP" ;;
  get-console-output) echo "console of $4" ;;
esac
"""


def aws_shell(
    tmp_path: Path, stub: str, script: str, *, inherit: bool, **env: str
) -> subprocess.CompletedProcess:
    """`script` in bash with `stub` as `aws` (logging to tmp_path/calls), HOME (the state file's directory)
    at tmp_path and the names the block's lookups would set."""
    stubs = harness.stub_executable(tmp_path / "bin", "aws", stub)
    names = {
        "HOME": str(tmp_path),
        "AWS_CALLS": str(tmp_path / "calls"),
        "STACK": "StatelessService-prod",
        "ASG": "the-group",
    }
    return harness.run_bash(script, {**names, **env}, first_on_path=stubs, inherit=inherit)


def _shell(tmp_path: Path, script: str) -> subprocess.CompletedProcess:
    return aws_shell(tmp_path, STUB, script, inherit=True, STUB_GROUP="the-group")


def reload_lines(text: str) -> str:
    """The names block's lines that set and reload the state file (the lookups need AWS; left out)."""
    lines = names_block(text).replace("\\\n", " ").splitlines()
    return "\n".join(line for line in lines if "STATE" in line)


def marking_runs(text: str, tmp_path: Path) -> tuple[int, str]:
    """Step 3 and the marking step in one shell, then the shell is lost: a new one runs the names block's
    reload and the marking step again. Returns how many times set-instance-health ran, and the second
    shell's output."""
    all_steps = steps(text)
    name = next(s["command"] for s in all_steps if "describe-auto-scaling-instances" in s["command"])
    mark = next(s["command"] for s in all_steps if "set-instance-health" in s["command"])
    name = name.replace("<id from step 1>", "i-0123456789abcdef0")
    first = _shell(tmp_path, "\n".join([reload_lines(text), name, mark]))
    assert first.returncode == 0 or "marked at" in first.stdout, first.stderr
    second = _shell(tmp_path, "\n".join([reload_lines(text), mark]))
    calls = (tmp_path / "calls").read_text().splitlines()
    return sum("set-instance-health" in call for call in calls), second.stdout


def test_a_lost_shell_does_not_mark_twice(documents, tmp_path):
    for environment in ENVIRONMENTS:
        run = tmp_path / environment
        run.mkdir()
        count, output = marking_runs(runbook(documents, environment), run)
        assert count == 1, environment
        assert re.search(r"already marked at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", output), output
        state = (run / "replace-one-instance-StatelessService-prod.env").read_text()
        assert re.fullmatch(r"INSTANCE=i-0123456789abcdef0\nMARKED_AT=\S+\nMARKED_EPOCH=\d+\n", state), state


def test_an_unguarded_marking_is_caught(documents, tmp_path):
    """The old step: set-instance-health alone, run again after a lost shell on an instance already
    marked (gone by then: ValidationError, step 3 prints None, back to step 1)."""
    text = runbook(documents)
    mark = next(s["command"] for s in steps(text) if "set-instance-health" in s["command"])
    old = 'aws autoscaling set-instance-health --instance-id "$INSTANCE" --health-status Unhealthy'
    count, _ = marking_runs(text.replace(mark.replace("\n", "\n   "), old), tmp_path)
    assert count == 2


def test_the_end_of_the_procedure_is_recorded_for_the_canary_check(documents):
    for environment in ENVIRONMENTS:
        wait = steps(runbook(documents, environment))[
            step_with(runbook(documents, environment), "wait target")
        ]
        assert re.search(
            r'DONE_AT=\$\(date -u \+%FT%T\) && echo "DONE_AT=\$DONE_AT" >> "\$STATE"', wait["command"]
        )
        assert "verification step 5" in wait["text"]


# 2, 12. Activities since the mark (the API lists newest first), all of them, one deadline from the template.
def watch_problems(text: str, deadline: int) -> list[str]:
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
    if f"{deadline} s since the mark" not in watch["text"]:
        problems.append(f"no deadline of {deadline} s from the mark")
    wait = steps(text)[step_with(text, "wait target-in-service")]
    if not wait["title"].startswith(f"Only when step {index + 1} shows both activities `Successful`"):
        problems.append("the waiter may run before the old target has drained")
    return problems


def template_deadline(template: dict) -> int:
    """The longer of launch to healthy (the group's grace, the boot budget, + the healthy checks) and the
    warm-up, + the drain."""
    resources = template["Resources"].values()
    (group,) = (b["Properties"] for b in resources if b["Type"] == "AWS::AutoScaling::AutoScalingGroup")
    (target,) = (
        b["Properties"] for b in resources if b["Type"] == "AWS::ElasticLoadBalancingV2::TargetGroup"
    )
    drain = next(
        int(a["Value"])
        for a in target["TargetGroupAttributes"]
        if a["Key"] == "deregistration_delay.timeout_seconds"
    )
    checks = int(target["HealthCheckIntervalSeconds"]) * int(target["HealthyThresholdCount"])
    # The new instance counts as healthy only after its warm-up too (final AWS review, item 5:
    # tests/docs/test_aws_replace_one_review_final.py).
    return max(int(group["HealthCheckGracePeriod"]) + checks, int(group["DefaultInstanceWarmup"])) + drain


def test_the_watch_covers_the_activities_since_the_mark(documents, synthesized):
    for environment in ENVIRONMENTS:
        deadline = template_deadline(synthesized.templates[environment])
        assert watch_problems(runbook(documents, environment), deadline) == [], environment


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
def test_an_old_watch_is_caught(documents, synthesized, find, replace):
    text = runbook(documents)
    assert find in text
    assert watch_problems(text.replace(find, replace), template_deadline(synthesized.templates["prod"]))


# 4. The evidence is kept before the instance is terminated, with the permission for it.
def evidence_problems(text: str) -> list[str]:
    problems = []
    console, mark = step_with(text, "aws ec2 get-console-output"), step_with(text, "set-instance-health")
    if console < 0 or console > mark:
        problems.append("no console output saved before the marking")
    if '"ec2:GetConsoleOutput"' not in section(text, "Preconditions"):
        problems.append("the policy lacks ec2:GetConsoleOutput")
    return problems


def test_the_evidence_is_kept_before_the_marking(documents):
    for environment in ENVIRONMENTS:
        assert evidence_problems(runbook(documents, environment)) == [], environment


def test_a_runbook_that_destroys_the_evidence_is_caught(documents):
    text = runbook(documents)
    mutated = text.replace("aws ec2 get-console-output", "true").replace('"ec2:GetConsoleOutput"', "")
    assert len(evidence_problems(mutated)) == 2


# 5. Every error SetInstanceHealth documents has its stop.
def error_stop_problems(text: str) -> list[str]:
    operation = session().get_service_model("autoscaling").operation_model("SetInstanceHealth")
    codes = [shape.metadata["error"]["code"] for shape in operation.error_shapes]
    stop = steps(text)[step_with(text, "set-instance-health")]["text"].split("Stop if:", 1)[1]
    return [code for code in codes if f"`{code}`" not in stop] if codes else ["botocore lists no error"]


def test_every_set_instance_health_error_has_a_stop(documents):
    for environment in ENVIRONMENTS:
        assert error_stop_problems(runbook(documents, environment)) == [], environment


def test_a_missing_contention_stop_is_caught(documents):
    text = runbook(documents)
    assert error_stop_problems(text.replace("`ResourceContention`", "busy")) == ["ResourceContention"]


# 9. The zones are checked once the replacement is done.
def test_the_zones_are_checked_after_the_waiter(documents):
    for environment in ENVIRONMENTS:
        text = runbook(documents, environment)
        wait = step_with(text, "wait target-in-service")
        after = [s["command"] for s in steps(text)[wait + 1 :]]
        assert any("describe-auto-scaling-groups" in c and "AvailabilityZone" in c for c in after), (
            environment
        )


# 10. The rehearsal says what the drill does not prove.
def test_the_rehearsal_says_it_is_not_this_procedure_on_aws(documents):
    for environment in ENVIRONMENTS:
        rehearsal = section(runbook(documents, environment), "Rehearsal")
        assert "127.0.0.1" in rehearsal
        assert "does not run this procedure's commands against the cloud" in rehearsal


# 6 (in part). The message to the helpers names the instance and when it was marked.
def test_the_escalation_names_the_instance_and_the_mark(documents):
    for environment in ENVIRONMENTS:
        escalation = section(runbook(documents, environment), "Escalation")
        publish = re.search(r'aws sns publish.*?--message "([^"]*)"', escalation, re.DOTALL).group(1)
        assert "$INSTANCE" in publish and "${MARKED_AT" in publish
