"""Where each kind of state lives in one AWS stack, read from the template, with the rule ids that
enforce each statement (refarch/rules/catalogue.py)."""

from __future__ import annotations

from typing import Any

from refarch.rules import PACK
from tools.docs.aws.service import service_environment
from tools.docs.aws.template import Template
from tools.docs.model import StatePlace

# DynamoDB keeps continuous backups for 35 days unless the table sets a shorter recovery period
# ("Point-in-time recovery for DynamoDB", Amazon DynamoDB Developer Guide:
# https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/PointInTimeRecovery.html).
PITR_DEFAULT_DAYS = 35


def rule(suffix: str) -> str:
    return f"{PACK}-{suffix}"


def zone_of(template: Template, subnet: str | None, region: str) -> str:
    """A subnet's zone as the template places it: a literal name, or the n-th zone of the region."""
    zone: Any = template.resources[subnet]["Properties"]["AvailabilityZone"]
    if isinstance(zone, str):
        return zone
    index = zone["Fn::Select"][0]
    return f"{region} zone #{int(index) + 1}"


def store_backup(template: Template) -> str:
    _, table = template.only("AWS::DynamoDB::Table")
    spec = table.get("PointInTimeRecoverySpecification", {})
    if not spec.get("PointInTimeRecoveryEnabled"):
        return "none: point-in-time recovery is off"
    days = spec.get("RecoveryPeriodInDays", PITR_DEFAULT_DAYS)
    return f"point-in-time recovery to any second of the last {days} days"


def _retention_days(body: dict[str, Any]) -> str:
    days = body["Properties"].get("RetentionInDays")
    return f"{days} days" if days else "never expires"


def places(template: Template) -> tuple[StatePlace, ...]:
    cache_id, cache = template.only("AWS::ElastiCache::ReplicationGroup")
    table_id, table = template.only("AWS::DynamoDB::Table")
    replicas = int(cache["ReplicasPerNodeGroup"])
    env = service_environment(template)
    buckets = template.of_type("AWS::S3::Bucket")
    files_id = next(name for name, body in buckets.items() if "VersioningConfiguration" in body["Properties"])
    files = buckets[files_id]["Properties"]
    noncurrent = [
        rule_["NoncurrentVersionExpiration"]["NoncurrentDays"]
        for rule_ in files.get("LifecycleConfiguration", {}).get("Rules", [])
        if "NoncurrentVersionExpiration" in rule_
    ]
    logs = template.of_type("AWS::Logs::LogGroup")
    secrets = template.of_type("AWS::SecretsManager::Secret")
    _, launch = template.only("AWS::EC2::LaunchTemplate")
    volumes = launch["LaunchTemplateData"].get("BlockDeviceMappings", [])
    ttl = table.get("TimeToLiveSpecification", {})
    return (
        StatePlace(
            kind="sessions",
            where=f"ElastiCache replication group `{cache_id}` ({cache['Engine']} {cache['EngineVersion']}, "
            f"{cache['CacheNodeType']}, TLS {cache['TransitEncryptionMode']}, AUTH token)",
            retention=f"each session expires {env['SESSION_TTL_SECONDS']} s after its last write "
            "(SESSION_TTL_SECONDS in the launch template's service environment)",
            backup=f"daily snapshot kept {cache.get('SnapshotRetentionLimit', 0)} day(s); sessions are not "
            "restored from it (they are short-lived; clients sign in again)",
            failover=(
                f"Multi-AZ automatic failover to one of {replicas} replica(s)"
                if cache.get("AutomaticFailoverEnabled")
                else "none: a single node; losing it loses every session"
            ),
            rules=(rule("ExternalSessions"), rule("FleetOnlyCache"), rule("NoAffinity")),
        ),
        StatePlace(
            kind="items",
            where=f"DynamoDB table `{table_id}` ({table['BillingMode']}, KMS encryption)",
            retention=f"until deleted; items with `{ttl.get('AttributeName')}` set expire"
            if ttl.get("Enabled")
            else "until deleted",
            backup=store_backup(template)
            + (
                "; deletion protection on"
                if table.get("DeletionProtectionEnabled")
                else "; deletion protection off"
            ),
            failover="managed: DynamoDB replicates every table across three zones of the region",
            rules=(rule("DurableStateStores"),),
        ),
        StatePlace(
            kind="files",
            where=f"S3 bucket `{files_id}` (public access blocked, encrypted, "
            f"versioning {files['VersioningConfiguration']['Status'].lower()})",
            retention="until deleted; "
            + (f"previous versions kept {noncurrent[0]} days" if noncurrent else "previous versions kept"),
            backup="object versioning (overwritten and deleted objects recoverable while their versions "
            "live)",
            failover="managed: S3 stores objects across at least three zones of the region",
            rules=(rule("DurableStateStores"),),
        ),
        StatePlace(
            kind="logs",
            where=f"{len(logs)} CloudWatch Logs groups: " + ", ".join(f"`{name}`" for name in sorted(logs)),
            retention="; ".join(f"`{name}` {_retention_days(body)}" for name, body in sorted(logs.items())),
            backup="none beyond retention (managed, regional)",
            failover="managed by CloudWatch Logs",
        ),
        StatePlace(
            kind="secrets",
            where=f"{len(secrets)} Secrets Manager secret(s): "
            + ", ".join(f"`{name}`" for name in sorted(secrets)),
            retention="until deleted (a deleted secret is recoverable for its recovery window)",
            backup="managed by Secrets Manager",
            failover="managed: regional service",
            rules=(rule("FleetOnlyCache"),),
        ),
        StatePlace(
            kind="releases",
            where="the release bundle, a CDK asset in the bootstrap bucket, pinned by the RELEASE id the "
            "launch template's user data names; one launch template version per release",
            retention="while the CDK bootstrap bucket keeps the asset",
            backup="rebuild from the commit (`cdk deploy` uploads it again)",
            failover="managed: S3",
            rules=(rule("IdenticalInstances"),),
        ),
        StatePlace(
            kind="instance",
            where="nothing: "
            + ", ".join(
                f"root volume {m['DeviceName']} deleted with the instance"
                if m.get("Ebs", {}).get("DeleteOnTermination")
                else f"volume {m['DeviceName']} OUTLIVES the instance"
                for m in volumes
            )
            + "; no key pair; no public address",
            retention="the instance's life",
            backup="none needed: any instance is rebuilt from the launch template",
            failover="the Auto Scaling group replaces it",
            rules=(rule("DisposableInstances"), rule("NoFixedIdentity"), rule("ReplaceAtFullCapacity")),
        ),
    )
