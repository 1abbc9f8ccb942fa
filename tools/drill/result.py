"""The drill's result file, runbooks/drill-result.json, which the generated runbooks cite (issue 15):
when and where the drill ran, with what command, and each scenario's verdict and figures."""

from __future__ import annotations

import json
import os
import platform
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from refarch import ROOT

RESULT_FILE = ROOT / "runbooks" / "drill-result.json"
# The drill's scenarios: the keys of the result file's "scenarios", which the runbooks cite by name.
REPLACE = "replace-every-instance"
CACHE_FAILURE = "cache-primary-failure"
SCENARIOS = (REPLACE, CACHE_FAILURE)


def machine() -> dict[str, Any]:
    return {"cpus": os.cpu_count() or 1, "python": platform.python_version(), "platform": platform.platform()}


def result_document(
    command: str, scenarios: dict[str, tuple[bool, dict[str, Any]]], now: datetime | None = None
) -> dict:
    return {
        "date": (now or datetime.now(UTC)).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "machine": machine(),
        "command": command,
        "scenarios": {name: {"passed": ok, "figures": figures} for name, (ok, figures) in scenarios.items()},
    }


def write_result(path: Path, document: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(document, indent=2) + "\n")
    partial.replace(path)
