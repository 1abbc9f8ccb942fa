"""The drill's arithmetic: percentiles, which requests count as steady or replacing, and the verdict."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from tools.drill.fleet import Replacement
from tools.drill.load import Tally
from tools.drill.report import WARMUP_SECONDS, percentile, split_by_phase, summarize


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert (percentile(values, 50), percentile(values, 99), percentile(values, 100)) == (50, 99, 100)
    assert percentile([3.0], 99) == 3.0
    assert percentile([], 99) == 0.0


def replacement(started: float, ended: float, exit_code: int = 0) -> Replacement:
    return Replacement("i1", "i2", started, started, started, ended, exit_code)


def result(rows: list[tuple[float, float, int]], **tally: int) -> dict[str, Any]:
    counts = {f.name: 0 for f in dataclasses.fields(Tally) if f.name != "errors"}
    return {
        "started": 0.0,
        "ended": 30.0,
        "starts": [r[0] for r in rows],
        "latencies": [r[1] for r in rows],
        "statuses": [r[2] for r in rows],
        "routes": ["sessions"] * len(rows),
        "tally": {**counts, **tally, "errors": {}},
    }


def test_requests_count_in_the_phase_they_started_in() -> None:
    rows = [
        (WARMUP_SECONDS / 2, 9.0, 200),  # warm-up: neither phase
        (5.0, 0.010, 200),  # steady, before the rounds
        (10.0, 0.100, 200),  # replacing
        (14.0, 0.300, 503),  # between two replacements: neither phase
        (16.0, 0.200, 200),  # replacing
        (25.0, 0.020, 200),  # steady, after the rounds
    ]
    steady, replacing = split_by_phase(result(rows), [replacement(9, 12), replacement(15, 20)])
    assert (steady.requests, steady.failed, steady.p99_ms) == (2, 0, 20.0)
    assert (replacing.requests, replacing.p50_ms, replacing.p99_ms) == (2, 100.0, 200.0)
    assert steady.seconds == pytest.approx((9 - WARMUP_SECONDS) + (30 - 20))
    assert replacing.seconds == pytest.approx(3 + 5)


def test_the_summary_passes_only_when_nothing_failed_or_was_lost() -> None:
    rows = [(5.0, 0.01, 200), (10.0, 0.02, 201), (25.0, 0.01, 200)]
    summary, _ = summarize(result(rows), [replacement(9, 12)])
    assert summary.passed
    assert summary.last_line() == (
        "drill: requests=3 failed=0 sessions_lost=0 p99_steady_ms=10.0 p99_replacing_ms=20.0"
    )
    assert not summarize(result([*rows, (11.0, 0.01, 502)]), [replacement(9, 12)])[0].passed
    assert not summarize(result(rows, sessions_lost=1), [replacement(9, 12)])[0].passed
    stale = summarize(result(rows, sessions_stale=2), [replacement(9, 12)])[0]
    assert (stale.passed, stale.sessions_lost) == (False, 2)
    assert not summarize(result(rows, items_lost=1), [replacement(9, 12)])[0].passed
    assert not summarize(result(rows), [replacement(9, 12, exit_code=1)])[0].passed
