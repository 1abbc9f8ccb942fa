"""StackFacts of one Azure environment, read from its offline-preview inventory.

The spec is read only for what the inventory does not carry, each said where it is: the session TTL (the
service's setting, rendered into the instances' custom data) and the service's shutdown grace.
"""

from __future__ import annotations

import math
from dataclasses import replace

from refarch import ROOT
from refarch.inventory import Inventory
from refarch.spec import EnvironmentSpec
from tools.docs.azure import costs, graph, state
from tools.docs.azure import inventory as inv
from tools.docs.commands.pulumi_cli import exported
from tools.docs.model import HealthCheck, Output, ResourceFact, StackFacts

PROJECT = "pulumi/azure"
# The stack outputs the runbooks look names up from, and what each is.
OUTPUTS = {
    "resourceGroup": "resource group every resource of the stack is in",
    "scaleSet": "VM Scale Set (Flexible) of the service's instances",
    "apiUrl": "the public API's base URL (API Management)",
    "loadBalancerPrivateIp": "the Application Gateway's private frontend, the API's backend",
    "cacheHost": "Azure Managed Redis host name (<cluster>.<region>.redis.azure.net)",
    "cosmosEndpoint": "Cosmos DB account endpoint (https://<account>.documents.azure.com:443/)",
    "cosmosAccount": "Cosmos DB account the fleet uses (the stack's own, or the one `itemsAccount` names)",
    "actionGroup": "action group the alerts notify",
}


def output_lookup(environment: str, name: str) -> str:
    return f"pulumi stack output {name} --stack {environment} --cwd {PROJECT}"


def outputs(environment: str) -> tuple[Output, ...]:
    missing = sorted(set(OUTPUTS) - exported(ROOT / PROJECT))
    if missing:
        raise ValueError(f"azure {environment}: the program no longer exports {missing}")
    return tuple(
        Output(name=name, description=text, lookup=output_lookup(environment, name))
        for name, text in OUTPUTS.items()
    )


def per_zone(count: int, zones: int) -> str:
    low, extra = divmod(count, zones)
    if low == 0:
        return (
            f"{count} instance(s) in {count} of {zones} zones (best effort), none in the "
            f"other{'s' if zones - count > 1 else ''}"
        )
    if extra == 0:
        return f"{low} in each of {zones} zones (best-effort balance)"
    return f"{low + 1} in {extra} zone(s), {low} in the other {zones - extra} (best-effort balance)"


def batch_size(capacity: int, percent: int) -> int:
    """Instances a rolling upgrade replaces at once: maxBatchInstancePercent of the fleet, at least one."""
    return max(1, math.floor(capacity * percent / 100))


# What an instance's model links to, and the action Azure checks on the linked resource when a scale-set
# write creates an instance (403 LinkedAuthorizationFailed without it). "Azure permissions for Networking /
# Identity" (https://learn.microsoft.com/azure/role-based-access-control/permissions/networking,
# .../permissions/identity): subnets/join, backendAddressPools/join, userAssignedIdentities/assign.
_IP_LINKS = {
    "subnet": "Microsoft.Network/virtualNetworks/subnets/join/action",
    "applicationGatewayBackendAddressPools": (
        "Microsoft.Network/applicationGateways/backendAddressPools/join/action"
    ),
    "loadBalancerBackendAddressPools": "Microsoft.Network/loadBalancers/backendAddressPools/join/action",
    "applicationSecurityGroups": "Microsoft.Network/applicationSecurityGroups/join/action",
}


def linked_actions(scale_set) -> tuple[str, ...]:
    """The join/assign actions a scale-set write needs on the resources its instance model references."""
    found = set()
    for nic in scale_set.get("virtualMachineProfile.networkProfile.networkInterfaceConfigurations"):
        if nic.get("networkSecurityGroup"):
            found.add("Microsoft.Network/networkSecurityGroups/join/action")
        for ip in nic.get("ipConfigurations", ()):
            found.update(action for key, action in _IP_LINKS.items() if ip.get(key))
    if "UserAssigned" in scale_set.get("identity.type", ""):
        found.add("Microsoft.ManagedIdentity/userAssignedIdentities/assign/action")
    return tuple(sorted(found))


def facts(environment: str, model: Inventory, spec: EnvironmentSpec) -> StackFacts:
    scale_set = model.only(inv.SCALE_SET)
    capacity = model.only(inv.AUTOSCALE).get("profiles.0.capacity")
    minimum, desired, maximum = int(capacity["minimum"]), int(capacity["default"]), int(capacity["maximum"])
    zones = tuple(scale_set.get("zones", ()))
    rolling = scale_set.get("upgradePolicy.rollingUpgradePolicy")
    gateway = model.only(inv.GATEWAY)
    probe = gateway.get("probes.0")
    settings = gateway.get("backendHttpSettingsCollection.0")
    cache = model.only(inv.CACHE)
    store = model.only(inv.STORE)
    repairs = scale_set.get("automaticRepairsPolicy")
    health = next(
        e for e in scale_set.get("virtualMachineProfile.extensionProfile.extensions") if e["name"] == "health"
    )
    notice = scale_set.get("virtualMachineProfile.scheduledEventsProfile.terminateNotificationProfile")
    surge = batch_size(minimum, rolling["maxBatchInstancePercent"]) if rolling["maxSurge"] else 0
    grace = inv.iso_seconds(repairs["gracePeriod"])
    extra = (
        (
            "rolling upgrade",
            (
                f"max surge {rolling['maxSurge']}, batch {rolling['maxBatchInstancePercent']} %, pause "
                f"{inv.iso_seconds(rolling['pauseTimeBetweenBatches'])} s between batches, stops above "
                f"{rolling['maxUnhealthyInstancePercent']} % unhealthy instances or "
                f"{rolling['maxUnhealthyUpgradedInstancePercent']} % unhealthy upgraded ones, "
                "rolls failed instances "
                f"back: {rolling['rollbackFailedInstancesOnPolicyBreach']}"
            ),
        ),
        "automatic repairs",
        f"{repairs['repairAction']} after a grace of {grace} s",
        (
            "health extension",
            (
                f"{health['type']} {health['settings']['protocol']}:{health['settings']['port']}"
                f"{health['settings']['requestPath']} every {health['settings']['intervalInSeconds']} s, "
                f"{health['settings']['numberOfProbes']} probes to change state"
            ),
        ),
        (
            "terminate notification",
            f"{inv.iso_seconds(notice['notBeforeTimeout'])} s (terminate_watch.py approves sooner)",
        ),
        "gateway request timeout",
        f"{settings['requestTimeout']} s",
        (
            "session TTL (spec `service.session_ttl_seconds`, in the instances' custom data)",
            f"{spec.service.session_ttl_seconds} s",
        ),
    )
    built = StackFacts(
        cloud="azure",
        environment=environment,
        stack=f"{PROJECT} stack {environment}",
        region=scale_set.get("location"),
        zones=zones,
        min_size=minimum,
        desired=desired,
        max_size=maximum,
        per_zone=per_zone(minimum, len(zones)) if zones else f"{minimum} in one regional placement",
        surge=surge,
        # With max surge, old instances leave only once their replacements are healthy.
        minimum_healthy=minimum
        if rolling["maxSurge"]
        else minimum - batch_size(minimum, rolling["maxBatchInstancePercent"]),
        health_check=HealthCheck(
            path=probe["path"],
            interval_seconds=int(probe["interval"]),
            timeout_seconds=int(probe["timeout"]),
            # An Application Gateway probe marks a backend healthy again on its first success.
            healthy_threshold=1,
            unhealthy_threshold=int(probe["unhealthyThreshold"]),
        ),
        draining_seconds=int(settings["connectionDraining"]["drainTimeoutInSec"]),
        grace_seconds=grace,
        # The repair grace is the boot budget rounded up to whole minutes (azure_stack/fleet.py repair_grace).
        boot_budget_seconds=grace,
        warmup_seconds=inv.iso_seconds(rolling["pauseTimeBetweenBatches"]),
        # Azure Managed Redis with high availability keeps one replica of each shard on another node.
        cache_replicas=1 if cache.get("highAvailability") == "Enabled" else 0,
        cache_failover=cache.get("highAvailability") == "Enabled",
        store_pitr=store.get("backupPolicy.type") == "Continuous",
        store_backup=state.store_backup(store),
        log_retention_days=int(model.only(inv.WORKSPACE).get("retentionInDays")),
        outputs=outputs(environment),
        resources=tuple(
            ResourceFact(type=resource.type, name=resource.name, properties=dict(resource.inputs))
            for resource in model
            if resource.custom
        ),
        graph=graph.build(model),
        state_places=state.places(model, spec),
        cost_lines=costs.lines(model),
        extra=extra,
        escalation=inv.escalation(model),
        # A CanNotDelete lock guards the store (the spec's deletion protection): the restore runbook says so.
        details={
            "store_locked": any(
                inv.by_id(model, lock.get("scope")) is store
                for lock in model.resources
                if lock.type == "azure-native:authorization:ManagementLockByScope"
            ),
            # A restored account must match its source's consistency and zone redundancy (runbook checks).
            "store_consistency": store.get("consistencyPolicy.defaultConsistencyLevel"),
            "store_zone_redundant": bool(store.get("locations.0.isZoneRedundant")),
            # How long a delete waits for the instance's approval at most (Terminate scheduled event).
            "terminate_notice_seconds": inv.iso_seconds(notice["notBeforeTimeout"]),
            # What adding an instance links (permissions of the runbooks that scale out).
            "scale_set_links": linked_actions(scale_set),
        },
    )
    return replace(built, failure_modes=state.failure_modes(model, built))
