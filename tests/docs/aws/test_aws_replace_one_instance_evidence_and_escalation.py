"""AWS replace-one-instance, evidence and escalation: the evidence (console output) is kept before the
instance is marked, with the permission for it, and `saved` is said only when something was saved (run in
bash against a stub `aws`); the service log is read by command from the log group the instances ship to;
the canary's start prints in UTC; every error SetInstanceHealth documents has its stop; the rehearsal says
what the drill does not prove; the message to the helpers names the instance and when it was marked.

Held on the rendered runbook of every AWS environment: figures and names are read from the synthesized
template or botocore's models (installed SDK), never from the generator; each check is also shown failing on
the runbook mutated back the way an older output was."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.docs import runbook_harness as harness
from tests.docs.aws.aws_replace_one import (
    ENVIRONMENTS,
    _shell,
    names_block,
    runbook,
    step_with,
    steps,
)
from tests.docs.runbook_harness import section
from tools.docs.commands.aws_cli import session


# The evidence is kept before the instance is terminated, with the permission for it.
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


# Every error SetInstanceHealth documents has its stop.
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


# The rehearsal says what the drill does not prove.
def test_the_rehearsal_says_it_is_not_this_procedure_on_aws(documents):
    for environment in ENVIRONMENTS:
        rehearsal = section(runbook(documents, environment), "Rehearsal")
        assert "127.0.0.1" in rehearsal
        assert "does not run this procedure's commands against the cloud" in rehearsal


# The message to the helpers names the instance and when it was marked.
def test_the_escalation_names_the_instance_and_the_mark(documents):
    for environment in ENVIRONMENTS:
        escalation = section(runbook(documents, environment), "Escalation")
        publish = re.search(r'aws sns publish.*?--message "([^"]*)"', escalation, re.DOTALL).group(1)
        assert "$INSTANCE" in publish and "${MARKED_AT" in publish


# The console output step says `saved` only when it saved something.
FAILING_CONSOLE = (
    "#!/bin/sh\n"
    'echo "An error occurred (UnsupportedOperation) when calling the GetConsoleOutput operation" >&2\n'
    "exit 254\n"
)


def console_run(text: str, tmp_path: Path) -> str:
    console = steps(text)[step_with(text, "get-console-output")]["command"]
    bin_dir = harness.stub_executable(tmp_path / "failing", "aws", FAILING_CONSOLE)
    return _shell(tmp_path, f'export PATH="{bin_dir}:$PATH"\nINSTANCE=i-1\n{console}').stdout


def test_a_failed_console_read_is_not_reported_saved(documents, tmp_path):
    for environment in ENVIRONMENTS:
        run = tmp_path / environment
        run.mkdir()
        assert "saved" not in console_run(runbook(documents, environment), run), environment


def test_a_console_step_that_reports_saved_anyway_is_caught(documents, tmp_path):
    text = runbook(documents)
    old = "--query Output --output text)\n   printf"
    assert "saved" in console_run(
        text.replace("--query Output --output text) && \\\n     printf", old), tmp_path
    )


# The service log by command: the log group the instances ship to, looked up from the stack, read by the
# stream the agent names after the instance id (both read from the launch template's user data).
def shipped_log(template: dict) -> tuple[str, str]:
    """(logical id of the log group, stream name) the CloudWatch agent configuration in the user data uses."""
    (data,) = (
        body["Properties"]["LaunchTemplateData"]["UserData"]["Fn::Base64"]["Fn::Join"][1]
        for body in template["Resources"].values()
        if body["Type"] == "AWS::EC2::LaunchTemplate"
    )
    index = next(i for i, part in enumerate(data) if isinstance(part, str) and '"log_group_name": "' in part)
    stream = re.search(r'"log_stream_name": "([^"]*)"', data[index + 2]).group(1)
    return data[index + 1]["Ref"], stream


def log_problems(text: str, template: dict) -> list[str]:
    group, stream = shipped_log(template)
    problems = []
    if not re.search(
        rf"^LOG_GROUP=\$\(aws cloudformation describe-stack-resource .*--logical-resource-id "
        rf"{group} ",
        names_block(text),
        re.MULTILINE,
    ):
        problems.append(f"LOG_GROUP is not looked up from {group}")
    evidence = steps(text)[step_with(text, "get-console-output")]["command"].replace("\\\n", " ")
    wanted = {"{instance_id}": '--log-stream-names "$INSTANCE"'}[stream]
    if not re.search(
        rf'LOG=\$\(aws logs filter-log-events --log-group-name "\$LOG_GROUP"\s+{re.escape(wanted)}', evidence
    ):
        problems.append("the evidence step does not read the instance's log stream")
    if "Session Manager" in section(text, "Verification"):
        problems.append(
            "the verification sends the reader to Session Manager, which the runbook does not cover"
        )
    if '"logs:FilterLogEvents"' not in section(text, "Preconditions"):
        problems.append("the policy lacks logs:FilterLogEvents")
    return problems


def test_the_service_log_is_read_by_command(documents, synthesized):
    for environment in ENVIRONMENTS:
        text = runbook(documents, environment)
        assert log_problems(text, synthesized.templates[environment]) == [], environment


def test_a_log_only_through_session_manager_is_caught(documents, synthesized):
    text = runbook(documents)
    template = synthesized.templates["prod"]
    group, _ = shipped_log(template)
    assert log_problems(
        text.replace(f"--logical-resource-id {group} ", "--logical-resource-id Other "), template
    )
    assert log_problems(text.replace("aws logs filter-log-events", "aws logs describe-log-streams"), template)
    assert log_problems(text.replace("the service log (", "the service log (Session Manager, "), template)


# The canary's start time in UTC, like the times the runbook notes: Synthetics answers epoch seconds and
# botocore renders them in the local zone (what the AWS CLI prints); TZ=UTC makes that zone UTC.
def started_iso(zone: str) -> str:
    code = "from botocore.utils import parse_timestamp; print(parse_timestamp(1764547200).isoformat())"
    environment = {**os.environ, "TZ": zone}
    return subprocess.run(
        [sys.executable, "-c", code], env=environment, capture_output=True, text=True, check=True
    ).stdout.strip()


def canary_problems(text: str) -> list[str]:
    verification = section(text, "Verification")
    problems = []
    if not re.search(r"^\s*TZ=UTC aws synthetics describe-canaries-last-run ", verification, re.MULTILINE):
        problems.append("the canary's start time prints in the local zone")
    states = session().get_service_model("synthetics").shape_for("CanaryRunState").enum
    problems += [f"{state} not covered" for state in states if f"`{state}`" not in verification]
    return problems


def test_the_canary_start_prints_in_utc(documents):
    assert started_iso("America/New_York").endswith("-05:00")  # why: the local zone otherwise
    assert started_iso("UTC").endswith("+00:00")
    for environment in ENVIRONMENTS:
        assert canary_problems(runbook(documents, environment)) == [], environment


def test_a_local_time_canary_check_is_caught(documents):
    text = runbook(documents)
    assert canary_problems(text.replace("TZ=UTC aws synthetics", "aws synthetics"))
    assert canary_problems(text.replace("`RUNNING`", "running")) == ["RUNNING not covered"]
