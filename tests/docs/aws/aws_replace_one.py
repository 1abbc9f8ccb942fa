"""The AWS replace-one-instance runbook as its tests read and run it: the rendered runbook of an environment,
its steps and names block, the state file's reload lines, the group in the synthesized template, and its
commands run in bash with a stub `aws` (an executable that logs its calls) and HOME as the state file's
directory."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

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


# State that must survive a lost shell: run the rendered commands in bash with a stub `aws`.
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
    """The names block's lines that set and reload the state file: those before its first lookup (the
    lookups need AWS; left out), the exports apart."""
    lines = names_block(text).splitlines()
    first_lookup = next(i for i, line in enumerate(lines) if re.match(r"\w+=\$\(aws ", line))
    return "\n".join(line for line in lines[:first_lookup] if not line.startswith(("export ", "# ")))


def _query(command: str) -> str:
    """The --query of a one-command block (line continuations joined)."""
    return re.search(r'--query "([^"]*)"', command.replace("\\\n", " ")).group(1)


def _group(template: dict) -> dict:
    (group,) = (
        body["Properties"]
        for body in template["Resources"].values()
        if body["Type"] == "AWS::AutoScaling::AutoScalingGroup"
    )
    return group


def _indent(command: str) -> str:
    return command.replace("\n", "\n   ")


STATE = "replace-one-instance-StatelessService-prod.env"


# A stub `aws`: records its calls; set-instance-health fails the way IAM refuses it when STUB_DENY is set.
RERUN_STUB = """#!/bin/sh
echo "$*" >> "$AWS_CALLS"
case "$2" in
  describe-auto-scaling-instances) echo "the-group" ;;
  set-instance-health) if [ -n "$STUB_DENY" ]; then
    echo "An error occurred (AccessDenied) when calling the SetInstanceHealth operation" >&2; exit 254; fi ;;
esac
"""


def _bash(tmp_path: Path, script: str, *, stub: str = RERUN_STUB, **env: str) -> subprocess.CompletedProcess:
    """`script` in bash with `stub` as `aws` and nothing of the test's environment; `tmp_path` is created."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    return aws_shell(tmp_path, stub, script, inherit=False, **env)


def _command(text: str, needle: str) -> str:
    return steps(text)[step_with(text, needle)]["command"]


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
    # test_aws_replace_one_instance_watch.py).
    return max(int(group["HealthCheckGracePeriod"]) + checks, int(group["DefaultInstanceWarmup"])) + drain


def waiter_ceiling() -> int:
    """How long the aws CLI's target-in-service waiter waits at most (botocore's elbv2 waiter model)."""
    waiter = session().get_waiter_model("elbv2").get_waiter("TargetInService")
    return waiter.delay * waiter.max_attempts
