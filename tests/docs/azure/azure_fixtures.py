"""Azure stacks for the docs tests: each environment previewed offline once per session, and inventories
mutated one input at a time to show the documents follow them."""

from __future__ import annotations

import copy
from dataclasses import replace
from functools import cache

from refarch.inventory import Inventory
from refarch.spec import load_all
from refarch_pulumi.offline import project
from tools.docs import azure as azure_docs
from tools.docs.model import Runbook, StackFacts


def mutated(inventory: Inventory, type_: str, path: str, value, name: str | None = None) -> Inventory:
    """A copy of `inventory` with the input at dotted `path` of its `type_` resource (the one named `name`,
    when the type has several) set to `value`."""
    resources = []
    for resource in inventory:
        if resource.type == type_ and name in (None, resource.name):
            inputs = copy.deepcopy(dict(resource.inputs))
            node = inputs
            *parents, last = path.split(".")
            for part in parents:
                node = node[int(part)] if isinstance(node, list) else node[part]
            if isinstance(node, list):
                node[int(last)] = value
            else:
                node[last] = value
            resource = replace(resource, inputs=inputs)
        resources.append(resource)
    return Inventory(resources)


@cache
def inventories() -> dict[str, Inventory]:
    """Each Azure environment's offline preview, once per session (no AWS synthesis needed)."""
    azure = project("azure")
    return {stack: azure.preview(stack) for stack in azure.stacks()}


@cache
def generated() -> dict[str, tuple[StackFacts, tuple[Runbook, ...]]]:
    specs = load_all()
    found = {}
    for environment, inventory in inventories().items():
        facts = azure_docs.facts(environment, inventory, specs[environment])
        found[environment] = (facts, tuple(azure_docs.runbooks(facts)))
    return found
