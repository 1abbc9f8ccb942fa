"""The Azure documents are read from the offline inventories: change an input and the documents change; every
billed resource type is priced or says why not; permissions come from the commands."""

from __future__ import annotations

import pytest

from refarch.inventory import Inventory
from refarch.spec import load_all
from tests.docs.azure.azure_fixtures import generated, inventories, mutated
from tests.docs.runbook_harness import in_order
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


def _settings_key(field: str) -> str:
    from refarch_pulumi.offline import project

    return project("azure").module("settings").AzureSettings.model_fields[field].alias


STACK = "--stack prod --cwd pulumi/azure"


def _restore(inventory=None):
    return _runbook(_facts(inventory or inventories()["prod"]), "restore-store")


def _index(steps, text: str) -> int:
    return next(i for i, step in enumerate(steps) if text in step.command)


def test_restore_runbook_switches_with_the_key_the_program_reads_and_retires_behind_the_lock():
    """The switch sets the settings model's key for the restored account; the retire step expects the lock
    only where the stack locks the store (the spec's deletion protection): a lock removed from the
    inventory changes what it expects."""
    key = _settings_key("items_account")
    inventory = inventories()["prod"]
    runbook = _restore(inventory)
    switch = runbook.steps[_index(runbook.steps, f'pulumi config set {key} "$RESTORED"')]
    assert f'pulumi config set {key} "$RESTORED" {STACK}' in switch.command
    assert f"pulumi up {STACK} --yes" in switch.command
    retire = next(step for step in runbook.steps if step.title.startswith("Retire the old account"))
    assert retire.command.startswith("az lock list") and retire.expected.startswith("`CanNotDelete`")
    unlocked = Inventory(
        [r for r in inventory if r.type != "azure-native:authorization:ManagementLockByScope"]
    )
    retire = next(
        step for step in _restore(unlocked).steps if step.title.startswith("Retire the old account")
    )
    assert retire.expected == "no output" and "no lock guards it" in retire.title


def test_restore_grants_first_then_switches_then_stops_reaching_the_previous_account():
    """Review finding 1 (second restore): (5) PREVIOUS = the served setting (empty: the stack's own account)
    saved with RESTORED to a state file the Names block reloads, draining = RESTORED, up; (6) the role's
    documented propagation time; (7) served = RESTORED, draining = PREVIOUS or removed, up; (8) the upgrade;
    (9) draining removed only when PREVIOUS is a restored account. The old runbook set served = RESTORED in
    one update and never recorded PREVIOUS."""
    from tools.docs.azure.runbooks import PROPAGATION_SECONDS

    served, draining = _settings_key("items_account"), _settings_key("items_account_draining")
    runbook = _restore()
    steps = runbook.steps
    grant = _index(steps, f'pulumi config set {draining} "$RESTORED"')
    switch = _index(steps, f'pulumi config set {served} "$RESTORED"')
    undrain = _index(steps, f"pulumi config rm {draining} {STACK} \\")
    assert grant < switch < undrain
    first = steps[grant].command
    assert first.index(f"PREVIOUS=$(pulumi config get {served} {STACK} || true)") < first.index(
        "pulumi config set"
    )
    assert first.index('"$RESTORED" "$PREVIOUS" "$ACCOUNT" >"$STATE"') < first.index("pulumi config set")
    assert 'test "$RESTORED" != "$ACCOUNT"' in first and first.index("pulumi up") > first.index("set")
    # An unfinished earlier switch (its draining setting still set) stops the grant before any change.
    assert (
        first.index(f"DRAINING=$(pulumi config get {draining} {STACK} || true)")
        < first.index('test -z "$DRAINING"')
        < first.index("pulumi config set")
    )
    assert any('source "$STATE"' in line for line in runbook.after_lookups)
    # The documented role assignment delay lies between the grant and the switch.
    assert (
        any(f"sleep {PROPAGATION_SECONDS}" in step.command for step in steps[grant + 1 : switch])
        and PROPAGATION_SECONDS >= 600
    )
    command = steps[switch].command
    assert f'if test -n "$PREVIOUS"; then pulumi config set {draining} "$PREVIOUS" {STACK}' in command
    assert f"else pulumi config rm {draining} {STACK}; fi" in command
    assert "rolling-upgrade get-latest" in steps[switch + 1].command
    assert steps[undrain].command.startswith('test -n "$PREVIOUS" && ')


def test_every_config_change_is_committed_before_its_update():
    """Review finding 2: a change left out of Pulumi.prod.yaml's history comes back with the next deployment
    from the repository (https://www.pulumi.com/docs/iac/concepts/config/). Every `pulumi config set/rm` of
    the runbook is followed, in its command, by the commit of that file, a `git diff --exit-code` of it, and
    only then `pulumi up`. The old rollback committed nothing."""
    config = "pulumi/azure/Pulumi.prod.yaml"
    runbook = _restore()
    changes = [
        step.command
        for step in (*runbook.steps, *runbook.rollback)
        if "pulumi config set" in step.command or "pulumi config rm" in step.command
    ]
    assert len(changes) == 6
    for command in changes:
        last_change = max(command.rfind("pulumi config set"), command.rfind("pulumi config rm"))
        commit = command.index("git commit -m ")
        assert (
            last_change
            < commit
            < command.index(f"git diff --exit-code {config}")
            < command.index("pulumi up")
        ), command
        assert command[commit:].split("\n")[0].split(" && ")[0].endswith(config)


def test_restore_runbook_waits_for_the_upgrade_and_keeps_the_old_grant():
    """`pulumi up` returns before the scale set's rolling upgrade finishes and the stack keeps the fleet's
    grant on its own account (its lock covers it): the runbook waits for `Completed`, expects the own
    account's grant kept (1), a previous restored account's removed (0), and says unreplaced instances keep
    writing to the old account."""
    runbook = _restore()
    switch = _index(runbook.steps, f'pulumi config set {_settings_key("items_account")} "$RESTORED"')
    wait = runbook.steps[switch + 1]
    assert "rolling-upgrade get-latest" in wait.command and "runningStatus.code" in wait.command
    assert "Completed" in wait.expected
    grants = next(step for step in runbook.steps if '-a "$ACCOUNT" --query "length(@)"' in step.command)
    assert "then `1` when PREVIOUS is empty" in grants.expected and "`0` when it is not" in grants.expected
    assert "own account's role assignment kept" in runbook.steps[switch].expected
    assert "not yet replaced keep writing to the old account" in runbook.blast_radius
    retire = next(step for step in runbook.steps if step.title.startswith("Retire the old account"))
    # Review finding 6: the fleet's grant and endpoint on the own account outlive the switch.
    assert "keeps its data role and a private endpoint on it for as long as it exists" in retire.title


def test_restore_runbook_gives_the_restored_account_the_originals_settings():
    """A restore sends neither the consistency, nor the key-based metadata write switch, nor the minimum TLS
    version, nor a backup policy (azure-cli 2.91.0 cli_cosmosdb_restore): step 4 sets each to the stack's own
    account's value, read from the inventory, and step 3 checks continuous backup survived (review findings
    4, 5). The restore cannot make the account zone-redundant (finding 3): step 3 expects `False` and the
    blast radius says so; a changed inventory changes every value."""
    inventory = inventories()["prod"]
    store = inventory.only(inv.STORE)
    runbook = _restore(inventory)
    update = next(step for step in runbook.steps if step.command.startswith("az cosmosdb update"))
    tier = store.get("backupPolicy.continuousModeProperties.tier")
    for flag in (
        f"--default-consistency-level {store.get('consistencyPolicy.defaultConsistencyLevel')}",
        f"--minimal-tls-version {store.get('minimalTlsVersion')}",
        "--disable-key-based-metadata-write-access "
        + str(store.get("disableKeyBasedMetadataWriteAccess")).lower(),
        f"--backup-policy-type Continuous --continuous-tier {tier}",
    ):
        assert flag in update.command.replace("\\\n  ", ""), flag
    # The account's values first; the container's follow them (test_restore_step_4_gives_...).
    # One value a line, as az's tsv prints a flat list (azure/test_azure_polling_and_rollback_guards.py).
    assert update.expected.startswith(
        f"one value per line: `{store.get('consistencyPolicy.defaultConsistencyLevel')}`, "
    )
    assert f"`Continuous`, `{tier}`" in update.expected
    check = next(step for step in runbook.steps if "isZoneRedundant" in step.command)
    assert "backupPolicy.type" in check.command and "`Continuous`" in check.expected
    assert "`false`" in check.expected and "Continuous" in check.stop_if
    assert store.get("locations.0.isZoneRedundant") and "not zone-redundant" in runbook.blast_radius
    changed = mutated(inventory, store.type, "minimalTlsVersion", "Tls13")
    changed = mutated(changed, store.type, "consistencyPolicy.defaultConsistencyLevel", "BoundedStaleness")
    update = next(step for step in _restore(changed).steps if step.command.startswith("az cosmosdb update"))
    assert "--minimal-tls-version Tls13" in update.command
    assert "--default-consistency-level BoundedStaleness" in update.command


def test_restore_rollback_is_the_forward_paths_mirror():
    """Rollback: (1) read where the forward path stopped; (2) grant PREVIOUS again only if forward step 9
    removed it, (3) its propagation; (4) served = PREVIOUS (or removed), draining = RESTORED, up; (5) the
    forward path's wait; (6) draining removed, up; (7) delete the restored account. The old rollback went to
    the stack's own account whatever the fleet had served before."""
    served, draining = _settings_key("items_account"), _settings_key("items_account_draining")
    runbook = _restore()
    where, regrant, propagation, back, wait, undrain, delete = runbook.rollback
    assert f"SERVED=$(pulumi config get {served} {STACK} || true)" in where.command
    assert f'pulumi config set {draining} "$PREVIOUS" {STACK}' in regrant.command
    forward = next(step for step in runbook.steps if "sleep" in step.command)
    assert propagation.command == forward.command.replace('"$RESTORED"', '"$PREVIOUS"')
    assert in_order(
        back.command,
        f'pulumi config set {draining} "$RESTORED" {STACK}',
        f'then pulumi config set {served} "$PREVIOUS" {STACK}',
        f"else pulumi config rm {served} {STACK}; fi",
        f"pulumi up {STACK} --yes",
    )
    assert "endpoint, DNS zone group and role assignment unchanged" in back.expected
    switch = _index(runbook.steps, f'pulumi config set {served} "$RESTORED"')
    assert (wait.command, wait.expected) == (
        runbook.steps[switch + 1].command,
        runbook.steps[switch + 1].expected,
    )
    assert f"pulumi config rm {draining} {STACK}" in undrain.command
    assert "deleted, nothing else" in undrain.expected and "account itself stays" in undrain.expected
    assert delete.command.startswith('az cosmosdb delete -g "$RG" -n "$RESTORED"')


def test_restore_waits_compare_the_upgrades_start_times_read_from_azure():
    """Review finding 7: `Completed` alone may be an earlier upgrade's, and the operator's clock may be off:
    both switches read the latest upgrade's start time from Azure just before their `pulumi up`, and the
    wait compares the new upgrade's with it. No local clock is read."""
    runbook = _restore()
    served, draining = _settings_key("items_account"), _settings_key("items_account_draining")
    for steps, switch in (
        (runbook.steps, _index(runbook.steps, f'pulumi config set {served} "$RESTORED"')),
        (runbook.rollback, _index(runbook.rollback, f'pulumi config set {draining} "$RESTORED"')),
    ):
        command, wait = steps[switch].command, steps[switch + 1]
        assert command.index("LAST_UPGRADE=$(az vmss rolling-upgrade get-latest") < command.index("pulumi up")
        assert "runningStatus.startTime" in wait.command and 'echo "$LAST_UPGRADE"' in wait.command
        assert "start time other than" in wait.expected
    assert "date -u" not in "\n".join(runbook.commands())


def test_restore_step_4_gives_the_restored_container_the_specs_settings():
    """Final review finding 1: `pulumi up` never sets the spec's container settings on a restored account, so
    step 4 sets the autoscale ceiling (azure.cosmos_max_throughput), the default TTL and the indexing policy
    the stack gives its own container, read from the inventory, and each command prints what it set
    (`az cosmosdb sql container throughput update --max-throughput`, `az cosmosdb sql container update --ttl
    --idx`: azure-cli 2.91.0 cosmosdb _params.py). Fails on the old runbook, whose step 4 set only the
    account's settings."""
    import json
    import shlex

    inventory = inventories()["prod"]
    container = inventory.only(inv.CONTAINER)
    step = next(s for s in _restore(inventory).steps if s.command.startswith("az cosmosdb update"))
    lines = step.command.replace("\\\n  ", "").splitlines()
    throughput = next(line for line in lines if "container throughput update" in line)
    assert f"--max-throughput {container.get('options.autoscaleSettings.maxThroughput')}" in throughput
    update = shlex.split(next(line for line in lines if "sql container update" in line))
    assert f"--ttl={container.get('resource.defaultTtl')}" in update
    assert json.loads(update[update.index("--idx") + 1]) == container.get("resource.indexingPolicy")
    assert f"`{container.get('options.autoscaleSettings.maxThroughput')}`" in step.expected
    changed = mutated(inventory, inv.CONTAINER, "options.autoscaleSettings.maxThroughput", 12000)
    step = next(s for s in _restore(changed).steps if s.command.startswith("az cosmosdb update"))
    assert "--max-throughput 12000" in step.command and "`12000`" in step.expected
