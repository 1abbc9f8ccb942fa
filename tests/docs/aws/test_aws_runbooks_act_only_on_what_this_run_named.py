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

The final AWS review (briefs s19, awsfix7.md): restore-store prints two policies, the restored table's
writes removed once nothing writes it (before the switch) and the rest kept through Verification and
Escalation (which read the stack and page with it), each removal with a command and an Expected; customer
managed policies (the whole is over a user's 2,048-character inline limit, "IAM and AWS STS quotas"); a re-run
of step 3 while the restore runs (TableInUseException, API_RestoreTableToPointInTime Errors) checks the table
too. replace-one-instance marks the group's own replacement only after step 3 printed `in-group` in this
shell, and once.

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
from tools.docs import commands
from tools.docs.aws.iam import actions
from tools.docs.aws.runbooks.replace import SESSION_SECONDS
from tools.docs.commands.aws_cli import parse, session

# main before this change.
BEFORE = "b608fa7"
# main after it, as the final AWS review read it (briefs s19, awsfix7.md).
FINAL_REVIEW = "097bcad"
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


def _before(path: str, commit: str = BEFORE) -> str:
    """The prod runbook `aws/prod/<scenario>.md` as the second AWS review (or the final one, `commit`
    FINAL_REVIEW) read it (frozen in data/)."""
    cloud, environment, scenario = path.removesuffix(".md").split("/")
    return harness.rendered_at(commit, cloud, environment, scenario)


def _with_pitr(documents: dict[str, str]) -> list[str]:
    chosen = [e for e in ENVIRONMENTS if "Point-in-time recovery is off" not in _restore(documents, e)]
    assert chosen
    return chosen


def _first_step(text: str, tmp_path, **names: str) -> subprocess.CompletedProcess:
    """Restore-store's step 1 in bash with the names block's variables (no `aws`: it must need none)."""
    command = steps(text)[0]["command"]
    return harness.run_bash(command, {"PATH": harness.SYSTEM_PATH, "HOME": str(tmp_path), **names})


def printed_policies(stdout: str) -> dict[str, dict]:
    """Step 1's policies by the name printed above each (`name:`; one unnamed policy before the split)."""
    parts = re.split(r"^([\w.+=,@-]+):$", stdout, flags=re.M)
    named = {"": parts[0]} if parts[0].strip() else {}
    named.update(zip(parts[1::2], parts[2::2], strict=True))
    return {name: json.loads(document) for name, document in named.items()}


def policy_problems(text: str, tmp_path) -> list[str]:
    run = _first_step(text, tmp_path, **NAMES)
    first, _, rest = run.stdout.partition("\n")
    restored = first.removeprefix("RESTORED=")
    if run.returncode or not re.fullmatch(rf"{SERVED}-\d{{12}}-restored", restored):
        return [f"step 1 does not name this run's table and print its policy: {run.stdout[:200]!r}"]
    try:
        statements = [s for p in printed_policies(rest).values() for s in p["Statement"]]
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
        # The refused policy (the one holding the placeholder) is not printed.
        assert "DynamodbRestoredTable" not in refused.stdout, refused.stdout
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


def in_use_problems(text: str) -> list[str]:
    """A lost shell's re-run of step 3 while the restore runs gets TableInUseException ("A target table with
    the specified name is either being created or deleted", API_RestoreTableToPointInTime Errors), once it
    is done TableAlreadyExistsException: both go through the RestoreSummary check."""
    errors = {
        shape.name
        for shape in session()
        .get_service_model("dynamodb")
        .operation_model("RestoreTableToPointInTime")
        .error_shapes
    }
    stop = steps(text)[2]["text"].split("Stop if:", 1)[-1].split("describe-table", 1)[0]
    wanted = {"TableAlreadyExistsException", "TableInUseException"}
    assert wanted <= errors, errors
    return [f"{error} does not check the table" for error in sorted(wanted) if f"`{error}`" not in stop]


def test_a_re_run_while_the_restore_runs_checks_the_table(documents):
    for environment in _with_pitr(documents):
        assert in_use_problems(_restore(documents, environment)) == [], environment


def test_a_re_run_while_the_restore_runs_unchecked_is_caught():
    assert in_use_problems(_before("aws/prod/restore-store.md", FINAL_REVIEW))


# "IAM and AWS STS quotas" (IAM User Guide): user inline policy size 2,048 characters, managed policy 6,144
# (whitespace not counted).
USER_INLINE_LIMIT = 2048


def size_problems(text: str) -> list[str]:
    """The procedure's policy (the section's, placeholders in place of the names) against the limit."""
    document = re.search(r"```json\n(.*?)\n```", harness.section(text, "Preconditions"), re.S).group(1)
    size = len(re.sub(r"\s", "", document))
    preconditions = harness.section(text, "Preconditions")
    if size > USER_INLINE_LIMIT and not re.search(
        r"customer managed polic(y|ies) \(or a role's inline", preconditions
    ):
        return [f"{size} characters, over a user's inline limit, without saying how to attach them"]
    return []


def test_the_policies_are_attached_where_they_fit(documents):
    for environment in _with_pitr(documents):
        assert size_problems(_restore(documents, environment)) == [], environment


def test_a_policy_too_large_for_a_user_s_inline_policy_is_caught():
    assert size_problems(_before("aws/prod/restore-store.md", FINAL_REVIEW))


def _verification(text: str) -> list[dict[str, str]]:
    return steps("## Steps\n" + harness.section(text, "Verification"))


def removal_problems(text: str, tmp_path) -> list[str]:
    """The restored table's writes are removed once nothing writes it, before the switch; what Verification
    and Escalation call stays granted until a removal closing Verification; each removal has a command and
    an Expected."""
    found = steps(text)
    policies = printed_policies(_first_step(text, tmp_path, **NAMES).stdout.partition("\n")[2])
    writes = {n for n, p in policies.items() if "DynamodbRestoredTable" in json.dumps(p)}
    if len(policies) != 2 or len(writes) != 1:
        return [f"the restored table's writes are not a policy of their own: {sorted(policies)}"]
    (write,) = writes
    (kept,) = set(policies) - writes
    if [s["Sid"] for s in policies[write]["Statement"]] != ["DynamodbRestoredTable"]:
        return [f"{write} holds more than the restored table's writes"]
    problems = []
    removals = [i for i, step in enumerate(found) if write in step["title"] and "removed" in step["title"]]
    written = [
        i
        for i, step in enumerate(found)
        if re.search(r'--(table-name|resource-arn) "\$RESTORED', step["command"])
        and re.search(r"dynamodb (update|tag|put|delete|batch-write)", step["command"])
    ]
    switch = next(i for i, step in enumerate(found) if "cdk deploy" in step["command"])
    if len(removals) != 1 or not max(written) < removals[0] < switch:
        problems.append(f"{write} is removed at steps {removals}, not between the last write and the switch")
    checks = _verification(text)
    if not (kept in checks[-1]["title"] and "removed" in checks[-1]["title"]):
        problems.append(f"{kept} is not removed after the last check of Verification")
    # Rollback's stop-if escalates, and Escalation pages through the alarm topic with this policy.
    elif not re.search(r"any rollback and escalation is over", checks[-1]["title"]):
        problems.append(f"{kept}'s removal does not wait for a rollback and its escalation")
    later = [
        step["command"] for step in [*checks, *steps("## Steps\n" + harness.section(text, "Escalation"))]
    ]
    granted = {a for s in policies[kept]["Statement"] for a in s["Action"]}
    problems += [f"{a} (Verification, Escalation) not in {kept}" for a in actions(later) if a not in granted]
    for step in [found[i] for i in removals] + checks[-1:]:
        if not step["command"] or "Expected:" not in step["text"]:
            problems.append(f"{step['title'][:60]} has no command or no Expected")
    return problems


def test_the_writes_go_after_step_7_and_the_rest_after_verification(documents, tmp_path):
    for environment in _with_pitr(documents):
        text = _restore(documents, environment)
        assert "attached to your identity for this procedure only" in harness.section(text, "Preconditions")
        assert removal_problems(text, tmp_path) == [], environment


def test_one_policy_removed_before_verification_is_caught(tmp_path):
    assert removal_problems(_before("aws/prod/restore-store.md", FINAL_REVIEW), tmp_path)


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


def _marking(replacing: str) -> str:
    """The already-replacing line's command that writes the mark."""
    return next(c for c in re.findall(r"`([^`]*)`", replacing) if "MARKED_EPOCH=$(date +%s)" in c)


def marking_problems(text: str, tmp_path) -> list[str]:
    """The mark is written only after step 3 printed `in-group` in this shell and only once: never in a
    shell where step 3 did not run (CHOSEN and INSTANCE empty) nor after a resume (MARKED_AT reloaded)."""
    first = steps(text)[0]["text"].split("Stop if:", 1)[1]
    marking = _marking(next(line for line in first.splitlines() if "already replacing" in line))
    state = tmp_path / "state.env"
    marked = "INSTANCE=i-0aaa\nMARKED_AT=2026-12-01T05:00:00\nMARKED_EPOCH=1\n"
    cases = (
        ("a shell where step 3 never ran", "", {}),
        (
            "a resumed run",
            marked,
            {"CHOSEN": "i-0aaa", "INSTANCE": "i-0aaa", "MARKED_AT": "2026-12-01T05:00:00"},
        ),
        ("step 3 refused the id", "", {"CHOSEN": "i-0bbb", "INSTANCE": ""}),
    )
    problems = []
    for case, before, shell in cases:
        state.write_text(before)
        harness.run_bash(marking, {"PATH": harness.SYSTEM_PATH, "STATE": str(state), **shell})
        if state.read_text() != before:
            problems.append(f"{case}: wrote {state.read_text()!r}")
    state.write_text("INSTANCE=i-0ccc\n")
    shell = {"CHOSEN": "i-0ccc", "INSTANCE": "i-0ccc"}
    harness.run_bash(marking, {"PATH": harness.SYSTEM_PATH, "STATE": str(state), **shell})
    if not re.fullmatch(r"INSTANCE=i-0ccc\nMARKED_AT=\S+\nMARKED_EPOCH=\d+\n", state.read_text()):
        problems.append(f"step 3's instance is not marked: {state.read_text()!r}")
    return problems


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_mark_follows_step_3_in_this_shell_only(documents, tmp_path, environment):
    assert marking_problems(runbook(documents, environment), tmp_path) == []


def test_a_mark_without_step_3_is_caught(tmp_path):
    assert marking_problems(_before("aws/prod/replace-one-instance.md", FINAL_REVIEW), tmp_path)


def already_replacing_problems(text: str, tmp_path) -> list[str]:
    """The group's own replacement of an id step 3 refuses (unedited, in no group): nothing is written."""
    first = steps(text)[0]["text"].split("Stop if:", 1)[1]
    replacing = next(line for line in first.splitlines() if "already replacing" in line)
    if "run step 3" not in replacing:
        return ["the group's own replacement writes the state file without step 3's checks"]
    marking = _marking(replacing)
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


# The command validator's here-documents: `<<EOF` hides the lines up to EOF; a here-string (`<<<word`) or
# a shift in arithmetic (`$((1<<2))`) hides nothing (bash(1), "Here Documents", "Here Strings").
HERE_CASES = (
    "X=$((1<<2))\naws later-line",
    "N=$(( (1 << 3) + 1 ))\naws later-line",
    "N=$((1<<SHIFT))\naws later-line",
    "jq . <<<word\naws later-line",
    "jq . <<'EOF'\n{\"a\": 1}\naws hidden\nEOF\naws later-line",
    "jq . <<-EOF\n  aws hidden\n\tEOF\naws later-line",
)


def here_document_problems() -> list[str]:
    """The aws commands each case runs: the later line's alone (never one inside a here-document)."""
    seen = {
        snippet: [c for c in commands.simple_commands(snippet) if c[0] == "aws"] for snippet in HERE_CASES
    }
    return [f"{snippet!r}: {found}" for snippet, found in seen.items() if found != [["aws", "later-line"]]]


def test_only_here_documents_hide_lines_from_validation():
    assert here_document_problems() == []


OLD_HERE_DOCUMENT = re.compile(r"<<-?\s*['\"]?(\w+)['\"]?")
NOTHING = re.compile(r"(?!)")


@pytest.mark.parametrize(
    ("pattern", "arithmetic", "caught"),
    [
        (OLD_HERE_DOCUMENT, NOTHING, 4),  # before this change: the shifts and the here-string
        (OLD_HERE_DOCUMENT, commands._ARITHMETIC, 1),  # the here-string
        (commands._HERE_DOCUMENT, NOTHING, 1),  # a shift by a name, read with arithmetic in place
    ],
)
def test_a_here_string_or_a_shift_taken_for_a_here_document_is_caught(
    monkeypatch, pattern, arithmetic, caught
):
    monkeypatch.setattr(commands, "_HERE_DOCUMENT", pattern)
    monkeypatch.setattr(commands, "_ARITHMETIC", arithmetic)
    assert len(here_document_problems()) == caught, here_document_problems()
