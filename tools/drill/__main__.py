"""`python -m tools.drill` (`make drill`): on this machine, with instances installed from the release bundle
the clouds boot, two scenarios under load. replace-every-instance: replace every instance, twice over, and
prove that no request failed and every session (and item) holds exactly what its client last wrote.
cache-primary-failure: kill the cache's primary, promote its replica, switch the endpoint, and prove that
the service recovers by itself and loses no session. Writes every figure to runbooks/drill-result.json and
exits 1 unless every scenario passed."""

from __future__ import annotations

import argparse
import contextlib
import shlex
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from refarch import ROOT
from refarch.health_check import HEALTH_CHECK
from refarch.spec import EnvironmentSpec, load_environment
from sample_service.paths import HEALTH_PATH
from tools.drill import cache_failover
from tools.drill.fleet import EXIT_SLACK_SECONDS, LAUNCH_TIMEOUT_SECONDS, Fleet, Replacement, instance_env
from tools.drill.haproxy import CheckTiming, Haproxy
from tools.drill.load import finish_load, start_load
from tools.drill.release import Release, ReleaseError, installed_release
from tools.drill.report import MIN_SERVICE_VS_FLOOR, Window, benchmark, summarize, verdict
from tools.drill.result import CACHE_FAILURE, REPLACE, RESULT_FILE, SCENARIOS, result_document, write_result
from tools.drill.servers import MotoServer, RedisServer

# The load process stops by itself this long after the drill should have stopped it (and after 600 s at most).
LOAD_SAFETY_SECONDS = 60


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tools.drill", description=__doc__)
    parser.add_argument("--env", default="dev", help="environment of environments.toml whose settings to use")
    parser.add_argument("--instances", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=2, help="full rounds of replacing every instance")
    parser.add_argument("--clients", type=int, default=48, help="concurrent clients, one session each")
    parser.add_argument(
        "--steady-seconds", type=float, default=8, help="steady load before and after the rounds"
    )
    parser.add_argument(
        "--bench-seconds",
        type=float,
        default=4,
        help="each unthrottled run: floor, session, and the drill workload's capacity",
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=0,
        help="drill load in requests/s; 0 (default): the spec's cpu_target_percent of the throughput the same"
        " workload reaches unthrottled, the utilisation the fleet's autoscaling keeps",
    )
    parser.add_argument(
        "--item-every", type=int, default=4, help="a store write and read every N session steps"
    )
    parser.add_argument(
        "--check-scale",
        type=float,
        default=0.1,
        help="health-check interval and timeout as a fraction of the stacks' (1: production timing)",
    )
    parser.add_argument(
        "--session-backend", choices=("redis", "memory"), default="redis", help="memory: control run"
    )
    parser.add_argument(
        "--keep-logs", type=Path, help="write every process's log here instead of a temporary dir"
    )
    parser.add_argument(
        "--scenario",
        action="append",
        choices=SCENARIOS,
        help="run only this scenario (repeatable); default: all",
    )
    parser.add_argument(
        "--service-from",
        choices=("bundle", "checkout"),
        default="bundle",
        help="bundle (default): instances run the release bundle, installed offline under build/drill;"
        " checkout: this checkout's service on this interpreter",
    )
    parser.add_argument(
        "--result",
        type=lambda value: Path(value) if value else False,
        help=f"where to write the figures (default {RESULT_FILE.relative_to(ROOT)}, but nowhere for the"
        " control run; '' writes none)",
    )
    args = parser.parse_args(argv)
    if args.result is None:  # the control run must not replace the drill's evidence with its failure
        args.result = RESULT_FILE if args.session_backend == "redis" else False
    if not (1 <= args.instances <= 20 and 1 <= args.rounds <= 10 and 1 <= args.clients <= 1000):
        parser.error("--instances must be 1-20, --rounds 1-10 and --clients 1-1000")
    if args.steady_seconds < 0 or not 0 < args.bench_seconds <= 60 or not 0 < args.check_scale <= 1:
        parser.error("--steady-seconds must be at least 0, --bench-seconds 0-60, --check-scale in (0, 1]")
    return args


def bench(port: int, workload: str, args: argparse.Namespace, **options: object) -> Window:
    """The workload unthrottled for --bench-seconds: throughput and latency at saturation."""
    return benchmark(finish_load(start_load(port, workload, args.clients, args.bench_seconds, **options), 60))


def service_vs_floor(port: int, args: argparse.Namespace) -> float:
    floor = bench(port, "floor", args)
    session = bench(port, "session", args)
    ratio = session.rps / floor.rps if floor.rps else 0.0
    print(f"floor ({HEALTH_PATH} through HAProxy): {floor.rps:.0f} req/s, p99 {floor.p99_ms:.1f} ms")
    print(f"session (GET+PUT /sessions/{{token}}): {session.rps:.0f} req/s, p99 {session.p99_ms:.1f} ms")
    met = verdict(ratio >= MIN_SERVICE_VS_FLOOR)
    print(f"service_vs_floor={ratio:.2f} (target >= {MIN_SERVICE_VS_FLOOR:g}: {met})")
    return ratio


def drill_rate(port: int, args: argparse.Namespace, spec: EnvironmentSpec) -> float:
    if args.rate:
        print(f"drill load: {args.rate:.0f} req/s from {args.clients} clients", flush=True)
        return args.rate
    # Measured on this very workload: its store requests cost more than session requests.
    capacity = bench(port, "drill", args, item_every=args.item_every)
    target = spec.capacity.cpu_target_percent
    rate = capacity.rps * target / 100
    print(
        f"drill load: {rate:.0f} req/s from {args.clients} clients, {target} % (the spec's"
        f" cpu_target_percent) of the {capacity.rps:.0f} req/s this workload reached unthrottled",
        flush=True,
    )
    return rate


def replace_under_load(fleet: Fleet, args: argparse.Namespace) -> list[Replacement]:
    time.sleep(args.steady_seconds)
    replacements = []
    for round_number in range(1, args.rounds + 1):
        for r in fleet.replace_all():
            replacements.append(r)
            print(
                f"round {round_number}: {r.old} -> {r.new} in {r.seconds:.1f} s"
                f" (in service after {r.in_service - r.started:.1f} s,"
                f" drained in {r.drained - r.in_service:.2f} s, exit code {r.exit_code})",
                flush=True,
            )
    time.sleep(args.steady_seconds)
    return replacements


def replace_every_instance(
    args: argparse.Namespace, spec: EnvironmentSpec, release: Release | None, log_dir: Path
) -> tuple[bool, dict[str, Any], str, float]:
    """The scenario's verdict, figures and summary line, and the drill load's rate (the next scenario runs
    the same)."""
    check = CheckTiming.from_policy(HEALTH_CHECK, args.check_scale)
    with contextlib.ExitStack() as cleanup:
        cache = RedisServer()
        cleanup.callback(cache.destroy)
        cache.start()
        store = MotoServer(log_dir / "moto.log")
        cleanup.callback(store.stop)
        store.start()
        lb = Haproxy(check, log_dir / "haproxy.log")
        cleanup.callback(lb.stop)
        lb.start()
        env = instance_env(spec, cache.port, store.endpoint, args.session_backend)
        options = {"python": release.python, "cwd": release.path} if release else {}
        fleet = Fleet(lb, env, log_dir, **options)
        cleanup.callback(fleet.stop)
        fleet.start(args.instances)

        ratio = service_vs_floor(lb.port, args)
        rate = drill_rate(lb.port, args, spec)
        # The longest the replacements can take, so the load outlasts them; the drill stops it sooner.
        per_replacement = LAUNCH_TIMEOUT_SECONDS + spec.service.shutdown_grace_seconds + EXIT_SLACK_SECONDS
        budget = (
            2 * args.steady_seconds + args.rounds * args.instances * per_replacement + LOAD_SAFETY_SECONDS
        )
        load = start_load(
            lb.port, "drill", args.clients, budget, rate=f"{rate:.1f}", item_every=args.item_every
        )
        cleanup.callback(load.kill)
        replacements = replace_under_load(fleet, args)
        load.send_signal(signal.SIGTERM)
        result = finish_load(load, 120)

    summary, lines = summarize(result, replacements)
    print("\n".join(lines))
    figures = {
        "requests": summary.requests,
        "failed": summary.failed,
        "sessions_lost": summary.sessions_lost,
        "items_lost": summary.items_lost,
        "unclean_exits": summary.unclean_exits,
        "instances_replaced": len(replacements),
        "rate_rps": round(rate, 1),
        "p99_steady_ms": round(summary.p99_steady_ms, 1),
        "p99_replacing_ms": round(summary.p99_replacing_ms, 1),
        "service_vs_floor": round(ratio, 2),
    }
    return summary.passed, figures, summary.last_line(), rate


def release_for(args: argparse.Namespace) -> Release | None:
    if args.service_from == "checkout":
        print("service: this checkout, on this interpreter", flush=True)
        return None
    release = installed_release()
    how = f"installed offline in {release.install_seconds:.1f} s" if release.install_seconds else "reused"
    print(
        f"service: release bundle {release.bundle.cloud}-{release.bundle.platform.arch} {release.bundle.id}"
        f" ({release.bundle.downloaded} wheels downloaded), {how}: {release.path.relative_to(ROOT)}",
        flush=True,
    )
    return release


def run(args: argparse.Namespace, log_dir: Path, argv: list[str]) -> int:
    spec = load_environment(args.env)
    check = CheckTiming.from_policy(HEALTH_CHECK, args.check_scale)
    print(
        f"drill: env={spec.name} instances={args.instances} rounds={args.rounds} clients={args.clients}"
        f" session_backend={args.session_backend} health check every {check.inter_ms} ms"
        f" (rise {check.rise}, fall {check.fall}) logs={log_dir}",
        flush=True,
    )
    try:
        release = release_for(args)
    except ReleaseError as error:
        print(f"drill: {error}", file=sys.stderr)
        return 2
    chosen = args.scenario or list(SCENARIOS)
    scenarios: dict[str, tuple[bool, dict[str, Any]]] = {}
    last_lines = []
    rate = args.rate
    if REPLACE in chosen:
        ok, figures, last_line, rate = replace_every_instance(args, spec, release, log_dir)
        scenarios[REPLACE] = ok, figures
        last_lines.append(last_line)
    if CACHE_FAILURE in chosen:
        # The replacement scenario's load, or (run alone) the same measured on this scenario's fleet.
        measured = rate

        def rate_for(port: int) -> float:
            return measured or drill_rate(port, args, spec)

        ok, figures, lines = cache_failover.run(args, spec, release, rate_for, log_dir)
        print("\n".join(lines))
        scenarios[CACHE_FAILURE] = ok, figures
    if args.result:
        command = shlex.join(["python", "-m", "tools.drill", *argv])
        write_result(args.result, result_document(command, scenarios))
        print(f"drill: figures written to {args.result}")
    for name, (ok, _) in scenarios.items():
        print(f"drill: {name} {'passed' if ok else 'FAILED'}")
    # The replacement summary stays the last line (tests and CI logs read it).
    for line in last_lines:
        print(line, flush=True)
    return 0 if all(ok for ok, _ in scenarios.values()) else 1


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    if args.keep_logs:
        args.keep_logs.mkdir(parents=True, exist_ok=True)
        return run(args, args.keep_logs, argv)
    with tempfile.TemporaryDirectory(prefix="drill-") as log_dir:
        return run(args, Path(log_dir), argv)


if __name__ == "__main__":
    sys.exit(main())
