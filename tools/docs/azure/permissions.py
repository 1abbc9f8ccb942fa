"""The Azure RBAC actions each `az` command of a runbook needs, so a runbook's permissions are derived from
its commands: a command missing here fails generation. Actions from "Azure permissions for Compute /
Networking / Databases / Monitor" (https://learn.microsoft.com/azure/role-based-access-control/permissions/)."""

from __future__ import annotations

import json
import shlex

from tools.docs.commands import simple_commands

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
    "cosmosdb restore": (
        "Microsoft.DocumentDB/locations/restorableDatabaseAccounts/restore/action",
        "Microsoft.DocumentDB/locations/restorableDatabaseAccounts/read",
        "Microsoft.DocumentDB/databaseAccounts/write",
    ),
    "cosmosdb restorable-database-account list": (
        "Microsoft.DocumentDB/locations/restorableDatabaseAccounts/read",
    ),
    "cosmosdb sql container show": ("Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers/read",),
    # `az cosmosdb sql container update` reads the container, then writes it whole (azure-cli custom.py
    # cli_cosmosdb_sql_container_update); the throughput update writes its throughputSettings.
    "cosmosdb sql container update": (
        "Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers/read",
        "Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers/write",
    ),
    "cosmosdb sql container throughput update": (
        "Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers/throughputSettings/write",
    ),
    "cosmosdb delete": ("Microsoft.DocumentDB/databaseAccounts/delete",),
    # `az cosmosdb update` reads the account, then writes it (PATCH).
    "cosmosdb update": (
        "Microsoft.DocumentDB/databaseAccounts/read",
        "Microsoft.DocumentDB/databaseAccounts/write",
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


def role(
    environment: str,
    resource_group: str,
    commands: list[str],
    scenario: str,
    scale_links: tuple[str, ...] = (),
) -> str:
    """An Azure custom role definition (az role definition create --role-definition @role.json) holding
    exactly the actions the runbook's commands call, assignable on the stack's resource group only.
    `scale_links`: the join/assign actions on what the scale set's instance model references, which a
    scale-out (`az vmss scale`) also needs (403 LinkedAuthorizationFailed without them)."""
    called = actions(commands)
    if "Microsoft.Compute/virtualMachineScaleSets/write" in called:
        called = sorted({*called, *scale_links})
    return json.dumps(
        {
            "Name": f"refarch-{environment}-{scenario}",
            "Description": f"What the {scenario} runbook's az commands call (generated from them).",
            "Actions": called,
            "NotActions": [],
            "AssignableScopes": [f"/subscriptions/<subscription-id>/resourceGroups/{resource_group}"],
        },
        indent=2,
    )
