"""Turns the load generator's request log and the replacement timeline into the drill's figures."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tools.drill.fleet import Replacement

# Requests in the first moments of the load are left out of steady state: new sessions, cold connections.
WARMUP_SECONDS = 0.5
# service_vs_floor target of the issue: the session endpoint reaches at least half the floor's throughput.
MIN_SERVICE_VS_FLOOR = 0.5
# p99 during replacement at most this multiple of steady state.
MAX_REPLACING_VS_STEADY_P99 = 2.0


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile; 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


@dataclass(frozen=True)
class Window:
    requests: int
    failed: int
    seconds: float
    p50_ms: float
    p99_ms: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0

    @classmethod
    def of(cls, latencies: list[float], statuses: list[int], seconds: float) -> Window:
        failed = sum(1 for s in statuses if not 200 <= s < 300)
        return cls(
            requests=len(statuses),
            failed=failed,
            seconds=seconds,
            p50_ms=percentile(latencies, 50) * 1000,
            p99_ms=percentile(latencies, 99) * 1000,
        )


def benchmark(result: dict[str, Any]) -> Window:
    return Window.of(result["latencies"], result["statuses"], result["ended"] - result["started"])


def p99_by_route(result: dict[str, Any]) -> dict[str, float]:
    """p99 in ms of each route over the whole run: where the tail comes from."""
    by_route: dict[str, list[float]] = {}
    for route, latency in zip(result["routes"], result["latencies"], strict=True):
        by_route.setdefault(route, []).append(latency)
    return {route: percentile(latencies, 99) * 1000 for route, latencies in sorted(by_route.items())}


def split_by_phase(result: dict[str, Any], replacements: list[Replacement]) -> tuple[Window, Window]:
    """(steady, replacing): a request belongs to the phase in which it started."""
    windows = [(r.started, r.ended) for r in replacements]
    first = min((s for s, _ in windows), default=result["ended"])
    last = max((e for _, e in windows), default=result["ended"])
    steady_from = result["started"] + WARMUP_SECONDS
    phases: dict[str, tuple[list[float], list[int]]] = {"steady": ([], []), "replacing": ([], [])}
    for start, latency, status in zip(result["starts"], result["latencies"], result["statuses"], strict=True):
        if any(s <= start <= e for s, e in windows):
            phase = "replacing"
        elif steady_from <= start < first or start > last:
            phase = "steady"
        else:
            continue  # warm-up, or between two replacements
        phases[phase][0].append(latency)
        phases[phase][1].append(status)
    steady_seconds = max(0.0, first - steady_from) + max(0.0, result["ended"] - last)
    replacing_seconds = sum(e - s for s, e in windows)
    return Window.of(*phases["steady"], steady_seconds), Window.of(*phases["replacing"], replacing_seconds)


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


@dataclass(frozen=True)
class Summary:
    requests: int
    failed: int
    sessions_lost: int  # lost or stale: not what the client last wrote
    items_lost: int
    unclean_exits: int
    p99_steady_ms: float
    p99_replacing_ms: float

    @property
    def passed(self) -> bool:
        return (
            self.failed == 0 and self.sessions_lost == 0 and self.items_lost == 0 and not self.unclean_exits
        )

    def last_line(self) -> str:
        return (
            f"drill: requests={self.requests} failed={self.failed} sessions_lost={self.sessions_lost}"
            f" p99_steady_ms={self.p99_steady_ms:.1f} p99_replacing_ms={self.p99_replacing_ms:.1f}"
        )


def summarize(result: dict[str, Any], replacements: list[Replacement]) -> tuple[Summary, list[str]]:
    """The summary and the lines that explain it, for the drill's output."""
    tally = result["tally"]
    everything = benchmark(result)
    steady, replacing = split_by_phase(result, replacements)
    summary = Summary(
        requests=everything.requests,
        failed=everything.failed,
        sessions_lost=tally["sessions_lost"] + tally["sessions_stale"],
        items_lost=tally["items_lost"] + tally["items_stale"],
        unclean_exits=sum(1 for r in replacements if r.exit_code != 0),
        p99_steady_ms=steady.p99_ms,
        p99_replacing_ms=replacing.p99_ms,
    )
    ratio = replacing.p99_ms / steady.p99_ms if steady.p99_ms else math.inf
    errors = ", ".join(f"{k}: {v}" for k, v in tally["errors"].items()) or "none"
    lines = [
        f"requests: {everything.requests} in {everything.seconds:.1f} s ({everything.rps:.0f} req/s),"
        f" failed {everything.failed} (non-2xx or no response; {errors})",
        f"sessions: created {tally['sessions_created']}, verified at the end {tally['sessions_verified']},"
        f" lost {tally['sessions_lost']}, stale {tally['sessions_stale']}",
        f"items: written {tally['items_written']}, lost {tally['items_lost']}, stale {tally['items_stale']}",
        f"steady:    {steady.requests} requests, {steady.rps:.0f} req/s,"
        f" p50 {steady.p50_ms:.1f} ms, p99 {steady.p99_ms:.1f} ms",
        f"replacing: {replacing.requests} requests, {replacing.rps:.0f} req/s,"
        f" p50 {replacing.p50_ms:.1f} ms, p99 {replacing.p99_ms:.1f} ms",
        "p99 by route: " + ", ".join(f"{route} {p99:.1f} ms" for route, p99 in p99_by_route(result).items()),
        f"p99 replacing/steady = {ratio:.2f} (target <= {MAX_REPLACING_VS_STEADY_P99:g}:"
        f" {verdict(ratio <= MAX_REPLACING_VS_STEADY_P99)})",
        f"instances replaced: {len(replacements)}, unclean exits: {summary.unclean_exits}",
    ]
    return summary, lines
