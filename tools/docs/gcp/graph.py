"""The architecture graph of one GCP stack: nodes from the inventory's resources, edges from what really
connects them (firewall rules matched by address range and service account, the gateway's backend, the load
balancer's chain, IAM grants to the fleet's service account)."""

from __future__ import annotations

import ipaddress

from refarch.inventory import Inventory, Resource
from refarch_pulumi.offline import mock_id
from tools.docs.gcp import inventory as inv
from tools.docs.model import Edge, Graph, Node

# Google's ranges for load balancer proxies and health checks ("Firewall rules", Cloud Load Balancing docs:
# https://cloud.google.com/load-balancing/docs/health-check-concepts#ip-ranges).
LOAD_BALANCER_RANGES = frozenset({"35.191.0.0/16", "130.211.0.0/22"})


def _ports(rule: Resource) -> str:
    allows = rule.get("allows", None) or rule.get("denies", [])
    return ", ".join(f"{a['protocol']}/{'/'.join(a.get('ports', ['all']))}" for a in allows)


def _inside(ranges: list[str], network: str) -> bool:
    target = ipaddress.ip_network(network)
    return any(ipaddress.ip_network(r).subnet_of(target) for r in ranges)


def build(model: Inventory) -> Graph:
    group = model.only(inv.GROUP)
    cache = model.only(inv.CACHE)
    database = model.only(inv.DATABASE)
    fleet_account = model.only(inv.TEMPLATE).get("serviceAccount.email")
    zones = group.get("distributionPolicyZones")
    replicas = cache.get("replicaCount", 0)
    nodes = [
        Node(id="clients", label="Clients", tier="edge"),
        Node(id="gateway", label="API Gateway", tier="edge", type=inv.GATEWAY),
        Node(
            id="load_balancer",
            label="External Application Load Balancer + Cloud Armor",
            tier="edge",
            type=inv.FORWARDING_RULE,
        ),
        Node(
            id="fleet",
            label="Regional managed instance group",
            tier="compute",
            type=group.type,
            detail=f"zones {', '.join(zones)}",
        ),
        Node(
            id="cache",
            label="Memorystore for Redis",
            tier="state",
            type=cache.type,
            detail=f"{cache.get('tier')}, primary {cache.get('locationId')}"
            + (f", {replicas} replica(s)" if replicas else ""),
        ),
        Node(id="store", label=f"Firestore `{database.get('name')}`", tier="state", type=database.type),
        Node(id="google_apis", label="Google APIs (restricted VIP)", tier="network"),
        Node(id="alerting", label="Cloud Monitoring alert policies", tier="monitoring"),
    ]
    for bucket in model.of_type(inv.BUCKET):
        nodes.append(
            Node(id=f"bucket_{bucket.name}", label=f"Bucket {bucket.name}", tier="state", type=bucket.type)
        )
    secret = model.only(inv.SECRET)
    nodes.append(
        Node(id="secret", label=f"Secret {secret.get('secretId')}", tier="identity", type=secret.type)
    )
    edges = [
        Edge(source="clients", target="gateway", kind="integration", label="HTTPS, API key or ID token"),
        Edge(
            source="gateway",
            target="load_balancer",
            kind="integration",
            label="OpenAPI backend address, ID token signed by the gateway's account",
        ),
    ]
    for rule in model.of_type(inv.FIREWALL):
        if fleet_account not in rule.get("targetServiceAccounts", []):
            continue
        label = f"{_ports(rule)} (firewall {rule.name})"
        if rule.get("direction") == "INGRESS" and set(rule.get("sourceRanges", [])) <= LOAD_BALANCER_RANGES:
            edges.append(Edge(source="load_balancer", target="fleet", kind="network rule", label=label))
        elif rule.get("direction") == "EGRESS" and _inside(
            rule.get("destinationRanges", []), cache.get("reservedIpRange")
        ):
            edges.append(Edge(source="fleet", target="cache", kind="network rule", label=label))
        elif rule.get("direction") == "EGRESS":
            edges.append(Edge(source="fleet", target="google_apis", kind="network rule", label=label))
    member = f"serviceAccount:{fleet_account}"
    for grant in model.of_type(inv.PROJECT_GRANT):
        if grant.get("member") != member:
            continue
        role = grant.get("role")
        target = "store" if _on_the_store(model, role) else "alerting"
        condition = grant.get("condition.title", None)
        edges.append(
            Edge(
                source="fleet",
                target=target,
                kind="role grant",
                label=role + (f" (condition {condition})" if condition else ""),
            )
        )
    for grant in model.of_type(inv.BUCKET_GRANT):
        bucket = next(b for b in model.of_type(inv.BUCKET) if _refers(grant.get("bucket"), b))
        if grant.get("member") == member:
            edges.append(
                Edge(
                    source="fleet", target=f"bucket_{bucket.name}", kind="role grant", label=grant.get("role")
                )
            )
    for grant in model.of_type(inv.SECRET_GRANT):
        if grant.get("member") == member:
            edges.append(Edge(source="fleet", target="secret", kind="role grant", label=grant.get("role")))
    edges.append(
        Edge(
            source="alerting",
            target="fleet",
            kind="reference",
            label="alert policies watch the group and backend",
        )
    )
    return Graph(nodes=tuple(nodes), edges=tuple(edges))


def _refers(value: str, bucket: Resource) -> bool:
    """Whether a grant's `bucket` input names this bucket: its id, or the name Pulumi gives it (the logical
    name and a random suffix)."""
    return value in {mock_id(bucket.name), bucket.get("name", bucket.name)} or value.startswith(
        f"{bucket.name}-"
    )


def _on_the_store(model: Inventory, role: str) -> bool:
    """A Firestore role: a predefined `roles/datastore.*` one, or one of the stack's custom roles (by its full
    name, `projects/<project>/roles/<id>`) with Firestore permissions only (the fleet's item role)."""
    if role.startswith("roles/datastore."):
        return True
    return any(
        role == f"projects/{custom.get('project')}/roles/{custom.get('roleId')}"
        and all(permission.startswith("datastore.") for permission in custom.get("permissions"))
        for custom in model.of_type(inv.CUSTOM_ROLE)
    )
