"""runbooks/drill-result.json, which issue 15's runbooks read: its exact shape, and which runs write it (the
drill by default; never its control run, whose failure is not the drill's evidence)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from refarch import ROOT
from tools.drill.__main__ import parse_args
from tools.drill.result import RESULT_FILE, result_document


def test_the_drill_writes_the_committed_file_and_the_control_run_writes_none() -> None:
    assert RESULT_FILE == ROOT / "runbooks" / "drill-result.json"
    assert parse_args([]).result == RESULT_FILE
    assert parse_args(["--session-backend", "memory"]).result is False
    assert parse_args(["--result", ""]).result is False
    assert parse_args(["--session-backend", "memory", "--result", "x.json"]).result == Path("x.json")


def test_the_document_has_exactly_the_shape_issue_15_reads() -> None:
    figures = {"requests": 3, "failed": 0, "sessions_lost": 0, "p99_steady_ms": 1.5, "p99_replacing_ms": 2.0}
    document = result_document(
        "python -m tools.drill",
        {"replace-every-instance": (True, figures), "cache-primary-failure": (False, {"failed": 2})},
        now=datetime(2026, 11, 30, 19, 0, 5, 123, tzinfo=UTC),
    )
    assert document["date"] == "2026-11-30T19:00:05Z"
    assert list(document) == ["date", "machine", "command", "scenarios"]
    machine = document["machine"]
    assert list(machine) == ["cpus", "python", "platform"] and isinstance(machine["cpus"], int)
    assert machine["python"].startswith("3.11.")
    assert document["scenarios"] == {
        "replace-every-instance": {"passed": True, "figures": figures},
        "cache-primary-failure": {"passed": False, "figures": {"failed": 2}},
    }
