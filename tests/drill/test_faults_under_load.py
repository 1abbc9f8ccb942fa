"""Dependency outages while the load generator runs through HAProxy against two instances: the affected
requests fail fast with 503, /health stays 200 so the load balancer keeps every instance, the other
dependency's routes are unaffected, and the same processes recover when the dependency returns."""

from __future__ import annotations

import http.client
import signal
import time
from typing import Any

import pytest

from sample_service.paths import HEALTH_PATH
from tools.drill.load import finish_load, start_load

pytestmark = pytest.mark.servers

# Generous: a dead dependency must cost about one configured timeout, not the client's 10 s; no benchmark.
SLACK_SECONDS = 1.0
BEFORE, OUTAGE, AFTER = 1.5, 2.0, 2.0


def requests_between(result: dict[str, Any], route: str, start: float, end: float) -> list[tuple[float, int]]:
    """(latency, status) of the requests to route that started and ended within [start, end]."""
    rows = zip(result["starts"], result["latencies"], result["statuses"], result["routes"], strict=True)
    return [(lat, status) for t, lat, status, r in rows if r == route and start <= t and t + lat <= end]


def assert_health_kept(haproxy: Any) -> None:
    assert {row["status"] for row in haproxy.servers().values()} == {"UP"}
    conn = http.client.HTTPConnection("127.0.0.1", haproxy.port, timeout=5)
    conn.request("GET", HEALTH_PATH)
    assert conn.getresponse().status == 200
    conn.close()


def run_outage(
    haproxy: Any, workload: str, begin: Any, end: Any
) -> tuple[dict[str, Any], float, float, float]:
    """Load, then an outage from begin() to end(); returns the load's result, when the outage began and
    ended, and when the dependency was back (end() may take a while, e.g. a store restarting)."""
    load = start_load(haproxy.port, workload, 8, 60, rate=300, item_every=1)
    try:
        time.sleep(BEFORE)
        outage_from = time.monotonic()
        begin()
        try:
            time.sleep(OUTAGE)
            assert_health_kept(haproxy)
            outage_to = time.monotonic()
        finally:
            end()  # even when an assertion failed: the next test must find the dependency up
        back = time.monotonic()
        time.sleep(AFTER)
        load.send_signal(signal.SIGTERM)
        result = finish_load(load, 30)
    finally:
        load.kill()
    return result, outage_from, outage_to, back


@pytest.mark.parametrize("outage", ["stopped", "hung"])
def test_cache_outage_fails_fast_keeps_health_and_recovers(
    make_fleet: Any, cache: Any, haproxy: Any, outage: str
) -> None:
    fleet = make_fleet(2)
    timeout = int(fleet.env["CACHE_TIMEOUT_MS"]) / 1000
    processes = [instance.process for instance in fleet.instances]
    begin, end = (cache.stop, cache.start) if outage == "stopped" else (cache.hang, cache.resume)

    result, outage_from, outage_to, back = run_outage(haproxy, "session", begin, end)

    during = requests_between(result, "sessions", outage_from + timeout, outage_to)
    assert during and {status for _, status in during} == {503}
    assert max(latency for latency, _ in during) < timeout + SLACK_SECONDS
    # Recovered without a restart: the same processes answer again. A stopped cache restarts empty,
    # so clients may first learn their session is gone (404) and start a new one (201).
    after = requests_between(result, "sessions", back + 2 * timeout, result["ended"])
    assert {status for _, status in after} <= {200, 201, 404}
    assert 200 in {status for _, status in after}
    assert all(process.proc.poll() is None for process in processes)


def test_store_outage_fails_item_requests_fast_and_leaves_sessions_alone(
    make_fleet: Any, store: Any, haproxy: Any
) -> None:
    fleet = make_fleet(2)
    timeout = int(fleet.env["STORE_TIMEOUT_MS"]) / 1000

    result, outage_from, outage_to, back = run_outage(haproxy, "drill", store.stop, store.start)

    items = requests_between(result, "items", outage_from + timeout, outage_to)
    assert items and {status for _, status in items} == {503}
    assert max(latency for latency, _ in items) < timeout + SLACK_SECONDS
    sessions = requests_between(result, "sessions", outage_from, outage_to)
    assert sessions and {status for _, status in sessions} <= {200, 201}
    # The restarted store is empty, so an item read may find nothing (404); writes succeed again.
    after = requests_between(result, "items", back + 2 * timeout, result["ended"])
    assert 200 in {status for _, status in after}
    assert {status for _, status in after} <= {200, 404}
    assert result["tally"]["sessions_lost"] == result["tally"]["sessions_stale"] == 0
