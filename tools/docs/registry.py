"""Each cloud's document generator: the package `tools/docs/<cloud>/`, exposing

facts(environment: str, model, spec: EnvironmentSpec) -> StackFacts
runbooks(facts: StackFacts) -> list[Runbook]          # six, one per model.SCENARIOS
scan_counts(environment: str, inputs: Inputs) -> tuple[ScanCount, ...]   # optional
"""

from __future__ import annotations

import importlib
from types import ModuleType


def generator(cloud: str) -> ModuleType:
    return importlib.import_module(f"tools.docs.{cloud}")
