"""NoSQL tier: Cosmos DB for NoSQL holding the service's items, reached privately with Entra ID only."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pulumi
import pulumi_azure_native.authorization as authorization
import pulumi_azure_native.cosmosdb as cosmosdb

from azure_stack.diagnostics import send_diagnostics
from azure_stack.names import other_account_prefix
from azure_stack.placement import Placement
from azure_stack.private_endpoints import private_endpoint
from azure_stack.tier import Tier
from refarch.errors import Problem, SpecError
from refarch.spec import Store
from sample_service.cosmos_layout import CONTAINER_DEFAULT_TTL, PARTITION_KEY_PATH

DATABASE = "service"
CONTAINER = "items"
# What the service calls and nothing more (sample_service/stores/cosmos.py: read_item, upsert_item; the SDK
# reads the account's metadata first): not the built-in Data Contributor, which adds create, replace,
# delete, query, change feed and stored procedures. Action names from "Azure Cosmos DB for NoSQL data plane
# actions reference" (learn.microsoft.com/azure/cosmos-db/nosql/security/reference-data-plane-actions).
FLEET_DATA_ACTIONS = (
    "Microsoft.DocumentDB/databaseAccounts/readMetadata",
    "Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers/items/read",
    "Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers/items/upsert",
)
# What the stack sets on its own account and its container that a restored account served instead does not
# get from the stack (`_restored`): pulumi/azure/README.md, known limits. The restore-store runbook's steps 2
# to 4 set each on the restored account but zone redundancy, which no restore can set (Blast radius);
# tests/docs/azure/test_azure_restore_store_account.py holds the runbook to this list.
NOT_FOLLOWING_A_RESTORED_ACCOUNT = (
    "azure.cosmos_max_throughput (the container's autoscale ceiling)",
    "the container's TTL and indexing policy",
    "store.point_in_time_recovery (backup tier)",
    "zone redundancy",
    "consistency",
    "minimum TLS version",
    "key-based metadata write access",
    "local auth",
    "public network access",
    "tags",
)
NEVER_ON_A_RESTORED_ACCOUNT = "zone redundancy"


@dataclass(frozen=True, kw_only=True)
class ItemStoreArgs:
    placement: Placement
    workspace_id: pulumi.Input[str]
    writer_principal_id: pulumi.Input[str]
    data_subnet_id: pulumi.Input[str]
    dns_zone_id: pulumi.Input[str]
    # The spec's `store` section (point-in-time recovery, deletion protection).
    store: Store
    # Production keeps the longer restore window and spreads the account over zones.
    production: bool
    # `[<env>.azure]`'s autoscale ceiling of the item container (RU/s).
    max_throughput: int
    # An account of the resource group to serve from instead of this stack's own (config `itemsAccount`).
    restored_account: str | None = None
    # An account the fleet served before and instances not yet replaced still use (`itemsAccountDraining`).
    draining_account: str | None = None


class ItemStore(Tier):
    def __init__(self, name: str, args: ItemStoreArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ItemStore", name, opts)
        placement, store = args.placement, args.store
        child = self.child()
        if store.point_in_time_recovery:
            # Restore to any second in the window; production keeps the longer one.
            tier = "Continuous30Days" if args.production else "Continuous7Days"
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
                    "is_zone_redundant": args.production,
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
        if store.deletion_protection:
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
            options={"autoscale_settings": {"max_throughput": args.max_throughput}},
            opts=child,
        )
        # A private endpoint into the data subnet (public access is off) and the account's metrics.
        self._endpoint("items", self.account.id, args)
        self._metrics("items", self.account.id, args)
        # The fleet keeps its grant on the stack's own account also while it serves a restored one: the
        # account's lock covers its children, so deleting the grant would fail (and every later `up` with
        # it), and instances not yet replaced by the rolling upgrade keep writing here until they are.
        self._grant(
            "items",
            placement.name("items"),
            self.account.name,
            self.account.id,
            args,
            [self.container],
        )
        if args.restored_account is None:
            account_id, self.endpoint, self.serving_name = (
                self.account.id,
                self.account.document_endpoint,
                self.account.name,
            )
        else:
            account_id = self._restored(args)
        if args.draining_account is not None:
            self._draining(args)
        # The account the fleet uses: the alerts watch it.
        self.serving_id: pulumi.Output[str] = pulumi.Output.from_input(account_id)
        self.register_outputs(
            {
                "endpoint": self.endpoint,
                "account": self.serving_name,
                "database": DATABASE,
                "container": CONTAINER,
            }
        )

    def _restored(self, args: ItemStoreArgs) -> pulumi.Output[str]:
        """Serve from another account of the resource group (a point-in-time restore of this one): a restore
        copies neither data-plane role assignments nor private endpoints, so it gets both here, with its
        metrics and, like the stack's own, its lock. The stack's own account stays as it is (data, backups,
        lock, private endpoint, the fleet's grant)."""
        name = args.restored_account
        pulumi.log.warn(
            f"itemsAccount: the fleet is served from {name}, which gets the fleet's grant, a private "
            "endpoint, diagnostics and the lock, but not the spec's store settings; these change only the "
            f"stack's own account: {'; '.join(NOT_FOLLOWING_A_RESTORED_ACCOUNT)}. runbooks/azure/"
            f"{args.placement.environment}/restore-store.md, steps 2-4, set each on the restored account "
            f"once, all but {NEVER_ON_A_RESTORED_ACCOUNT}, which stays off (its Blast radius); a later "
            "change of the spec needs `az` (pulumi/azure/README.md, known limits)",
            resource=self,
        )
        found = self._look_up(name, "itemsAccount", args)
        self.endpoint, self.serving_name = found.document_endpoint, name
        grant, endpoint = self._keep_reaching(name, found.id, args)
        reached = [endpoint, self._metrics(other_account_prefix(name), found.id, args)]
        if args.store.deletion_protection:
            # Created after, so deleted before, what it would block: when the account stops being served the
            # lock goes first, then the diagnostics; the grant and endpoint stay while it drains.
            authorization.ManagementLockByScope(
                f"{other_account_prefix(name)}-lock",
                scope=found.id,
                level="CanNotDelete",
                notes="Deletion protection from the environment spec (store.deletion_protection)",
                opts=self.child(depends_on=[grant, *reached]),
            )
        return found.id

    def _draining(self, args: ItemStoreArgs) -> None:
        """An account the fleet served before (the previous restored account, after a switch to another one
        or back to the stack's own): the instances the rolling upgrade has not replaced yet still use it, so
        it keeps what they need, its private endpoint (with its DNS record) and the fleet's data role, and
        nothing more; a restored account about to be served gets the same first, so that its grant and DNS
        record have taken effect before any instance uses it (runbooks/azure/<env>/restore-store.md)."""
        name = args.draining_account
        self._keep_reaching(name, self._look_up(name, "itemsAccountDraining", args).id, args)

    def _look_up(
        self, name: str, key: str, args: ItemStoreArgs
    ) -> pulumi.Output[cosmosdb.GetDatabaseAccountResult]:
        """Looked up, not composed: `pulumi up` stops at the preview if the account does not exist, and once
        the stack's own account exists (from the first deployment on), if `key` names that one."""
        found = cosmosdb.get_database_account_output(
            account_name=name,
            resource_group_name=args.placement.resource_group_name,
            opts=pulumi.InvokeOutputOptions(parent=self),
        )
        return pulumi.Output.all(found, self.account.id).apply(
            lambda both: _not_own(both[0], both[1], name, key, args.placement.environment)
        )

    def _keep_reaching(
        self, name: str, account_id: pulumi.Input[str], args: ItemStoreArgs
    ) -> tuple[cosmosdb.SqlResourceSqlRoleAssignment, pulumi.Resource]:
        """What an instance needs to use another account of the resource group: the fleet's data role on
        its container and a private endpoint. Named by the account, the same whether it is served or
        draining, so moving it from one setting to the other changes neither (nothing replaced)."""
        grant = self._grant(other_account_prefix(name), name, name, account_id, args, [])
        return grant, self._endpoint(other_account_prefix(name), account_id, args)

    def _grant(
        self,
        what: str,
        seed: str,
        account_name: pulumi.Input[str],
        account_id: pulumi.Input[str],
        args: ItemStoreArgs,
        ready: list[pulumi.Resource],
    ) -> cosmosdb.SqlResourceSqlRoleAssignment:
        """The fleet's identity may read and upsert items of the account's container, nothing else: a role of
        the account's own (data-plane role definitions are per account, and a restore copies none), assigned
        on the container (`fleet-role-<what>`, `fleet-writes-<what>`)."""
        common = {"resource_group_name": args.placement.resource_group_name, "account_name": account_name}
        container = pulumi.Output.concat(account_id, f"/dbs/{DATABASE}/colls/{CONTAINER}")
        role = cosmosdb.SqlResourceSqlRoleDefinition(
            f"fleet-role-{what}",
            **common,
            # Stable names, so a re-run finds the same definition and assignment.
            role_definition_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"{seed}/fleet-role")),
            role_name=f"fleet read and upsert {DATABASE}/{CONTAINER}",
            type="CustomRole",
            assignable_scopes=[container],
            permissions=[{"data_actions": list(FLEET_DATA_ACTIONS)}],
            opts=self.child(depends_on=ready),
        )
        return cosmosdb.SqlResourceSqlRoleAssignment(
            f"fleet-writes-{what}",
            **common,
            role_assignment_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"{seed}/fleet")),
            # The definition's ARM ID (its name is the GUID given above).
            role_definition_id=pulumi.Output.concat(account_id, "/sqlRoleDefinitions/", role.name),
            scope=container,
            principal_id=args.writer_principal_id,
            opts=self.child(depends_on=ready),
        )

    def _endpoint(self, name: str, account_id: pulumi.Input[str], args: ItemStoreArgs) -> pulumi.Resource:
        return private_endpoint(
            name,
            placement=args.placement,
            resource_id=account_id,
            group_id="Sql",
            subnet_id=args.data_subnet_id,
            dns_zone_id=args.dns_zone_id,
            parent=self,
        )

    def _metrics(self, name: str, account_id: pulumi.Input[str], args: ItemStoreArgs) -> pulumi.Resource:
        # A Cosmos DB account exports its metrics under the Requests category.
        return send_diagnostics(
            name, resource_id=account_id, workspace_id=args.workspace_id, parent=self, metrics="Requests"
        )


def _not_own(
    found: cosmosdb.GetDatabaseAccountResult, own_id: str | None, name: str, key: str, environment: str
) -> cosmosdb.GetDatabaseAccountResult:
    """The account `key` names, unless it is the stack's own (ARM IDs compare case-insensitively): serving it
    through the setting would make a second grant, endpoint and lock on it, under other names, that a later
    removal of the setting deletes under the fleet. Unknown before the first deployment (no own account yet).
    A RunError: Pulumi prints its message without a traceback."""
    if own_id is not None and found.id.lower() == own_id.lower():
        raise pulumi.RunError(
            str(
                SpecError(
                    environment,
                    [
                        Problem(
                            f"{pulumi.get_project()}:{key}",
                            name,
                            f"must name another account than the stack's own ({own_id.rsplit('/', 1)[-1]}): "
                            "to serve that one, remove the setting",
                        )
                    ],
                )
            )
        )
    return found
