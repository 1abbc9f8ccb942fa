"""Config `refarch-azure:itemsAccount` points the fleet at a restored Cosmos DB account (`az cosmosdb
restore`): the instances' endpoint, the fleet's data role, a private endpoint, metrics, alerts, lock and the
stack's outputs follow it; the stack's own account stays. Without the key nothing changes (the snapshots
hold that).

A point-in-time restore creates a new account and copies neither its source's data-plane (SQL) role
assignments nor its private endpoints ("Continuous backup with point-in-time restore in Azure Cosmos DB",
learn.microsoft.com/azure/cosmos-db/continuous-backup-restore-introduction, "What isn't restored"), so the
stack must give the restored account both before the fleet can use it.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import pytest
from azure_queries import boot_script, service_variables

from refarch.inventory import Inventory
from refarch.spec import load_environment
from refarch_pulumi.offline import RecordingMonitor

NS = "refarch-azure"
RESTORED = "refarch-prod-items-restored"
ACCOUNT = "azure-native:cosmosdb:DatabaseAccount"
ROLE = "azure-native:cosmosdb:SqlResourceSqlRoleAssignment"
ENDPOINT = "azure-native:network:PrivateEndpoint"


def reach(account: str) -> tuple[str, ...]:
    """What the stack makes for an instance to use another account: the fleet's data role (assignment, then
    the account's own definition), a private endpoint and its DNS zone group, named by the account
    (item_store.py), whether it is served or draining."""
    return (
        f"fleet-writes-items-{account}",
        f"items-{account}-endpoint",
        f"items-{account}-dns",
        f"fleet-role-items-{account}",
    )


def serving(account: str) -> tuple[str, ...]:
    """What serving adds: the lock (the spec's deletion protection) and the metrics."""
    return (f"items-{account}-lock", f"items-{account}-diagnostics")


def _preview(azure, **config: str) -> tuple[Inventory, dict[str, Any]]:
    monitor = RecordingMonitor(azure.module("offline").Mocks())
    inventory = azure.preview("prod", {**azure.config("prod"), **config}, monitor)
    return inventory, monitor.outputs["service"]


@pytest.fixture(scope="module")
def restored(azure) -> tuple[Inventory, dict[str, Any]]:
    return _preview(azure, **{f"{NS}:itemsAccount": RESTORED})


def _restored_id(azure) -> str:
    offline = azure.module("offline")
    return (
        f"/subscriptions/{offline.SUBSCRIPTION}/resourceGroups/{azure.config('prod')[f'{NS}:namePrefix']}-prod"
        f"/providers/Microsoft.DocumentDB/databaseAccounts/{RESTORED}"
    )


def test_the_instances_use_the_restored_account(restored):
    inventory, _ = restored
    assert service_variables(boot_script(inventory))["COSMOS_ENDPOINT"] == (
        f"https://{RESTORED}.documents.azure.com:443/"
    )


def test_the_fleet_keeps_its_grant_on_the_stacks_own_account(restored, inventories):
    # The own account's lock (CanNotDelete) covers its children: deleting the grant would fail, and with it
    # every later `up`; instances not yet replaced keep writing there until the rolling upgrade replaces them.
    inventory, _ = restored
    own = inventories["prod"]
    assert len(inventory.of_type(ROLE)) == 2
    assert inventory.named("fleet-writes-items").inputs == own.named("fleet-writes-items").inputs


def test_the_restored_lock_goes_first_on_a_rollback(restored):
    # Pulumi deletes a resource before those it depends on: `config rm` removes the lock, then what it covers.
    inventory, _ = restored
    lock_name, diagnostics = serving(RESTORED)
    lock = inventory.named(lock_name)
    grant, endpoint, _, _ = reach(RESTORED)
    for covered in (grant, endpoint, diagnostics):
        assert covered in lock.depends_on


def test_the_fleet_may_write_the_restored_container(azure, restored):
    inventory, _ = restored
    item_store = azure.module("item_store")
    role = inventory.named(reach(RESTORED)[0])
    identity = inventory.only("azure-native:managedidentity:UserAssignedIdentity")
    account_id = _restored_id(azure)
    assert role.get("accountName") == RESTORED
    assert role.get("scope") == f"{account_id}/dbs/{item_store.DATABASE}/colls/{item_store.CONTAINER}"
    # The same least role the stack's own account grants, defined on the restored account itself.
    definition = inventory.named(reach(RESTORED)[3])
    assert definition.get("accountName") == RESTORED
    assert definition.get("assignableScopes") == [role.get("scope")]
    assert role.get("roleDefinitionId") == (
        f"{account_id}/sqlRoleDefinitions/{definition.get('roleDefinitionId')}"
    )
    from azure_stack.offline import mock_guid

    assert role.get("principalId") == mock_guid(f"{identity.name}/principal")


def test_the_fleet_reaches_the_restored_account_privately(azure, restored):
    inventory, _ = restored
    account_id = _restored_id(azure)
    own = inventory.named("items-endpoint")
    endpoint = inventory.named(reach(RESTORED)[1])
    assert endpoint.get("privateLinkServiceConnections") == [
        {"name": f"items-{RESTORED}", "privateLinkServiceId": account_id, "groupIds": ["Sql"]}
    ]
    # The same data subnet and private DNS zone as the stack's own account.
    assert endpoint.get("subnet") == own.get("subnet")
    zones = {
        r.name: r.get("privateDnsZoneConfigs")
        for r in inventory.of_type("azure-native:network:PrivateDnsZoneGroup")
    }
    assert zones[reach(RESTORED)[2]] == zones["items-dns"]


def test_alerts_metrics_and_lock_follow_the_restored_account(azure, restored):
    inventory, _ = restored
    account_id = _restored_id(azure)
    assert inventory.named("store-throttles").get("scopes") == [account_id]
    lock, diagnostics = serving(RESTORED)
    assert inventory.named(diagnostics).get("resourceUri") == account_id
    assert load_environment("prod").store.deletion_protection
    assert inventory.named(lock).get("scope") == account_id


def test_the_stack_keeps_its_own_account(restored, inventories):
    inventory, _ = restored
    own = inventories["prod"]
    assert inventory.only(ACCOUNT).inputs == own.only(ACCOUNT).inputs
    assert inventory.named("items-lock").inputs == own.named("items-lock").inputs


def test_the_outputs_name_the_restored_account(restored):
    _, outputs = restored
    assert outputs["cosmosAccount"] == RESTORED
    assert outputs["cosmosEndpoint"] == f"https://{RESTORED}.documents.azure.com:443/"


def test_without_the_key_the_outputs_name_the_stacks_own_account(azure, inventories):
    inventory, outputs = _preview(azure)
    account = inventory.only(ACCOUNT)
    assert outputs["cosmosAccount"] == account.name
    assert outputs["cosmosEndpoint"] == f"https://{account.name}.documents.azure.com:443/"
    assert not [r.name for r in inventory.resources if RESTORED in r.name]


@pytest.mark.parametrize(
    "value",
    [
        "/subscriptions/x/resourceGroups/refarch-prod/providers/Microsoft.DocumentDB/databaseAccounts/a-b",
        "Refarch-Restored",
        "ab",
        "restored-",
        # Two hyphens in a row: outside the account-name pattern (review finding 4).
        "refarch--restored",
        "a" * 45,
        # Cosmos DB takes 44, but `items-<account>-endpoint` plus azure-native's suffix would pass 64.
        "a" * 42,
    ],
)
def test_a_value_that_is_not_an_account_name_is_refused(azure, value):
    refusal = azure.refusal("prod", {**azure.config("prod"), f"{NS}:itemsAccount": value})
    assert refusal.environment == "prod"
    [problem] = refusal.problems
    assert (problem.field, problem.value) == (f"{NS}:itemsAccount", value)
    assert "name (not the resource ID) of a Cosmos DB account" in problem.rule


# Switching back (restore-store.md, Rollback): `itemsAccountDraining` names the account the fleet served, so
# the instances the rolling upgrade has not replaced yet keep reaching it until the upgrade has finished.
KEPT_WHILE_DRAINING = reach(RESTORED)


@pytest.fixture(scope="module")
def draining(azure) -> tuple[Inventory, dict[str, Any]]:
    return _preview(azure, **{f"{NS}:itemsAccountDraining": RESTORED})


def test_a_draining_account_keeps_its_endpoint_dns_record_and_grant_unchanged(restored, draining):
    # Unchanged inputs under the same names: moving the account from itemsAccount to itemsAccountDraining
    # (Rollback step 1) neither replaces nor deletes what the instances not yet replaced use.
    (served, _), (kept, _) = restored, draining
    for name in KEPT_WHILE_DRAINING:
        assert kept.named(name).inputs == served.named(name).inputs, name


def test_a_draining_account_keeps_nothing_more(azure, restored, draining, inventories):
    (served, _), (kept, outputs) = restored, draining
    default = inventories["prod"]
    names = {r.name for r in kept.resources}
    assert names - {r.name for r in default.resources} == set(KEPT_WHILE_DRAINING)
    # The lock and the metrics go: the fleet is served from the stack's own account again.
    assert set(serving(RESTORED)) <= {r.name for r in served.resources} - names
    own = default.only(ACCOUNT)
    assert kept.named("store-throttles").inputs == default.named("store-throttles").inputs
    assert (
        service_variables(boot_script(kept))["COSMOS_ENDPOINT"]
        == (service_variables(boot_script(default))["COSMOS_ENDPOINT"])
    )
    assert outputs["cosmosAccount"] == own.name


@pytest.fixture(scope="module")
def drained(azure) -> Inventory:
    """Rollback step 3: the stack previewed with the draining key, then with the key removed from that config
    (`pulumi config rm`), in this order."""
    key = f"{NS}:itemsAccountDraining"
    with_key = {**azure.config("prod"), key: RESTORED}
    kept = azure.preview("prod", with_key)
    assert set(KEPT_WHILE_DRAINING) <= {r.name for r in kept.resources}
    return azure.preview("prod", {name: value for name, value in with_key.items() if name != key})


def test_without_the_draining_key_its_endpoint_and_grant_go(drained, inventories):
    # Removing the key deletes them (the account itself is no resource of the stack) and leaves the stack as
    # it is without ever having drained: every resource and input of the default inventory, nothing more.
    assert not {r.name for r in drained.resources} & set(KEPT_WHILE_DRAINING)
    assert drained.to_json() == inventories["prod"].to_json()


def _problems(azure, **config: str) -> dict[str, tuple[Any, str]]:
    refusal = azure.refusal("prod", {**azure.config("prod"), **config})
    assert refusal.environment == "prod"
    return {problem.field: (problem.value, problem.rule) for problem in refusal.problems}


@pytest.mark.parametrize("value", ["Refarch-Restored", "ab", "restored-", "a--b", "a" * 42])
def test_a_draining_value_that_is_not_an_account_name_is_refused_with_the_served_one(azure, value):
    # Every problem at once: both keys' formats in one refusal.
    problems = _problems(azure, **{f"{NS}:itemsAccountDraining": value, f"{NS}:itemsAccount": "-bad"})
    assert set(problems) == {f"{NS}:itemsAccountDraining", f"{NS}:itemsAccount"}
    draining_value, rule = problems[f"{NS}:itemsAccountDraining"]
    assert draining_value == value
    assert "name (not the resource ID) of a Cosmos DB account" in rule


def test_a_draining_account_that_the_fleet_serves_is_refused(azure):
    problems = _problems(azure, **{f"{NS}:itemsAccountDraining": RESTORED, f"{NS}:itemsAccount": RESTORED})
    assert problems[f"{NS}:itemsAccountDraining"][0] == RESTORED
    assert "another account than itemsAccount" in problems[f"{NS}:itemsAccountDraining"][1]


# The restore runbook's settings, in its order (restore-store.md): the stack's own account served (empty
# value), then R1 restored and served, then a second incident's R2 restored and served, and the way back.
SECOND = f"{RESTORED}-2"
SERVED, DRAINING = f"{NS}:itemsAccount", f"{NS}:itemsAccountDraining"


def _settings(served: str | None, draining: str | None) -> dict[str, str]:
    return {key: value for key, value in ((SERVED, served), (DRAINING, draining)) if value is not None}


# Each state the forward path and the rollback pass through: (served, draining).
NEITHER = (None, None)
FORWARD = (
    NEITHER,  # the stack's own account
    (None, RESTORED),  # (2) grant first
    (RESTORED, None),  # (3) switch, then (4) draining removed (the own account's grant always stays)
    (RESTORED, SECOND),  # the second restore: (2) grant first
    (SECOND, RESTORED),  # (3) switch: the account served before drains
    (SECOND, None),  # (4) draining removed
)
ROLLBACK = (
    (SECOND, RESTORED),  # forward (3) done
    (RESTORED, SECOND),  # rollback: served = PREVIOUS, draining = RESTORED
    (RESTORED, None),  # rollback: draining removed
)


@pytest.fixture(scope="module")
def states(azure, drained) -> dict[tuple[str | None, str | None], Inventory]:
    # The stack's own account, once the draining key is removed: previewed with the key, then without it.
    others = {*FORWARD, *ROLLBACK} - {NEITHER}
    return {**{state: _preview(azure, **_settings(*state))[0] for state in others}, NEITHER: drained}


def _used(state: tuple[str | None, str | None]) -> set[str]:
    """Restored accounts an instance may use in this state: the served one, and the draining one."""
    return {account for account in state if account is not None}


@pytest.mark.parametrize(
    "before, after",
    [*pairwise(FORWARD), *pairwise(ROLLBACK)],
    ids=lambda state: f"{state[0]}/{state[1]}",
)
def test_no_update_of_the_restore_path_changes_what_an_instance_uses(states, before, after):
    """Every `pulumi up` of the runbook: an account instances use before or after it keeps its data role,
    endpoint and DNS record with unchanged inputs under unchanged names (a changed input would replace them:
    Pulumi creates the replacement and deletes the original at the end of the update, while unreplaced
    instances still use it; https://www.pulumi.com/docs/iac/concepts/how-pulumi-works/). Fails on the old
    program, which named them `items-restored-*` whatever the account, and refused both settings at once."""
    old, new = states[before], states[after]
    for account in _used(before) & _used(after):
        for name in reach(account):
            assert new.named(name).inputs == old.named(name).inputs, (account, name)
    # What serving adds stays unchanged for an account served before and after.
    for account in {before[0]} & {after[0]} - {None}:
        for name in serving(account):
            assert new.named(name).inputs == old.named(name).inputs, (account, name)


@pytest.mark.parametrize("state", sorted({*FORWARD, *ROLLBACK}, key=str), ids=str)
def test_each_account_gets_what_its_role_needs_and_nothing_more(states, inventories, state):
    """A served restored account: reach, lock and metrics, and the alert watches it; a draining one: reach
    only; the stack's own account keeps its grant, endpoint and lock in every state."""
    inventory, default = states[state], inventories["prod"]
    served, draining = state
    expected = set()
    if served is not None:
        expected |= {*reach(served), *serving(served)}
    if draining is not None:
        expected |= set(reach(draining))
    added = {r.name for r in inventory.resources} - {r.name for r in default.resources}
    assert added == expected
    if state == NEITHER:
        assert inventory.to_json() == default.to_json()
    for name in ("fleet-writes-items", "fleet-role-items", "items-endpoint", "items-lock"):
        assert inventory.named(name).inputs == default.named(name).inputs
    scope = inventory.named("store-throttles").get("scopes")
    if served is None:
        assert scope == default.named("store-throttles").get("scopes")
    else:
        assert scope[0].endswith(f"/databaseAccounts/{served}")


def test_serving_a_second_restored_account_beside_the_draining_first_is_allowed(azure):
    # Both set, different accounts: the second restore's switch (the old program refused it).
    inventory, outputs = _preview(azure, **_settings(SECOND, RESTORED))
    assert outputs["cosmosAccount"] == SECOND
    assert service_variables(boot_script(inventory))["COSMOS_ENDPOINT"] == (
        f"https://{SECOND}.documents.azure.com:443/"
    )


def test_a_draining_account_is_looked_up_like_the_served_one(azure):
    # Read the way `itemsAccount` is read: a missing account fails the preview (getDatabaseAccount).
    class Recording(azure.module("offline").Mocks):
        calls: list[tuple[str, str]] = []

        def invoke(self, token, args):
            if token == "azure-native:cosmosdb:getDatabaseAccount":
                self.calls.append((args["accountName"], args["resourceGroupName"]))
            return super().invoke(token, args)

    mocks = Recording()
    azure.preview(
        "prod", {**azure.config("prod"), f"{NS}:itemsAccountDraining": RESTORED}, RecordingMonitor(mocks)
    )
    assert [name for name, _ in mocks.calls] == [RESTORED]


def test_the_longest_account_name_taken_keeps_its_private_endpoints_name_within_azures_limit(azure):
    # azure-native names a resource without an explicit name after it, plus a random suffix
    # (pulumi-azure-native#3406), and does not shorten it (#4294); a private endpoint's name has at most 64
    # ("Naming rules and restrictions for Azure resources", Microsoft.Network/privateEndpoints).
    longest = "a" * azure.module("settings").OTHER_ACCOUNT_MAX
    inventory, _ = _preview(azure, **_settings(longest, None))
    endpoint = inventory.named(reach(longest)[1])
    assert endpoint.type == ENDPOINT and "privateEndpointName" not in endpoint.inputs
    assert len(endpoint.name) + azure.module("names").AUTONAME_SUFFIX_LENGTH == 64
