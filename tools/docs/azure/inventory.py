"""Reading an Azure offline-preview inventory (refarch/inventory.py): the resources the documents talk about
and the ARM durations they carry."""

from __future__ import annotations

import re

from refarch.inventory import Inventory, InventoryError, Resource

SCALE_SET = "azure-native:compute:VirtualMachineScaleSet"
AUTOSCALE = "azure-native:monitor:AutoscaleSetting"
GATEWAY = "azure-native:network:ApplicationGateway"
CACHE = "azure-native:redisenterprise:RedisEnterprise"
CACHE_DATABASE = "azure-native:redisenterprise:Database"
STORE = "azure-native:cosmosdb:DatabaseAccount"
CONTAINER = "azure-native:cosmosdb:SqlResourceSqlContainer"
WORKSPACE = "azure-native:operationalinsights:Workspace"
API = "azure-native:apimanagement:ApiManagementService"
API_BACKEND = "azure-native:apimanagement:Backend"
VAULT = "azure-native:keyvault:Vault"
STORAGE = "azure-native:storage:StorageAccount"
BLOB_SERVICE = "azure-native:storage:BlobServiceProperties"
NSG = "azure-native:network:NetworkSecurityGroup"
VNET = "azure-native:network:VirtualNetwork"
PRIVATE_ENDPOINT = "azure-native:network:PrivateEndpoint"
ROLE_ASSIGNMENT = "azure-native:authorization:RoleAssignment"
COSMOS_ROLE = "azure-native:cosmosdb:SqlResourceSqlRoleAssignment"
COSMOS_ROLE_DEFINITION = "azure-native:cosmosdb:SqlResourceSqlRoleDefinition"
CACHE_ACCESS = "azure-native:redisenterprise:AccessPolicyAssignment"
IDENTITY = "azure-native:managedidentity:UserAssignedIdentity"
METRIC_ALERT = "azure-native:monitor:MetricAlert"
QUERY_ALERT = "azure-native:monitor:ScheduledQueryRule"
ACTION_GROUP = "azure-native:monitor:ActionGroup"


# The stack output recording the spec's alarms.escalation (azure_stack/program.py exports it).
ESCALATION_OUTPUT = "escalation"


def escalation(inventory: Inventory) -> str | None:
    """Who to page when a runbook says Escalation, as the stack's output records it; None when unset."""
    return inventory.outputs.get(ESCALATION_OUTPUT)


def iso_seconds(duration: str) -> int:
    """Seconds in an ISO 8601 duration as ARM writes them (PT14M, PT120S, PT1H30M)."""
    match = re.fullmatch(r"PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?", duration)
    if not match or not any(match.groups()):
        raise ValueError(f"not an ARM duration: {duration!r}")
    hours, minutes, seconds = (int(part or 0) for part in match.groups())
    return hours * 3600 + minutes * 60 + seconds


def name_in_id(resource_id: str) -> str:
    """The last name in an ARM id (the offline mocks end ids in the Pulumi resource name)."""
    return resource_id.rstrip("/").split("/")[-1]


def by_id(inventory: Inventory, resource_id: str) -> Resource | None:
    """The resource an id refers to, by the name the offline mocks put last in every id."""
    parts = resource_id.split("/providers/", 1)[-1].split("/")
    for resource in inventory:
        named = len(parts) >= 3 and resource.name == parts[2]
        if resource.custom and named and resource.type.split(":")[-1] == parts[1]:
            return resource
    return None


def subnet_of(inventory: Inventory, prefix: str) -> str | None:
    """The subnet whose address range is `prefix`."""
    for subnet in inventory.only(VNET).get("subnets"):
        if subnet.get("addressPrefix") == prefix:
            return subnet["name"]
    return None


def nsg_subnet(inventory: Inventory, nsg: Resource) -> str:
    for subnet in inventory.only(VNET).get("subnets"):
        if name_in_id(subnet.get("networkSecurityGroup", {}).get("id", "")) == nsg.name:
            return subnet["name"]
    raise InventoryError(f"network security group {nsg.name} guards no subnet")
