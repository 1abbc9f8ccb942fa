"""The Azure RBAC actions each `az` command of a runbook needs, so a runbook's permissions are derived from
its commands: a command missing here fails generation. Actions from "Azure permissions for Compute /
Networking / Databases / Monitor" (https://learn.microsoft.com/azure/role-based-access-control/permissions/)."""

from __future__ import annotations

import json
import shlex

from tools.docs.commands import simple_commands

# A Cosmos DB write is long-running: the provider answers 202 and azure-cli (azure-core ARMPolling) polls
# the status URL of its Azure-AsyncOperation header, or the resource's operationResults URL of its Location
# header, until the change completes, then GETs the resource after a PUT or PATCH (azure-core
# base_polling.py, OperationResourcePolling.get_final_get_url). A role without the polling read fails the
# command after the change was made (Azure/bicep#14976: sqlRoleAssignments/operationResults/read). The
# status is read under the subscription: Azure/azure-sdk-for-js#25623 records a Cosmos DB account write
# answering `Azure-AsyncOperation: .../subscriptions/<id>/providers/Microsoft.DocumentDB/locations/<region>/
# operationsStatus/<id>` (and `Location: .../resourceGroups/<rg>/providers/Microsoft.DocumentDB/
# databaseAccounts/<name>/operationResults/<id>`), so that read goes to the role assigned there
# (`locations_role`).
# Names from "Azure permissions for Databases", Microsoft.DocumentDB ("Reads Status of Asynchronous
# Operations"; "Read status of the asynchronous operation"): https://learn.microsoft.com/azure/
# role-based-access-control/permissions/databases#microsoftdocumentdb
OPERATION_STATUS = "Microsoft.DocumentDB/locations/operationsStatus/read"
ACCOUNT_POLLING = (OPERATION_STATUS, "Microsoft.DocumentDB/databaseAccounts/operationResults/read")
CONTAINER = "Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers"
# Actions on a provider's locations are checked under the subscription (/subscriptions/<id>/providers/
# Microsoft.DocumentDB/locations/...: restorable accounts, the restore itself, operation status), not under a
# resource group; every other action of a runbook is on the stack's resource group. "Manage permissions to
# restore an Azure Cosmos DB account" (https://learn.microsoft.com/azure/cosmos-db/
# continuous-backup-restore-permissions, "Permissions on the source account": restorableDatabaseAccounts
# read and restore/action, minimum scope the restorable account, maximum the subscription; the account
# write on "the destination resource group"). So a runbook needing them gets two roles: its own, assignable
# on the resource group, and a second one holding only these actions, assignable on the subscription, so
# that no write on any Cosmos DB account outside the resource group (another environment's) is granted.
SUBSCRIPTION_SCOPED = ("Microsoft.DocumentDB/locations/",)
SUBSCRIPTION = "/subscriptions/<subscription-id>"

ACTIONS = {
    # Reads az's own login profile, no Azure call.
    "account show": (),
    # Picks a subscription of az's login profile (the list `az login` cached), no Azure call: azure-cli's
    # azure/cli/core/_profile.py Profile.set_active_subscription reads and writes only that cache.
    "account set": (),
    "vmss list-instances": (
        "Microsoft.Compute/virtualMachineScaleSets/read",
        "Microsoft.Compute/virtualMachines/read",
    ),
    "vmss show": ("Microsoft.Compute/virtualMachineScaleSets/read",),
    "vmss scale": (
        "Microsoft.Compute/virtualMachineScaleSets/read",
        "Microsoft.Compute/virtualMachineScaleSets/write",
    ),
    "vmss delete-instances": ("Microsoft.Compute/virtualMachineScaleSets/delete/action",),
    "vmss rolling-upgrade start": ("Microsoft.Compute/virtualMachineScaleSets/osRollingUpgrade/action",),
    "vmss rolling-upgrade cancel": (
        "Microsoft.Compute/virtualMachineScaleSets/rollingUpgrades/cancel/action",
    ),
    "vmss rolling-upgrade get-latest": ("Microsoft.Compute/virtualMachineScaleSets/rollingUpgrades/read",),
    "vm list-ip-addresses": (
        "Microsoft.Compute/virtualMachines/read",
        "Microsoft.Network/networkInterfaces/read",
        "Microsoft.Network/publicIPAddresses/read",
    ),
    "vm get-instance-view": ("Microsoft.Compute/virtualMachines/instanceView/read",),
    "vm show": ("Microsoft.Compute/virtualMachines/read",),
    "group show": ("Microsoft.Resources/subscriptions/resourceGroups/read",),
    "network application-gateway list": ("Microsoft.Network/applicationGateways/read",),
    "network application-gateway show-backend-health": (
        "Microsoft.Network/applicationGateways/backendhealth/action",
    ),
    "resource list": ("Microsoft.Resources/subscriptions/resourceGroups/resources/read",),
    "resource show": ("Microsoft.Cache/redisEnterprise/read",),
    "monitor metrics list": ("Microsoft.Insights/metrics/read",),
    "monitor metrics alert list": ("Microsoft.Insights/metricAlerts/read",),
    "monitor autoscale show": ("Microsoft.Insights/autoscalesettings/read",),
    "monitor autoscale list": ("Microsoft.Insights/autoscalesettings/read",),
    "monitor autoscale update": (
        "Microsoft.Insights/autoscalesettings/read",
        "Microsoft.Insights/autoscalesettings/write",
    ),
    "monitor action-group show": ("Microsoft.Insights/actionGroups/read",),
    "cosmosdb list": ("Microsoft.DocumentDB/databaseAccounts/read",),
    "cosmosdb show": ("Microsoft.DocumentDB/databaseAccounts/read",),
    # Creates the account (PUT, createMode Restore), waits for it (polling, below), then reads it.
    "cosmosdb restore": (
        "Microsoft.DocumentDB/locations/restorableDatabaseAccounts/restore/action",
        "Microsoft.DocumentDB/locations/restorableDatabaseAccounts/read",
        "Microsoft.DocumentDB/databaseAccounts/write",
        "Microsoft.DocumentDB/databaseAccounts/read",
    ),
    "cosmosdb restorable-database-account list": (
        "Microsoft.DocumentDB/locations/restorableDatabaseAccounts/read",
    ),
    "cosmosdb sql container show": ("Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers/read",),
    # `az cosmosdb sql container update` reads the container, then writes it whole (azure-cli custom.py
    # cli_cosmosdb_sql_container_update), waits and reads it back; the throughput update writes the
    # container's throughputSettings, waits and reads them back (what its --query prints).
    "cosmosdb sql container update": (
        f"{CONTAINER}/read",
        f"{CONTAINER}/write",
    ),
    "cosmosdb sql container throughput update": (
        f"{CONTAINER}/throughputSettings/write",
        f"{CONTAINER}/throughputSettings/read",
    ),
    # Step 4's remedy when the container is on manual throughput (POST .../throughputSettings/default/
    # migrateToAutoscale; "Azure permissions for Databases").
    "cosmosdb sql container throughput migrate": (
        f"{CONTAINER}/throughputSettings/migrateToAutoscale/action",
    ),
    "cosmosdb delete": ("Microsoft.DocumentDB/databaseAccounts/delete",),
    # `az cosmosdb update` reads the account, then writes it (PATCH), waits and reads it back.
    "cosmosdb update": (
        "Microsoft.DocumentDB/databaseAccounts/read",
        "Microsoft.DocumentDB/databaseAccounts/write",
    ),
    "cosmosdb sql role assignment list": ("Microsoft.DocumentDB/databaseAccounts/sqlRoleAssignments/read",),
    "lock list": ("Microsoft.Authorization/locks/read",),
}

# The long-running commands among them: azure-cli (build/azure-cli-venv, 2.91.0) waits on each with an
# LRO poller, reading the status URL the first answer names (Azure-AsyncOperation, else Location) until the
# operation ends, so each also needs the read of that URL: without it the command fails after Azure took
# the change ("A role without the polling read", above). Checked in the venv's code (tests/docs/
# test_azure_polling_and_rollback_guards.py reads it): aaz `build_lro_poller` in vm/aaz/latest/vmss/
# _create.py (`vmss scale`: custom.py scale_vmss sends VMSSCreate), _delete_instances.py, rolling_upgrade/
# _start.py and _cancel.py, network/aaz/latest/network/application_gateway/_health.py (`show-backend-health`:
# 202, final-state-via location); cosmosdb/custom.py's `begin_*` SDK calls (the throughput migrate
# too: begin_migrate_sql_container_to_autoscale). Not long-running: every read and
# `monitor autoscale update` (its aaz _update.py has no poller: a plain PUT).
# Compute and Network name a status URL under the subscription's provider locations (/subscriptions/<id>/
# providers/Microsoft.Compute/locations/<region>/operations/<id>; Microsoft.Network/locations/<region>/
# operations/<id>, or .../operationResults/<id> in a Location header). "Track asynchronous Azure
# operations", "Permission for tracking async status" (https://learn.microsoft.com/azure/azure-resource-
# manager/management/async-operations): tracking needs the permission at the resource group level (the URL
# is not scoped to the resource), so these reads go to the resource group's role. Names from "Azure
# permissions for Compute" (Microsoft.Compute/locations/operations/read, "Gets the status of an
# asynchronous operation") and "... for Networking" (Microsoft.Network/locations/operations/read and
# operationResults/read).
COMPUTE_POLLING = ("Microsoft.Compute/locations/operations/read",)
NETWORK_POLLING = (
    "Microsoft.Network/locations/operations/read",
    "Microsoft.Network/locations/operationResults/read",
)
LONG_RUNNING = {
    "vmss scale": COMPUTE_POLLING,
    "vmss delete-instances": COMPUTE_POLLING,
    "vmss rolling-upgrade start": COMPUTE_POLLING,
    "vmss rolling-upgrade cancel": COMPUTE_POLLING,
    "network application-gateway show-backend-health": NETWORK_POLLING,
    "cosmosdb restore": ACCOUNT_POLLING,
    "cosmosdb update": ACCOUNT_POLLING,
    "cosmosdb delete": ACCOUNT_POLLING,
    "cosmosdb sql container update": (f"{CONTAINER}/operationResults/read", OPERATION_STATUS),
    "cosmosdb sql container throughput update": (
        f"{CONTAINER}/throughputSettings/operationResults/read",
        OPERATION_STATUS,
    ),
    # A migrate's Location header is .../throughputSettings/default/migrateToAutoscale/operationResults/<id>,
    # read by the final GET of azure-core's OperationResourcePolling; its own action ("Read status of the
    # asynchronous operation", "Azure permissions for Databases", learn.microsoft.com/azure/
    # role-based-access-control/permissions/databases).
    "cosmosdb sql container throughput migrate": (
        f"{CONTAINER}/throughputSettings/migrateToAutoscale/operationResults/read",
        OPERATION_STATUS,
    ),
}


def _command(argv: list[str]) -> str:
    words = []
    for word in argv[1:]:
        if word.startswith("-"):
            break
        words.append(word)
    for length in range(len(words), 0, -1):
        if " ".join(words[:length]) in ACTIONS:
            return " ".join(words[:length])
    raise KeyError(f"no RBAC actions known for `{shlex.join(argv)}` (tools/docs/azure/permissions.py)")


def _az_commands(commands: list[str]) -> set[str]:
    return {_command(argv) for snippet in commands for argv in simple_commands(snippet) if argv[0] == "az"}


def actions(commands: list[str]) -> list[str]:
    """Every action the commands call, the status reads of the long-running ones included."""
    called = _az_commands(commands)
    return sorted({action for name in called for action in (*ACTIONS[name], *LONG_RUNNING.get(name, ()))})


def long_running(commands: list[str]) -> list[str]:
    """The long-running az commands among them (`az <name>`) that wait by polling a status URL: one run with
    `--no-wait` returns at once and polls nothing (its role still holds the reads, for the runs that wait)."""
    waiting = [
        argv
        for snippet in commands
        for argv in simple_commands(snippet)
        if argv[0] == "az" and "--no-wait" not in argv
    ]
    return sorted({name for name in map(_command, waiting) if name in LONG_RUNNING})


def subscription_scoped(action: str) -> bool:
    return action.startswith(SUBSCRIPTION_SCOPED)


def role_name(environment: str, scenario: str) -> str:
    return f"refarch-{environment}-{scenario}"


def locations_role_name(environment: str, scenario: str) -> str:
    """The second role of a runbook whose commands call actions checked under the subscription."""
    return f"{role_name(environment, scenario)}-locations"


def _definition(name: str, description: str, called: list[str], scope: str) -> str:
    """An Azure custom role definition (az role definition create --role-definition @role.json)."""
    return json.dumps(
        {
            "Name": name,
            "Description": description,
            "Actions": called,
            "NotActions": [],
            "AssignableScopes": [scope],
        },
        indent=2,
    )


def role(
    environment: str,
    resource_group: str,
    commands: list[str],
    scenario: str,
    scale_links: tuple[str, ...] = (),
) -> str:
    """The runbook's role: every action its commands call but those checked under the subscription
    (`locations_role` holds them), assignable on the stack's resource group only.
    `scale_links`: the join/assign actions on what the scale set's instance model references, which a
    scale-out (`az vmss scale`) also needs (403 LinkedAuthorizationFailed without them)."""
    called = actions(commands)
    if "Microsoft.Compute/virtualMachineScaleSets/write" in called:
        called = sorted({*called, *scale_links})
    return _definition(
        role_name(environment, scenario),
        f"What the {scenario} runbook's az commands call (generated from them).",
        [action for action in called if not subscription_scoped(action)],
        f"{SUBSCRIPTION}/resourceGroups/{resource_group}",
    )


def locations_role(environment: str, commands: list[str], scenario: str) -> str | None:
    """The role holding only the actions the runbook's commands call under the subscription (SUBSCRIPTION_
    SCOPED), assignable there; None when they call none."""
    called = [action for action in actions(commands) if subscription_scoped(action)]
    if not called:
        return None
    return _definition(
        locations_role_name(environment, scenario),
        f"What the {scenario} runbook's az commands call under the subscription's Microsoft.DocumentDB "
        "locations (generated from them); nothing on any account.",
        called,
        SUBSCRIPTION,
    )


def locations_note(environment: str, commands: list[str], scenario: str, resource_group: str) -> str:
    """The permissions note of a runbook with a locations role: where each role is assigned, and the second
    role's definition ("" when the runbook needs none)."""
    second = locations_role(environment, commands, scenario)
    if second is None:
        return ""
    return (
        f"Assign `{role_name(environment, scenario)}` (above) on the resource group `{resource_group}`. "
        "Its commands also call actions Azure checks under the subscription (`Microsoft.DocumentDB/"
        "locations/...`: the restorable accounts, the restore, the status of each Cosmos DB change), so "
        f"assign this second role, `{locations_role_name(environment, scenario)}`, on the subscription; it "
        "holds those actions only, so no Cosmos DB account outside the resource group can be changed:\n\n"
        f"```json\n{second}\n```"
    )
