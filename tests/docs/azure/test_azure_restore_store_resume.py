"""Azure restore-store after a lost shell or an interrupted update: the runbook's own commands, run by bash
against stand-ins for `az`, `pulumi` and `git`, record the procedure's progress in $STATE; Rollback step 1
branches on it before the config, which reads the same before a switch's update and during its rolling
upgrade (architect review round 2)."""

from __future__ import annotations

import subprocess

from tests.docs.azure.azure_restore_store import BEFORE, STACK, _restore, _run


def _reloaded(state: str, tmp_path) -> dict[str, str]:
    """The variables a new shell gets when the Names block sources $STATE."""
    (tmp_path / "reload.env").write_text(state)
    out = subprocess.run(
        ["bash", "-c", f'source {tmp_path / "reload.env"}; echo "$STAGE|$LAST_UPGRADE"'],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    stage, last = out.split("|")
    return {"STAGE": stage, "LAST_UPGRADE": last}


def test_each_switch_records_its_stage_and_the_upgrade_before_it_in_the_state_file(tmp_path):
    """Findings 1 and 2: forward step 7 and Rollback step 4 save STAGE and LAST_UPGRADE to $STATE before
    their first config change, Rollback step 2 its STAGE: after a lost shell the Names block reloads them,
    so the wait compares with the upgrade before the switch, not the previous release's. The old steps
    wrote nothing (the reloaded LAST_UPGRADE was empty)."""
    runbook = _restore()
    switch = next(
        s for s in runbook.steps if f'pulumi config set itemsAccount "$RESTORED" {STACK}' in s.command
    )
    regrant, back = runbook.rollback[1], runbook.rollback[3]
    for step, stage, upgrade in (
        (switch, "switching", BEFORE),
        (regrant, "granting-back", ""),
        (back, "switching-back", BEFORE),
    ):
        calls, state = _run(step.command, tmp_path, RESTORED="items-restored", PREVIOUS="items-old")
        assert _reloaded(state, tmp_path) == {"STAGE": stage, "LAST_UPGRADE": upgrade}, step.title
        assert "pulumi config set" in calls and calls.rstrip().endswith(f"pulumi up {STACK} --yes")
    # Nothing is recorded when the step does not run (RESTORED empty after a lost shell).
    _, state = _run(back.command, tmp_path, RESTORED="", PREVIOUS="")
    assert "STAGE" not in state


def test_a_half_finished_rollback_is_not_sent_to_the_step_that_removes_the_restored_accounts_reach():
    """Finding 1: after Rollback step 4 (SERVED = PREVIOUS, DRAINING = RESTORED, the upgrade possibly
    still running) step 1 read "the fleet was not switched: step 6", which deletes the restored account's
    endpoint, DNS record and role while unreplaced instances use it. Step 1 now reloads $STATE (the shell
    that ran a switch holds no STAGE) and routes STAGE = switching-back to the update and step 5's wait,
    and STAGE = granting-back (after Rollback step 2) to step 3's wait, before the config-only rows."""
    where = _restore().rollback[0]
    assert where.command.startswith('test -f "$STATE" && source "$STATE"\n')
    assert "STAGE=${STAGE:-}" in where.command
    expected = where.expected
    back = expected.index("STAGE = switching-back")
    regrant = expected.index("STAGE = granting-back")
    config_only = expected.index("STAGE empty or `switching`: SERVED = PREVIOUS: the fleet was not switched")
    assert back < regrant < config_only
    assert (
        f"run `pulumi up {STACK} --yes` again (nothing changes if it completed), then step 5"
        in (expected[back:regrant])
    )
    assert "then step 3" in expected[regrant:config_only]
    # No row of a started rollback goes to step 6 (the one that removes the restored account's reach).
    assert "step 6" not in expected[back:config_only].replace("(step 6 done)", "")
    # A config change interrupted before its commit shows as a diff of the stack file.
    assert "git diff --exit-code pulumi/azure/Pulumi.prod.yaml" in where.command


def test_every_update_says_what_to_do_when_it_was_interrupted():
    """Finding 3: an interrupted `pulumi up` leaves pending creates the next update makes again
    (pulumi/pulumi#11599): the fixed-id role assignment is refused, the auto-named lock doubled. Every
    update's stop-if says to run `pulumi refresh` interactively first ("Recovering from an interrupted
    update": it "will need to be run interactively to clear pending CREATE operations",
    https://www.pulumi.com/docs/support/troubleshooting/common-issues/interrupted-updates) and to check at
    most one lock per account. The old stop-ifs said only to run `pulumi up` again."""
    runbook = _restore()
    updates = [s for s in (*runbook.steps, *runbook.rollback) if f"pulumi up {STACK} --yes" in s.command]
    assert len(updates) == 6
    for step in updates:
        assert f"run `pulumi refresh {STACK}` first, without `--yes`" in step.stop_if, step.title
        assert "az lock list" in step.stop_if and "at most one lock per account" in step.stop_if


def test_a_restored_name_the_stack_would_refuse_is_refused_before_the_restore(tmp_path):
    """Finding 4: each restore of a restored account adds "-restored"; a name over the stack's limit was
    refused only at step 5's update, after the restore. Step 2 tests the length against the settings'
    OTHER_ACCOUNT_MAX (read from the code) before `az cosmosdb restore`."""
    from refarch_pulumi.offline import project

    longest = project("azure").module("settings").OTHER_ACCOUNT_MAX
    restore = next(s for s in _restore().steps if "az cosmosdb restore " in s.command)
    fits = "a" * (longest - len("-restored"))
    calls, _ = _run(restore.command, tmp_path, ACCOUNT=fits, RESTORE_TIME="t", RG="rg")
    assert f"--target-database-account-name {fits}-restored" in calls
    calls, _ = _run(restore.command, tmp_path, ACCOUNT=fits + "a", RESTORE_TIME="t", RG="rg")
    assert "az cosmosdb restore" not in calls
    assert f"longer than {longest} characters" in restore.stop_if


def test_the_switch_lists_every_change_and_a_run_without_state_only_deletes():
    """Finding 5: forward step 7 names the throttling alert's scope moving and, for a second restore,
    PREVIOUS's lock and diagnostics going; with no $STATE (step 5 never ran) the rollback is the delete
    alone, not an escalation."""
    runbook = _restore()
    switch = next(
        s for s in runbook.steps if f'pulumi config set itemsAccount "$RESTORED" {STACK}' in s.command
    )
    assert "the throttling alert's scope moved to it" in switch.expected
    assert "also PREVIOUS's lock and diagnostics deleted" in switch.expected
    stop_if = runbook.rollback[0].stop_if
    assert "no $STATE at all: forward step 5 never ran" in stop_if
    assert "az cosmosdb delete" in stop_if and "without its `mv`" in stop_if


def test_the_lock_check_of_an_interrupted_update_is_a_command_azure_cli_accepts():
    """Review 3, Azure finding 1: `az lock list -g RG --resource-type Microsoft.DocumentDB/databaseAccounts`
    is refused by azure-cli 2.91.0 ("--resource-type is ignored if --resource is not given.", resource/
    _validators.py internal_validate_lock_parameters); it lived in stop-if prose, where no checker read it.
    The command every update's stop-if quotes now goes through azure-cli's parser and that validator; the
    old one is refused by the same check."""
    from tools.docs.azure.runbooks import LOCK_LIST
    from tools.docs.commands import validate

    runbook = _restore()
    updates = [s for s in (*runbook.steps, *runbook.rollback) if f"pulumi up {STACK} --yes" in s.command]
    assert all(f"`{LOCK_LIST}`" in step.stop_if for step in updates)
    assert validate(LOCK_LIST) == []
    old = 'az lock list -g "$RG" --resource-type Microsoft.DocumentDB/databaseAccounts --query "[].id" -o tsv'
    assert ["--resource-type is ignored if --resource is not given." in p for p in validate(old)] == [True]


def test_a_switch_interrupted_between_its_config_commands_has_a_row():
    """Review 3, Azure finding 2: forward step 7 sets itemsAccount = RESTORED, then itemsAccountDraining; in
    between both name RESTORED (STAGE = switching), which the stack refuses to deploy. Rollback step 1 names
    that case among STAGE empty or `switching`, and sends it to step 4, which sets both."""
    where = _restore().rollback[0].expected
    switching = where.index("STAGE empty or `switching`")
    row = where.index("SERVED = DRAINING = RESTORED")
    assert switching < row
    assert (
        where[row:]
        .split(". ")[0]
        .endswith("step 4 (it sets both), or run forward step 7's config commands and commit again")
    )


def test_no_upgrade_after_a_switch_back_that_changed_no_scale_set_is_not_an_escalation():
    """Review 3, Azure finding 3: when forward step 7's update failed before updating the scale set,
    Rollback step 4's update leaves its model unchanged and no upgrade starts; step 5 sends that case to
    step 6 (the one that stops reaching the restored account) instead of escalating."""
    rollback = _restore().rollback
    wait, stop_reaching = rollback[4], rollback[5]
    assert "az vmss rolling-upgrade get-latest" in wait.command
    assert stop_reaching.command.startswith('test -n "$RESTORED" && pulumi config rm itemsAccountDraining')
    assert "showed no change to the scale set" in wait.stop_if
    assert "no upgrade is due, no instance uses the restored account: go to step 6" in wait.stop_if
