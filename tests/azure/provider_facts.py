"""What Azure documents about the resource types this program uses, in one place: the tests check every
resource of the program against these tables. Each fact names its source; none is read from the program."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

# Name rules and property schemas vendored from the ARM template schemas of the api-versions the installed
# pulumi_azure_native SDK pins (tests/azure/arm_schema/vendor.py regenerates them; each entry names its
# source path, and `_source` the repository and commit).
ARM_SCHEMA = Path(__file__).with_name("arm_schema")
NAMES = json.loads((ARM_SCHEMA / "names.json").read_text())
DEFINITIONS = json.loads((ARM_SCHEMA / "definitions.json").read_text())

# Pulumi (module/Kind[/child...]) of a resource an input refers to -> its ARM resource type (the offline
# mocks give IDs the Pulumi shape; ARM schemas check the real one).
ARM_TYPES = {
    "network/ApplicationGateway": "Microsoft.Network/applicationGateways",
    "network/PublicIPAddress": "Microsoft.Network/publicIPAddresses",
    "network/NetworkSecurityGroup": "Microsoft.Network/networkSecurityGroups",
    "monitor/AutoscaleSetting": "Microsoft.Insights/autoscalesettings",
    "apimanagement/ApiManagementService": "Microsoft.ApiManagement/service",
    "keyvault/Vault": "Microsoft.KeyVault/vaults",
    "cosmosdb/DatabaseAccount": "Microsoft.DocumentDB/databaseAccounts",
    "redisenterprise/RedisEnterprise": "Microsoft.Cache/redisEnterprise",
    "redisenterprise/Database": "Microsoft.Cache/redisEnterprise/databases",
    "storage/StorageAccount/blobServices": "Microsoft.Storage/storageAccounts/blobServices",
    "network/VirtualNetwork": "Microsoft.Network/virtualNetworks",
    "network/ApplicationSecurityGroup": "Microsoft.Network/applicationSecurityGroups",
    "operationalinsights/Workspace": "Microsoft.OperationalInsights/workspaces",
}


@dataclass(frozen=True)
class Diagnostics:
    logs: bool  # whether the type has resource logs (so the allLogs category group)
    metrics: frozenset[str]  # the metric categories a diagnostic setting may name


# Azure Monitor reference, "Supported logs for <type>" and "Supported metrics for <type>"
# (learn.microsoft.com/azure/azure-monitor/reference/supported-logs/..., .../supported-metrics/...).
DIAGNOSTICS = {
    "Microsoft.Network/applicationGateways": Diagnostics(True, frozenset({"AllMetrics"})),
    "Microsoft.Network/publicIPAddresses": Diagnostics(True, frozenset({"AllMetrics"})),
    # NSG flow and event logs only; an NSG has no platform metrics to export.
    "Microsoft.Network/networkSecurityGroups": Diagnostics(True, frozenset()),
    "Microsoft.Insights/autoscalesettings": Diagnostics(True, frozenset({"AllMetrics"})),
    "Microsoft.ApiManagement/service": Diagnostics(True, frozenset({"AllMetrics"})),
    "Microsoft.KeyVault/vaults": Diagnostics(True, frozenset({"AllMetrics"})),
    # "Monitor Azure Cosmos DB": the diagnostic setting's metric category is Requests.
    "Microsoft.DocumentDB/databaseAccounts": Diagnostics(True, frozenset({"Requests"})),
    # "Supported metrics for Microsoft.Cache/redisEnterprise": the cluster has the metrics; it has no logs.
    "Microsoft.Cache/redisEnterprise": Diagnostics(False, frozenset({"AllMetrics"})),
    # "Supported logs for Microsoft.Cache/redisEnterprise/databases": ConnectionEvents, and no metrics.
    "Microsoft.Cache/redisEnterprise/databases": Diagnostics(True, frozenset()),
    # "Supported metrics for Microsoft.Storage/storageAccounts/blobServices": categories Transaction and
    # Capacity; the blob capacity metrics are not exportable, so a setting exports Transaction.
    "Microsoft.Storage/storageAccounts/blobServices": Diagnostics(True, frozenset({"Transaction"})),
}

# Metric alerts: the metrics each namespace publishes and their finest time grain (minutes), from the same
# "Supported metrics for <type>" pages. An alert evaluated more often than the grain sees no new data.
METRICS = {
    "Microsoft.Network/applicationGateways": {"HealthyHostCount": 1, "UnhealthyHostCount": 1},
    # Azure Managed Redis: "CPU" (percentProcessorTime), "Server Load", "Used Memory Percentage": PT5M, PT1H.
    "Microsoft.Cache/redisEnterprise": {
        "percentProcessorTime": 5,
        "serverLoad": 5,
        "usedmemorypercentage": 5,
    },
    "Microsoft.DocumentDB/databaseAccounts": {"TotalRequests": 1},
}

# "Automatic VM guest patching for Azure VMs", supported OS images (an excerpt of the Linux list): an image
# off the list is refused with AutomaticByPlatform. Debian is not on it.
AUTOMATIC_PATCHING_IMAGES = {
    ("Canonical", "0001-com-ubuntu-server-jammy", "22_04-lts"),
    ("Canonical", "0001-com-ubuntu-server-jammy", "22_04-lts-gen2"),
}

# "Virtual network configuration reference: API Management", required ports, external mode (stv2): the
# inbound (source service tag, protocol, port) the subnet's NSG must admit. The VNet-to-VNet UDP 4290 is
# how units synchronise rate-limit counters; the NSG's deny-all overrides the default VNet rule.
APIM_INBOUND = (
    ("Internet", "Tcp", 443),
    ("ApiManagement", "Tcp", 3443),
    ("AzureLoadBalancer", "Tcp", 6390),
    ("VirtualNetwork", "Udp", 4290),
)

# "Terminate notification for Azure Virtual Machine Scale Set instances": notBeforeTimeout from 5 to 15
# minutes.
TERMINATE_NOTICE_MINUTES = (5, 15)

# "Azure Metadata Service: Scheduled Events for Linux VMs": a Terminate event for this VM is approved by a
# POST of {"StartRequests": [{"EventId": ...}]} to the same endpoint.
SCHEDULED_EVENTS_PATH = "/metadata/scheduledevents"


@dataclass(frozen=True)
class HealthExtensionVersion:
    settings: frozenset[str]  # every setting the version's schema has
    # What a healthy http answer must carry beyond a status code: (body field, value), or None.
    healthy_body: tuple[str, str] | None
    healthy_statuses: range  # the status codes that can count as healthy


# "Using Application Health extension with Virtual Machine Scale Sets"
# (learn.microsoft.com/azure/virtual-machine-scale-sets/virtual-machine-scale-sets-health-extension):
# Binary Health States (1.0) count a 200 as Healthy; Rich Health States (2.0) need a 2xx whose body has
# {"ApplicationHealthState": "Healthy"}, and anything else ends as Unknown, which rolling upgrades treat
# as unhealthy and automatic repairs replace. gracePeriod exists only in 2.0's schema.
HEALTH_EXTENSION_VERSIONS = {
    "1.0": HealthExtensionVersion(
        frozenset({"protocol", "port", "requestPath", "intervalInSeconds", "numberOfProbes"}),
        None,
        range(200, 201),
    ),
    "2.0": HealthExtensionVersion(
        frozenset({"protocol", "port", "requestPath", "intervalInSeconds", "numberOfProbes", "gracePeriod"}),
        ("ApplicationHealthState", "Healthy"),
        range(200, 300),
    ),
}
