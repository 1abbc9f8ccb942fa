"""The GCP replace-one-instance runbook's markdown as its tests read and run it: every environment's rendered
runbook, its steps (title, command, expected, stop-if), the first step holding a command, and the problems a
bash check finds in each runbook, run in a home of its own."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.docs.runbook_harness import SH_BLOCK, runbooks
from tests.docs.runbook_harness import section as _section

# For a module whose checks run the runbook's commands.
NEEDS_BASH = pytest.mark.skipif(shutil.which("bash") is None, reason="the runbook's commands need bash")
STEP = re.compile(r"^\d+\. \*\*(.*?)\*\*\n", re.MULTILINE)


def _steps(text: str, title: str = "Steps") -> list[dict[str, str]]:
    """Each step of a section: its title, command, expected and stop-if text."""
    parts = STEP.split(_section(text, title))[1:]
    steps = []
    for name, body in zip(parts[::2], parts[1::2], strict=True):
        command = "\n".join(line.strip() for block in SH_BLOCK.findall(body) for line in block.splitlines())
        expected = re.search(r"Expected: (.*)", body)
        stop_if = re.search(r"Stop if: (.*)", body)
        steps.append(
            {
                "title": name,
                "command": command,
                "expected": expected.group(1) if expected else "",
                "stop_if": stop_if.group(1) if stop_if else "",
            }
        )
    return steps


def _index(steps: list[dict[str, str]], needle: str, start: int = 0) -> int:
    """The first step from `start` whose command holds `needle` (-1: none)."""
    return next((i for i in range(start, len(steps)) if needle in steps[i]["command"]), -1)


def _replace_one(documents: dict[str, str]) -> dict[str, str]:
    return runbooks(documents, "gcp")


def problems_in_each(
    documents: dict[str, str], tmp_path: Path, problems: Callable[[str, Path], list[str]]
) -> dict[str, list[str]]:
    """`problems(runbook, home)` for every environment's runbook, each in a home directory of its own."""
    found = {}
    for path, text in _replace_one(documents).items():
        home = tmp_path / path.replace("/", "-")
        home.mkdir()
        found[path] = problems(text, home)
    return found
