"""Where each kind of state lives in one GCP stack, read from its inventory, with the rule ids that enforce
each statement (refarch/rules/catalogue.py)."""

from __future__ import annotations

from refarch.inventory import Inventory
from refarch.rules import PACK
from tools.docs.gcp import inventory as inv
from tools.docs.model import StatePlace

# Firestore keeps point-in-time recovery versions for 7 days when PITR is on ("Point-in-time recovery
# (PITR)", Firestore documentation: https://cloud.google.com/firestore/docs/pitr).
PITR_DAYS = 7


def rule(suffix: str) -> str:
    return f"{PACK}-{suffix}"


def _days(value: str) -> int:
    return int(value.removesuffix("s")) // 86400


def store_backup(model: Inventory) -> str:
    database = model.only(inv.DATABASE)
    parts = []
    if database.get("pointInTimeRecoveryEnablement") == "POINT_IN_TIME_RECOVERY_ENABLED":
        parts.append(f"point-in-time recovery to any minute of the last {PITR_DAYS} days")
    for schedule in (r for r in model if r.type == inv.BACKUPS):
        when = (
            f"weekly backups (on {schedule.get('weeklyRecurrence.day').capitalize()}s)"
            if schedule.get("weeklyRecurrence", None) is not None
            else "daily backups"
        )
        parts.append(f"{when} kept {_days(schedule.get('retention'))} days")
    return "; ".join(parts) or "none: no point-in-time recovery and no backup schedule"


def places(model: Inventory, env: dict[str, str]) -> tuple[StatePlace, ...]:
    cache = model.only(inv.CACHE)
    database = model.only(inv.DATABASE)
    buckets = {bucket.name: bucket for bucket in model.of_type(inv.BUCKET)}
    files, releases = buckets["files"], buckets["releases"]
    logs = model.only(inv.LOG_BUCKET)
    secret = model.only(inv.SECRET)
    template = model.only(inv.TEMPLATE)
    standard_ha = cache.get("tier") == "STANDARD_HA"
    persistence = cache.get("persistenceConfig", None) or {}
    noncurrent = [
        rule_["condition"]["daysSinceNoncurrentTime"]
        for rule_ in files.get("lifecycleRules", [])
        if "daysSinceNoncurrentTime" in rule_.get("condition", {})
    ]
    return (
        StatePlace(
            kind="sessions",
            where=f"Memorystore for Redis `{cache.name}` ({cache.get('tier')}, "
            f"{cache.get('memorySizeGb')} GB), reached only by the fleet over TLS with AUTH",
            retention=f"each session expires {env['SESSION_TTL_SECONDS']} s after its last write",
            backup=(
                f"RDB snapshots every {persistence['rdbSnapshotPeriod'].lower().replace('_', ' ')}"
                if persistence.get("persistenceMode") == "RDB"
                else "none (sessions are re-created by signing in again)"
            ),
            failover=(
                f"automatic to a replica in `{cache.get('alternativeLocationId', None)}`"
                if standard_ha
                else "none: BASIC tier has no replica; a failure loses every session"
            ),
            rules=(rule("ExternalSessions"), rule("FleetOnlyCache")),
        ),
        StatePlace(
            kind="items",
            where=f"Firestore (native) database `{database.get('name')}` in `{database.get('locationId')}`",
            retention="until deleted"
            + "".join(
                f"; items of `{ttl.get('collection')}` expire at their `{ttl.get('field')}` (TTL policy)"
                for ttl in model
                if ttl.type == inv.TTL_FIELD and ttl.get("ttlConfig", None) is not None
            ),
            backup=store_backup(model),
            failover="regional database: Google replicates it across zones of the region",
            rules=(rule("DurableStateStores"),),
        ),
        StatePlace(
            kind="files",
            where=f"Cloud Storage bucket `{files.name}` (uniform access, public access prevented)",
            retention="until deleted"
            + (f"; noncurrent versions {noncurrent[0]} days" if noncurrent else "")
            + f"; soft-deleted objects {files.get('softDeletePolicy.retentionDurationSeconds') // 86400} "
            "days",
            backup="object versioning" if files.get("versioning.enabled") else "none",
            failover=f"regional bucket in `{files.get('location')}`",
            rules=(rule("DurableStateStores"),),
        ),
        StatePlace(
            kind="logs",
            where=f"Cloud Logging bucket `{logs.get('bucketId')}` (a sink routes the tier's logs there)",
            retention=f"{logs.get('retentionDays')} days",
            backup="none (logs are evidence, not state the service reads)",
            failover="managed by Cloud Logging",
            rules=(rule("DisposableInstances"),),
        ),
        StatePlace(
            kind="secrets",
            where=f"Secret Manager secret `{secret.get('secretId')}` (the cache AUTH string)",
            retention="every version until destroyed",
            backup="versions",
            failover="replicated to "
            + ", ".join(r["location"] for r in secret.get("replication.userManaged.replicas", [])),
            rules=(rule("FleetOnlyCache"),),
        ),
        StatePlace(
            kind="releases",
            where=f"Cloud Storage bucket `{releases.name}`: each release's bundle, read by instances at boot",
            retention="every release stays (instances on an older template still boot it)",
            backup="object versioning" if releases.get("versioning.enabled") else "none",
            failover=f"regional bucket in `{releases.get('location')}`",
            rules=(rule("IdenticalInstances"),),
        ),
        StatePlace(
            kind="instance",
            where="nothing: the boot disk is deleted with its instance"
            if all(disk.get("autoDelete") for disk in template.get("disks"))
            else "a disk outlives its instance",
            retention="the instance's life",
            backup="none needed",
            failover="the group replaces an instance that fails its health check",
            rules=(rule("DisposableInstances"), rule("NoFixedIdentity"), rule("LoadBalancerHealth")),
        ),
    )
