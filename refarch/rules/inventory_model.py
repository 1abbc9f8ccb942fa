"""Queries shared by the Azure and GCP evaluations over an inventory (or a policy pack's resources)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from refarch.inventory import Inventory, Resource


def of_type(inventory: Inventory | Iterable[Resource], type_: str) -> list[Resource]:
    return [resource for resource in inventory if resource.type == type_]


def last_segment(reference: Any) -> str | None:
    """The name at the end of a resource id or URL (`.../subnets/app` -> `app`); None for anything else."""
    if isinstance(reference, dict):
        reference = reference.get("id")
    if not isinstance(reference, str) or not reference:
        return None
    return reference.rstrip("/").split("?")[0].rsplit("/", 1)[-1]


def refers_to(reference: Any, resource: Resource, *name_inputs: str) -> bool:
    """Whether a reference (an id, a URL, a mock id `<name>-id`) names `resource`."""
    if not isinstance(reference, str):
        return False
    names = {resource.name, f"{resource.name}-id"} | {
        str(resource.inputs[key]) for key in name_inputs if key in resource.inputs
    }
    return last_segment(reference) in names or reference in names
