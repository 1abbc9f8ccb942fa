"""The cache-failover scenario's parts: the one cache endpoint HAProxy gives the service follows a switch
to the promoted replica, and the verdict fails a service that does not recover or loses sessions."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
import redis

from tools.drill.cache_failover import RECOVERY_SECONDS, Failover, figures, passed, replica_in_sync
from tools.drill.haproxy import CacheEndpoint
from tools.drill.load import Tally
from tools.drill.servers import RedisServer, wait_until


@pytest.mark.servers
def test_the_endpoint_reaches_the_promoted_replica_after_the_switch(
    cache: RedisServer, tmp_path: Path
) -> None:
    replica = RedisServer("--replicaof", "127.0.0.1", str(cache.port))
    replica.start()
    endpoint = CacheEndpoint(cache.port, tmp_path / "endpoint.log")
    endpoint.start()
    try:
        wait_until(lambda: replica_in_sync(replica), 10, "the replica to sync")
        through = redis.Redis(port=endpoint.port, decode_responses=True)  # as the service sees the cache
        through.set("session", "written to the primary")
        wait_until(lambda: replica.client().get("session") is not None, 5, "replication")
        cache.kill()
        replica.client().execute_command("REPLICAOF", "NO", "ONE")
        endpoint.switch_to(replica.port)
        assert endpoint.target_port() == replica.port
        # A new connection through the same endpoint reaches the new primary, which accepts writes.
        again = redis.Redis(port=endpoint.port, decode_responses=True)
        assert again.get("session") == "written to the primary"
        assert again.set("session", "written to the new primary")
    finally:
        endpoint.stop()
        replica.destroy()


def _result(rows: list[tuple[float, float, int]], **tally: int) -> dict[str, Any]:
    counts = {f.name: 0 for f in dataclasses.fields(Tally) if f.name != "errors"}
    return {
        "started": 0.0,
        "ended": 20.0,
        "starts": [r[0] for r in rows],
        "latencies": [r[1] for r in rows],
        "statuses": [r[2] for r in rows],
        "tally": {**counts, **tally, "errors": {}},
    }


FAILOVER = Failover(failed_at=10.0, switched_at=11.0)
STEADY = [(5.0, 0.010, 200), (15.0, 0.010, 200)]


def test_failures_while_there_is_no_primary_pass_and_are_counted() -> None:
    found = figures(_result([*STEADY, (10.2, 0.050, 503), (10.9, 0.300, 503)]), FAILOVER)
    assert passed(found)
    assert (found["failed"], found["failed_after_recovery"]) == (2, 0)
    assert found["no_primary_seconds"] == 1.0 and found["recovery_seconds"] == pytest.approx(1.2)
    assert found["p99_failover_ms"] == 300.0 and found["p99_steady_ms"] == 10.0


@pytest.mark.parametrize(
    "rows, tally",
    [
        ([*STEADY, (FAILOVER.switched_at + RECOVERY_SECONDS + 0.1, 0.01, 503)], {}),  # did not recover
        (STEADY, {"sessions_lost": 1}),
        (STEADY, {"sessions_stale": 1}),  # an acknowledged write the replica never got
        (STEADY, {"items_lost": 1}),
    ],
    ids=["failed-after-recovery", "session-lost", "session-stale", "item-lost"],
)
def test_a_service_that_does_not_recover_or_loses_sessions_fails(rows, tally) -> None:
    assert not passed(figures(_result(rows, **tally), FAILOVER))
