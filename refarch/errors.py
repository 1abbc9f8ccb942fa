"""Errors that name the environment, the field, the value and what is allowed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Problem:
    field: str
    value: Any
    # What is allowed, phrased to follow the value: "must be at most capacity.max (3)".
    rule: str

    def describe(self) -> str:
        return f"field '{self.field}' = {self.value!r}: {self.rule}"


class SpecError(ValueError):
    """An environment spec (or a tool's override of it) that must not be built."""

    def __init__(self, environment: str, problems: list[Problem]) -> None:
        self.environment = environment
        self.problems = problems
        lines = "\n".join(f"  - {problem.describe()}" for problem in problems)
        super().__init__(f"environment '{environment}' is invalid:\n{lines}")
