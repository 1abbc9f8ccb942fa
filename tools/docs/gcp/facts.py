"""StackFacts of one GCP environment, read from its offline preview inventory (refarch/inventory.py).

Every figure comes from a registered resource's inputs; the stack's output names come from the program's
own `pulumi.export` calls (the inventory records resources, not outputs). Nothing is read from the spec.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

from refarch import ROOT
from refarch.boot import written_environment
from refarch.inventory import Inventory, Resource
from refarch.spec import EnvironmentSpec
from tools.docs import prices
from tools.docs.gcp import graph, state
from tools.docs.model import CostLine, HealthCheck, Output, ResourceFact, StackFacts

GROUP = "gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager"
AUTOSCALER = "gcp:compute/regionAutoscaler:RegionAutoscaler"
HEALTH_CHECK = "gcp:compute/healthCheck:HealthCheck"
BACKEND = "gcp:compute/backendService:BackendService"
TEMPLATE = "gcp:compute/instanceTemplate:InstanceTemplate"
CACHE = "gcp:redis/instance:Instance"
DATABASE = "gcp:firestore/database:Database"
BACKUPS = "gcp:firestore/backupSchedule:BackupSchedule"
LOG_BUCKET = "gcp:logging/projectBucketConfig:ProjectBucketConfig"
PROGRAM = ROOT / "pulumi" / "gcp" / "gcp_stack" / "program.py"
PROJECT_DIR = "pulumi/gcp"


def exported(program: Path = PROGRAM) -> list[tuple[str, str]]:
    """(output name, the expression it exports) for each `pulumi.export` call in the program."""
    found = []
    for node in ast.walk(ast.parse(program.read_text())):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "export"
            and isinstance(node.args[0], ast.Constant)
        ):
            found.append((node.args[0].value, ast.unparse(node.args[1])))
    return found


def output_lookup(environment: str, name: str) -> str:
    return f"pulumi stack output {name} --stack {environment} --cwd {PROJECT_DIR}"


def config_lookup(environment: str, key: str) -> str:
    return f"pulumi config get {key} --stack {environment} --cwd {PROJECT_DIR}"


def per_zone(size: int, zones: int) -> str:
    low, extra = divmod(size, zones)
    if low == 0:
        return f"1 instance in {size} of {zones} zones, none in the other {zones - size}"
    if extra == 0:
        return f"{low} in each of {zones} zones"
    return f"{low + 1} in {extra} zone(s), {low} in the other {zones - extra}"


def seconds(duration: str) -> int:
    """A protobuf duration ("8467200s") in seconds."""
    match = re.fullmatch(r"(\d+)s", duration)
    if match is None:
        raise ValueError(f"not a duration in seconds: {duration!r}")
    return int(match.group(1))


def facts(environment: str, model: Inventory, spec: EnvironmentSpec) -> StackFacts:
    group = model.only(GROUP)
    policy = model.only(AUTOSCALER).get("autoscalingPolicy")
    check = model.only(HEALTH_CHECK)
    cache = model.only(CACHE)
    database = model.only(DATABASE)
    update = group.get("updatePolicy")
    zones = tuple(group.get("distributionPolicyZones"))
    minimum, maximum = int(policy["minReplicas"]), int(policy["maxReplicas"])
    standard_ha = cache.get("tier") == "STANDARD_HA"
    env = written_environment(model.only(TEMPLATE).get("metadata.startup-script"))
    return StackFacts(
        cloud="gcp",
        environment=environment,
        stack=f"{environment} (Pulumi project refarch-gcp)",
        region=group.get("region"),
        zones=zones,
        min_size=minimum,
        desired=int(group.get("targetSize")),
        max_size=maximum,
        per_zone=per_zone(minimum, len(zones)),
        surge=int(update["maxSurgeFixed"]),
        minimum_healthy=minimum - int(update["maxUnavailableFixed"]),
        health_check=HealthCheck(
            path=check.get("httpHealthCheck.requestPath"),
            interval_seconds=int(check.get("checkIntervalSec")),
            timeout_seconds=int(check.get("timeoutSec")),
            healthy_threshold=int(check.get("healthyThreshold")),
            unhealthy_threshold=int(check.get("unhealthyThreshold")),
        ),
        draining_seconds=int(model.only(BACKEND).get("connectionDrainingTimeoutSec")),
        # Autohealing waits this long after a boot before it judges an instance: the boot budget.
        grace_seconds=int(group.get("autoHealingPolicies.initialDelaySec")),
        boot_budget_seconds=int(group.get("autoHealingPolicies.initialDelaySec")),
        # The autoscaler's cool-down is its initialization period: how long a new instance's CPU is ignored.
        warmup_seconds=int(policy["cooldownPeriod"]),
        cache_replicas=int(cache.get("replicaCount", 0) or (1 if standard_ha else 0)),
        cache_failover=standard_ha,
        store_pitr=database.get("pointInTimeRecoveryEnablement") == "POINT_IN_TIME_RECOVERY_ENABLED",
        store_backup=state.store_backup(model),
        log_retention_days=int(model.only(LOG_BUCKET).get("retentionDays")),
        outputs=tuple(
            Output(name=name, description=f"`{expression}`", lookup=output_lookup(environment, name))
            for name, expression in exported()
        ),
        resources=tuple(
            ResourceFact(type=r.type, name=r.name, properties=dict(r.inputs)) for r in model if r.custom
        ),
        graph=graph.build(model),
        state_places=state.places(model, env),
        cost_lines=cost_lines(model, prices.load()),
        extra=extra(group, cache, env),
        details=details(model, group, cache, database, env),
    )


def cost_lines(model: Inventory, table: prices.PriceTable) -> tuple[CostLine, ...]:
    """One line per resource type, priced from the table or marked not priced with the table's reason."""
    counts: dict[str, int] = {}
    for resource in model:
        if resource.custom:
            counts[resource.type] = counts.get(resource.type, 0) + 1
    lines = []
    for type_, count in sorted(counts.items()):
        price = table.find("gcp", type_)
        lines.append(
            CostLine(
                resource=type_.rsplit(":", 1)[-1],
                type=type_,
                quantity=count,
                unit=price.unit if price else "each",
                unit_price=price.price if price else None,
                monthly=round(count * price.price * prices.HOURS_PER_MONTH, 2) if price else None,
                source=f"{price.source} ({price.date})" if price else "tools/docs/prices.toml",
                note="" if price else table.not_priced.get(("gcp", type_), "no entry in the price table"),
            )
        )
    return tuple(lines)


def extra(group: Resource, cache: Resource, env: dict[str, str]) -> tuple[tuple[str, str], ...]:
    update = group.get("updatePolicy")
    return (
        (
            "update policy",
            f"{update['type']}, minimal action {update['minimalAction']}, replacement "
            f"{update['replacementMethod']}, max surge {update['maxSurgeFixed']}, max unavailable "
            f"{update['maxUnavailableFixed']}, redistribution {update['instanceRedistributionType']}",
        ),
        ("target distribution shape", group.get("distributionPolicyTargetShape")),
        (
            "session cache",
            f"{cache.get('tier')}, {cache.get('memorySizeGb')} GB, {cache.get('redisVersion')}",
        ),
        ("session TTL (boot script's SESSION_TTL_SECONDS)", f"{env['SESSION_TTL_SECONDS']} s"),
        ("service shutdown grace (SHUTDOWN_GRACE_SECONDS)", f"{env['SHUTDOWN_GRACE_SECONDS']} s"),
    )


def details(
    model: Inventory, group: Resource, cache: Resource, database: Resource, env: dict[str, str]
) -> dict[str, Any]:
    """What the runbooks read besides the figures."""
    return {
        "update": group.get("updatePolicy"),
        "shape": group.get("distributionPolicyTargetShape"),
        "base_instance_name": group.get("baseInstanceName"),
        "template_prefix": model.only(TEMPLATE).get("namePrefix"),
        "release": group.get("versions.0.name"),
        "cache_tier": cache.get("tier"),
        "cache_location": cache.get("locationId"),
        "cache_alternative": cache.get("alternativeLocationId", None),
        "database": database.get("name"),
        "delete_protection": database.get("deleteProtectionState") == "DELETE_PROTECTION_ENABLED",
        "shutdown_grace": int(env["SHUTDOWN_GRACE_SECONDS"]),
        "session_ttl": int(env["SESSION_TTL_SECONDS"]),
        "uptime_path": model.only("gcp:monitoring/uptimeCheckConfig:UptimeCheckConfig").get("httpCheck.path"),
        "alerts": [
            (policy.name, policy.get("displayName"))
            for policy in model.of_type("gcp:monitoring/alertPolicy:AlertPolicy")
        ],
    }
