"""Where state lives on Azure (the state-management guide) and what each failure costs (the reliability
report), read from the inventory."""

from __future__ import annotations

from refarch.inventory import Inventory, Resource
from refarch.spec import EnvironmentSpec
from tools.docs.azure import inventory as inv
from tools.docs.model import FailureMode, HealthCheck, StackFacts, StatePlace

# Continuous backup tiers and the restore window each keeps ("Continuous backup with point-in-time restore
# in Azure Cosmos DB": Continuous7Days, Continuous30Days).
CONTINUOUS_DAYS = {"Continuous7Days": 7, "Continuous30Days": 30}


def store_backup(store: Resource) -> str:
    policy = store.get("backupPolicy")
    if policy["type"] == "Continuous":
        tier = policy["continuousModeProperties"]["tier"]
        return f"continuous backup ({tier}): restore to any second of the last {CONTINUOUS_DAYS[tier]} days"
    periodic = policy.get("periodicModeProperties", {})
    return (
        f"periodic backup every {periodic.get('backupIntervalInMinutes')} min, kept "
        f"{periodic.get('backupRetentionIntervalInHours')} h (restore by support request)"
    )


def _blob_retention(model: Inventory, account: str) -> str:
    for service in model.of_type(inv.BLOB_SERVICE):
        if service.get("accountName") == account:
            deleted = service.get("deleteRetentionPolicy")
            return (
                f"versioning {'on' if service.get('isVersioningEnabled') else 'off'}; deleted blobs kept "
                f"{deleted['days']} days"
            )
    return "no blob service properties set"


def places(model: Inventory, spec: EnvironmentSpec) -> tuple[StatePlace, ...]:
    cache, database = model.only(inv.CACHE), model.only(inv.CACHE_DATABASE)
    store, container = model.only(inv.STORE), model.only(inv.CONTAINER)
    vault = model.only(inv.VAULT)
    accounts = {account.name: account for account in model.of_type(inv.STORAGE)}
    persistence = database.get("persistence", {})
    ttl = container.get("resource.defaultTtl", None)
    ha = cache.get("highAvailability") == "Enabled"
    return (
        StatePlace(
            kind="sessions",
            where=(
                f"Azure Managed Redis {cache.get('sku.name')}, database port {database.get('port')}, TLS only"
            ),
            retention=(
                f"TTL {spec.service.session_ttl_seconds} s (spec `service.session_ttl_seconds`); "
                f"eviction {database.get('evictionPolicy')}"
            ),
            backup=f"RDB every {persistence['rdbFrequency']}"
            if persistence.get("rdbEnabled")
            else "none (sessions are recreated at login)",
            failover="a replica on another node is promoted automatically"
            if ha
            else "none: no replica (high availability off); sessions are lost on a node failure",
            rules=("Stateless-ExternalSessions", "Stateless-FleetOnlyCache"),
        ),
        StatePlace(
            kind="items",
            where=(
                f"Cosmos DB (NoSQL) container {container.get('containerName')} in database "
                f"{container.get('databaseName')}"
            ),
            retention="kept until deleted" if ttl in (None, -1) else f"per-item TTL, default {ttl} s",
            backup=store_backup(store),
            failover=(
                "zone redundant in " + store.get("locations.0.locationName")
                if store.get("locations.0.isZoneRedundant")
                else "one zone in " + store.get("locations.0.locationName") + ": no zone redundancy"
            ),
            rules=("Stateless-DurableStateStores",),
        ),
        StatePlace(
            kind="files",
            where=(
                f"storage account {accounts['files'].name} ({accounts['files'].get('sku.name')}), blob "
                "container files"
            ),
            retention=_blob_retention(model, "files"),
            backup="blob versions and soft delete",
            failover=f"{accounts['files'].get('sku.name')} replication",
            rules=("Stateless-DurableStateStores",),
        ),
        StatePlace(
            kind="logs",
            where=(
                f"Log Analytics workspace ({model.only(inv.WORKSPACE).get('sku.name')}), fed by the "
                "monitor agent on every instance"
            ),
            retention=f"{model.only(inv.WORKSPACE).get('retentionInDays')} days",
            backup="none (the workspace is the copy that outlives the instances)",
            failover="regional service",
            rules=("Stateless-DisposableInstances",),
        ),
        StatePlace(
            kind="secrets",
            where="Key Vault (RBAC authorization, private endpoint)",
            retention=(
                f"soft delete {vault.get('properties.softDeleteRetentionInDays')} days, purge "
                f"protection {'on' if vault.get('properties.enablePurgeProtection', False) else 'off'}"
            ),
            backup="soft delete",
            failover="regional service, replicated by the platform",
            rules=(),
        ),
        StatePlace(
            kind="releases",
            where=(
                f"storage account {accounts['releases'].name} "
                f"({accounts['releases'].get('sku.name')}), the service bundle every instance boots"
            ),
            retention=_blob_retention(model, "releases"),
            backup="blob versions and soft delete",
            failover=f"{accounts['releases'].get('sku.name')} replication",
            rules=("Stateless-IdenticalInstances",),
        ),
        StatePlace(
            kind="instance",
            where="nothing: OS disk deleted with the instance, no data disks, no public IP, no SSH key",
            retention="the instance's life",
            backup="none needed",
            failover="automatic repair and the autoscale setting replace instances",
            rules=("Stateless-DisposableInstances", "Stateless-NoFixedIdentity"),
        ),
    )


def detection_seconds(check: HealthCheck) -> int:
    """The gateway stops routing to a failing instance: its unhealthy threshold of probes, the last one
    failing only when its timeout has passed."""
    return check.detection_seconds + check.timeout_seconds


def failure_modes(model: Inventory, facts: StackFacts) -> tuple[FailureMode, ...]:
    scale_set = model.only(inv.SCALE_SET)
    check = facts.health_check
    detection = detection_seconds(check)
    grace = facts.grace_seconds
    zones = facts.zones
    cache = model.only(inv.CACHE)
    store = model.only(inv.STORE)
    ha = cache.get("highAvailability") == "Enabled"
    return (
        FailureMode(
            mode="instance",
            what_happens=f"the gateway stops routing to it after {detection} s; automatic repair replaces it",
            recovery_time=(
                f"detection {check.interval_seconds} s x {check.unhealthy_threshold} + "
                f"{check.timeout_seconds} s = {detection} s "
                f"(no failed requests after); replacement within the repair grace {grace} s"
            ),
            data_loss="none: instances keep no state",
            runbook="replace-one-instance",
        ),
        FailureMode(
            mode="zone",
            what_happens=(
                f"instances in {len(zones)} zones ({', '.join(zones)}); the gateway routes around "
                "the lost zone and "
                "autoscale adds capacity in the others"
                if len(zones) > 1
                else "one zone only: the service is down until the zone returns"
            ),
            recovery_time=f"detection {detection} s; new capacity within the boot budget {grace} s",
            data_loss="none on the fleet; the store is "
            + ("zone redundant" if store.get("locations.0.isZoneRedundant") else "not zone redundant"),
            runbook="evacuate-zone",
        ),
        FailureMode(
            mode="cache primary",
            what_happens="the replica is promoted; clients reconnect"
            if ha
            else "no replica: the cache restarts empty",
            recovery_time="seconds to a minute for the promotion (platform-managed)"
            if ha
            else "until the node is replaced",
            data_loss="writes not yet replicated" if ha else "every session: users sign in again",
            runbook="cache-primary-failure",
        ),
        FailureMode(
            mode="store corruption",
            what_happens="restore the account to a point in time into a new account, then switch the fleet",
            recovery_time="the restore (hours for large accounts) plus one rolling upgrade",
            data_loss="writes after the chosen restore point",
            runbook="restore-store",
        ),
        FailureMode(
            mode="region",
            what_happens=(
                f"the stack lives in one region ({scale_set.get('location')}): the service is down; "
                "redeploy the stack to another region and restore the store there"
            ),
            recovery_time="hours (a new deployment and a restore); not automated",
            data_loss="per the store's backup; sessions lost",
            runbook=None,
        ),
    )
