"""StackFacts of one GCP environment, read from its offline preview inventory (refarch/inventory.py).

Every figure comes from a registered resource's inputs; the stack's output names come from the program's
own `pulumi.export` calls (the inventory records resources, not outputs). Nothing is read from the spec.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Any

from refarch import ROOT
from refarch.boot import written_environment
from refarch.inventory import Inventory, Resource
from refarch.spec import EnvironmentSpec
from tools.docs import prices
from tools.docs.commands.pulumi_cli import exports
from tools.docs.gcp import costs, graph, state
from tools.docs.gcp import inventory as inv
from tools.docs.gcp.inventory import (
    AUTOSCALER,
    BACKEND,
    CACHE,
    DATABASE,
    GROUP,
    HEALTH_CHECK,
    LOG_BUCKET,
    TEMPLATE,
    TTL_FIELD,
)
from tools.docs.model import FailureMode, HealthCheck, Output, ResourceFact, StackFacts

PROGRAM = ROOT / "pulumi" / "gcp" / "gcp_stack" / "program.py"
PROJECT_DIR = "pulumi/gcp"


def exported(program: Path = PROGRAM) -> list[tuple[str, str]]:
    """(output name, the expression it exports) for each output the program exports."""
    return list(exports(program).items())


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
    built = StackFacts(
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
        cost_lines=costs.lines(model, prices.load(), group.get("region"), minimum),
        extra=extra(group, cache, env),
        escalation=inv.escalation(model),
        details=details(model, group, cache, database, env),
    )
    return replace(built, failure_modes=failure_modes(built))


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
        # The fleet's binding on its own database (the only conditioned one without a clone): its role (the
        # custom role's full name) and member (the fleet's service account), for reading its bindings back.
        "fleet_grant": next(
            (g.get("role"), g.get("member"))
            for g in model.of_type("gcp:projects/iAMMember:IAMMember")
            if g.get("condition", None) is not None
        ),
        "delete_protection": database.get("deleteProtectionState") == "DELETE_PROTECTION_ENABLED",
        # The TTL policy the stack gives its own database (a clone does not copy it): collection, field.
        "ttl_field": tuple(model.only(TTL_FIELD).get(key) for key in ("collection", "field")),
        "shutdown_grace": int(env["SHUTDOWN_GRACE_SECONDS"]),
        "session_ttl": int(env["SESSION_TTL_SECONDS"]),
        "uptime_path": model.only(inv.UPTIME_CHECK).get("httpCheck.path"),
        # How long the uptime check waits for an answer ("10s"): Verification's curl waits as long.
        "uptime_timeout": model.only(inv.UPTIME_CHECK).get("timeout"),
        "alerts": [(policy.name, policy.get("displayName")) for policy in model.of_type(inv.ALERT_POLICY)],
    }


def failure_modes(facts: StackFacts) -> tuple[FailureMode, ...]:
    """What each failure does to this stack, with the recovery time from its own values."""
    hc = facts.health_check
    detect = hc.detection_seconds
    # New instances in the other zones: boot and pass the check (nothing to drain).
    new_capacity = facts.boot_budget_seconds + hc.healthy_seconds
    zones = len(facts.zones)
    lost = facts.lost_per_zone
    ttl = facts.details["session_ttl"]
    return (
        FailureMode(
            mode="instance",
            what_happens=f"the load balancer stops routing to it after {detect} s; autohealing recreates "
            "it once "
            f"its initial delay ({facts.grace_seconds} s) has passed",
            recovery_time=f"unhealthy {hc.unhealthy_threshold} x {hc.interval_seconds} s + boot budget "
            f"{facts.boot_budget_seconds} s + healthy {hc.healthy_threshold} x {hc.interval_seconds} s = "
            f"{facts.recovery_seconds} s",
            data_loss="none: the instance keeps no state; its in-flight requests fail only if it dies "
            "abruptly",
            runbook="replace-one-instance",
        ),
        FailureMode(
            mode="zone",
            what_happens=f"up to {lost} of {facts.min_size} instances at the minimum stop serving; the other "
            f"{zones - 1} zone(s) carry the load and the autoscaler adds capacity there",
            recovery_time=f"{detect} s out of rotation, {new_capacity} s for new capacity",
            data_loss="none",
            runbook="evacuate-zone",
        ),
        FailureMode(
            mode="cache primary",
            what_happens="automatic failover to the replica in another zone"
            if facts.cache_failover
            else "no replica (BASIC tier): the cache is unavailable until Google repairs the node",
            recovery_time="as Memorystore fails over (the address does not change)"
            if facts.cache_failover
            else "until the node is repaired",
            data_loss="sessions written just before the failover (asynchronous replication)"
            if facts.cache_failover
            else f"every session (each lives {ttl} s after its last write); users sign in again",
            runbook="cache-primary-failure",
        ),
        FailureMode(
            mode="store corruption",
            what_happens="a bad release or operator damages items; the live database keeps serving them",
            recovery_time="clone to a new database at a past minute, then switch (see the runbook)",
            data_loss=f"writes after the chosen minute; recovery reach: {facts.store_backup}",
            runbook="restore-store",
        ),
        FailureMode(
            mode="region",
            what_happens=f"everything in {facts.region} stops: the stack is single-region by design",
            recovery_time="not covered: deploy the stack to another region from the repository",
            data_loss="until the region returns, every item: the stack keeps no copy of the store outside it",
            runbook=None,
        ),
    )
