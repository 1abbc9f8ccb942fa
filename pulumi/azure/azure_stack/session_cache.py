"""Cache tier: Azure Managed Redis holding the sessions, TLS only, private, Entra ID only.

Access keys are disabled: the fleet's identity is the database's only user (an access policy
assignment), so no key exists to appear in outputs, logs, state or an instance's custom data.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_azure_native.redisenterprise as redisenterprise

from azure_stack.diagnostics import send_diagnostics
from azure_stack.network import CACHE_PORT
from azure_stack.placement import Placement
from azure_stack.private_endpoints import private_endpoint
from azure_stack.tier import Tier
from refarch.spec import Cache


@dataclass(frozen=True, kw_only=True)
class SessionCacheArgs:
    placement: Placement
    workspace_id: pulumi.Input[str]
    user_principal_id: pulumi.Input[str]
    data_subnet_id: pulumi.Input[str]
    dns_zone_id: pulumi.Input[str]
    # The spec's `cache` section (replicas, snapshots) and `[<env>.azure]`'s cache SKU.
    cache: Cache
    sku: str


class SessionCache(Tier):
    def __init__(self, name: str, args: SessionCacheArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("SessionCache", name, opts)
        placement, cache = args.placement, args.cache
        child = self.child()
        # The spec's replicas mean "survive a node or zone loss": Azure Managed Redis does that with high
        # availability (a replica in another zone where the region has zones), not a replica count.
        replicated = cache.replicas > 0
        self.cluster = redisenterprise.RedisEnterprise(
            "sessions",
            resource_group_name=placement.resource_group_name,
            location=placement.location,
            sku={"name": args.sku},
            high_availability="Enabled" if replicated else "Disabled",
            minimum_tls_version="1.2",
            public_network_access="Disabled",
            tags=placement.tags,
            opts=child,
        )
        # Snapshots restore sessions after the loss of both copies; without high availability there is only
        # one copy, and sessions expire within hours anyway, so a snapshot buys nothing there.
        persistence = (
            {"rdb_enabled": True, "rdb_frequency": "1h"}
            if replicated and cache.snapshot_retention_days
            else None
        )
        self.database = redisenterprise.Database(
            "sessions-database",
            resource_group_name=placement.resource_group_name,
            cluster_name=self.cluster.name,
            database_name="default",
            client_protocol="Encrypted",
            port=CACHE_PORT,
            # The proxy hides the shards, so the service's plain (non-cluster) client works unchanged.
            clustering_policy="EnterpriseCluster",
            # Every session has a TTL: under memory pressure evict the nearest to expiry, never refuse writes.
            eviction_policy="VolatileTTL",
            access_keys_authentication="Disabled",
            persistence=persistence,
            opts=child,
        )
        redisenterprise.AccessPolicyAssignment(
            "fleet-uses-sessions",
            # Letters and digits only: the name Pulumi would derive from the logical name has hyphens.
            access_policy_assignment_name="fleet",
            resource_group_name=placement.resource_group_name,
            cluster_name=self.cluster.name,
            database_name=self.database.name,
            access_policy_name="default",
            user={"object_id": args.user_principal_id},
            opts=child,
        )
        private_endpoint(
            "sessions",
            placement=placement,
            resource_id=self.cluster.id,
            group_id="redisEnterprise",
            subnet_id=args.data_subnet_id,
            dns_zone_id=args.dns_zone_id,
            parent=self,
        )
        # The database logs connection events and has no metrics; the cluster has the metrics and no logs.
        send_diagnostics(
            "sessions",
            resource_id=self.database.id,
            workspace_id=args.workspace_id,
            parent=self,
            metrics=None,
        )
        send_diagnostics(
            "sessions-cluster",
            resource_id=self.cluster.id,
            workspace_id=args.workspace_id,
            parent=self,
            logs=False,
        )
        self.host = self.cluster.host_name
        self.register_outputs({"host": self.host, "port": CACHE_PORT})
