"""The reliability report's monthly cost lines for a GCP stack: one line per resource type. Billed types with
a quantity rule (QUANTITIES: the fleet's machine type and minimum size from the inventory) are priced from
tools/docs/prices.toml in the stack's region; every other type shows the table's reason it has no price."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from refarch.inventory import Inventory
from tools.docs import prices
from tools.docs.gcp import inventory as inv
from tools.docs.model import CostLine

HOURS = prices.HOURS_PER_MONTH
# Cloud NAT bills each VM it serves per hour up to this many VMs, then a flat gateway rate
# (https://cloud.google.com/nat/pricing; the dataset's generator, build/pricing.pl, applies the same cap).
NAT_BILLED_VMS = 32


def _instances(model: Inventory, minimum: int) -> tuple[str, float, str]:
    return model.only(inv.TEMPLATE).get("machineType"), minimum * HOURS, "instance-hours (minimum size)"


def _nat(model: Inventory, minimum: int) -> tuple[str, float, str]:
    served = min(minimum, NAT_BILLED_VMS)
    return "", served * HOURS, "VM-hours served (the fleet's minimum size)"


# Billed resource types and (item, quantity a month, unit) for this stack at its minimum size.
QUANTITIES: dict[str, Callable[[Inventory, int], tuple[str, float, str]]] = {
    inv.GROUP: _instances,
    inv.NAT: _nat,
}


def lines(model: Inventory, table: prices.PriceTable, region: str, minimum: int) -> tuple[CostLine, ...]:
    """`minimum`: the autoscaler's minReplicas, as the stack's facts read it."""
    table = table.in_region(region)
    counts = Counter(resource.type for resource in model if resource.custom)
    found = []
    for type_, count in sorted(counts.items()):
        if type_ not in QUANTITIES:
            found.append(
                CostLine(
                    resource=type_.rsplit(":", 1)[-1],
                    type=type_,
                    quantity=count,
                    unit="each",
                    unit_price=None,
                    monthly=None,
                    source="tools/docs/prices.toml",
                    note=table.not_priced.get(("gcp", type_), "no quantity rule in tools/docs/gcp/costs.py"),
                )
            )
            continue
        item, quantity, unit = QUANTITIES[type_](model, minimum)
        name = type_.rsplit(":", 1)[-1]
        found.append(
            table.line(
                "gcp",
                type_,
                item,
                resource=f"{name} ({item})" if item else name,
                quantity=round(quantity, 2),
                unit=unit,
                missing=f"no price for {item or type_} in {region}",
            )
        )
    return tuple(found)
