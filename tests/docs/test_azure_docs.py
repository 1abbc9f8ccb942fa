"""The Azure documents are read from the offline inventories: change an input and the documents change; every
billed resource type is priced or says why not; permissions come from the commands."""

from __future__ import annotations

import pytest

from refarch.inventory import Inventory
from refarch.spec import load_all
from tests.docs.azure_fixtures import generated, inventories, mutated
from tools.docs import azure as azure_docs
from tools.docs import prices
from tools.docs.azure import inventory as inv
from tools.docs.azure import permissions
from tools.docs.model import SCENARIOS


def _facts(inventory, environment="prod"):
    return azure_docs.facts(environment, inventory, load_all()[environment])


def _runbook(facts, scenario):
    return next(runbook for runbook in azure_docs.runbooks(facts) if runbook.scenario == scenario)


def _text(runbook) -> str:
    return repr(runbook)


def test_six_runbooks_per_environment_with_names_from_the_stack_outputs():
    for environment, (_, runbooks) in generated().items():
        assert sorted(runbook.scenario for runbook in runbooks) == sorted(SCENARIOS), environment
        for runbook in runbooks:
            lookup = {item.variable: item.command for item in runbook.lookups}
            assert lookup["VMSS"] == f"pulumi stack output scaleSet --stack {environment} --cwd pulumi/azure"
            assert (
                lookup["RG"] == f"pulumi stack output resourceGroup --stack {environment} --cwd pulumi/azure"
            )


def test_every_azure_resource_type_is_priced_or_says_why_not():
    table = prices.load()
    types = {
        resource.type for inventory in inventories().values() for resource in inventory if resource.custom
    }
    assert not [type_ for type_ in sorted(types) if not table.covers("azure", type_)]
    # A type the table forgets is reported.
    forgetful = prices.PriceTable(
        table.date,
        table.currency,
        table.prices,
        {key: reason for key, reason in table.not_priced.items() if key != ("azure", inv.SCALE_SET)},
    )
    assert [type_ for type_ in sorted(types) if not forgetful.covers("azure", type_)] == [inv.SCALE_SET]


def test_a_price_entry_prices_the_fleet_from_its_size_and_minimum():
    inventory = inventories()["prod"]
    size = inventory.only(inv.SCALE_SET).get("sku.name")
    minimum = int(inventory.only(inv.AUTOSCALE).get("profiles.0.capacity.minimum"))
    table = prices.load()
    priced = prices.PriceTable(
        table.date,
        table.currency,
        (
            *table.prices,
            prices.Price(
                cloud="azure",
                type=inv.SCALE_SET,
                item=size,
                region="westeurope",
                unit="hour",
                price=0.5,
                source="test",
                date="2026-11-30",
            ),
        ),
        table.not_priced,
    )
    (line,) = [line for line in azure_docs.costs.lines(inventory, priced) if line.type == inv.SCALE_SET]
    assert line.monthly == round(minimum * prices.HOURS_PER_MONTH * 0.5, 2)


def test_durations_follow_the_gateway_probe():
    inventory = inventories()["prod"]
    before = _runbook(_facts(inventory), "replace-one-instance")
    slower = mutated(inventory, inv.GATEWAY, "probes.0.interval", 20)
    after = _runbook(_facts(slower), "replace-one-instance")
    assert "probe interval 10 s" in _text(before) and "probe interval 20 s" in _text(after)
    assert [d.seconds for d in after.durations] != [d.seconds for d in before.durations]


def test_capacity_follows_the_autoscale_minimum():
    inventory = inventories()["prod"]
    minimum = int(inventory.only(inv.AUTOSCALE).get("profiles.0.capacity.minimum"))
    bigger = mutated(inventory, inv.AUTOSCALE, "profiles.0.capacity.minimum", str(minimum + 2))
    line = _runbook(_facts(bigger), "replace-one-instance").capacity[-1]
    assert line.startswith(f"capacity never falls below {minimum + 2} of {minimum + 2}")


def test_restore_runbook_says_when_there_is_no_point_in_time_restore():
    inventory = inventories()["prod"]
    assert _facts(inventory).store_pitr
    periodic = mutated(
        inventory,
        inv.STORE,
        "backupPolicy",
        {
            "type": "Periodic",
            "periodicModeProperties": {"backupIntervalInMinutes": 240, "backupRetentionIntervalInHours": 8},
        },
    )
    facts = _facts(periodic)
    assert not facts.store_pitr and "periodic backup every 240 min" in facts.store_backup
    assert any("continuous backup is OFF" in line for line in _runbook(facts, "restore-store").preconditions)


def test_cache_runbook_follows_high_availability():
    inventory = inventories()["prod"]
    assert "promotes the replica" in _runbook(_facts(inventory), "cache-primary-failure").purpose
    single = mutated(inventory, inv.CACHE, "highAvailability", "Disabled")
    facts = _facts(single)
    assert facts.cache_replicas == 0
    assert "loses every session" in _runbook(facts, "cache-primary-failure").purpose


def test_permissions_are_the_actions_of_the_commands():
    _, runbooks = generated()["prod"]
    every = next(runbook for runbook in runbooks if runbook.scenario == "replace-every-instance")
    assert "Microsoft.Compute/virtualMachineScaleSets/osRollingUpgrade/action" in every.permissions
    assert "Microsoft.Compute/virtualMachineScaleSets/delete/action" not in every.permissions
    with pytest.raises(KeyError, match="no RBAC actions known"):
        permissions.actions(['az vmss deallocate -g "$RG" -n "$VMSS"'])


def test_diagram_edges_follow_the_nsg_rules():
    inventory = inventories()["prod"]
    app = next(nsg for nsg in inventory.of_type(inv.NSG) if nsg.name == "app-nsg")
    rule = next(rule for rule in app.get("securityRules") if rule["access"] == "Allow")
    port = rule["destinationPortRanges"][0]

    def gateway_to_fleet(model):
        edges = _facts(model).graph.edges
        return [
            edge
            for edge in edges
            if (edge.source, edge.target, edge.kind) == ("agw", "fleet", "network rule")
        ]

    assert port in gateway_to_fleet(inventory)[0].label
    index = app.get("securityRules").index(rule)
    closed = mutated(inventory, inv.NSG, f"securityRules.{index}.access", "Deny", name=app.name)
    assert not gateway_to_fleet(closed)


def test_restore_runbook_switches_with_the_key_the_program_reads_and_retires_behind_the_lock():
    """The switch sets the settings model's key for the restored account; the retire step expects the lock
    only where the stack locks the store (the spec's deletion protection): a lock removed from the
    inventory changes what it expects."""
    from refarch_pulumi.offline import project

    key = project("azure").module("settings").AzureSettings.model_fields["items_account"].alias
    inventory = inventories()["prod"]
    runbook = _runbook(_facts(inventory), "restore-store")
    switch = next(step for step in runbook.steps if f"pulumi config set {key} " in step.command)
    assert f'&& pulumi config set {key} "$RESTORED" --stack prod --cwd pulumi/azure && ' in switch.command
    assert "pulumi up --stack prod" in switch.command
    retire = next(step for step in runbook.steps if step.title.startswith("Retire the old account"))
    assert retire.command.startswith("az lock list") and retire.expected == "`CanNotDelete`"
    unlocked = Inventory(
        [r for r in inventory if r.type != "azure-native:authorization:ManagementLockByScope"]
    )
    retire = next(
        step
        for step in _runbook(_facts(unlocked), "restore-store").steps
        if step.title.startswith("Retire the old account")
    )
    assert retire.expected == "no output" and "no lock guards it" in retire.title


def test_restore_runbook_waits_for_the_upgrade_and_keeps_the_old_grant():
    """`pulumi up` returns before the scale set's rolling upgrade finishes and the stack keeps the fleet's
    grant on the old account (its lock covers it): the runbook waits for `Completed`, expects the old grant
    kept, and says unreplaced instances keep writing to the old account."""
    runbook = _runbook(_facts(inventories()["prod"]), "restore-store")
    titles = [step.title for step in runbook.steps]
    switch = next(i for i, step in enumerate(runbook.steps) if "pulumi config set" in step.command)
    wait = runbook.steps[switch + 1]
    assert "rolling-upgrade get-latest" in wait.command and "runningStatus.code" in wait.command
    assert "Completed" in wait.expected
    grants = next(step for step in runbook.steps if "sql role assignment list" in step.command)
    assert (
        grants.expected.endswith("then `1`") and "old role assignment kept" in runbook.steps[switch].expected
    )
    assert "not yet replaced keep writing to the old account" in runbook.blast_radius
    assert any("never while the account is locked" in title for title in titles)


def test_restore_runbook_restores_the_originals_consistency_and_zone_redundancy():
    """A restored account may come back with Session consistency: the runbook sets the original's level, read
    from the inventory, and checks zone redundancy; a changed inventory changes both."""
    inventory = inventories()["prod"]
    store = inventory.only(inv.STORE)
    level = store.get("consistencyPolicy.defaultConsistencyLevel")
    runbook = _runbook(_facts(inventory), "restore-store")
    update = next(step for step in runbook.steps if step.command.startswith("az cosmosdb update"))
    assert f"--default-consistency-level {level}" in update.command
    check = next(
        step
        for step in runbook.steps
        if "consistencyPolicy" in step.command and "isZoneRedundant" in step.command
    )
    assert f"`{store.get('locations.0.isZoneRedundant')}`" in check.expected
    changed = mutated(inventory, store.type, "consistencyPolicy.defaultConsistencyLevel", "BoundedStaleness")
    update = next(
        step
        for step in _runbook(_facts(changed), "restore-store").steps
        if step.command.startswith("az cosmosdb update")
    )
    assert "--default-consistency-level BoundedStaleness" in update.command


def _settings_key(field: str) -> str:
    from refarch_pulumi.offline import project

    return project("azure").module("settings").AzureSettings.model_fields[field].alias


def test_restore_rollback_drains_the_restored_account_until_the_upgrade_has_completed():
    """Switching back in one update (`config rm itemsAccount && pulumi up`) would delete the restored
    account's endpoint and data role while the rolling upgrade, which goes on after `pulumi up` returns,
    has not replaced the instances that use it. The rollback: (1) draining = restored, served key removed, up;
    (2) the forward path's wait; (3) draining removed, up; (4) delete the account."""
    served, draining = _settings_key("items_account"), _settings_key("items_account_draining")
    runbook = _runbook(_facts(inventories()["prod"]), "restore-store")
    first, wait, undrain, delete = runbook.rollback
    stack = "--stack prod --cwd pulumi/azure"
    # One update moves the account from served to draining: set before removed, both before `up`.
    order = [
        first.command.index(f'pulumi config set {draining} "$RESTORED" {stack}'),
        first.command.index(f"pulumi config rm {served} {stack}"),
        first.command.index(f"pulumi up {stack} --yes"),
    ]
    assert order == sorted(order)
    assert first.command.index("RESTORED=$(pulumi config get") < order[0]
    assert "endpoint, DNS zone group and role assignment unchanged" in first.expected
    # The same wait as the forward path's, its start time compared with this update's.
    switch = next(i for i, step in enumerate(runbook.steps) if f"pulumi config set {served} " in step.command)
    assert (wait.command, wait.expected) == (
        runbook.steps[switch + 1].command,
        runbook.steps[switch + 1].expected,
    )
    assert "STARTED=" in first.command.split("pulumi up")[0]
    assert undrain.command == f"pulumi config rm {draining} {stack} && pulumi up {stack} --yes"
    assert "deleted, nothing else" in undrain.expected and "account itself stays" in undrain.expected
    assert delete.command.startswith("az cosmosdb delete") and "after step 3" in delete.title


def test_restore_waits_compare_the_upgrades_start_with_the_updates():
    """`Completed` alone may be an earlier upgrade's: the wait shows the latest upgrade's start time next to
    the time recorded just before the switch's `pulumi up`; and the switch refuses the stack's own account,
    which the program cannot (its name is generated at the first deployment)."""
    runbook = _runbook(_facts(inventories()["prod"]), "restore-store")
    served = _settings_key("items_account")
    index = next(i for i, step in enumerate(runbook.steps) if f"pulumi config set {served} " in step.command)
    switch, wait = runbook.steps[index], runbook.steps[index + 1]
    assert switch.command.index("STARTED=$(date -u") < switch.command.index("pulumi up")
    assert switch.command.index('test "$RESTORED" != "$ACCOUNT" && ') < switch.command.index("pulumi config")
    account = next(lookup for lookup in runbook.lookups if lookup.variable == "ACCOUNT")
    assert "cosmosAccount" in account.command
    assert "runningStatus.startTime" in wait.command and 'echo "$STARTED"' in wait.command
    assert "start time later than" in wait.expected
