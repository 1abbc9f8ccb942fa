"""Which clouds have a document generator: `tools/docs/<cloud>.py`, each exposing

    facts(environment: str, model, spec: EnvironmentSpec) -> StackFacts
    runbooks(facts: StackFacts) -> list[Runbook]          # six, one per model.SCENARIOS
    scan_counts(environment: str, inputs: Inputs) -> tuple[ScanCount, ...]   # optional

A cloud without its module yet is pending: the index lists it as such and nothing else is generated for it.
"""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

from refarch.platforms import CLOUDS


def generator(cloud: str) -> ModuleType | None:
    """The cloud's generator module, or None while it has none (only a missing module counts as pending:
    a module that fails to import raises)."""
    name = f"tools.docs.{cloud}"
    if importlib.util.find_spec(name) is None:
        return None
    return importlib.import_module(name)


def ready() -> tuple[str, ...]:
    return tuple(cloud for cloud in CLOUDS if generator(cloud) is not None)
