"""The architecture diagram's nodes and edges, from the inventory's own references: NSG rules between
subnets (and the tier each subnet holds), private endpoints, role assignments, the API's backend, the
gateway's pool, the autoscale setting and the alerts' action group."""

from __future__ import annotations

from refarch.inventory import Inventory
from tools.docs.azure import inventory as inv
from tools.docs.model import Edge, Graph, Node

# What runs in each subnet (the Pulumi program's subnet names): the node an NSG rule's edge ends at.
SUBNET_TIER = {"apim": "api", "gateway": "agw", "app": "fleet", "data": "data-subnet"}
# Service tags an NSG rule admits from, drawn as sources of their own.
TAGS = {
    "Internet": "internet",
    "ApiManagement": "azure-apim-control",
    "GatewayManager": "azure-gateway-manager",
}


def _nodes(inventory: Inventory) -> list[Node]:
    scale_set = inventory.only(inv.SCALE_SET)
    zones = ", ".join(scale_set.get("zones", []))
    capacity = inventory.only(inv.AUTOSCALE).get("profiles.0.capacity")
    cache = inventory.only(inv.CACHE)
    store = inventory.only(inv.STORE)
    backup = store.get("backupPolicy")
    nodes = [
        Node(id="internet", label="Internet", tier="edge"),
        Node(
            id="api",
            label="API Management",
            tier="edge",
            type=inv.API,
            detail=(
                f"{inventory.only(inv.API).get('sku.name')} x{inventory.only(inv.API).get('sku.capacity')}"
            ),
        ),
        Node(
            id="agw",
            label="Application Gateway",
            tier="edge",
            type=inv.GATEWAY,
            detail=(
                f"{inventory.only(inv.GATEWAY).get('sku.name')}, zones "
                f"{', '.join(inventory.only(inv.GATEWAY).get('zones', [])) or 'none'}"
            ),
        ),
        Node(
            id="fleet",
            label="VM Scale Set (Flexible)",
            tier="compute",
            type=inv.SCALE_SET,
            detail=f"{scale_set.get('sku.name')}, {capacity['minimum']}-{capacity['maximum']}, zones {zones}",
        ),
        Node(id="autoscale", label="Autoscale setting", tier="compute", type=inv.AUTOSCALE),
        Node(id="data-subnet", label="data subnet (private endpoints)", tier="network"),
        Node(
            id="sessions",
            label="Azure Managed Redis",
            tier="state",
            type=inv.CACHE,
            detail=f"{cache.get('sku.name')}, high availability {cache.get('highAvailability')}",
        ),
        Node(
            id="items",
            label="Cosmos DB (NoSQL)",
            tier="state",
            type=inv.STORE,
            detail=f"{backup['type']} backup, zone redundant {store.get('locations.0.isZoneRedundant')}",
        ),
        Node(id="identity", label="fleet managed identity", tier="identity", type=inv.IDENTITY),
        Node(id="vault", label="Key Vault", tier="identity", type=inv.VAULT),
        Node(id="on-call", label="Action group", tier="monitoring", type=inv.ACTION_GROUP),
        Node(id="alerts", label="Metric and log alerts", tier="monitoring"),
    ]
    for account in inventory.of_type(inv.STORAGE):
        nodes.append(
            Node(
                id=account.name,
                label=f"Storage account {account.name}",
                tier="state",
                type=inv.STORAGE,
                detail=account.get("sku.name"),
            )
        )
    for tag, node in TAGS.items():
        if node != "internet":
            nodes.append(Node(id=node, label=f"service tag {tag}", tier="edge"))
    return nodes


def _nsg_edges(inventory: Inventory) -> list[Edge]:
    edges = []
    for nsg in inventory.of_type(inv.NSG):
        target = SUBNET_TIER[inv.nsg_subnet(inventory, nsg)]
        for rule in nsg.get("securityRules"):
            if rule.get("access") != "Allow" or rule.get("direction") != "Inbound":
                continue
            source = rule.get("sourceAddressPrefix")
            node = TAGS.get(source) or SUBNET_TIER.get(inv.subnet_of(inventory, source) or "")
            if node is None:
                continue  # platform probes (AzureLoadBalancer, VirtualNetwork) are not part of the picture
            ports = rule.get("destinationPortRanges") or [rule.get("destinationPortRange")]
            label = f"{rule['protocol'].lower()}/{','.join(ports)} ({nsg.name} {rule['name']})"
            edges.append(Edge(source=node, target=target, kind="network rule", label=label))
    return edges


def _endpoint_edges(inventory: Inventory) -> list[Edge]:
    edges = []
    for endpoint in inventory.of_type(inv.PRIVATE_ENDPOINT):
        for connection in endpoint.get("privateLinkServiceConnections"):
            target = inv.by_id(inventory, connection["privateLinkServiceId"])
            if target is not None:
                node = {inv.CACHE: "sessions", inv.STORE: "items", inv.VAULT: "vault"}.get(
                    target.type, target.name
                )
                edges.append(
                    Edge(
                        source="data-subnet",
                        target=node,
                        kind="reference",
                        label=f"private endpoint {endpoint.name} ({', '.join(connection['groupIds'])})",
                    )
                )
    return edges


def _data_actions(role) -> list[str]:
    """A role's data actions, short (`readMetadata`, `items/read`): the edge names account and container."""
    return [
        action.removeprefix("Microsoft.DocumentDB/databaseAccounts/").removeprefix("sqlDatabases/containers/")
        for permission in role.get("permissions")
        for action in permission["dataActions"]
    ]


def _grant_edges(inventory: Inventory) -> list[Edge]:
    edges = []
    for grant in inventory.of_type(inv.ROLE_ASSIGNMENT):
        target = inv.by_id(inventory, grant.get("scope"))
        principal = "identity" if grant.name.startswith("fleet") else "api"
        node = {inv.VAULT: "vault"}.get(target.type, target.name) if target else "resource-group"
        edges.append(Edge(source=principal, target=node, kind="role grant", label=grant.get("description")))
    # The stack's own data-plane roles by their GUID: a grant is labelled with the role's name and actions.
    defined = {role.get("roleDefinitionId"): role for role in inventory.of_type(inv.COSMOS_ROLE_DEFINITION)}
    for grant in inventory.of_type(inv.COSMOS_ROLE):
        guid = inv.name_in_id(grant.get("roleDefinitionId"))
        role = defined.get(guid)
        what = f"{role.get('roleName')} ({', '.join(_data_actions(role))})" if role else guid
        edges.append(
            Edge(
                source="identity",
                target="items",
                kind="role grant",
                label=f"Cosmos DB data role {what} on {grant.get('scope').split('/dbs/')[-1]}",
            )
        )
    for grant in inventory.of_type(inv.CACHE_ACCESS):
        edges.append(
            Edge(
                source="identity",
                target="sessions",
                kind="role grant",
                label=(
                    f"access policy {grant.get('accessPolicyName')} on database {grant.get('databaseName')}"
                ),
            )
        )
    return edges


def _integration_edges(inventory: Inventory) -> list[Edge]:
    backend = inventory.only(inv.API_BACKEND)
    gateway = inventory.only(inv.GATEWAY)
    pool = gateway.get("backendAddressPools.0.name")
    return [
        Edge(source="internet", target="api", kind="integration", label="HTTPS to the API"),
        Edge(
            source="api",
            target="agw",
            kind="integration",
            label=f"backend {backend.get('backendId')}: {backend.get('url')}",
        ),
        Edge(
            source="agw",
            target="fleet",
            kind="integration",
            label=(
                f"pool {pool}, port {gateway.get('backendHttpSettingsCollection.0.port')}, probe "
                f"{gateway.get('probes.0.path')}"
            ),
        ),
        Edge(source="autoscale", target="fleet", kind="reference", label="scales on Percentage CPU"),
        Edge(source="identity", target="fleet", kind="reference", label="assigned to every instance"),
        Edge(
            source="alerts",
            target="on-call",
            kind="integration",
            label=(
                f"{inventory.count(inv.METRIC_ALERT)} metric + {inventory.count(inv.QUERY_ALERT)} log alerts"
            ),
        ),
    ]


def build(inventory: Inventory) -> Graph:
    edges = (
        _nsg_edges(inventory)
        + _endpoint_edges(inventory)
        + _grant_edges(inventory)
        + _integration_edges(inventory)
    )
    return Graph(nodes=tuple(_nodes(inventory)), edges=tuple(edges))
