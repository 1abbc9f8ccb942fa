"""Small lookups over an Azure inventory, shared by the tests."""

from __future__ import annotations

import base64

from refarch.boot import written_environment
from refarch.health_check import HEALTH_CHECK
from refarch.inventory import Inventory, Resource

NET = "azure-native:network:"


def nsg(inventory: Inventory, tier: str) -> Resource:
    return inventory.named(f"{tier}-nsg")


def admits_port(ports: tuple[str, ...], port: int) -> bool:
    """Whether NSG port entries ("*", "a-b", "n") include `port`."""
    for entry in ports:
        low, _, high = entry.partition("-")
        if entry == "*" or int(low) <= port <= int(high or low):
            return True
    return False


def refers_to(resource_id: str, resource: Resource) -> bool:
    """Whether an ID input is the (mock) ID of `resource`: .../<Kind>/<logical name>."""
    return resource_id.endswith(f"/{resource.type.rsplit(':', 1)[1]}/{resource.name}")


def allowed_inbound(group: Resource) -> list[tuple[str, tuple[str, ...]]]:
    """(source, ports) of every Allow rule; ports as the rule lists them."""
    rules = [rule for rule in group.get("securityRules") if rule["access"] == "Allow"]
    assert rules, f"{group.name} allows nothing"
    return [
        (
            rule["sourceAddressPrefix"],
            tuple(rule.get("destinationPortRanges") or [rule["destinationPortRange"]]),
        )
        for rule in rules
    ]


def subnets(inventory: Inventory) -> dict[str, dict]:
    vnet = inventory.only(NET + "VirtualNetwork")
    return {subnet["name"]: subnet for subnet in vnet.get("subnets")}


def boot_script(inventory: Inventory) -> str:
    scale_set = inventory.only("azure-native:compute:VirtualMachineScaleSet")
    return base64.b64decode(scale_set.get("virtualMachineProfile.osProfile.customData")).decode()


def service_variables(script: str) -> dict[str, str]:
    return written_environment(script)


def gateway_detection_seconds() -> int:
    """How long the gateway keeps sending new requests to an instance whose health path fails: the
    unhealthy threshold of probes, an interval apart, the last waiting out its timeout ("Application
    Gateway health probes overview": probe interval, timeout, unhealthy threshold)."""
    return HEALTH_CHECK.interval_seconds * HEALTH_CHECK.unhealthy_threshold + HEALTH_CHECK.timeout_seconds
