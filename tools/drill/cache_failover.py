"""The cache-failover scenario: the fleet's sessions live in a Redis primary with a replica, behind one
endpoint (HAProxy in TCP mode, as a managed cache's primary endpoint). Under load the primary dies
(SIGKILL), the replica is promoted (REPLICAOF NO ONE) and the endpoint is switched to it, as the managed
caches' automatic failover does (ElastiCache Multi-AZ, Memorystore STANDARD_HA, Azure Managed Redis' high
availability). The figures say what the clients saw: requests that failed while the cache had no primary,
whether the service recovered by itself once it had one again, and whether any session was lost."""

from __future__ import annotations

import argparse
import contextlib
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from refarch.health_check import HEALTH_CHECK
from refarch.spec import EnvironmentSpec
from tools.drill.fleet import Fleet, instance_env
from tools.drill.haproxy import CacheEndpoint, CheckTiming, Haproxy
from tools.drill.load import finish_load, start_load
from tools.drill.release import Release
from tools.drill.report import WARMUP_SECONDS, Window
from tools.drill.servers import MotoServer, RedisServer, wait_until

# How long the primary is gone before the replica is promoted: the failure's detection, compressed as the
# health checks are (the managed caches take seconds to tens of seconds).
DETECTION_SECONDS = 1.0
# After the switch, the service's pooled connections to the old primary are replaced by its one immediate
# retry (sample_service.sessions); a request that still fails this long after the switch is a failure to
# recover.
RECOVERY_SECONDS = 1.0


@dataclass(frozen=True)
class Failover:
    failed_at: float  # time.monotonic(), the load generator's clock
    switched_at: float


def replica_in_sync(replica: RedisServer) -> bool:
    info = replica.client().info("replication")
    return info.get("master_link_status") == "up" and info.get("master_sync_in_progress") == 0


def fail_over(primary: RedisServer, replica: RedisServer, endpoint: CacheEndpoint) -> Failover:
    failed_at = time.monotonic()
    primary.kill()
    time.sleep(DETECTION_SECONDS)
    replica.client().execute_command("REPLICAOF", "NO", "ONE")
    endpoint.switch_to(replica.port)
    return Failover(failed_at, time.monotonic())


def figures(result: dict[str, Any], failover: Failover) -> dict[str, Any]:
    tally = result["tally"]
    rows = list(zip(result["starts"], result["latencies"], result["statuses"], strict=True))
    failed = [(s, latency) for s, latency, status in rows if not 200 <= status < 300]

    def window(first: float, last: float) -> Window:
        chosen = [(latency, status) for s, latency, status in rows if first <= s < last]
        return Window.of([c[0] for c in chosen], [c[1] for c in chosen], last - first)

    recovered_by = failover.switched_at + RECOVERY_SECONDS
    steady = window(result["started"] + WARMUP_SECONDS, failover.failed_at)
    during = window(failover.failed_at, recovered_by)
    after = window(recovered_by, result["ended"])
    return {
        "requests": len(rows),
        "failed": len(failed),
        "failed_after_recovery": after.failed,
        "sessions_lost": tally["sessions_lost"] + tally["sessions_stale"],
        "items_lost": tally["items_lost"] + tally["items_stale"],
        "sessions_verified": tally["sessions_verified"],
        "no_primary_seconds": round(failover.switched_at - failover.failed_at, 3),
        # From the primary's death to the end of the last failed request.
        "recovery_seconds": round(
            max((s + latency for s, latency in failed), default=failover.failed_at) - failover.failed_at, 3
        ),
        "p99_steady_ms": round(steady.p99_ms, 1),
        "p99_failover_ms": round(during.p99_ms, 1),
        "p99_after_ms": round(after.p99_ms, 1),
    }


def passed(figures: dict[str, Any]) -> bool:
    """Requests may fail while there is no primary (the service answers 503 quickly: graceful degradation);
    none may fail once the replica serves, and no session or item may be lost."""
    return (
        figures["failed_after_recovery"] == 0 and figures["sessions_lost"] == 0 and figures["items_lost"] == 0
    )


def run(
    args: argparse.Namespace,
    spec: EnvironmentSpec,
    release: Release | None,
    rate_for: Callable[[int], float],
    log_dir: Path,
) -> tuple[bool, dict[str, Any], list[str]]:
    """The verdict, the figures and the lines that explain them. `rate_for(port)` is the drill load's rate
    in requests/s, given the port of this scenario's load balancer (to measure it there if need be)."""
    check = CheckTiming.from_policy(HEALTH_CHECK, args.check_scale)
    with contextlib.ExitStack() as cleanup:
        primary = RedisServer()
        cleanup.callback(primary.destroy)
        primary.start()
        replica = RedisServer("--replicaof", "127.0.0.1", str(primary.port))
        cleanup.callback(replica.destroy)
        replica.start()
        wait_until(lambda: replica_in_sync(replica), 10, "the replica to sync with the primary")
        endpoint = CacheEndpoint(primary.port, log_dir / "cache-endpoint.log")
        cleanup.callback(endpoint.stop)
        endpoint.start()
        store = MotoServer(log_dir / "moto-cache-failover.log")
        cleanup.callback(store.stop)
        store.start()
        lb = Haproxy(check, log_dir / "haproxy-cache-failover.log")
        cleanup.callback(lb.stop)
        lb.start()
        env = instance_env(spec, endpoint.port, store.endpoint, args.session_backend)
        options = {"python": release.python, "cwd": release.path} if release else {}
        fleet = Fleet(lb, env, log_dir / "cache-failover", **options)
        fleet.log_dir.mkdir(exist_ok=True)
        cleanup.callback(fleet.stop)
        fleet.start(args.instances)

        rate = rate_for(lb.port)
        budget = 2 * args.steady_seconds + DETECTION_SECONDS + 60
        load = start_load(
            lb.port, "drill", args.clients, budget, rate=f"{rate:.1f}", item_every=args.item_every
        )
        cleanup.callback(load.kill)
        time.sleep(args.steady_seconds)
        failover = fail_over(primary, replica, endpoint)
        time.sleep(args.steady_seconds)
        load.send_signal(signal.SIGTERM)
        result = finish_load(load, 120)
        assert endpoint.target_port() == replica.port

    found = figures(result, failover)
    lines = [
        f"cache failover: primary killed, replica promoted and the endpoint switched after"
        f" {found['no_primary_seconds']:.2f} s; last failed request ended {found['recovery_seconds']:.2f} s"
        f" after the primary died",
        f"cache failover: requests {found['requests']}, failed {found['failed']}"
        f" ({found['failed_after_recovery']} after recovery), sessions lost {found['sessions_lost']},"
        f" items lost {found['items_lost']}; p99 steady {found['p99_steady_ms']:.1f} ms,"
        f" failover {found['p99_failover_ms']:.1f} ms, after {found['p99_after_ms']:.1f} ms",
    ]
    return passed(found), found, lines
