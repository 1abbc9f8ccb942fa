"""Azure restore-store, the restored account: the runbook's role lets azure-cli wait for each long-running
Cosmos DB command, step 2 refuses a name the stack would refuse before restoring into it, and steps 2-4 set
on the restored account everything the stack sets on its own but zone redundancy (architect review, s18)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from refarch.spec import load_all
from refarch_pulumi.offline import project
from tests.docs.azure.azure_fixtures import inventories
from tests.docs.azure.azure_restore_store import _restore, _run, cosmos_sdk
from tools.docs import azure as azure_docs
from tools.docs.azure import inventory as inv
from tools.docs.azure import permissions
from tools.docs.commands import simple_commands


@pytest.fixture
def cosmos_sdk_dir() -> Path:
    return cosmos_sdk()


# Each Cosmos DB command of the runbook that changes something, the azure-mgmt-cosmosdb method azure-cli's
# custom.py calls for it (a `begin_` method is a long-running operation that azure-cli polls), and the
# operationResults read of the resource it changes. Names from "Azure permissions for Databases",
# Microsoft.DocumentDB (https://learn.microsoft.com/azure/role-based-access-control/permissions/databases):
# "Read status of the asynchronous operation".
ACCOUNT = "Microsoft.DocumentDB/databaseAccounts"
CONTAINER = f"{ACCOUNT}/sqlDatabases/containers"
LONG_RUNNING = {
    "cosmosdb restore": ("begin_create_or_update", f"{ACCOUNT}/operationResults/read"),
    "cosmosdb update": ("begin_update", f"{ACCOUNT}/operationResults/read"),
    "cosmosdb delete": ("begin_delete", f"{ACCOUNT}/operationResults/read"),
    "cosmosdb sql container update": (
        "begin_create_update_sql_container",
        f"{CONTAINER}/operationResults/read",
    ),
    "cosmosdb sql container throughput update": (
        "begin_update_sql_container_throughput",
        f"{CONTAINER}/throughputSettings/operationResults/read",
    ),
}
# The status URL of the Azure-AsyncOperation header, under the subscription ("Reads Status of Asynchronous
# Operations", same page; Azure/azure-cli#17418 was refused reading it "over scope '/subscriptions/...'").
OPERATION_STATUS = "Microsoft.DocumentDB/locations/operationsStatus/read"
# What a change of the runbook is: `az cosmosdb ... <verb>` with one of these verbs.
CHANGES = ("update", "restore", "delete", "create", "migrate")


def _cosmos_changes(runbook) -> set[str]:
    """The runbook's `az cosmosdb` commands that change something (as permissions.ACTIONS names them)."""
    commands = {
        permissions._command(argv)
        for snippet in runbook.commands()
        for argv in simple_commands(snippet)
        if argv[:2] == ["az", "cosmosdb"]
    }
    return {command for command in commands if command.rsplit(" ", 1)[-1] in CHANGES}


def test_the_role_lets_azure_cli_wait_for_every_cosmos_db_change(cosmos_sdk_dir):
    """Finding 1: azure-cli polls a Cosmos DB change's status until it completes; the role granted only the
    change itself, so the command failed after the change was made. Fails on the old role (no
    operationsStatus or operationResults read, assignable on the resource group only)."""
    runbook = _restore()
    role = json.loads(runbook.permissions)
    changes = _cosmos_changes(runbook)
    assert changes == set(LONG_RUNNING), "a Cosmos DB change of the runbook the test does not know"
    operations = (cosmos_sdk_dir / "operations" / "_operations.py").read_text()
    for command, (method, result) in LONG_RUNNING.items():
        assert f"def {method}(" in operations, f"{command}: {method} is not a long-running method"
        assert result in role["Actions"], command
    # The status is read under the subscription: the runbook's second role holds it and is assignable there
    # (test_azure_restore_store_role_scopes.py).
    locations = permissions.locations_role("prod", runbook.commands(), runbook.scenario)
    assert OPERATION_STATUS in json.loads(locations)["Actions"]
    first = next(p for p in runbook.preconditions if p.startswith("`az login`"))
    assert "on the subscription" in first and "--debug" in first


def test_a_runbook_without_a_cosmos_db_change_stays_on_the_resource_group():
    # The subscription scope only where an action needs it: the other runbooks keep the resource group.
    facts = azure_docs.facts("prod", inventories()["prod"], load_all()["prod"])
    others = [r for r in azure_docs.runbooks(facts) if r.scenario != "restore-store"]
    assert others
    for runbook in others:
        [scope] = json.loads(runbook.permissions)["AssignableScopes"]
        assert re.fullmatch(r"/subscriptions/<subscription-id>/resourceGroups/[^/]+", scope), runbook.scenario


def _stack_accepts(name: str) -> bool:
    settings = project("azure").module("settings")
    try:
        settings.AzureSettings.model_validate(
            {
                "namePrefix": "refarch",
                "publisherName": "p",
                "publisherEmail": "ops@example.com",
                "deployerIpRanges": ["203.0.113.0/24"],
                "itemsAccount": name,
            }
        )
    except ValidationError:
        return False
    return True


@pytest.mark.parametrize(
    "restored",
    [
        "items-restored",
        "a1-b2-c3",
        "x--y",
        "-restored",
        "restored-",
        "Items-restored",
        "items_restored",
        "x" * 42,
    ],
)
def test_step_2_restores_only_into_a_name_the_stack_takes(tmp_path, restored):
    """Finding 4: step 2 tested the length only, so `x--y` was restored into and refused by step 5's
    update afterwards. Step 2 now runs the restore exactly when the stack's own validator (settings
    AzureSettings) takes the name. Fails on the old step 2 for the names of the wrong form."""
    restore = next(s for s in _restore().steps if "az cosmosdb restore " in s.command)
    command = restore.command.replace('RESTORED="$ACCOUNT-restored"\n', "")
    calls, _ = _run(command, tmp_path, ACCOUNT="items", RESTORED=restored, RESTORE_TIME="t", RG="rg")
    assert ("az cosmosdb restore" in calls) == _stack_accepts(restored), calls


def test_step_2_states_the_rule_from_the_settings():
    settings = project("azure").module("settings")
    restore = next(s for s in _restore().steps if "az cosmosdb restore " in s.command)
    assert f"grep -Eqx '{settings.OTHER_ACCOUNT_PATTERN}'" in restore.command
    assert f"`{settings.OTHER_ACCOUNT_PATTERN}`" in restore.stop_if
    assert f"at most {settings.OTHER_ACCOUNT_MAX} characters" in restore.stop_if
    # The settings' own validator uses the same pattern (one source).
    assert re.fullmatch(settings.OTHER_ACCOUNT_PATTERN, "x--y") is None


# The flag of steps 2-4 that sets each setting the stack does not carry to a restored account
# (item_store.NOT_FOLLOWING_A_RESTORED_ACCOUNT). A setting added there without a flag here fails.
FLAG_OF_SETTING = {
    "azure.cosmos_max_throughput (the container's autoscale ceiling)": ("--max-throughput",),
    "the container's TTL and indexing policy": ("--ttl", "--idx"),
    "store.point_in_time_recovery (backup tier)": ("--continuous-tier",),
    "consistency": ("--default-consistency-level",),
    "minimum TLS version": ("--minimal-tls-version",),
    "key-based metadata write access": ("--disable-key-based-metadata-write-access",),
    "local auth": ("--disable-local-auth",),
    "public network access": ("--public-network-access",),
    "tags": ("--tags",),
}


def test_steps_2_to_4_set_all_the_stack_does_not_carry_but_zone_redundancy():
    """Finding 3: the warning and README said step 4 sets the list once, but the list held settings step 2
    sets (local auth, public access) and one nothing sets (zone redundancy), and left out two (key-based
    metadata writes, step 4; tags, set nowhere). Fails on the old list (no key-based metadata, no tags) and
    on the old step 4 (no --tags)."""
    item_store = project("azure").module("item_store")
    listed = set(item_store.NOT_FOLLOWING_A_RESTORED_ACCOUNT)
    assert listed == {*FLAG_OF_SETTING, item_store.NEVER_ON_A_RESTORED_ACCOUNT}
    argvs = [
        argv
        for step in _restore().steps[1:4]
        for argv in simple_commands(step.command)
        if argv[0] == "az" and "$RESTORED" in argv
    ]
    given = {word.split("=", 1)[0] for argv in argvs for word in argv if word.startswith("--")}
    for setting, flags in FLAG_OF_SETTING.items():
        assert set(flags) <= given, setting
    # The tags are the stack's own account's, every one.
    store = next(r for r in inventories()["prod"] if r.type == inv.STORE)
    [update] = [argv for argv in argvs if argv[1:3] == ["cosmosdb", "update"] and "--tags" in argv]
    tags = update[update.index("--tags") + 1 :]
    tags = tags[: next((i for i, w in enumerate(tags) if w.startswith("--")), len(tags))]
    assert dict(t.split("=", 1) for t in tags) == store.inputs["tags"]
    # Nothing sets zone redundancy; the runbook says so where it checks it.
    assert not any("zone" in w.lower() for argv in argvs for w in argv if w.startswith("--"))
