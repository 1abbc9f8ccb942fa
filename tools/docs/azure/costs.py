"""The reliability report's monthly cost lines for an Azure stack: what each billed resource amounts to (from
the inventory: SKU, count, capacity) times its entry in tools/docs/prices.toml, or the table's reason it has
no price."""

from __future__ import annotations

from collections.abc import Callable

from refarch.inventory import Inventory, Resource
from tools.docs import prices
from tools.docs.azure import inventory as inv
from tools.docs.model import CostLine

HOURS = prices.HOURS_PER_MONTH


def _scale_set(model: Inventory, resource: Resource) -> tuple[str, float, str]:
    minimum = int(model.only(inv.AUTOSCALE).get("profiles.0.capacity.minimum"))
    return resource.get("sku.name"), minimum * HOURS, "instance-hours (minimum capacity)"


def _per_hour(item: str) -> Callable[[Inventory, Resource], tuple[str, float, str]]:
    def line(model: Inventory, resource: Resource) -> tuple[str, float, str]:
        return resource.get(item, "") if item else "", HOURS, "hours"

    return line


def _api(model: Inventory, resource: Resource) -> tuple[str, float, str]:
    return resource.get("sku.name"), int(resource.get("sku.capacity")) * HOURS, "unit-hours"


def _container(model: Inventory, resource: Resource) -> tuple[str, float, str]:
    most = int(resource.get("options.autoscaleSettings.maxThroughput"))
    return "autoscale", most / 100 * HOURS, "100 RU/s-hours (at the autoscale maximum)"


# Billed resource types and how much of each a month of this stack uses.
QUANTITIES: dict[str, Callable[[Inventory, Resource], tuple[str, float, str]]] = {
    inv.SCALE_SET: _scale_set,
    inv.GATEWAY: _per_hour("sku.name"),
    inv.API: _api,
    inv.CACHE: _per_hour("sku.name"),
    inv.CONTAINER: _container,
    "azure-native:network:NatGateway": _per_hour(""),
    "azure-native:network:PublicIPAddress": _per_hour("sku.name"),
    inv.PRIVATE_ENDPOINT: _per_hour(""),
}


def lines(model: Inventory, table: prices.PriceTable | None = None) -> tuple[CostLine, ...]:
    # Priced only from prices read for the stack's location (Pulumi.<env>.yaml azure-native:location).
    table = (table or prices.load()).in_region(model.only(inv.SCALE_SET).get("location"))
    found = []
    for resource in model:
        if not resource.custom or resource.type not in QUANTITIES:
            continue
        item, quantity, unit = QUANTITIES[resource.type](model, resource)
        found.append(
            table.line(
                "azure",
                resource.type,
                item,
                resource=resource.name,
                quantity=round(quantity, 2),
                unit=unit,
                missing=f"no price entry for {item or 'it'}",
            )
        )
    return tuple(found)
