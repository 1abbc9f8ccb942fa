"""The GCP restore-store runbook's clone, from restore to deletion: the restore waits until the clone
operation is done and gives the clone the stack's TTL policy before the grant; the grant refuses when the
served setting cannot be read; the rollback reopens a closed restore in a block of its own and the switch
back checks the served setting; the clone is deleted by a command whose permission is listed, only after
reading what the stack serves and drains, and in a block apart from its backups, which are that database's
only and deleted at once; every update says how to resume an interrupted one. The rendered commands are run
in bash against stand-in `gcloud`, `pulumi` and `git` functions (gcp_restore_store.py) where the behaviour
is what the shell does, and read where it is what the text says."""

from __future__ import annotations

import re
from pathlib import Path

from tests.docs.gcp.gcp_restore_store import (
    PREVIOUS,
    RESTORED,
    STACK,
    _book,
    _own,
    _run,
    _stack,
    _step,
)
from tools.docs.gcp.facts import TTL_FIELD, facts
from tools.docs.gcp.runbooks import runbooks


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


# Finding 1 (major): the delete's guard compared RESTORED with $DATABASE, the Names block's output read once:
# stale after a switch or a rollback. It now reads what the stack serves and drains inside the block. Each
# case below sets a stale $DATABASE that would let the old guard through, or stop it, the wrong way.
def test_the_clone_delete_reads_what_the_stack_serves_and_drains_now(docs_inputs, tmp_path):
    model, book = _book(docs_inputs)
    delete = _step(book.rollback, "databases delete")
    own = _own(model)
    cases = [
        # (the database to delete, served now, draining now, the Names block's stale $DATABASE, deleted?)
        (RESTORED, RESTORED, None, own, False),  # forward shell after the switch, RESTORED=R by mistake
        (RESTORED, own, RESTORED, RESTORED, False),  # Rollback steps 2-3 done, step 4 not yet
        (RESTORED, own, None, RESTORED, True),  # a fresh shell after the switch, then a whole rollback
        (PREVIOUS, RESTORED, None, PREVIOUS, True),  # forward step 12: PREVIOUS, a clone, no longer used
        (RESTORED, None, None, own, False),  # the stack output cannot be read
    ]
    for target, served, draining, database, deleted in cases:
        (tmp_path / "calls.log").write_text("")
        out, calls = _run(
            tmp_path,
            _stack(served, draining),
            delete.command,
            RESTORED=target,
            DATABASE=database,
            PROJECT="p",
        )
        if deleted:
            assert "STOP" not in out and f"databases delete --database={target}" in calls, (served, draining)
            assert calls.index("--no-delete-protection") < calls.index("databases delete")
        else:
            assert "STOP" in out and "gcloud firestore databases" not in calls, (served, draining)
    assert "`itemsDatabaseDraining`" in delete.stop_if and "`firestoreDatabase`" in delete.stop_if


# Finding 2: the closed run's reopen shared a block with the switch back's `pulumi up`; it is a block of its
# own now, and the switch back runs only when the served setting is this run's RESTORED.
def test_the_reopen_is_its_own_block_and_the_switch_back_checks_the_served_setting(docs_inputs, tmp_path):
    _, book = _book(docs_inputs)
    reopen, back = book.rollback[0], book.rollback[1]
    assert "reopened" in reopen.command and "pulumi" not in reopen.command
    state = tmp_path / "restore.env"
    state.write_text(f"RESTORED={RESTORED}\nPREVIOUS=''\n")
    for served, switched in ((RESTORED, True), ("prod-items-restored-0", False), (None, False)):
        (tmp_path / "calls.log").write_text("")
        config_get = f"echo {served}" if served else "return 255"
        stub = (
            'pulumi() { echo "pulumi $*" >>"$LOG"; '
            f'if test "$1 $2" = "config get"; then {config_get}; fi; }}\n'
            'git() { echo "git $*" >>"$LOG"; }'
        )
        out, calls = _run(tmp_path, stub, f'. "$STATE"\n{back.command}', STATE=str(state))
        assert ("config set" in calls and f"pulumi up {STACK} --yes" in calls) is switched, served
        assert ("STOP" in out) is not switched
    assert "not $RESTORED: nothing changed" in back.stop_if


# Finding 3: `gcloud firestore databases delete` asks "Do you want to continue (Y/n)?" (console_io.
# PromptContinue with cancel_on_no=True, Google Cloud SDK 528 surface/firestore/databases/delete.py); the
# list, a backup's delete (with its placeholder ID) and the database's delete are three blocks, so pasting
# one never runs a placeholder.
def test_the_backups_and_the_database_are_deleted_in_separate_blocks(docs_inputs):
    _, book = _book(docs_inputs)
    listing = _step(book.rollback, "backups list")
    backup = _step(book.rollback, "backups delete")
    database = _step(book.rollback, "databases delete")
    assert len({listing.title, backup.title, database.title}) == 3
    assert "BACKUP=" not in listing.command + database.command and "BACKUP=" in backup.command
    assert "Do you want to continue (Y/n)?" in database.expected and "answer y only if" in database.expected
    order = [book.rollback.index(step) for step in (listing, backup, database)]
    assert order == sorted(order)


# Finding 4 (the condition title's budget checked only after the clone) is moot: each database has its own
# binding titled `only-<id>`, at most 68 characters (tests/gcp/test_gcp_restored_store.py, the longest ID).


# Finding 5: the steps run `pulumi up` and change the stack's settings: a deployment, not a read of the
# backend. Runbooks that only read the stack keep the read wording.
def test_the_permissions_say_the_restore_deploys_the_stack(docs_inputs):
    model, book = _book(docs_inputs)
    assert "read access to the Pulumi" not in book.permissions
    assert "write access to the Pulumi stack's state backend and the deployer's" in book.permissions
    every = runbooks(facts("prod", model, docs_inputs.specs["prod"]))
    readers = [b for b in every if "pulumi up" not in "\n".join(b.commands()) and "pulumi " in b.permissions]
    assert readers and all("read access to the Pulumi" in b.permissions for b in readers)
