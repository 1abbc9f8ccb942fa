"""The catalogue's rules over a Google Cloud (pulumi-gcp) inventory: what `pulumi up` would register."""

from __future__ import annotations

import ipaddress

from refarch.inventory import Inventory, Resource
from refarch.rules import boot_script
from refarch.rules.inventory_model import of_type, refers_to
from refarch.rules.results import Checker, Context
from refarch.rules.service_facts import DEFAULT_SHUTDOWN_GRACE_SECONDS, MEMORY_SESSION_BACKEND

TEMPLATES = (
    "gcp:compute/instanceTemplate:InstanceTemplate",
    "gcp:compute/regionInstanceTemplate:RegionInstanceTemplate",
)
GROUPS = (
    "gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager",
    "gcp:compute/instanceGroupManager:InstanceGroupManager",
)
BACKEND = "gcp:compute/backendService:BackendService"
REGION_BACKEND = "gcp:compute/regionBackendService:RegionBackendService"
HEALTH_CHECKS = ("gcp:compute/healthCheck:HealthCheck", "gcp:compute/regionHealthCheck:RegionHealthCheck")
AUTOSCALERS = ("gcp:compute/regionAutoscaler:RegionAutoscaler", "gcp:compute/autoscaler:Autoscaler")
FIREWALL = "gcp:compute/firewall:Firewall"
REDIS = "gcp:redis/instance:Instance"


def _all(inventory: Inventory, types: tuple[str, ...]) -> list[Resource]:
    return [resource for type_ in types for resource in of_type(inventory, type_)]


def _script(template: Resource) -> str | None:
    metadata = template.get("metadata", None) or {}
    script = metadata.get("startup-script") or template.get("metadataStartupScript", None)
    return script if isinstance(script, str) else None


def _fleet_accounts(inventory: Inventory) -> set[str]:
    return {
        str(template.get("serviceAccount.email", None))
        for template in _all(inventory, TEMPLATES)
        if template.get("serviceAccount.email", None)
    }


def _admits(rule: Resource, port: int) -> bool:
    for allow in rule.get("allows", None) or []:
        if allow.get("protocol") in ("all", "tcp") and not allow.get("ports"):
            return True
        for ports in allow.get("ports") or []:
            low, _, high = str(ports).partition("-")
            if (
                allow.get("protocol") in ("tcp", "all")
                and low.isdigit()
                and int(low) <= port <= int(high or low)
            ):
                return True
    return False


def _targets_fleet(rule: Resource, accounts: set[str]) -> bool:
    """A rule with no targets applies to every instance in the network, the fleet's too."""
    targets = rule.get("targetServiceAccounts", None) or []
    tags = rule.get("targetTags", None) or []
    return (not targets and not tags) or bool(set(targets) & accounts)


def _overlaps(ranges: list[str], network: str) -> bool:
    try:
        cache = ipaddress.ip_network(network, strict=False)
        return any(cache.overlaps(ipaddress.ip_network(r, strict=False)) for r in ranges)
    except ValueError:
        return False


# --- the rules ------------------------------------------------------------------------------------------


def no_affinity(inventory: Inventory, context: Context, check: Checker) -> None:
    for backend in of_type(inventory, BACKEND) + of_type(inventory, REGION_BACKEND):
        # "The default is NONE" (pulumi_gcp.compute.BackendService, session_affinity).
        value = backend.get("sessionAffinity", "NONE (default)")
        check.expect(backend, "sessionAffinity", value, value.startswith("NONE"), "NONE")


def disposable_instances(inventory: Inventory, context: Context, check: Checker) -> None:
    for template in _all(inventory, TEMPLATES):
        disks = template.get("disks", None) or []
        extra = [d for d in disks if not d.get("boot")]
        check.expect(template, "disks (non-boot)", len(extra), not extra, "none: the boot disk only")
        for i, disk in enumerate(disks):
            value = disk.get("autoDelete", True)
            check.expect(template, f"disks[{i}].autoDelete", value, value is True or value == "true", "true")
        if (script := _script(template)) is not None:
            mounts = boot_script.network_mounts(script)
            check.expect(template, "metadata.startup-script (network mounts)", mounts, not mounts, "none")
    for share in of_type(inventory, "gcp:filestore/instance:Instance"):
        check.expect(share, "type", share.type, False, "no Filestore share for the fleet")


def no_fixed_identity(inventory: Inventory, context: Context, check: Checker) -> None:
    accounts = _fleet_accounts(inventory)
    for template in _all(inventory, TEMPLATES):
        for i, interface in enumerate(template.get("networkInterfaces", None) or []):
            configs = interface.get("accessConfigs") or []
            check.expect(
                template,
                f"networkInterfaces[{i}].accessConfigs",
                len(configs),
                not configs,
                "none (no external IP)",
            )
        metadata = template.get("metadata", None) or {}
        check.expect(
            template,
            "metadata.ssh-keys",
            metadata.get("ssh-keys"),
            not metadata.get("ssh-keys"),
            "absent",
        )
        blocked = str(metadata.get("block-project-ssh-keys", "")).upper()
        check.expect(template, "metadata.block-project-ssh-keys", blocked, blocked == "TRUE", "TRUE")
    for rule in of_type(inventory, FIREWALL):
        if rule.get("direction", "INGRESS") == "INGRESS" and _targets_fleet(rule, accounts):
            check.expect(
                rule, "admits port 22 to the fleet", _admits(rule, 22), not _admits(rule, 22), "false"
            )


def load_balancer_health(inventory: Inventory, context: Context, check: Checker) -> None:
    checks = _all(inventory, HEALTH_CHECKS)
    for group in _all(inventory, GROUPS):
        policy = group.get("autoHealingPolicies", None) or {}
        policy = policy[0] if isinstance(policy, list) and policy else policy
        reference = (policy or {}).get("healthCheck")
        used = [hc for hc in checks if refers_to(reference, hc)]
        check.expect(
            group,
            "autoHealingPolicies.healthCheck",
            reference,
            bool(used),
            "a health check in the stack",
        )
        for health in used:
            path = health.get("httpHealthCheck.requestPath", None) or health.get(
                "httpsHealthCheck.requestPath", None
            )
            check.expect(
                health,
                "httpHealthCheck.requestPath",
                path,
                path == context.health_path,
                context.health_path,
            )
    for backend in of_type(inventory, BACKEND) + of_type(inventory, REGION_BACKEND):
        reference = backend.get("healthChecks", None)
        references = reference if isinstance(reference, list) else [reference]
        same = [hc.name for hc in checks if any(refers_to(r, hc) for r in references)]
        for health in [hc for hc in checks if hc.name in same]:
            path = health.get("httpHealthCheck.requestPath", None) or health.get(
                "httpsHealthCheck.requestPath", None
            )
            check.expect(
                backend,
                f"healthChecks -> {health.name}.requestPath",
                path,
                path == context.health_path,
                context.health_path,
            )


def replace_at_full_capacity(inventory: Inventory, context: Context, check: Checker) -> None:
    for group in _all(inventory, GROUPS):
        policy = group.get("updatePolicy", None) or {}
        zones = len(group.get("distributionPolicyZones", None) or []) or 1
        surge = policy.get("maxSurgeFixed")
        if surge is None and policy.get("maxSurgePercent") is None:
            # Left out, the surge is the number of zones the group runs in; so is maxUnavailable, which
            # must therefore be stated (Compute Engine API, InstanceGroupManagerUpdatePolicy).
            surge = zones
        ok = isinstance(surge, int) and surge >= zones
        check.expect(group, "updatePolicy.maxSurgeFixed", surge, ok, f">= the number of zones ({zones})")
        unavailable = policy.get("maxUnavailableFixed", policy.get("maxUnavailablePercent"))
        check.expect(group, "updatePolicy.maxUnavailableFixed", unavailable, unavailable == 0, "0")


def drain_before_stop(inventory: Inventory, context: Context, check: Checker) -> None:
    for template in _all(inventory, TEMPLATES):
        script = _script(template)
        if script is None:
            continue
        grace = int(
            boot_script.variables(script).get("SHUTDOWN_GRACE_SECONDS", DEFAULT_SHUTDOWN_GRACE_SECONDS)
        )
        drains = []
        for backend in of_type(inventory, BACKEND) + of_type(inventory, REGION_BACKEND):
            # Left out, draining is whatever the provider defaults to; the rule needs it stated.
            drain = backend.get("connectionDrainingTimeoutSec", None)
            drains.append(drain if isinstance(drain, int) else 0)
            check.expect(
                backend,
                "connectionDrainingTimeoutSec",
                drain,
                isinstance(drain, int) and drain >= grace,
                f"set, >= SHUTDOWN_GRACE_SECONDS ({grace})",
            )
        stop = boot_script.stop_timeout(script)
        longest = max([grace, *drains])
        check.expect(
            template,
            "startup-script TimeoutStopSec",
            stop,
            stop is not None and stop > grace and stop >= longest,
            f"> SHUTDOWN_GRACE_SECONDS ({grace}) and >= draining ({longest})",
        )


def external_sessions(inventory: Inventory, context: Context, check: Checker) -> None:
    caches = of_type(inventory, REDIS)
    ranges = [str(c.get("reservedIpRange", "")) for c in caches if c.get("reservedIpRange", None)]
    for template in _all(inventory, TEMPLATES):
        script = _script(template)
        if script is None:
            continue
        env = boot_script.variables(script)
        backend = env.get("SESSION_BACKEND", "redis (default)")
        check.expect(
            template,
            "startup-script SESSION_BACKEND",
            backend,
            backend != MEMORY_SESSION_BACKEND,
            "not memory",
        )
        host = env.get("CACHE_HOST")
        points = bool(host) and _overlaps(ranges, f"{host}/32")
        check.expect(
            template,
            "startup-script CACHE_HOST",
            host,
            points,
            f"an address in the cache's range ({', '.join(ranges) or 'no cache'})",
        )
        ttl = env.get("SESSION_TTL_SECONDS")
        check.expect(
            template,
            "startup-script SESSION_TTL_SECONDS",
            ttl,
            ttl is not None and ttl.isdigit() and int(ttl) > 0,
            "a positive number of seconds",
        )


def durable_state_stores(inventory: Inventory, context: Context, check: Checker) -> None:
    for database in of_type(inventory, "gcp:firestore/database:Database"):
        pitr = database.get("pointInTimeRecoveryEnablement", "POINT_IN_TIME_RECOVERY_DISABLED (default)")
        check.expect(
            database,
            "pointInTimeRecoveryEnablement",
            pitr,
            pitr == "POINT_IN_TIME_RECOVERY_ENABLED",
            "POINT_IN_TIME_RECOVERY_ENABLED",
        )
        if context.production:
            value = database.get("deleteProtectionState", "DELETE_PROTECTION_DISABLED (default)")
            check.expect(
                database,
                "deleteProtectionState",
                value,
                value == "DELETE_PROTECTION_ENABLED",
                "DELETE_PROTECTION_ENABLED in production",
            )
    for bucket in of_type(inventory, "gcp:storage/bucket:Bucket"):
        value = bucket.get("versioning.enabled", None)
        check.expect(bucket, "versioning.enabled", value, value is True or value == "true", "true")
    if context.production:
        for cache in of_type(inventory, REDIS):
            # Defaults: tier BASIC, transitEncryptionMode DISABLED (pulumi_gcp.redis.Instance).
            tier = cache.get("tier", "BASIC (default)")
            check.expect(cache, "tier", tier, tier == "STANDARD_HA", "STANDARD_HA in production")
            zones = (cache.get("locationId", None), cache.get("alternativeLocationId", None))
            check.expect(
                cache,
                "locationId / alternativeLocationId",
                list(zones),
                all(zones) and zones[0] != zones[1],
                "two different zones in production",
            )


def zone_spread(inventory: Inventory, context: Context, check: Checker) -> None:
    autoscalers = _all(inventory, AUTOSCALERS)
    for group in _all(inventory, GROUPS):
        zones = group.get("distributionPolicyZones", None) or (
            [group.get("zone", None)] if group.get("zone", None) else []
        )
        check.expect(group, "distributionPolicyZones", zones, len(zones) >= 2, "at least two zones")
        if context.production:
            for autoscaler in autoscalers:
                if refers_to(autoscaler.get("target", None), group):
                    minimum = autoscaler.get("autoscalingPolicy.minReplicas", None)
                    ok = isinstance(minimum, int) and minimum >= len(zones)
                    check.expect(
                        autoscaler,
                        "autoscalingPolicy.minReplicas",
                        minimum,
                        ok,
                        f">= the number of zones ({len(zones)}) in production",
                    )


def identical_instances(inventory: Inventory, context: Context, check: Checker) -> None:
    for template in _all(inventory, TEMPLATES):
        for i, disk in enumerate(template.get("disks", None) or []):
            if disk.get("boot"):
                image = disk.get("sourceImage")
                # An image family names whichever image is newest when an instance is created.
                pinned = (
                    isinstance(image, str) and "/family/" not in image and not image.startswith("family/")
                )
                check.expect(
                    template, f"disks[{i}].sourceImage", image, pinned, "a specific image, not a family"
                )


def scaling_owns_count(inventory: Inventory, context: Context, check: Checker) -> None:
    autoscalers = _all(inventory, AUTOSCALERS)
    for group in _all(inventory, GROUPS):
        size = group.get("targetSize", None)
        if size is None:
            check.expect(group, "targetSize", size, True, "absent (the autoscaler sets it)")
        else:
            # A size for the first creation is fine once deployments leave it to the autoscaler.
            ignored = "targetSize" in (group.options.get("ignoreChanges") or [])
            check.expect(
                group, "targetSize in ignoreChanges", ignored, ignored, "true (the autoscaler owns the count)"
            )
        owners = [
            a.name
            for a in autoscalers
            if refers_to(a.get("target", None), group) and a.get("autoscalingPolicy.mode", "ON") == "ON"
        ]
        check.expect(group, "autoscaler in mode ON targeting the group", owners, bool(owners), "one")


def fleet_only_cache(inventory: Inventory, context: Context, check: Checker) -> None:
    accounts = _fleet_accounts(inventory)
    firewalls = of_type(inventory, FIREWALL)
    for cache in of_type(inventory, REDIS):
        mode = cache.get("transitEncryptionMode", "DISABLED (default)")
        check.expect(
            cache,
            "transitEncryptionMode",
            mode,
            mode == "SERVER_AUTHENTICATION",
            "SERVER_AUTHENTICATION",
        )
        check.expect(
            cache,
            "authEnabled",
            cache.get("authEnabled", None),
            cache.get("authEnabled", None) is True,
            "true",
        )
        network = cache.get("reservedIpRange", None)
        if not network:
            continue
        # Memorystore is reached over the network's egress rules: only the fleet may be allowed there,
        # and a lower-priority deny must close it to everything else.
        for rule in firewalls:
            if (
                rule.get("direction", "INGRESS") == "EGRESS"
                and rule.get("allows", None)
                and _overlaps(rule.get("destinationRanges", None) or [], network)
            ):
                targets = set(rule.get("targetServiceAccounts", None) or [])
                check.expect(
                    rule,
                    "targetServiceAccounts",
                    sorted(targets),
                    bool(targets) and targets <= accounts,
                    f"the fleet's service account only ({', '.join(sorted(accounts))})",
                )
        denies = [
            r.name
            for r in firewalls
            if r.get("direction", None) == "EGRESS"
            and r.get("denies", None)
            and _overlaps(r.get("destinationRanges", None) or [], network)
            and not r.get("targetServiceAccounts", None)
            and not r.get("targetTags", None)
        ]
        check.expect(
            cache, "egress deny for every other instance", denies, bool(denies), "a deny-all egress rule"
        )
    for template in _all(inventory, TEMPLATES):
        if (script := _script(template)) is not None:
            value = boot_script.variables(script).get("CACHE_TLS", "true (default)")
            check.expect(template, "startup-script CACHE_TLS", value, value.split()[0] == "true", "true")


EVALUATIONS = {
    "Stateless-NoAffinity": (no_affinity, "backend services"),
    "Stateless-DisposableInstances": (disposable_instances, "instance templates"),
    "Stateless-NoFixedIdentity": (no_fixed_identity, "instance templates"),
    "Stateless-LoadBalancerHealth": (load_balancer_health, "managed instance groups"),
    "Stateless-ReplaceAtFullCapacity": (replace_at_full_capacity, "managed instance groups"),
    "Stateless-DrainBeforeStop": (drain_before_stop, "instance templates with a startup script"),
    "Stateless-ExternalSessions": (external_sessions, "instance templates with a startup script"),
    "Stateless-DurableStateStores": (durable_state_stores, "Firestore databases, buckets or caches"),
    "Stateless-ZoneSpread": (zone_spread, "managed instance groups"),
    "Stateless-IdenticalInstances": (identical_instances, "instance templates"),
    "Stateless-ScalingOwnsCount": (scaling_owns_count, "managed instance groups"),
    "Stateless-FleetOnlyCache": (fleet_only_cache, "Memorystore instances"),
}
