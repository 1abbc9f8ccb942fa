"""What the second reader trial of the AWS replace-one-instance runbook found (briefs s18, reader2-aws.md),
held on the rendered runbook of every AWS environment: expected figures are read from the synthesized
template and botocore, queries are evaluated with jmespath (the CLI's --query language), the state-file
and evidence steps run in bash against a stub `aws`. Each check is also shown failing on the old output."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import jmespath
import pytest

from tests.docs import runbook_harness as harness
from tests.docs.aws.test_aws_replace_one_instance_procedure import (
    ENVIRONMENTS,
    _shell,
    names_block,
    reload_lines,
    runbook,
    step_with,
    steps,
)
from tests.docs.runbook_harness import section
from tools.docs.commands.aws_cli import session


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


# 1. Before marking, the live group is checked for launch before terminate: its maintenance policy, health
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


# 2. The state file is archived at the end, so a later run does not resume a finished procedure; the names
# block shows the file's date when it reloads one.
def leftover_state(text: str, tmp_path: Path) -> str:
    """Steps 3 and 5, then the last step; a new shell weeks later runs the names block's reload: what it
    prints."""
    all_steps = steps(text)
    name = all_steps[step_with(text, "describe-auto-scaling-instances")]["command"]
    mark = all_steps[step_with(text, "set-instance-health")]["command"]
    name = name.replace("<id from step 1>", "i-0123456789abcdef0")
    _shell(tmp_path, "\n".join([reload_lines(text), name, mark, all_steps[-1]["command"]]))
    return _shell(tmp_path, reload_lines(text)).stdout


def test_a_finished_procedure_is_not_resumed(documents, tmp_path):
    for environment in ENVIRONMENTS:
        run = tmp_path / environment
        run.mkdir()
        assert "resumed from" not in leftover_state(runbook(documents, environment), run), environment
        assert list(run.glob("replace-one-instance-StatelessService-prod.env.done-*")), environment


def test_a_state_file_left_behind_is_caught(documents, tmp_path):
    text = runbook(documents)
    last = steps(text)[-1]["command"]
    assert "resumed from" in leftover_state(text.replace(_indent(last), "true"), tmp_path)


def test_a_reloaded_state_file_shows_its_date_and_what_to_do(documents, tmp_path):
    text = runbook(documents)
    name = steps(text)[step_with(text, "describe-auto-scaling-instances")]["command"]
    script = "\n".join([reload_lines(text), name.replace("<id from step 1>", "i-1"), reload_lines(text)])
    output = _shell(tmp_path, script).stdout
    assert re.search(
        r"^resumed from \S+ \(written \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\): INSTANCE=i-1", output, re.M
    )
    assert (
        "run step 9's command (it archives the file and forgets its values), then start at step 1"
        in section(text, "Names, looked up from the stack")
    )


def test_a_reload_without_the_date_is_caught(documents, tmp_path):
    text = runbook(documents).replace(' (written $(date -u -r "$STATE" +%FT%TZ))', "")
    name = steps(text)[step_with(text, "describe-auto-scaling-instances")]["command"]
    script = "\n".join([reload_lines(text), name.replace("<id from step 1>", "i-1"), reload_lines(text)])
    assert "(written " not in _shell(tmp_path, script).stdout


# 3. The last group check compares with the group's own target, not step 1's count.
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


# 4. The watch is a loop, shows each activity's cause, runs without a pager, and escalates at the waiter's
# ceiling (botocore's waiter model), at once on a failure.
def watch_problems(text: str) -> list[str]:
    watch = steps(text)[step_with(text, "describe-scaling-activities")]
    waiter = session().get_waiter_model("elbv2").get_waiter("TargetInService")
    problems = []
    if not re.match(r"while :; do\n.*\n\s*sleep 30\ndone$", watch["command"], re.DOTALL):
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
        assert watch_problems(runbook(documents, environment)) == [], environment


@pytest.mark.parametrize(
    ("find", "replace"),
    [
        ("while :; do", "if :; then"),
        ("Description,Cause,StatusMessage", "Description,StatusMessage"),
        ('AWS_PAGER="" ', ""),
        ("escalate at once", "escalate"),
    ],
)
def test_an_old_watch_is_caught(documents, find, replace):
    text = runbook(documents)
    assert find in text
    assert watch_problems(text.replace(find, replace))


# 5. The console output step says `saved` only when it saved something.
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


# Paste into bash: one shared precondition for every runbook of every cloud, and no `# comment` trailing a
# command in this runbook (zsh without interactive comments runs it as words; bash ignores it).
def test_every_runbook_asks_for_bash(documents):
    runbooks = [text for path, text in documents.items() if "## Preconditions\n" in text]
    assert runbooks
    for text in runbooks:
        assert "- A bash shell to paste the blocks into" in section(text, "Preconditions")


def trailing_comments(text: str) -> list[str]:
    blocks = re.findall(r"```sh\n(.*?)```", text, re.DOTALL)
    return [line for block in blocks for line in block.splitlines() if re.search(r"\S\s+#\s", line.strip())]


def test_no_command_line_ends_in_a_comment(documents):
    for environment in ENVIRONMENTS:
        assert trailing_comments(runbook(documents, environment)) == [], environment


def test_a_trailing_comment_is_caught(documents):
    text = runbook(documents).replace('STATE="$HOME', 'STATE="$HOME/x"  # state\nSTATE="$HOME', 1)
    assert trailing_comments(text)


# 8. The service log by command: the log group the instances ship to, looked up from the stack, read by the
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


# 6. The canary's start time in UTC, like the times the runbook notes: Synthetics answers epoch seconds and
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
