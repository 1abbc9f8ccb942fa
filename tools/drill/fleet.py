"""The fleet behind the load balancer, and the replacement procedure the runbooks describe: start the new
instance, wait until the load balancer sees it healthy, drain the old one and take it out of the load
balancer, SIGTERM it, wait for its exit."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from refarch import ROOT
from refarch.service_settings import tuned_settings
from refarch.spec import EnvironmentSpec
from sample_service.config import TEST_ONLY_OPT_IN
from tools.drill.haproxy import Haproxy
from tools.drill.servers import AWS_TEST_ENV, ITEMS_TABLE, ServiceProcess, free_port, wait_until

# How long a new instance may take to start and pass its checks before the drill gives up on it.
LAUNCH_TIMEOUT_SECONDS = 60
# Beyond the shutdown grace: the service's own unwind time plus process exit.
EXIT_SLACK_SECONDS = 5
DID_NOT_EXIT = -1  # the exit code recorded for an instance that had to be killed


def instance_env(
    spec: EnvironmentSpec, cache_port: int, store_endpoint: str, session_backend: str
) -> dict[str, str]:
    """What the stack writes for an instance, with this machine's cache and store in place of the cloud's."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        **AWS_TEST_ENV,
        "AWS_ENDPOINT_URL_DYNAMODB": store_endpoint,
        **tuned_settings(spec.service),
        "SERVICE_HOST": "127.0.0.1",
        "CACHE_HOST": "127.0.0.1",
        "CACHE_PORT": str(cache_port),
        "CACHE_TLS": "false",
        "STORE_BACKEND": "dynamodb",
        "ITEMS_TABLE": ITEMS_TABLE,
    }
    if session_backend == "memory":  # the control run: state in the instances, which the drill must catch
        env.update({"SESSION_BACKEND": "memory", TEST_ONLY_OPT_IN: "true"})
    return env


@dataclass
class Instance:
    name: str
    process: ServiceProcess


@dataclass
class Replacement:
    old: str
    new: str
    started: float  # time.monotonic(), comparable with the load generator's clock
    in_service: float  # the new instance passed its checks
    drained: float  # no request in flight on the old one any more
    ended: float  # the old one exited and is deregistered
    exit_code: int

    @property
    def seconds(self) -> float:
        return self.ended - self.started


@dataclass
class Fleet:
    lb: Haproxy
    env: dict[str, str]
    log_dir: Path
    # The interpreter and working directory instances run `-m sample_service` with: an installed release's
    # venv and directory (tools.drill.release), or by default this checkout on this interpreter.
    python: str = sys.executable
    cwd: Path = ROOT
    instances: list[Instance] = field(default_factory=list)
    _launched: int = 0

    @property
    def shutdown_grace(self) -> float:
        # Also the load balancer's deregistration delay: the stacks set one to the other.
        return float(self.env["SHUTDOWN_GRACE_SECONDS"])

    def launch(self) -> Instance:
        self._launched += 1
        name = f"i{self._launched}"
        port = free_port()
        process = ServiceProcess(
            {**self.env, "SERVICE_PORT": str(port)},
            self.log_dir / f"{name}.log",
            python=self.python,
            cwd=self.cwd,
        )
        self.lb.register(name, port)
        instance = Instance(name, process)
        self.instances.append(instance)
        return instance

    def wait_in_service(self, instance: Instance) -> None:
        def up() -> bool:
            if instance.process.proc.poll() is not None:
                raise RuntimeError(f"{instance.name} exited: {instance.process.log_path.read_text()[-2000:]}")
            return self.lb.status(instance.name) == "UP"

        wait_until(up, LAUNCH_TIMEOUT_SECONDS, f"{instance.name} to pass the load balancer's health checks")

    def start(self, count: int) -> None:
        for instance in [self.launch() for _ in range(count)]:
            self.wait_in_service(instance)

    def replace(self, old: Instance) -> Replacement:
        started = time.monotonic()
        new = self.launch()
        self.wait_in_service(new)
        in_service = time.monotonic()

        self.lb.drain(old.name)
        # Like the cloud's deregistration delay: over as soon as nothing is in flight, at most the delay.
        deadline = time.monotonic() + self.shutdown_grace
        while self.lb.in_flight(old.name) and time.monotonic() < deadline:
            time.sleep(0.02)
        drained = time.monotonic()
        self.lb.deregister(old.name)

        try:
            exit_code = old.process.stop(timeout=self.shutdown_grace + EXIT_SLACK_SECONDS)
        except subprocess.TimeoutExpired:  # as the platform would after its stop timeout
            old.process.kill()
            exit_code = DID_NOT_EXIT
        self.instances.remove(old)
        return Replacement(old.name, new.name, started, in_service, drained, time.monotonic(), exit_code)

    def replace_all(self) -> list[Replacement]:
        """One round: every instance present at the start of the round, one at a time."""
        return [self.replace(old) for old in list(self.instances)]

    def stop(self) -> None:
        for instance in self.instances:
            instance.process.kill()
