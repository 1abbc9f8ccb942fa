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
# command after the change was made (Azure/azure-cli#17418: a sql database delete refused on reading the
# operation status "over scope '/subscriptions/...'"; Azure/bicep#14976: sqlRoleAssignments/operationResults/
# read). The status is read under the subscription (/subscriptions/<id>/providers/Microsoft.DocumentDB/
# locations/<region>/operationsStatus/<id>), so a runbook running such a command assigns its role there.
# Names from "Azure permissions for Databases", Microsoft.DocumentDB ("Reads Status of Asynchronous
# Operations"; "Read status of the asynchronous operation"): https://learn.microsoft.com/azure/
# role-based-access-control/permissions/databases#microsoftdocumentdb
OPERATION_STATUS = "Microsoft.DocumentDB/locations/operationsStatus/read"
ACCOUNT_POLLING = (OPERATION_STATUS, "Microsoft.DocumentDB/databaseAccounts/operationResults/read")
CONTAINER = "Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers"
# Actions on a provider's locations are checked under the subscription (/subscriptions/<id>/providers/
# Microsoft.DocumentDB/locations/...: restorable accounts, operation status), not under a resource group.
SUBSCRIPTION_SCOPED = ("Microsoft.DocumentDB/locations/",)

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
        *ACCOUNT_POLLING,
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
        f"{CONTAINER}/operationResults/read",
        OPERATION_STATUS,
    ),
    "cosmosdb sql container throughput update": (
        f"{CONTAINER}/throughputSettings/write",
        f"{CONTAINER}/throughputSettings/read",
        f"{CONTAINER}/throughputSettings/operationResults/read",
        OPERATION_STATUS,
    ),
    "cosmosdb delete": ("Microsoft.DocumentDB/databaseAccounts/delete", *ACCOUNT_POLLING),
    # `az cosmosdb update` reads the account, then writes it (PATCH), waits and reads it back.
    "cosmosdb update": (
        "Microsoft.DocumentDB/databaseAccounts/read",
        "Microsoft.DocumentDB/databaseAccounts/write",
        *ACCOUNT_POLLING,
    ),
    "cosmosdb sql role assignment list": ("Microsoft.DocumentDB/databaseAccounts/sqlRoleAssignments/read",),
    "lock list": ("Microsoft.Authorization/locks/read",),
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


def actions(commands: list[str]) -> list[str]:
    found = set()
    for snippet in commands:
        for argv in simple_commands(snippet):
            if argv[0] == "az":
                found.update(ACTIONS[_command(argv)])
    return sorted(found)


def needs_subscription_scope(called: list[str]) -> bool:
    return any(action.startswith(SUBSCRIPTION_SCOPED) for action in called)


def role(
    environment: str,
    resource_group: str,
    commands: list[str],
    scenario: str,
    scale_links: tuple[str, ...] = (),
) -> str:
    """An Azure custom role definition (az role definition create --role-definition @role.json) holding
    exactly the actions the runbook's commands call, assignable on the stack's resource group only, or on
    the subscription when an action is checked there (SUBSCRIPTION_SCOPED).
    `scale_links`: the join/assign actions on what the scale set's instance model references, which a
    scale-out (`az vmss scale`) also needs (403 LinkedAuthorizationFailed without them)."""
    called = actions(commands)
    if "Microsoft.Compute/virtualMachineScaleSets/write" in called:
        called = sorted({*called, *scale_links})
    scope = "/subscriptions/<subscription-id>"
    if not needs_subscription_scope(called):
        scope += f"/resourceGroups/{resource_group}"
    return json.dumps(
        {
            "Name": f"refarch-{environment}-{scenario}",
            "Description": f"What the {scenario} runbook's az commands call (generated from them).",
            "Actions": called,
            "NotActions": [],
            "AssignableScopes": [scope],
        },
        indent=2,
    )
