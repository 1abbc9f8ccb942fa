"""The Azure replace-one-instance runbook's markdown as its tests read it: the steps of a section, a step's
code, the first step matching a pattern."""

from __future__ import annotations

import re

from tests.docs.runbook_harness import SH_BLOCK
from tests.docs.runbook_harness import section as _section

STEP = re.compile(r"^\d+\. \*\*", re.MULTILINE)


def _steps(text: str, title: str) -> list[str]:
    """The numbered items of a section, each with its title, commands, Expected and Stop if."""
    return STEP.split(_section(text, title))[1:]


def _code(step: str) -> str:
    return "\n".join(SH_BLOCK.findall(step)).replace("\\\n", " ")


def _first(steps: list[str], pattern: str) -> int:
    return next((i for i, step in enumerate(steps) if re.search(pattern, _code(step))), -1)
