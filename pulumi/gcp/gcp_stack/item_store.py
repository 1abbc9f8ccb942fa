"""NoSQL tier: a Firestore (native mode) database with a TTL policy for expiring items, point-in-time
recovery, and delete protection plus weekly backups in production. Only the fleet may read and write it."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp.firestore as firestore
import pulumi_gcp.projects as projects

from gcp_stack.tier import Tier
from refarch.spec import Store
from sample_service.firestore_layout import COLLECTION, TTL_FIELD

# What the service does to items (sample_service/stores/firestore.py): a document's get (BatchGetDocuments:
# datastore.entities.get) and its set, a commit without a precondition (datastore.entities.create and
# datastore.entities.update): "Required permissions for API methods", cloud.google.com/firestore/docs/
# security/iam. Not roles/datastore.user, which adds delete, list, queries and transactions.
FLEET_ITEM_PERMISSIONS = ("datastore.entities.create", "datastore.entities.get", "datastore.entities.update")
# Weekly backups kept 14 weeks (Firestore's maximum for weekly schedules), beyond PITR's 7 days.
BACKUP_RETENTION = f"{14 * 7 * 24 * 3600}s"


def database_name(environment: str) -> str:
    return f"{environment}-items"


def fleet_role_id(environment: str) -> str:
    """The fleet's custom role: project-scoped, so one per environment sharing a project. A role ID is
    letters, digits, `_` and `.`, at most 64 characters (cloud.google.com/iam/docs/creating-custom-roles,
    REST projects.roles.create): an environment name (at most 16 of lower-case letters, digits and `-`)
    with `_` for `-` fits, and stays distinct (no name has `_`)."""
    return f"fleetItems_{environment.replace('-', '_')}"


def grant_name(own: str, database: str) -> str:
    """The fleet's binding on one database: `fleet-uses-items` on the stack's own, `fleet-uses-database-<id>`
    on another (keyed by the database, not its role, so serving or draining it keeps the same resource)."""
    return "fleet-uses-items" if database == own else f"fleet-uses-database-{database}"


def grant_title(database: str) -> str:
    # At most 68 characters (a database ID has at most 63), within IAM's limit on a condition's title.
    return f"only-{database}"


@dataclass(frozen=True, kw_only=True)
class ItemStoreArgs:
    environment: str
    production: bool
    store: Store
    project: str
    region: str
    # The member that reads and writes items (the fleet's service account).
    user: pulumi.Input[str]
    # A database of the project to serve from instead of this stack's own (config `itemsDatabase`).
    restored_database: str | None = None
    # A database the fleet is granted but does not serve (`itemsDatabaseDraining`): about to be served, or
    # served before and still used by instances not yet replaced.
    draining_database: str | None = None


class ItemStore(Tier):
    def __init__(self, name: str, args: ItemStoreArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ItemStore", name, opts)
        store, project = args.store, args.project
        protected = store.deletion_protection
        self.database = firestore.Database(
            "items",
            name=database_name(args.environment),
            location_id=args.region,
            type="FIRESTORE_NATIVE",
            concurrency_mode="PESSIMISTIC",
            app_engine_integration_mode="DISABLED",
            point_in_time_recovery_enablement=(
                "POINT_IN_TIME_RECOVERY_ENABLED"
                if store.point_in_time_recovery
                else "POINT_IN_TIME_RECOVERY_DISABLED"
            ),
            delete_protection_state="DELETE_PROTECTION_ENABLED"
            if protected
            else "DELETE_PROTECTION_DISABLED",
            # A protected database outlives `pulumi destroy`; others go with their stack.
            deletion_policy="ABANDON" if protected else "DELETE",
            opts=self.child(protect=protected),
        )
        firestore.Field(
            "items-ttl",
            database=self.database.name,
            collection=COLLECTION,
            field=TTL_FIELD,
            ttl_config=firestore.FieldTtlConfigArgs(),
            # No single-field indexes on the TTL timestamp: nothing queries it, and it would hotspot.
            index_config=firestore.FieldIndexConfigArgs(),
            opts=self.child(),
        )
        own, restored, draining = (
            database_name(args.environment),
            args.restored_database,
            args.draining_database,
        )
        # Read, not composed: `pulumi up` stops at the preview if the clone is misspelt or absent.
        clone, drained = (
            firestore.Database.get(name, id=f"projects/{project}/databases/{db}", opts=self.child())
            if db
            else None
            for name, db in (("items-restored", restored), ("items-draining", draining))
        )
        # What the fleet waits for before instances boot: its grant and, on a clone, the clone's schedule.
        self.prerequisites: list[pulumi.Resource] = []
        if args.production:
            # The stack's own database keeps its schedule; a clone the fleet uses gets one too (a clone takes
            # no backup schedule from its source).
            for name, database in (("weekly", self.database), ("weekly-restored", clone)):
                if database is not None:
                    schedule = firestore.BackupSchedule(
                        name,
                        database=database.name,
                        retention=BACKUP_RETENTION,
                        weekly_recurrence=firestore.BackupScheduleWeeklyRecurrenceArgs(day="SUNDAY"),
                        opts=self.child(),
                    )
                    if database is clone:
                        self.prerequisites.append(schedule)
        # The database the fleet uses: the stack's own, or a clone of it the stack config names. A clone is a
        # new database, so the instances' FIRESTORE_DATABASE, the alert and the output follow it; the stack's
        # own database stays, with its data, backups and protection.
        self.serving: pulumi.Output[str] = clone.name if clone else self.database.name
        # A database instances not yet replaced may still call (or, granted first, about to be served).
        self.draining: pulumi.Output[str] | None = drained.name if drained else None
        # One binding per database the fleet may use, each with a condition naming that database only, though
        # the role is granted on the project. A changed condition replaces a binding, and the provider deletes
        # a projects.IAMMember before it creates its replacement (pulumi-gcp PR #2650, DeleteBeforeReplace);
        # so no condition ever changes: granting or draining a database creates or deletes its own binding,
        # and a switch leaves every binding as it was. Instances not yet replaced keep their database's grant.
        # Defined before the first deployment: changing a binding's `role` later replaces it, delete first.
        # A deleted custom role is kept 7 days and its ID is not reusable for up to 37; the provider undeletes
        # one of the same ID on create (pulumi_gcp projects.IAMCustomRole's notes).
        self.role = projects.IAMCustomRole(
            "fleet-items-role",
            project=project,
            role_id=fleet_role_id(args.environment),
            title=f"Fleet items ({args.environment})",
            description="Get and set the service's item documents; granted per database by a condition",
            permissions=list(FLEET_ITEM_PERMISSIONS),
            opts=self.child(),
        )
        self.grants = [
            projects.IAMMember(
                grant_name(own, name),
                project=project,
                role=self.role.name,
                member=args.user,
                condition=projects.IAMMemberConditionArgs(
                    title=grant_title(name),
                    expression=database.name.apply(
                        lambda db: f'resource.name == "projects/{project}/databases/{db}"'
                    ),
                ),
                opts=self.child(),
            )
            for name, database in ((own, self.database), (restored, clone), (draining, drained))
            if name and database is not None
        ]
        self.prerequisites[:0] = self.grants
        self.register_outputs({"database": self.serving})
