"""GCP restore-store runbook after the third architect review (review3-restore, GCP findings): the rendered
commands are run in bash against stand-in `gcloud`, `pulumi` and `git` functions where the finding is about
what the shell does, and read where it is about what the text says."""

from __future__ import annotations

from tests.docs.test_gcp_restore_review2 import STACK, _book, _own, _run, _step
from tools.docs.gcp.facts import facts
from tools.docs.gcp.runbooks import runbooks

RESTORED, PREVIOUS = "prod-items-restored", "prod-items-restored-2"
GCLOUD = 'gcloud() { echo "gcloud $*" >>"$LOG"; }'


def _stack(served: str | None, draining: str | None) -> str:
    """Stand-ins: the stack output `firestoreDatabase` is `served` (None: the output cannot be read), the
    draining setting `draining` (None: not set, as `pulumi config get` says); git and gcloud succeed."""

    def answer(value: str | None, error: str) -> str:
        return f"echo {value}" if value is not None else f'echo "{error}" >&2; return 255'

    return (
        'pulumi() { echo "pulumi $*" >>"$LOG"; case "$1 $2 $3" in\n'
        f'  "stack output firestoreDatabase") {answer(served, "error: could not reach the backend")};;\n'
        f'  "config get itemsDatabaseDraining") {answer(draining, "error: configuration key not found")};;\n'
        "esac; }\n"
        'git() { echo "git $*" >>"$LOG"; }\n' + GCLOUD
    )


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
