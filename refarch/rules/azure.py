"""The catalogue's rules over an Azure (azure-native) inventory: what `pulumi up` would register."""

from __future__ import annotations

import base64
import binascii
import ipaddress
from typing import Any

from refarch.inventory import Inventory, Resource
from refarch.rules import boot_script
from refarch.rules.inventory_model import last_segment, of_type, refers_to
from refarch.rules.results import Checker, Context
from refarch.rules.service_facts import DEFAULT_SHUTDOWN_GRACE_SECONDS, MEMORY_SESSION_BACKEND

VMSS = "azure-native:compute:VirtualMachineScaleSet"
GATEWAY = "azure-native:network:ApplicationGateway"
AUTOSCALE = "azure-native:monitor:AutoscaleSetting"
REDIS = "azure-native:redisenterprise:RedisEnterprise"
REDIS_DATABASE = "azure-native:redisenterprise:Database"
LEGACY_REDIS = "azure-native:cache:Redis"
HEALTH_EXTENSIONS = ("ApplicationHealthLinux", "ApplicationHealthWindows")
NSG = "azure-native:network:NetworkSecurityGroup"
VNET = "azure-native:network:VirtualNetwork"


def _script(fleet: Resource) -> str | None:
    raw = fleet.get("virtualMachineProfile.osProfile.customData", None)
    if not isinstance(raw, str):
        return None
    try:
        return base64.b64decode(raw, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return raw


def _extensions(fleet: Resource) -> list[dict[str, Any]]:
    return fleet.get("virtualMachineProfile.extensionProfile.extensions", None) or []


def _ip_configurations(fleet: Resource) -> list[tuple[str, dict[str, Any]]]:
    found = []
    nics = fleet.get("virtualMachineProfile.networkProfile.networkInterfaceConfigurations", None) or []
    for i, nic in enumerate(nics):
        for j, config in enumerate(nic.get("ipConfigurations", []) or []):
            found.append((f"networkInterfaceConfigurations[{i}].ipConfigurations[{j}]", config))
    return found


def _subnets(inventory: Inventory) -> dict[str, dict[str, Any]]:
    return {
        subnet.get("name"): subnet
        for vnet in of_type(inventory, VNET)
        for subnet in vnet.get("subnets", None) or []
    }


def _fleet_prefixes(inventory: Inventory, fleet: Resource) -> set[str]:
    subnets = _subnets(inventory)
    prefixes = set()
    for _, config in _ip_configurations(fleet):
        subnet = subnets.get(last_segment(config.get("subnet")), {})
        prefixes |= set(subnet.get("addressPrefixes", []) or []) | {subnet.get("addressPrefix")}
    return {prefix for prefix in prefixes if prefix}


def _nsg_of_subnet(inventory: Inventory, subnet_name: str | None) -> Resource | None:
    subnet = _subnets(inventory).get(subnet_name, {})
    reference = (subnet.get("networkSecurityGroup") or {}).get("id")
    for nsg in of_type(inventory, NSG):
        if refers_to(reference, nsg, "networkSecurityGroupName"):
            return nsg
    return None


def _ports(rule: dict[str, Any]) -> list[str]:
    return [str(p) for p in (rule.get("destinationPortRanges") or [rule.get("destinationPortRange")]) if p]


def _admits(rule: dict[str, Any], port: int) -> bool:
    if rule.get("access") != "Allow" or rule.get("direction") != "Inbound":
        return False
    for ports in _ports(rule):
        if ports == "*":
            return True
        low, _, high = ports.partition("-")
        if low.isdigit() and int(low) <= port <= int(high or low):
            return True
    return False


def _within(source: Any, prefixes: set[str]) -> bool:
    try:
        network = ipaddress.ip_network(str(source), strict=False)
        return any(network.subnet_of(ipaddress.ip_network(p, strict=False)) for p in prefixes)
    except ValueError:
        return False


def _true(value: Any) -> bool:
    return value is True or value == "true"


# --- the rules ------------------------------------------------------------------------------------------


def no_affinity(inventory: Inventory, context: Context, check: Checker) -> None:
    for gateway in of_type(inventory, GATEWAY):
        for settings in gateway.get("backendHttpSettingsCollection", None) or []:
            # The SDK documents no default for it, so the rule wants it stated.
            value = settings.get("cookieBasedAffinity")
            check.expect(
                gateway,
                f"backendHttpSettingsCollection[{settings.get('name')}].cookieBasedAffinity",
                value,
                value == "Disabled",
                "Disabled (stated)",
            )


def disposable_instances(inventory: Inventory, context: Context, check: Checker) -> None:
    for fleet in of_type(inventory, VMSS):
        value = fleet.get("virtualMachineProfile.storageProfile.osDisk.deleteOption", None)
        check.expect(fleet, "storageProfile.osDisk.deleteOption", value, value == "Delete", "Delete")
        disks = fleet.get("virtualMachineProfile.storageProfile.dataDisks", None) or []
        check.expect(fleet, "storageProfile.dataDisks", len(disks), not disks, "none")
        for i, nic in enumerate(
            fleet.get("virtualMachineProfile.networkProfile.networkInterfaceConfigurations", None) or []
        ):
            check.expect(
                fleet,
                f"networkInterfaceConfigurations[{i}].deleteOption",
                nic.get("deleteOption"),
                nic.get("deleteOption") == "Delete",
                "Delete",
            )
        if (script := _script(fleet)) is not None:
            mounts = boot_script.network_mounts(script)
            check.expect(fleet, "osProfile.customData (network mounts)", mounts, not mounts, "none")
    for type_ in ("azure-native:storage:FileShare", "azure-native:netapp:Volume"):
        for share in of_type(inventory, type_):
            check.expect(share, "type", type_, False, "no network file share for the fleet")


def no_fixed_identity(inventory: Inventory, context: Context, check: Checker) -> None:
    for fleet in of_type(inventory, VMSS):
        for where, config in _ip_configurations(fleet):
            public = config.get("publicIPAddressConfiguration")
            check.expect(fleet, f"{where}.publicIPAddressConfiguration", public, public is None, "absent")
        keys = fleet.get("virtualMachineProfile.osProfile.linuxConfiguration.ssh.publicKeys", None) or []
        check.expect(fleet, "osProfile.linuxConfiguration.ssh.publicKeys", len(keys), not keys, "none")
        for _, config in _ip_configurations(fleet):
            nsg = _nsg_of_subnet(inventory, last_segment(config.get("subnet")))
            for rule in (nsg.get("securityRules", None) or []) if nsg else []:
                check.expect(
                    f"{nsg.name}/{rule.get('name')}",
                    "admits port 22",
                    _admits(rule, 22),
                    not _admits(rule, 22),
                    "false",
                )


def load_balancer_health(inventory: Inventory, context: Context, check: Checker) -> None:
    for fleet in of_type(inventory, VMSS):
        repairs = fleet.get("automaticRepairsPolicy.enabled", None)
        check.expect(fleet, "automaticRepairsPolicy.enabled", repairs, _true(repairs), "true")
        health = [e for e in _extensions(fleet) if e.get("type") in HEALTH_EXTENSIONS]
        check.expect(
            fleet, "extensionProfile (application health extension)", len(health), bool(health), "one"
        )
        for extension in health:
            path = (extension.get("settings") or {}).get("requestPath")
            check.expect(
                fleet,
                f"extensions[{extension.get('name')}].settings.requestPath",
                path,
                path == context.health_path,
                context.health_path,
            )
    for gateway in of_type(inventory, GATEWAY):
        for probe in gateway.get("probes", None) or []:
            check.expect(
                gateway,
                f"probes[{probe.get('name')}].path",
                probe.get("path"),
                probe.get("path") == context.health_path,
                context.health_path,
            )


def replace_at_full_capacity(inventory: Inventory, context: Context, check: Checker) -> None:
    for fleet in of_type(inventory, VMSS):
        mode = fleet.get("upgradePolicy.mode", "Manual (default)")
        check.expect(fleet, "upgradePolicy.mode", mode, mode == "Rolling", "Rolling")
        surge = fleet.get("upgradePolicy.rollingUpgradePolicy.maxSurge", None)
        check.expect(fleet, "upgradePolicy.rollingUpgradePolicy.maxSurge", surge, _true(surge), "true")


def drain_before_stop(inventory: Inventory, context: Context, check: Checker) -> None:
    for fleet in of_type(inventory, VMSS):
        script = _script(fleet)
        if script is None:
            continue
        grace = int(
            boot_script.variables(script).get("SHUTDOWN_GRACE_SECONDS", DEFAULT_SHUTDOWN_GRACE_SECONDS)
        )
        drains = []
        for gateway in of_type(inventory, GATEWAY):
            for settings in gateway.get("backendHttpSettingsCollection", None) or []:
                draining = settings.get("connectionDraining") or {}
                drain = int(draining.get("drainTimeoutInSec", 0)) if _true(draining.get("enabled")) else 0
                drains.append(drain)
                check.expect(
                    gateway,
                    f"backendHttpSettingsCollection[{settings.get('name')}].connectionDraining.drainTimeoutInSec",
                    drain,
                    drain >= grace,
                    f">= SHUTDOWN_GRACE_SECONDS ({grace}), draining enabled",
                )
        stop = boot_script.stop_timeout(script)
        longest = max([grace, *drains])
        check.expect(
            fleet,
            "customData TimeoutStopSec",
            stop,
            stop is not None and stop > grace and stop >= longest,
            f"> SHUTDOWN_GRACE_SECONDS ({grace}) and >= draining ({longest})",
        )


def external_sessions(inventory: Inventory, context: Context, check: Checker) -> None:
    caches = of_type(inventory, REDIS) + of_type(inventory, LEGACY_REDIS)
    names = {str(c.inputs.get("clusterName") or c.inputs.get("name") or c.name) for c in caches}
    for fleet in of_type(inventory, VMSS):
        script = _script(fleet)
        if script is None:
            continue
        env = boot_script.variables(script)
        backend = env.get("SESSION_BACKEND", "redis (default)")
        check.expect(
            fleet, "customData SESSION_BACKEND", backend, backend != MEMORY_SESSION_BACKEND, "not memory"
        )
        host = env.get("CACHE_HOST")
        points = host is not None and host.split(".")[0] in names
        check.expect(
            fleet,
            "customData CACHE_HOST",
            host,
            points,
            f"the cache's host name ({', '.join(sorted(names)) or 'no cache'})",
        )
        ttl = env.get("SESSION_TTL_SECONDS")
        check.expect(
            fleet,
            "customData SESSION_TTL_SECONDS",
            ttl,
            ttl is not None and ttl.isdigit() and int(ttl) > 0,
            "a positive number of seconds",
        )


def durable_state_stores(inventory: Inventory, context: Context, check: Checker) -> None:
    locks = of_type(inventory, "azure-native:authorization:ManagementLockByScope")
    for account in of_type(inventory, "azure-native:cosmosdb:DatabaseAccount"):
        backup = account.get("backupPolicy.type", "Periodic (default)")
        check.expect(
            account,
            "backupPolicy.type",
            backup,
            backup == "Continuous",
            "Continuous (point-in-time restore)",
        )
        if context.production:
            for location in account.get("locations", None) or []:
                zoned = location.get("isZoneRedundant")
                check.expect(
                    account,
                    f"locations[{location.get('locationName')}].isZoneRedundant",
                    zoned,
                    _true(zoned),
                    "true in production",
                )
            locked = [
                lock.name
                for lock in locks
                if lock.get("level", None) == "CanNotDelete"
                and refers_to(lock.get("scope", None), account, "accountName")
            ]
            check.expect(
                account, "CanNotDelete management lock", locked, bool(locked), "a lock in production"
            )
    for blobs in of_type(inventory, "azure-native:storage:BlobServiceProperties"):
        value = blobs.get("isVersioningEnabled", None)
        check.expect(blobs, "isVersioningEnabled", value, _true(value), "true")
    if context.production:
        for cache in of_type(inventory, REDIS):
            # "Enabled by default" (pulumi_azure_native.redisenterprise.RedisEnterprise, highAvailability).
            value = cache.get("highAvailability", "Enabled (default)")
            check.expect(
                cache, "highAvailability", value, value.startswith("Enabled"), "Enabled in production"
            )
        for cache in of_type(inventory, LEGACY_REDIS):
            replicas = cache.get("replicasPerPrimary", 0)
            check.expect(cache, "replicasPerPrimary", replicas, int(replicas) >= 1, ">= 1 in production")


def zone_spread(inventory: Inventory, context: Context, check: Checker) -> None:
    autoscales = of_type(inventory, AUTOSCALE)
    for fleet in of_type(inventory, VMSS):
        zones = fleet.get("zones", None) or []
        check.expect(fleet, "zones", zones, len(zones) >= 2, "at least two zones")
        if context.production:
            for autoscale in autoscales:
                if refers_to(autoscale.get("targetResourceUri", None), fleet, "vmScaleSetName"):
                    for profile in autoscale.get("profiles", None) or []:
                        minimum = (profile.get("capacity") or {}).get("minimum")
                        ok = str(minimum).isdigit() and int(minimum) >= len(zones)
                        check.expect(
                            autoscale,
                            f"profiles[{profile.get('name')}].capacity.minimum",
                            minimum,
                            ok,
                            f">= the number of zones ({len(zones)}) in production",
                        )


def identical_instances(inventory: Inventory, context: Context, check: Checker) -> None:
    for fleet in of_type(inventory, VMSS):
        image = fleet.get("virtualMachineProfile.storageProfile.imageReference", None) or {}
        if image.get("id") or image.get("communityGalleryImageId") or image.get("sharedGalleryImageId"):
            reference = (
                image.get("id") or image.get("communityGalleryImageId") or image.get("sharedGalleryImageId")
            )
            pinned = "/versions/" in str(reference) and not str(reference).rstrip("/").endswith("/latest")
            check.expect(
                fleet,
                "storageProfile.imageReference (gallery id)",
                reference,
                pinned,
                "a specific image version",
            )
        else:
            version = image.get("version")
            # "latest" is resolved when each instance is created, so a scale set can mix image builds.
            check.expect(
                fleet,
                "storageProfile.imageReference.version",
                version,
                bool(version) and version != "latest",
                "a specific version, not latest",
            )


def scaling_owns_count(inventory: Inventory, context: Context, check: Checker) -> None:
    autoscales = of_type(inventory, AUTOSCALE)
    for fleet in of_type(inventory, VMSS):
        owners = [
            a
            for a in autoscales
            if refers_to(a.get("targetResourceUri", None), fleet, "vmScaleSetName")
            and _true(a.get("enabled", True))
        ]
        check.expect(
            fleet,
            "enabled autoscale setting targeting the scale set",
            [a.name for a in owners],
            bool(owners),
            "one",
        )
        if fleet.get("sku.capacity", None) is not None:
            ignored = "sku.capacity" in (fleet.options.get("ignoreChanges") or [])
            check.expect(
                fleet,
                "sku.capacity in ignoreChanges",
                ignored,
                ignored,
                "true (the autoscale setting owns the count)",
            )


def fleet_only_cache(inventory: Inventory, context: Context, check: Checker) -> None:
    for cache in of_type(inventory, REDIS):
        check.expect(
            cache,
            "minimumTlsVersion",
            cache.get("minimumTlsVersion", None),
            cache.get("minimumTlsVersion", None) in ("1.2", "1.3"),
            "1.2 or later",
        )
        check.expect(
            cache,
            "publicNetworkAccess",
            cache.get("publicNetworkAccess", None),
            cache.get("publicNetworkAccess", None) == "Disabled",
            "Disabled",
        )
    ports = []
    for database in of_type(inventory, REDIS_DATABASE):
        protocol = database.get("clientProtocol", "Encrypted (default)")
        check.expect(database, "clientProtocol", protocol, protocol.startswith("Encrypted"), "Encrypted")
        ports.append(int(database.get("port", 10000)))
    endpoints = [
        endpoint
        for endpoint in of_type(inventory, "azure-native:network:PrivateEndpoint")
        for link in endpoint.get("privateLinkServiceConnections", None) or []
        if any(
            refers_to(link.get("privateLinkServiceId"), cache, "clusterName")
            for cache in of_type(inventory, REDIS)
        )
    ]
    for fleet in of_type(inventory, VMSS):
        prefixes = _fleet_prefixes(inventory, fleet)
        for endpoint in endpoints:
            nsg = _nsg_of_subnet(inventory, last_segment(endpoint.get("subnet", None)))
            check.expect(
                endpoint, "subnet's network security group", nsg and nsg.name, nsg is not None, "one"
            )
            for rule in (nsg.get("securityRules", None) or []) if nsg else []:
                if any(_admits(rule, port) for port in ports):
                    source = rule.get("sourceAddressPrefix")
                    check.expect(
                        f"{nsg.name}/{rule.get('name')}",
                        "sourceAddressPrefix",
                        source,
                        _within(source, prefixes),
                        f"within the fleet's subnet ({', '.join(sorted(prefixes))})",
                    )
        if (script := _script(fleet)) is not None:
            value = boot_script.variables(script).get("CACHE_TLS", "true (default)")
            check.expect(fleet, "customData CACHE_TLS", value, value.split()[0] == "true", "true")


EVALUATIONS = {
    "Stateless-NoAffinity": (no_affinity, "application gateways"),
    "Stateless-DisposableInstances": (disposable_instances, "scale sets"),
    "Stateless-NoFixedIdentity": (no_fixed_identity, "scale sets"),
    "Stateless-LoadBalancerHealth": (load_balancer_health, "scale sets"),
    "Stateless-ReplaceAtFullCapacity": (replace_at_full_capacity, "scale sets"),
    "Stateless-DrainBeforeStop": (drain_before_stop, "scale sets with custom data"),
    "Stateless-ExternalSessions": (external_sessions, "scale sets with custom data"),
    "Stateless-DurableStateStores": (durable_state_stores, "Cosmos DB accounts, blob services or caches"),
    "Stateless-ZoneSpread": (zone_spread, "scale sets"),
    "Stateless-IdenticalInstances": (identical_instances, "scale sets"),
    "Stateless-ScalingOwnsCount": (scaling_owns_count, "scale sets"),
    "Stateless-FleetOnlyCache": (fleet_only_cache, "Redis caches"),
}
