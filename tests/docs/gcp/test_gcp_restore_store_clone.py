"""GCP restore-store runbook after the second architect review (review2-gcp-restore): the rendered commands
are run in bash against stand-in `gcloud`, `pulumi` and `git` functions where the finding is about what the
shell does, and read where it is about what the text says."""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

from tools.docs.gcp.facts import TTL_FIELD, facts
from tools.docs.gcp.runbooks import runbooks

STACK = "--stack prod --cwd pulumi/gcp"


def _book(docs_inputs):
    model, spec = docs_inputs.models["gcp"]["prod"], docs_inputs.specs["prod"]
    return model, next(b for b in runbooks(facts("prod", model, spec)) if b.scenario == "restore-store")


def _own(model) -> str:
    return model.only("gcp:firestore/database:Database").get("name")


def _run(tmp_path: Path, stubs: str, command: str, **env: str) -> tuple[str, str]:
    """Run a rendered command in bash with stand-in programs; returns (stdout, the stand-ins' call log)."""
    log = tmp_path / "calls.log"
    log.touch()
    assignments = "".join(f"{name}={shlex.quote(value)}\n" for name, value in env.items())
    script = f"LOG={shlex.quote(str(log))}\nsleep() {{ :; }}\n{stubs}\n{assignments}{command}\n"
    result = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=30)
    return result.stdout, log.read_text()


def _step(steps, text: str):
    [step] = [step for step in steps if text in step.command]
    return step


# Finding 1: `database=.../x-restored` also matches `.../x-restored-2` (gcloud topic filters: `=` is a
# word/prefix match, and gcloud warns it changes); the filter must match that one database only.
def test_the_backups_to_delete_are_those_of_that_database_only(docs_inputs):
    _, book = _book(docs_inputs)
    delete = _step(book.rollback, "backups list")
    [filter_] = re.findall(r'--filter="([^"]*)"', delete.command)
    match = re.fullmatch(r"database~'(.*)'", filter_.replace("\\$", "$"))
    assert match, f"not an anchored pattern: {filter_}"
    pattern = match.group(1).replace("$RESTORED", "prod-items-restored")
    assert re.search(pattern, "projects/p/databases/prod-items-restored")
    assert not re.search(pattern, "projects/p/databases/prod-items-restored-2")
    assert not re.search(pattern, "projects/p/databases/old-prod-items-restored")


# Finding 2: `gcloud firestore backups delete` does not prompt (gcloud reference firestore/backups/delete);
# the list prints each backup's database so the reader checks it before deleting.
def test_the_backup_delete_is_said_to_be_immediate_and_the_list_shows_each_database(docs_inputs):
    _, book = _book(docs_inputs)
    delete = _step(book.rollback, "backups delete")
    assert "asks to confirm" not in delete.expected and "without a prompt" in delete.expected
    listing = _step(book.rollback, "backups list")
    assert '--format="value(name.basename(),database)"' in listing.command
    assert "do not delete that backup" in listing.stop_if


# Finding 9: the console delete needed datastore.databases.delete, which the permissions did not list: the
# delete is now a command, so the permission is derived from it (and protection is turned off by command).
def test_the_clone_is_deleted_by_a_command_whose_permission_is_listed(docs_inputs):
    _, book = _book(docs_inputs)
    delete = _step(book.rollback, "databases delete")
    assert 'gcloud firestore databases delete --database="$RESTORED"' in delete.command
    assert delete.command.index("--no-delete-protection") < delete.command.index("databases delete")
    assert "`datastore.databases.delete`" in book.permissions
    assert any("gcloud firestore databases clone --help" in line for line in book.preconditions)


def _pulumi_stub(config_get: str) -> str:
    """`pulumi config get` behaves as `config_get` says; every other call is logged and succeeds."""
    return (
        'pulumi() { echo "pulumi $*" >>"$LOG"; if test "$1 $2" = "config get"; then '
        f"{config_get}; fi; }}\n"
        'git() { echo "git $*" >>"$LOG"; }'
    )


# Finding 3: a `pulumi config get` failing for another reason than "not set" read as PREVIOUS='' while the
# fleet served a clone: the grant step must refuse, write no state and change no setting.
def test_the_grant_refuses_when_the_served_setting_cannot_be_read(docs_inputs, tmp_path):
    model, book = _book(docs_inputs)
    grant = _step(book.steps, 'pulumi config set itemsDatabaseDraining "$RESTORED"')
    state = tmp_path / "restore.env"
    unreachable = _pulumi_stub('echo "error: could not reach the backend" >&2; return 255')
    out, calls = _run(
        tmp_path,
        unreachable,
        grant.command,
        STATE=str(state),
        RESTORED="prod-items-restored-2",
        DATABASE="prod-items-restored",
    )
    assert "STOP" in out and not state.exists()
    assert "config set" not in calls and "pulumi up" not in calls
    # The same failure while the fleet serves the stack's own database: PREVIOUS empty is then right.
    out, calls = _run(
        tmp_path,
        unreachable,
        grant.command,
        STATE=str(state),
        RESTORED="prod-items-restored",
        DATABASE=_own(model),
    )
    assert "STOP" not in out and state.read_text().splitlines() == [
        "RESTORED=prod-items-restored",
        "PREVIOUS=''",
    ]
    assert f"pulumi up {STACK} --yes" in calls
    # Finding 8c: a failed commit after the state file was written is a case of its own.
    assert "`git commit` failed" in grant.stop_if


# Finding 4: a clone does not carry the TTL policy (REST projects.databases.clone; "A backup does not contain
# TTL policies", cloud.google.com/firestore/docs/backups): the clone gets the stack's before it is granted.
def test_the_clone_gets_the_stacks_ttl_policy_before_it_is_granted(docs_inputs):
    model, book = _book(docs_inputs)
    field = model.only(TTL_FIELD)
    ttl = _step(book.steps, "fields ttls update")
    assert (
        f"gcloud firestore fields ttls update {field.get('field')} "
        f'--collection-group={field.get("collection")} --enable-ttl --database="$RESTORED"'
    ) in ttl.command
    grant = _step(book.steps, 'pulumi config set itemsDatabaseDraining "$RESTORED"')
    assert book.steps.index(ttl) < book.steps.index(grant)


_GCLOUD_CLONING = (
    'gcloud() { echo "gcloud $*" >>"$LOG"; case "$2 $3" in\n'
    '  "databases describe") echo "projects/p/databases/prod-items-restored/operations/op1";;\n'
    '  "operations describe") n=$(grep -c "operations describe" "$LOG");'
    ' if test "$n" -ge 3; then echo True; else echo False; fi;;\n'
    "esac; }"
)


# Finding 5: the database exists while the clone runs; the wait must last until its operation is done.
def test_the_clone_wait_lasts_until_the_clone_operation_is_done(docs_inputs, tmp_path):
    _, book = _book(docs_inputs)
    wait = book.steps[1]
    assert wait.title.startswith("Wait for the clone")
    out, calls = _run(tmp_path, _GCLOUD_CLONING, wait.command, RESTORED="prod-items-restored", PROJECT="p")
    assert out.splitlines()[-1] == "clone done: prod-items-restored"
    assert calls.count("operations describe") == 3
    # A database that does not exist (describe fails) is never reported done.
    missing = 'gcloud() { echo "ERROR: NOT_FOUND" >&2; return 1; }'
    out, _ = _run(tmp_path, missing, wait.command, RESTORED="prod-items-restored", PROJECT="p")
    assert "clone done" not in out


# Finding 6: after the forward path closed the run ($STATE renamed $STATE.done) and the shell was lost, the
# rollback's first step reopens it instead of stopping at RESTORED unset.
def test_the_rollback_reopens_a_closed_restore(docs_inputs, tmp_path):
    _, book = _book(docs_inputs)
    reopen, back = book.rollback[0], book.rollback[1]
    state = tmp_path / "restore.env"
    Path(f"{state}.done").write_text("RESTORED=prod-items-restored\nPREVIOUS=''\n")
    # Review 3, finding 2: the reopen is a block of its own, and the switch back runs only for this run.
    out, calls = _run(tmp_path, _pulumi_stub("return 0"), reopen.command, STATE=str(state))
    assert "reopened" in out and state.exists() and not Path(f"{state}.done").exists()
    assert calls == ""
    served = _pulumi_stub("echo prod-items-restored")
    out, calls = _run(tmp_path, served, f'. "$STATE"\n{back.command}', STATE=str(state))
    assert f"pulumi config set itemsDatabaseDraining prod-items-restored {STACK}" in calls
    assert f"pulumi up {STACK} --yes" in calls
    assert "close the state file" in back.title
    # The shell kept RESTORED (not lost): the closed run is reopened too, for Rollback's last step to close.
    Path(f"{state}.done").write_text(state.read_text())
    state.unlink()
    _run(tmp_path, served, reopen.command, STATE=str(state), RESTORED="prod-items-restored")
    assert state.exists()
    # Finding 8b: with PREVIOUS a clone the schedule moves to it rather than going.
    assert "replaced, for PREVIOUS" in back.expected


# Finding 7: an interrupted `pulumi up` leaves a lock or pending operations; every step that runs one says
# how to resume (pulumi.com/docs/iac/troubleshooting/common-issues/interrupted-updates).
def test_every_update_says_how_to_resume_an_interrupted_one(docs_inputs):
    _, book = _book(docs_inputs)
    updates = [step for step in (*book.steps, *book.rollback) if "pulumi up " in step.command]
    assert len(updates) == 5
    for step in updates:
        assert f"`pulumi cancel {STACK}`" in step.stop_if, step.title
        assert f"`pulumi refresh {STACK}`" in step.stop_if, step.title
