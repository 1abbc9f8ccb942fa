"""The drill's load generator, a process of its own: `python -m tools.drill.load --port P ...`.

Many concurrent clients go through the load balancer. In the `drill` workload each holds its own session
and every step reads it and writes the next value, so a lost or stale write shows up at the next read;
every few steps it also writes its item to the store and reads it back. The `floor` workload asks the
shallow health path only, the `session` workload only reads and updates sessions (the service_vs_floor
benchmark). It stops by itself after --seconds, or earlier on SIGTERM, then (drill) checks every client's
session and item once more and prints one JSON object with every request's start, latency and status.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from refarch import ROOT
from sample_service.paths import HEALTH_PATH
from tools.drill.http import HttpConnection
from tools.drill.servers import dying_with_parent

REQUEST_TIMEOUT_SECONDS = 10
# Hard bounds on any run, whatever its arguments and whether or not anyone stops it.
MAX_SECONDS = 600
MAX_REQUESTS = 1_000_000
# Connection errors and timeouts are recorded as status 0.
NO_RESPONSE = 0
VERIFY_ATTEMPTS = 3


def _route(path: str) -> str:
    return path.split("/")[1]


@dataclass
class RequestLog:
    starts: list[float] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    routes: list[str] = field(default_factory=list)  # "sessions", "items" or "health"

    def record(self, started: float, status: int, path: str) -> None:
        self.starts.append(round(started, 6))
        self.latencies.append(round(time.monotonic() - started, 6))
        self.statuses.append(status)
        self.routes.append(_route(path))


@dataclass
class Tally:
    sessions_created: int = 0
    sessions_lost: int = 0  # the service answered 404 for a session its client holds
    sessions_stale: int = 0  # the session held something other than its client's last write
    sessions_verified: int = 0
    items_written: int = 0
    items_lost: int = 0
    items_stale: int = 0
    errors: collections.Counter[str] = field(default_factory=collections.Counter)


class Client:
    def __init__(self, index: int, port: int, run_id: str, log: RequestLog, tally: Tally) -> None:
        self.index = index
        self.conn = HttpConnection(port, REQUEST_TIMEOUT_SECONDS)
        self.log = log
        self.tally = tally
        self.token: str | None = None
        # Every value the session may hold: one normally, two after a write whose outcome is unknown.
        self.expected: set[int] = set()
        self.item_id = f"drill-{run_id}-{index}"
        self.item_expected: set[int] = {0}  # 0: not written yet
        self.steps = 0

    async def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        started = time.monotonic()
        try:
            status, raw = await self.conn.request(method, path, body)
            parsed = json.loads(raw) if raw and 200 <= status < 300 else None
        except (OSError, TimeoutError, ValueError, asyncio.IncompleteReadError) as exc:
            self.log.record(started, NO_RESPONSE, path)
            self.tally.errors[f"{method} {_route(path)} {type(exc).__name__}"] += 1
            return NO_RESPONSE, None
        self.log.record(started, status, path)
        if not 200 <= status < 300:
            self.tally.errors[f"{method} {_route(path)} {status}"] += 1
        return status, parsed

    def _session_path(self) -> str:
        return f"/sessions/{self.token}"

    def _lose(self, stale: bool) -> None:
        if stale:
            self.tally.sessions_stale += 1
        else:
            self.tally.sessions_lost += 1
        self.token = None

    async def create_session(self) -> None:
        status, body = await self.call("POST", "/sessions", {"client": self.index, "writes": 0})
        if status == 201:
            self.token, self.expected = body["token"], {0}
            self.tally.sessions_created += 1

    async def read_session(self) -> int | None:
        """The session's write count if it holds what this client wrote; None if unknown or lost."""
        status, body = await self.call("GET", self._session_path())
        if status == 404:
            self._lose(stale=False)
        elif status == 200:
            data = body["data"]
            if data.get("client") == self.index and data.get("writes") in self.expected:
                self.expected = {data["writes"]}
                return data["writes"]
            self._lose(stale=True)
        return None

    async def session_step(self) -> None:
        if self.token is None:
            await self.create_session()
            return
        writes = await self.read_session()
        if writes is None:
            return
        status, _ = await self.call("PUT", self._session_path(), {"client": self.index, "writes": writes + 1})
        if status == 200:
            self.expected = {writes + 1}
        elif status == 404:
            self._lose(stale=False)
        elif status == NO_RESPONSE or status >= 500:
            self.expected = {writes, writes + 1}  # it may or may not have been applied

    async def item_step(self) -> None:
        if self.item_expected != {0}:  # before the first write, a 404 would be right but count as failed
            await self.check_item()
        version = max(self.item_expected) + 1
        status, _ = await self.call(
            "PUT", f"/items/{self.item_id}", {"client": self.index, "version": version}
        )
        if status == 200:
            self.item_expected = {version}
            self.tally.items_written += 1
        elif status == NO_RESPONSE or status >= 500:
            self.item_expected.add(version)

    async def check_item(self) -> bool:
        status, body = await self.call("GET", f"/items/{self.item_id}")
        if status == 404:
            found = 0
        elif status == 200:
            found = body["data"].get("version")
        else:
            return False
        if found not in self.item_expected:
            if found == 0:
                self.tally.items_lost += 1
            else:
                self.tally.items_stale += 1
        self.item_expected = {found}
        return True

    async def drill_step(self, item_every: int) -> None:
        self.steps += 1
        await self.session_step()
        if item_every and self.steps % item_every == 0:
            await self.item_step()

    async def verify(self) -> None:
        """After the load: the session and the item still hold exactly what this client last wrote."""
        # A failed read (counted as failed) is retried; a lost or stale session is counted once, in read.
        for _ in range(VERIFY_ATTEMPTS):
            if self.token is None:
                break
            if await self.read_session() is not None:
                self.tally.sessions_verified += 1
                break
        for _ in range(VERIFY_ATTEMPTS):
            if self.item_expected == {0} or await self.check_item():
                break


async def run(args: argparse.Namespace) -> dict[str, Any]:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    loop.call_later(args.seconds, stop.set)  # bounded even if nobody stops it

    log, tally = RequestLog(), Tally()
    clients = [Client(i, args.port, args.run_id, log, tally) for i in range(args.clients)]
    # Each step is about two requests; spread the clients' steps evenly over the interval.
    interval = 2 * args.clients / args.rate if args.rate else 0.0

    async def drive(client: Client) -> None:
        if args.workload == "session":
            await client.create_session()
        next_step = time.monotonic() + interval * client.index / max(1, args.clients)
        while not stop.is_set() and len(log.statuses) < MAX_REQUESTS:
            if interval:
                delay = next_step - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                next_step = max(next_step + interval, time.monotonic())
            if args.workload == "floor":
                await client.call("GET", HEALTH_PATH)
            elif args.workload == "session":
                await client.session_step()
            else:
                await client.drill_step(args.item_every)

    started = time.monotonic()
    await asyncio.gather(*(drive(c) for c in clients))
    ended = time.monotonic()
    if args.workload == "drill":
        await asyncio.gather(*(c.verify() for c in clients))
    for client in clients:
        client.conn.close()
    return {
        "workload": args.workload,
        "started": started,
        "ended": ended,
        "starts": log.starts,
        "latencies": log.latencies,
        "statuses": log.statuses,
        "routes": log.routes,
        "tally": {**tally.__dict__, "errors": dict(tally.errors.most_common(10))},
    }


def start_load(
    port: int, workload: str, clients: int, seconds: float, **options: Any
) -> subprocess.Popen[bytes]:
    """For the parent: this generator in a process of its own, on its own core if there is one free."""
    args = [sys.executable, "-m", "tools.drill.load", "--port", str(port), "--workload", workload]
    args += ["--clients", str(clients), "--seconds", f"{min(seconds, MAX_SECONDS):.1f}"]
    for name, value in options.items():
        args += [f"--{name.replace('_', '-')}", str(value)]
    return subprocess.Popen(dying_with_parent(args), cwd=ROOT, stdout=subprocess.PIPE)


def finish_load(proc: subprocess.Popen[bytes], timeout: float) -> dict[str, Any]:
    """For the parent: wait for the process to end (stop it first with SIGTERM), return its result."""
    out, _ = proc.communicate(timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"the load generator exited with {proc.returncode}")
    return json.loads(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.drill.load", description=__doc__)
    parser.add_argument("--port", type=int, required=True, help="the load balancer's port on 127.0.0.1")
    parser.add_argument("--workload", choices=("drill", "floor", "session"), default="drill")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument(
        "--rate", type=float, default=0, help="target requests/s in total; 0: as fast as possible"
    )
    parser.add_argument("--seconds", type=float, default=120, help="stop after this long at the latest")
    parser.add_argument(
        "--item-every", type=int, default=4, help="a store write+read every N steps (0: never)"
    )
    parser.add_argument("--run-id", default=f"{os.getpid()}-{time.time_ns()}", help="makes item ids unique")
    args = parser.parse_args(argv)
    if not 1 <= args.clients <= 1000 or not 0 < args.seconds <= MAX_SECONDS:
        parser.error("--clients must be 1-1000 and --seconds at most 600")
    result = asyncio.run(run(args))
    json.dump(result, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
