"""`make drill` end to end, shortened: the real drill (instances from the release bundle, both scenarios)
passes and writes its result file, and the control run, with sessions kept in the instances' memory,
fails. A drill that could not fail would prove nothing."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from refarch import ROOT
from tests.drill.conftest import CHECK_SCALE

pytestmark = pytest.mark.servers

LAST_LINE = re.compile(
    r"drill: requests=(?P<requests>\d+) failed=(?P<failed>\d+) sessions_lost=(?P<sessions_lost>\d+)"
    r" p99_steady_ms=(?P<p99_steady_ms>[0-9.]+) p99_replacing_ms=(?P<p99_replacing_ms>[0-9.]+)"
)
# One round and short phases keep this under half a minute; `make drill` runs the full length.
SHORT = ["--clients", "8", "--rounds", "1", "--steady-seconds", "1", "--bench-seconds", "1"]
# A modest fixed load, so that a machine busy with other tests does not push requests past the service's
# cache and store timeouts (a 503 the drill would rightly count as failed).
SHORT += ["--check-scale", str(CHECK_SCALE), "--rate", "200"]


def drill(*extra: str) -> tuple[int, list[str], dict[str, float]]:
    if "--result" not in extra:  # never the committed runbooks/drill-result.json
        extra = (*extra, "--result", "")
    done = subprocess.run(
        [sys.executable, "-m", "tools.drill", *SHORT, *extra],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    lines = done.stdout.splitlines()
    match = LAST_LINE.fullmatch(lines[-1]) if lines else None
    assert match, f"last line is not the summary:\n{done.stdout}\n{done.stderr}"
    return done.returncode, lines, {k: float(v) for k, v in match.groupdict().items()}


def test_every_instance_is_replaced_and_the_cache_fails_over_under_load_and_nothing_is_lost(
    tmp_path: Path,
) -> None:
    from tools.drill.release import INSTALLS

    path = tmp_path / "drill-result.json"
    code, lines, figures = drill("--result", str(path))
    assert (code, figures["failed"], figures["sessions_lost"]) == (0, 0, 0), "\n".join(lines)
    assert figures["requests"] > 0
    assert figures["p99_steady_ms"] > 0 and figures["p99_replacing_ms"] > 0
    replaced = [line for line in lines if line.startswith("round 1: ")]
    assert len(replaced) == 3 and all(line.endswith("exit code 0)") for line in replaced)
    assert [line for line in lines if re.fullmatch(r"service_vs_floor=[0-9.]+ .*", line)]
    # The instances ran the AWS release bundle, installed offline under build/drill.
    (service,) = [line for line in lines if line.startswith("service: ")]
    match = re.fullmatch(r"service: release bundle aws-\S+ (\w+) .*: (build/drill/aws-\S+)", service)
    assert match and (ROOT / match[2]).parent == INSTALLS and (ROOT / match[2] / ".installed").exists(), (
        service
    )
    # The result file, as issue 15's runbooks read it: its exact shape, and the summary's figures.
    result = json.loads(path.read_text())
    assert list(result) == ["date", "machine", "command", "scenarios"]
    assert datetime.fromisoformat(result["date"]).utcoffset().total_seconds() == 0
    assert set(result["machine"]) == {"cpus", "python", "platform"}
    assert result["machine"]["python"].startswith("3.11.") and result["machine"]["cpus"] >= 1
    assert result["command"] == " ".join(["python -m tools.drill", *SHORT, "--result", str(path)])
    scenarios = result["scenarios"]
    assert list(scenarios) == ["replace-every-instance", "cache-primary-failure"]
    assert all(set(s) == {"passed", "figures"} and s["passed"] is True for s in scenarios.values())
    replace = scenarios["replace-every-instance"]["figures"]
    assert {k: replace[k] for k in figures} == figures
    failover = scenarios["cache-primary-failure"]["figures"]
    assert failover["requests"] > 0 and failover["failed_after_recovery"] == 0
    assert failover["sessions_lost"] == 0 and failover["sessions_verified"] > 0


def test_control_with_sessions_in_memory_fails() -> None:
    code, lines, figures = drill(
        "--session-backend", "memory", "--service-from", "checkout", "--scenario", "replace-every-instance"
    )
    assert "service: this checkout, on this interpreter" in lines
    assert code == 1, "\n".join(lines)
    assert figures["sessions_lost"] > 0
    assert figures["failed"] > 0  # the clients saw their sessions vanish as 404s
