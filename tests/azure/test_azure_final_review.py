"""The final Azure architect review (s18): the fleet's data role allows only what the service calls, the stack
says what the spec no longer reaches while a restored account is served, and a setting naming the stack's own
account fails the preview."""

from __future__ import annotations

import ast
import logging
import subprocess
import sys
from pathlib import Path

import pulumi
import pytest

from refarch_pulumi.offline import RecordingMonitor

NS = "refarch-azure"
RESTORED = "refarch-prod-items-restored"
ROLE = "azure-native:cosmosdb:SqlResourceSqlRoleAssignment"
DEFINITION = "azure-native:cosmosdb:SqlResourceSqlRoleDefinition"
HERE = Path(__file__).parent
ROOT = HERE.parents[1]
SERVICE_STORE = ROOT / "sample_service" / "stores" / "cosmos.py"
# The data action each container call of the azure-cosmos SDK needs, and the account metadata every client
# reads first ("Azure Cosmos DB for NoSQL data plane actions reference",
# https://learn.microsoft.com/azure/cosmos-db/nosql/security/reference-data-plane-actions). A call not listed
# fails the test: add its action here, and to the fleet's role (item_store.FLEET_DATA_ACTIONS).
ITEMS = "Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers/items"
ACTION_OF_CALL = {"read_item": f"{ITEMS}/read", "upsert_item": f"{ITEMS}/upsert"}
READ_METADATA = "Microsoft.DocumentDB/databaseAccounts/readMetadata"


def _service_calls() -> set[str]:
    """The container methods the sample service calls (`self._container.<method>(...)`)."""
    calls = {
        node.func.attr
        for node in ast.walk(ast.parse(SERVICE_STORE.read_text()))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Attribute)
        and node.func.value.attr == "_container"
    }
    assert calls, "the service's store calls no container method: the parse is wrong"
    return calls


def _preview(azure, mocks=None, **config: str):
    mocks = mocks or azure.module("offline").Mocks()
    return azure.preview("prod", {**azure.config("prod"), **config}, RecordingMonitor(mocks))


def _grants_and_their_roles(inventory):
    definitions = {r.get("roleDefinitionId"): r for r in inventory.of_type(DEFINITION)}
    for grant in inventory.of_type(ROLE):
        guid = grant.get("roleDefinitionId").rsplit("/sqlRoleDefinitions/", 1)[-1]
        assert guid in definitions, f"{grant.name} assigns {guid}, not a role the stack defines"
        yield grant, definitions[guid]


@pytest.fixture(scope="module")
def served_and_draining(azure):
    return _preview(azure, **{f"{NS}:itemsAccount": RESTORED, f"{NS}:itemsAccountDraining": f"{RESTORED}-2"})


def test_the_fleets_data_role_allows_only_what_the_service_calls(inventories, served_and_draining):
    """Review finding 2: not the built-in Data Contributor (which adds create, replace, delete, query, change
    feed and stored procedures) but a role per account with the service's calls' actions and the metadata
    read. Fails on the old program, which assigned the built-in role (...0002) and defined none."""
    allowed = {READ_METADATA, *(ACTION_OF_CALL[call] for call in _service_calls())}
    checked = 0
    for inventory in (*inventories.values(), served_and_draining):
        for grant, role in _grants_and_their_roles(inventory):
            assert role.get("type") == "CustomRole"
            [permission] = role.get("permissions")
            assert set(permission["dataActions"]) == allowed, grant.name
            assert not permission.get("notDataActions")
            # Defined on the account it is assigned on, assignable only on the container it is assigned on.
            assert role.get("accountName") == grant.get("accountName")
            assert role.get("assignableScopes") == [grant.get("scope")]
            assert grant.get("roleDefinitionId").startswith(grant.get("scope").split("/dbs/")[0])
            checked += 1
    # The own account's grant in each environment, plus the served and the draining account's.
    assert checked == len(inventories) + 3


def test_serving_a_restored_account_warns_what_the_spec_no_longer_reaches(azure, caplog):
    """Review finding 1: while itemsAccount is set the spec's store settings change only the stack's own
    account; the preview says so on every run, naming the account and the settings. Fails on the old program,
    which was silent."""
    with caplog.at_level(logging.WARNING):
        _preview(azure, **{f"{NS}:itemsAccount": RESTORED})
    [warning] = [r.getMessage() for r in caplog.records if "itemsAccount" in r.getMessage()]
    assert RESTORED in warning
    for setting in ("azure.cosmos_max_throughput", "TTL", "indexing", "store.point_in_time_recovery", "zone"):
        assert setting in warning, setting
    assert "restore-store.md" in warning and "known limits" in warning


def test_the_warning_says_which_runbook_steps_set_what_and_what_stays_off(azure, caplog):
    """Last review, finding 3: the warning said step 4 "sets them once", for a list holding zone redundancy
    (no restore sets it) and local auth and public access (step 2's restore flags), and leaving out key-based
    metadata writes and tags. It names every setting of the module's list, says steps 2-4 set all but zone
    redundancy, and no longer says step 4 sets them. Fails on the old warning."""
    item_store = azure.module("item_store")
    with caplog.at_level(logging.WARNING):
        _preview(azure, **{f"{NS}:itemsAccount": RESTORED})
    [warning] = [r.getMessage() for r in caplog.records if "itemsAccount" in r.getMessage()]
    for setting in item_store.NOT_FOLLOWING_A_RESTORED_ACCOUNT:
        assert setting in warning, setting
    for setting in ("key-based metadata write access", "tags"):
        assert setting in item_store.NOT_FOLLOWING_A_RESTORED_ACCOUNT, setting
    never = item_store.NEVER_ON_A_RESTORED_ACCOUNT
    assert f"steps 2-4, set each on the restored account once, all but {never}" in warning
    assert "which stays off (its Blast radius)" in warning
    assert "sets them once, step 4" not in warning


def test_without_a_restored_account_nothing_is_warned(azure, caplog):
    with caplog.at_level(logging.WARNING):
        _preview(azure, **{f"{NS}:itemsAccountDraining": RESTORED})
    assert not [r for r in caplog.records if "itemsAccount:" in r.getMessage()]


def _own_account_answered(azure):
    """Mocks where the own account (logical name `items`) has the ID ARM would give it, and a look-up of that
    name answers the same account, its ID in other letter case (ARM IDs compare case-insensitively)."""
    offline = azure.module("offline")

    class OwnAccount(offline.Mocks):
        def resource_id(self, args):
            if args.typ == "azure-native:cosmosdb:DatabaseAccount":
                group = args.inputs["resourceGroupName"]
                return (
                    f"/subscriptions/{offline.SUBSCRIPTION}/resourceGroups/{group}/providers/"
                    f"Microsoft.DocumentDB/databaseAccounts/{args.name}"
                )
            return super().resource_id(args)

        def invoke(self, token, args):
            answer = super().invoke(token, args)
            if token == "azure-native:cosmosdb:getDatabaseAccount" and args["accountName"] == "items":
                answer = {**answer, "id": answer["id"].upper()}
            return answer

    return OwnAccount()


def refused_for_own_account(key: str) -> str:
    """The preview's error when `key` names the stack's own account (run in a process of its own: a run that
    fails in an `apply` leaves registrations pending that would fail the next preview of the session)."""
    from refarch_pulumi.offline import project

    azure = project("azure")
    try:
        _preview(azure, _own_account_answered(azure), **{f"{NS}:{key}": "items"})
    except pulumi.RunError as refused:
        return str(refused)
    return "accepted"


@pytest.mark.parametrize("key", ["itemsAccount", "itemsAccountDraining"])
def test_naming_the_stacks_own_account_fails_the_preview(key):
    """Review finding 3: once the stack's own account exists its ID is known, so a setting naming it fails the
    preview with the spec's error form (a RunError: no traceback). Fails on the old program, which built a
    second grant, endpoint and lock on the own account."""
    script = (
        f"import sys; sys.path[:0] = [{str(ROOT)!r}, {str(HERE)!r}]\n"
        "from test_azure_final_review import refused_for_own_account\n"
        f"print(refused_for_own_account({key!r}))"
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, check=True)
    message = run.stdout
    assert "environment 'prod' is invalid" in message, run.stdout + run.stderr
    assert f"field '{NS}:{key}' = 'items'" in message
    assert "must name another account than the stack's own (items)" in message


def test_another_account_passes_the_own_account_check(azure):
    # The same mocks, another account: the check compares IDs, not merely that a look-up happened.
    inventory = _preview(azure, _own_account_answered(azure), **{f"{NS}:itemsAccount": RESTORED})
    assert inventory.named(f"fleet-writes-items-{RESTORED}")
