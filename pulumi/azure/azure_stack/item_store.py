"""NoSQL tier: Cosmos DB for NoSQL holding the service's items, reached privately with Entra ID only."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pulumi
import pulumi_azure_native.authorization as authorization
import pulumi_azure_native.cosmosdb as cosmosdb

from azure_stack.diagnostics import send_diagnostics
from azure_stack.placement import Placement
from azure_stack.private_endpoints import private_endpoint
from azure_stack.tier import Tier
from sample_service.cosmos_layout import CONTAINER_DEFAULT_TTL, PARTITION_KEY_PATH

DATABASE = "service"
CONTAINER = "items"
# Cosmos DB Built-in Data Contributor: read and write items, nothing on the account's control plane.
DATA_CONTRIBUTOR = "00000000-0000-0000-0000-000000000002"


@dataclass(frozen=True, kw_only=True)
class ItemStoreArgs:
    placement: Placement
    workspace_id: pulumi.Input[str]
    writer_principal_id: pulumi.Input[str]
    data_subnet_id: pulumi.Input[str]
    dns_zone_id: pulumi.Input[str]


class ItemStore(Tier):
    def __init__(self, name: str, args: ItemStoreArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ItemStore", name, opts)
        placement, spec = args.placement, args.placement.spec
        child = self.child()
        if spec.store.point_in_time_recovery:
            # Restore to any second in the window; production keeps the longer one.
            tier = "Continuous30Days" if spec.production else "Continuous7Days"
            backup = {"type": "Continuous", "continuous_mode_properties": {"tier": tier}}
        else:
            backup = {"type": "Periodic"}
        self.account = cosmosdb.DatabaseAccount(
            "items",
            resource_group_name=placement.resource_group_name,
            location=placement.location,
            kind="GlobalDocumentDB",
            database_account_offer_type="Standard",
            locations=[
                {
                    "location_name": placement.location,
                    "failover_priority": 0,
                    "is_zone_redundant": spec.production,
                }
            ],
            # Any instance may serve a client's next request, so a read must see every earlier write.
            consistency_policy={"default_consistency_level": "Strong"},
            backup_policy=backup,
            disable_local_auth=True,
            disable_key_based_metadata_write_access=True,
            public_network_access="Disabled",
            minimal_tls_version="Tls12",
            tags=placement.tags,
            opts=child,
        )
        if spec.store.deletion_protection:
            authorization.ManagementLockByScope(
                "items-lock",
                scope=self.account.id,
                level="CanNotDelete",
                notes="Deletion protection from the environment spec (store.deletion_protection)",
                opts=child,
            )
        common = {"resource_group_name": placement.resource_group_name, "account_name": self.account.name}
        database = cosmosdb.SqlResourceSqlDatabase(
            "items-database", **common, database_name=DATABASE, resource={"id": DATABASE}, opts=child
        )
        self.container = cosmosdb.SqlResourceSqlContainer(
            "items-container",
            **common,
            database_name=database.name,
            container_name=CONTAINER,
            resource={
                "id": CONTAINER,
                "partition_key": {"paths": [PARTITION_KEY_PATH], "kind": "Hash", "version": 2},
                "default_ttl": CONTAINER_DEFAULT_TTL,
                # Point reads only: indexing nothing makes every write cheaper.
                "indexing_policy": {
                    "indexing_mode": "consistent",
                    "included_paths": [],
                    "excluded_paths": [{"path": "/*"}],
                },
            },
            options={"autoscale_settings": {"max_throughput": spec.azure.cosmos_max_throughput}},
            opts=child,
        )
        cosmosdb.SqlResourceSqlRoleAssignment(
            "fleet-writes-items",
            **common,
            # A stable name, so a re-run finds the same assignment.
            role_assignment_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"{placement.name('items')}/fleet")),
            role_definition_id=pulumi.Output.concat(
                self.account.id, "/sqlRoleDefinitions/", DATA_CONTRIBUTOR
            ),
            scope=pulumi.Output.concat(self.account.id, f"/dbs/{DATABASE}/colls/{CONTAINER}"),
            principal_id=args.writer_principal_id,
            opts=self.child(depends_on=[self.container]),
        )
        private_endpoint(
            "items",
            placement=placement,
            resource_id=self.account.id,
            group_id="Sql",
            subnet_id=args.data_subnet_id,
            dns_zone_id=args.dns_zone_id,
            parent=self,
        )
        # A Cosmos DB account exports its metrics under the Requests category.
        send_diagnostics(
            "items",
            resource_id=self.account.id,
            workspace_id=args.workspace_id,
            parent=self,
            metrics="Requests",
        )
        self.endpoint = self.account.document_endpoint
        self.register_outputs({"endpoint": self.endpoint, "database": DATABASE, "container": CONTAINER})
