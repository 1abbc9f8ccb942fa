"""AWS runbooks act only on what this run named (briefs s19, awsfix6.md: the architect's second review).

- restore-store: step 1 names this run's table in the one form `$TABLE-<UTC minute>-restored` and prints the
  procedure's policy with every placeholder filled in (refusing to print with a name missing or a `<...>`
  left); its writes reach that table alone, never the served one, a previous run's copy or another name;
  every "restore again" goes back to step 1; a TableAlreadyExistsException after a lost shell checks the
  table's RestoreSummary before going on; the policy is attached for the procedure and removed at its end.
  "Using IAM with DynamoDB backup and restore": RestoreTableToPointInTime on the source, read and write on
  the target; "Policy evaluation logic", IAM User Guide; RestoreSummary's members from botocore's model.
- replace-one-instance: a shell that still holds the state file's INSTANCE resumes it however old the file;
  the staleness bound has an hour's slack (an assumed role's default session, AssumeRole DurationSeconds in
  botocore's STS model); the group's own replacement goes through step 3's checks before the state file is
  written; Detaching ends by itself ("Amazon EC2 Auto Scaling instance lifecycle").

Held on every AWS environment's rendered runbook; each check also fails on the runbooks before this change
(frozen in tests/docs/data/).
"""

from __future__ import annotations

import json
import re
import subprocess
import textwrap
import time

import jmespath
import pytest

from tests.docs import runbook_harness as harness
from tests.docs.aws.aws_replace_one import ENVIRONMENTS, aws_shell, reload_lines, runbook, steps
from tests.docs.aws.test_aws_runbook_policies_spare_the_live_stack import CHANGES, allowed
from tools.docs.aws.runbooks.replace import SESSION_SECONDS
from tools.docs.commands.aws_cli import parse, session

# main before this change.
BEFORE = "b608fa7"
ACCOUNT = "111122223333"
SERVED = "StatelessService-prod-ItemStoreItems52EDE75D-1A2B3C4D5E6F"
NAMES = {
    "TABLE": SERVED,
    "DATA_KEY_ARN": f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/data",
    "TOPIC_KEY_ARN": f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/topic",
    "USER_POOL_ID": "eu-west-1_abc",
}


def _restore(documents: dict[str, str], environment: str) -> str:
    return documents[f"aws/{environment}/restore-store.md"]


def _before(path: str) -> str:
    """The prod runbook `aws/prod/<scenario>.md` as the second AWS review read it (frozen in data/)."""
    cloud, environment, scenario = path.removesuffix(".md").split("/")
    return harness.rendered_at(BEFORE, cloud, environment, scenario)


def _with_pitr(documents: dict[str, str]) -> list[str]:
    chosen = [e for e in ENVIRONMENTS if "Point-in-time recovery is off" not in _restore(documents, e)]
    assert chosen
    return chosen


def _first_step(text: str, tmp_path, **names: str) -> subprocess.CompletedProcess:
    """Restore-store's step 1 in bash with the names block's variables (no `aws`: it must need none)."""
    command = steps(text)[0]["command"]
    return harness.run_bash(command, {"PATH": harness.SYSTEM_PATH, "HOME": str(tmp_path), **names})


def policy_problems(text: str, tmp_path) -> list[str]:
    run = _first_step(text, tmp_path, **NAMES)
    first, _, rest = run.stdout.partition("\n")
    restored = first.removeprefix("RESTORED=")
    if run.returncode or not re.fullmatch(rf"{SERVED}-\d{{12}}-restored", restored):
        return [f"step 1 does not name this run's table and print its policy: {run.stdout[:200]!r}"]
    try:
        statements = json.loads(rest)["Statement"]
    except (json.JSONDecodeError, KeyError):
        return [f"step 1 prints no policy: {rest[:200]!r}"]
    problems = [f"left unfilled: {s['Sid']}" for s in statements if "<" in json.dumps(s)]
    arn = f"arn:aws:dynamodb:eu-west-1:{ACCOUNT}:table/"
    others = (SERVED, f"{SERVED}-restored-2", f"{SERVED}-202001010000-restored", f"{restored}-2")
    granted = {action for statement in statements for action in statement["Action"]}
    for change in CHANGES:
        # UpdateTable only where the stack's table has deletion protection to copy.
        if f"dynamodb:{change}" in granted and not allowed(statements, f"dynamodb:{change}", arn + restored):
            problems.append(f"{change} refused on this run's table")
        problems += [
            f"{change} allowed on {other}"
            for other in others
            if allowed(statements, f"dynamodb:{change}", arn + other)
        ]
    if not {"dynamodb:PutItem", "dynamodb:DeleteItem"} <= granted:
        problems.append("the restore's own writes on the target are not granted")
    return problems


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_step_1_prints_a_policy_writing_only_this_run_s_table(documents, tmp_path, environment):
    if environment not in _with_pitr(documents):
        pytest.skip("no point-in-time recovery: nothing is restored")
    assert policy_problems(_restore(documents, environment), tmp_path) == []


def test_a_policy_writing_any_restored_copy_is_caught(tmp_path):
    assert policy_problems(_before("aws/prod/restore-store.md"), tmp_path)


def test_step_1_prints_nothing_with_a_name_missing_or_a_placeholder_left(documents, tmp_path):
    for environment in _with_pitr(documents):
        text = _restore(documents, environment)
        missing = _first_step(text, tmp_path, **{**NAMES, "USER_POOL_ID": ""})
        assert missing.returncode and "{" not in missing.stdout and "USER_POOL_ID" in missing.stderr
        left = text.replace("${RESTORED}", "<this run's restored table: RESTORED>", 1)
        refused = _first_step(left, tmp_path, **NAMES)
        assert refused.returncode and "{" not in refused.stdout, refused.stdout
        assert "placeholder is left unfilled" in refused.stderr


def naming_problems(text: str) -> list[str]:
    found = steps(text)
    problems = []
    named = [i for i, step in enumerate(found) if re.search(r"^RESTORED=", step["command"], re.M)]
    if named != [0] or 'RESTORED="$TABLE-$(date -u +%Y%m%d%H%M)-restored"' not in found[0]["command"]:
        problems.append(f"RESTORED is set by steps {named}, not by step 1 alone in the policy's form")
    for number, step in enumerate(found, 1):
        stop = step["text"].split("Stop if:", 1)[-1]
        if re.search(r"new name|another name|restore again", stop) and "step 1" not in stop:
            problems.append(f"step {number} asks for a new name outside step 1")
    return problems


def test_every_new_name_comes_from_step_1(documents):
    for environment in _with_pitr(documents):
        assert naming_problems(_restore(documents, environment)) == [], environment


def test_a_new_name_of_any_form_is_caught():
    assert naming_problems(_before("aws/prod/restore-store.md"))


def rerun_problems(text: str) -> list[str]:
    """Step 3's TableAlreadyExistsException: the table's RestoreSummary says whether it is this run's."""
    stop = steps(text)[2]["text"].split("Stop if:", 1)[-1]
    command = re.search(r"`(?:TZ=UTC )?(aws dynamodb describe-table [^`]*)`", stop)
    if not command or "go on at step 4" not in stop:
        return ["TableAlreadyExistsException does not check the table before going on"]
    invocation, problems = parse(re.findall(r'"[^"]*"|\S+', command.group(1)))
    query = re.search(r'--query "([^"]*)"', command.group(1)).group(1)
    summary = session().get_service_model("dynamodb").shape_for("RestoreSummary").members
    response = {"Table": {"RestoreSummary": {name: name for name in summary}}}
    if jmespath.search(query, response) != ["SourceTableArn", "RestoreDateTime", "RestoreInProgress"]:
        problems.append(f"{query} does not read the source, the moment and the progress")
    return problems if invocation else [*problems, "the check does not parse"]


def test_a_re_run_checks_the_existing_table_is_this_run_s(documents):
    for environment in _with_pitr(documents):
        assert rerun_problems(_restore(documents, environment)) == [], environment


def test_a_re_run_that_starts_a_second_restore_is_caught():
    assert rerun_problems(_before("aws/prod/restore-store.md"))


def test_the_policy_is_attached_for_the_procedure_and_removed_at_its_end(documents):
    for environment in _with_pitr(documents):
        text = _restore(documents, environment)
        assert "attached to your identity for this procedure only" in harness.section(text, "Preconditions")
        last = steps(text)[-1]
        assert "policy (step 1) removed" in last["title"] and not last["command"]


# replace-one-instance.
def _state_after_rerun(text: str, tmp_path, *, shell_instance: str, age: int) -> str:
    """The names block's reload in a shell holding `shell_instance`, the state file last written `age` s ago;
    prints INSTANCE and MARKED_AT afterwards."""
    state = tmp_path / "replace-one-instance-StatelessService-prod.env"
    state.write_text("INSTANCE=i-0aaa\nMARKED_AT=2026-12-01T05:00:00\nMARKED_EPOCH=1\n")
    script = (
        f"touch -d '@{int(time.time()) - age}' {harness.quote(state)}\n"
        f"INSTANCE={shell_instance} MARKED_AT=2026-12-01T05:00:00\n"
        f"{reload_lines(text)}\n"
        'echo "INSTANCE=$INSTANCE MARKED_AT=$MARKED_AT"'
    )
    return aws_shell(tmp_path, "#!/bin/sh\n", script, inherit=True).stdout


def stale_problems(text: str, tmp_path) -> list[str]:
    bound = int(re.search(r"-gt (\d+); then", reload_lines(text)).group(1))
    problems = []
    if bound < 2 * 600 + SESSION_SECONDS:
        problems.append(f"the staleness bound {bound} s leaves no slack for an escalation")
    held = _state_after_rerun(text, tmp_path, shell_instance="i-0aaa", age=bound + 60)
    if "INSTANCE=i-0aaa MARKED_AT=2026" not in held:
        problems.append(f"a shell holding the file's instance lost it: {held!r}")
    stale = _state_after_rerun(text, tmp_path, shell_instance="", age=bound + 60)
    if "NOT RESUMED" not in stale:
        problems.append("an old file in a fresh shell is resumed")
    return problems


def test_the_session_slack_is_sts_s_default():
    documentation = (
        session()
        .get_service_model("sts")
        .operation_model("AssumeRole")
        .input_shape.members["DurationSeconds"]
    ).documentation
    text = re.sub(r"<[^>]+>", "", documentation)
    assert f"By default, the value is set to {SESSION_SECONDS} seconds" in text


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_a_re_run_after_a_long_escalation_keeps_the_live_instance(documents, tmp_path, environment):
    assert stale_problems(runbook(documents, environment), tmp_path) == []


def test_a_bound_without_slack_is_caught(tmp_path):
    assert stale_problems(_before("aws/prod/replace-one-instance.md"), tmp_path)


def already_replacing_problems(text: str, tmp_path) -> list[str]:
    """The group's own replacement of an id step 3 refuses (unedited, in no group): nothing is written."""
    first = steps(text)[0]["text"].split("Stop if:", 1)[1]
    replacing = next(line for line in first.splitlines() if "already replacing" in line)
    if "run step 3" not in replacing:
        return ["the group's own replacement writes the state file without step 3's checks"]
    marking = re.search(r"`(test \"\$\{INSTANCE:-\}\" = \"\$CHOSEN\" && [^`]*)`", replacing).group(1)
    third = textwrap.dedent(steps(text)[2]["command"])
    problems = []
    stub = '#!/bin/sh\ncase "$*" in *AutoScalingGroupName*) echo "${STUB_GROUP}" ;; esac\n'
    for chosen, group in (("<id from step 1>", "the-group"), ("i-0bbb", "None")):
        script = f'STATE="$HOME/state.env"\n{third.replace("<id from step 1>", chosen)}\n{marking}\n'
        aws_shell(tmp_path, stub, script, inherit=True, STUB_GROUP=group)
        if (tmp_path / "state.env").exists():
            problems.append(f"{chosen} ({group}) written to the state file")
            (tmp_path / "state.env").unlink()
    script = f'STATE="$HOME/state.env"\n{third.replace("<id from step 1>", "i-0ccc")}\n{marking}\n'
    aws_shell(tmp_path, stub, script, inherit=True, STUB_GROUP="the-group")
    written = (tmp_path / "state.env").read_text() if (tmp_path / "state.env").exists() else ""
    if not re.fullmatch(r"INSTANCE=i-0ccc\nMARKED_AT=\S+\nMARKED_EPOCH=\d+\n", written):
        problems.append(f"the group's instance is not saved with its mark: {written!r}")
    return problems


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_group_s_own_replacement_goes_through_step_3_s_checks(documents, tmp_path, environment):
    assert already_replacing_problems(runbook(documents, environment), tmp_path) == []


def test_an_unchecked_id_in_the_state_file_is_caught(tmp_path):
    assert already_replacing_problems(_before("aws/prod/replace-one-instance.md"), tmp_path)


def detaching_problems(text: str) -> list[str]:
    outcomes = steps(text)[0]["text"].split("Stop if:", 1)[1]
    watched = next(line for line in outcomes.splitlines() if "leaves by itself" in line)
    return [] if "`Detaching`" in watched else ["Detaching, which ends by itself, is called held"]


def test_detaching_is_watched_not_held(documents):
    for environment in ENVIRONMENTS:
        assert detaching_problems(runbook(documents, environment)) == [], environment


def test_detaching_called_held_is_caught():
    assert detaching_problems(_before("aws/prod/replace-one-instance.md"))
