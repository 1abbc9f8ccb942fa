"""The inventory of a Pulumi program: every resource it registered, as plain data.

An offline preview (`refarch_pulumi.offline`) records it; tests, the reviewed snapshots and the
statelessness rules read it. Plain data, no Pulumi SDK: the rules and the policy pack load it without one.
Secrets are masked when recorded, so an inventory is safe to write to disk and to print.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MASK = "[secret]"
# What a secret value is replaced with in an inventory; tests look for it.

_MISSING = object()


@dataclass(frozen=True)
class Resource:
    type: str
    name: str
    parent: str | None
    inputs: Mapping[str, Any]
    # Whether the provider creates it (custom) or it only groups others (a component).
    custom: bool = True
    # Names of the resources it waits for (explicit depends_on and every input it reads from another).
    depends_on: tuple[str, ...] = ()
    # The create/update/delete timeouts asked of the engine (`customTimeouts`), where any were set.
    custom_timeouts: Mapping[str, str] = field(default_factory=dict)
    # Resource options a rule or a README's Teardown table reads (`ignoreChanges`, `protect`,
    # `retainOnDelete`); empty for most resources.
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def ignore_changes(self) -> tuple[str, ...]:
        """Inputs the engine leaves alone after creation, such as a size an autoscaler owns."""
        return tuple(self.options.get("ignoreChanges", ()))

    def get(self, path: str, default: Any = _MISSING) -> Any:
        """The input at a dotted path (`sku.name`, `subnets.0.id`); KeyError names the path."""
        node: Any = self.inputs
        for part in path.split("."):
            if isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            elif isinstance(node, Mapping) and part in node:
                node = node[part]
            elif default is not _MISSING:
                return default
            else:
                raise KeyError(f"{self.type} '{self.name}' has no input '{path}' (stopped at '{part}')")
        return node

    def to_json(self) -> dict[str, Any]:
        data = {
            "type": self.type,
            "name": self.name,
            "parent": self.parent,
            "inputs": self.inputs,
            "depends_on": list(self.depends_on),
            "custom_timeouts": dict(self.custom_timeouts),
        }
        return {**data, "options": self.options} if self.options else data


class InventoryError(AssertionError):
    """A query found nothing, or more than it expected: a test that asked it fails loudly."""


@dataclass
class Inventory:
    resources: list[Resource] = field(default_factory=list)
    # The stack's outputs (what its top component exports), by name; facts for the runbooks, in no resource.
    outputs: dict[str, Any] = field(default_factory=dict)

    def __iter__(self) -> Iterator[Resource]:
        return iter(self.resources)

    def __len__(self) -> int:
        return len(self.resources)

    def of_type(self, type_: str) -> list[Resource]:
        """Every resource of one type; raises when there is none, so an assertion loop cannot be vacuous."""
        found = [resource for resource in self.resources if resource.type == type_]
        if not found:
            raise InventoryError(f"no resource of type {type_}; types present: {sorted(self.types())}")
        return found

    def count(self, type_: str) -> int:
        return sum(1 for resource in self.resources if resource.type == type_)

    def only(self, type_: str) -> Resource:
        found = self.of_type(type_)
        if len(found) != 1:
            raise InventoryError(f"expected one {type_}, found {[r.name for r in found]}")
        return found[0]

    def named(self, name: str) -> Resource:
        found = [resource for resource in self.resources if resource.name == name]
        if len(found) != 1:
            raise InventoryError(f"expected one resource named {name!r}, found {len(found)}")
        return found[0]

    def children_of(self, parent: str) -> list[Resource]:
        return [resource for resource in self.resources if resource.parent == parent]

    def types(self) -> set[str]:
        return {resource.type for resource in self.resources}

    def components(self) -> list[Resource]:
        return [resource for resource in self.resources if not resource.custom]

    def orphans(self) -> list[Resource]:
        """Cloud resources registered outside any component: each tier should own its children."""
        return [resource for resource in self.resources if resource.custom and resource.parent is None]

    def to_json(self) -> dict[str, Any]:
        return {"resources": [resource.to_json() for resource in self.resources], "outputs": self.outputs}

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), indent=2, sort_keys=True) + "\n")

    @classmethod
    def read(cls, path: Path) -> Inventory:
        data = json.loads(path.read_text())
        return cls([Resource(**item) for item in data["resources"]], data.get("outputs", {}))


def masked_secrets(inventory: Inventory) -> list[str]:
    """`type name path` of every masked value, for summaries and for tests that secrets stayed secret."""
    found: list[str] = []

    def walk(value: Any, where: str, resource: Resource) -> None:
        if value == MASK:
            found.append(f"{resource.type} {resource.name} {where}")
        elif isinstance(value, Mapping):
            for key, child in value.items():
                walk(child, f"{where}.{key}" if where else key, resource)
        elif isinstance(value, list):
            for index, child in enumerate(value):
                walk(child, f"{where}.{index}", resource)

    for resource in inventory:
        walk(resource.inputs, "", resource)
    return found


# A reviewed view: for each resource type, the input paths a reviewer signs off on.
ReviewedFields = Mapping[str, Iterable[str]]


def reviewed(inventory: Inventory, fields: ReviewedFields, normalise: Callable[[Any], Any] = lambda v: v):
    """The values that matter, in a stable order: `{type: {name: {path: value}}}`.

    Types named in `fields` but absent from the inventory appear with no entries, so removing a tier
    shows up as drift instead of silently shrinking the view.
    """
    view: dict[str, dict[str, dict[str, Any]]] = {}
    for type_, paths in sorted(fields.items()):
        entries: dict[str, dict[str, Any]] = {}
        for resource in sorted(
            (r for r in inventory if r.type == type_), key=lambda r: (r.parent or "", r.name)
        ):
            entries[resource.name] = {path: normalise(resource.get(path, None)) for path in paths}
        view[type_] = entries
    return view
