"""The Azure runbooks that add instances work from the fleet's capacity at the time, hold autoscale off the
extra instances while they run, and name the instance they added (reader trial s17: a hard-coded
`--new-capacity 4` scaled a fleet of 6 in; autoscale could remove the replacement before the old one went;
the wait step could not tell the new instance from the others)."""

from __future__ import annotations

import importlib
import re

from refarch.spec import load_all
from tests.docs.azure.azure_fixtures import generated, inventories, mutated
from tools.docs import azure as azure_docs
from tools.docs.azure import inventory as inv
from tools.docs.azure.backend_health import UP

# The module, not the function the package re-exports under the same name.
RUNBOOKS = importlib.import_module("tools.docs.azure.runbooks")
ADDING = ("replace-one-instance", "evacuate-zone")
RAISE = re.compile(r'az monitor autoscale update .*--min-count "\$TARGET"')
RESTORE = re.compile(r'az monitor autoscale update .*--min-count "\$MIN" --count "\$DEFAULT"')


def _runbooks(scenario: str):
    for environment, (facts, runbooks) in generated().items():
        yield environment, facts, next(runbook for runbook in runbooks if runbook.scenario == scenario)


def _index(steps, pattern: re.Pattern | str) -> int:
    found = [i for i, step in enumerate(steps) if re.search(pattern, step.command.replace("\\\n", " "))]
    assert found, f"no step matches {pattern}"
    return found[0]


def test_no_runbook_scales_to_a_fixed_capacity():
    for environment, (_, runbooks) in generated().items():
        for runbook in runbooks:
            for command in runbook.commands():
                assert not re.search(r"--new-capacity\s+\d", command), (environment, runbook.scenario)


def test_the_target_is_the_current_capacity_plus_what_the_procedure_adds():
    for scenario in ADDING:
        for environment, _, runbook in _runbooks(scenario):
            hold = runbook.steps[_index(runbook.steps, RAISE)].command
            assert 'CAP=$(az vmss show -g "$RG" -n "$VMSS" --query sku.capacity -o tsv)' in hold, environment
            assert re.search(r"^TARGET=\$\(\(\$\{CAP:-0\} \+ \d+\)\)$", hold, re.MULTILINE), environment
            # A pasted block runs on after a failed read: the autoscale change itself must be conditional on
            # every value read being set and in range, or an empty CAP would lower the minimum.
            # The guarded statement: from its first `test` to the update, one chain (continued lines).
            update = hold[hold.index("\ntest ") : hold.index("az monitor autoscale update")]
            assert all(line.endswith("\\") for line in update.strip().splitlines()[:-1]), environment
            # MIN set, or (replace-one-instance) equal to the stack's minimum: not left raised by a run.
            assert 'test -n "$MIN"' in update or re.search(r'test "\$MIN" = \d+ ', update), environment
            for guard in (
                'test -n "$DEFAULT"',
                'test "${CAP:-0}" -ge',
                'test "$TARGET" -le',
            ):
                assert guard in update, (environment, guard)
            assert '|| echo "STOP' in hold, environment
            scale = runbook.steps[_index(runbook.steps, "az vmss scale")].command
            assert '--new-capacity "$TARGET"' in scale, environment


def test_autoscale_minimum_is_raised_before_adding_and_restored_after_deleting_and_in_rollback():
    for scenario in ADDING:
        for environment, _, runbook in _runbooks(scenario):
            steps = runbook.steps
            raised, scaled = _index(steps, RAISE), _index(steps, "az vmss scale")
            deleted, restored = _index(steps, "az vmss delete-instances"), _index(steps, RESTORE)
            assert raised < scaled < deleted < restored, (environment, scenario)
            assert _index(runbook.rollback, RESTORE) >= 0
            assert "Microsoft.Insights/autoscalesettings/write" in runbook.permissions


def test_the_autoscale_setting_is_the_one_targeting_the_stacks_scale_set():
    for environment, _, runbook in _runbooks("replace-one-instance"):
        (lookup,) = [item for item in runbook.lookups if item.variable == "AUTOSCALE"]
        assert "targetResourceUri, '/$VMSS'" in lookup.command
        setting = inventories()[environment].only(inv.AUTOSCALE)
        assert f"`{setting.name}`" in lookup.source


def test_the_new_instance_is_named_and_watched_by_its_address():
    for environment, facts, runbook in _runbooks("replace-one-instance"):
        steps = runbook.steps
        before = _index(steps, r"^BEFORE=\$\(az vmss list-instances")
        assert before == _index(steps, RAISE), "the instances are listed before autoscale may add one"
        named = steps[_index(steps, r"^NEW_VM=")].command
        assert 'grep -vxF "$BEFORE"' in named and "NEW_IP=" in named
        # A loop the reader pastes once, bounded by the boot budget (reader trial s18: "28 x 30 s" by hand
        # is not 840 s when each backend-health call takes tens of seconds).
        wait = steps[_index(steps, r"(?m)^until test")]
        assert "[?address=='$NEW_IP'].health" in wait.command
        assert f"DEADLINE=$((SECONDS + {facts.boot_budget_seconds}))" in wait.command, environment
        assert f"sleep {RUNBOOKS.POLL_SECONDS}; done" in wait.command
        assert any('--instance-ids "$NEW_VM"' in step.command for step in runbook.rollback)
        assert "Microsoft.Compute/virtualMachineScaleSets/rollingUpgrades/read" in runbook.permissions
        assert _index(steps, "rolling-upgrade get-latest") == 0, environment


def test_the_boot_budget_follows_the_repair_grace():
    inventory = inventories()["prod"]
    slower = mutated(inventory, inv.SCALE_SET, "automaticRepairsPolicy.gracePeriod", "PT30M")
    facts = azure_docs.facts("prod", slower, load_all()["prod"])
    runbook = next(r for r in azure_docs.runbooks(facts) if r.scenario == "replace-one-instance")
    assert any("DEADLINE=$((SECONDS + 1800))" in step.command for step in runbook.steps)


def test_verification_stops_when_any_backend_is_not_healthy():
    for environment, _, runbook in _runbooks("replace-one-instance"):
        check = runbook.verification[0]
        assert check.stop_if.startswith(f"any line is not `{UP}`"), environment
