"""Real local dependencies on 127.0.0.1 for the drill and the service tests: redis-server, a moto DynamoDB
server and the sample service itself, each a subprocess that can be stopped and started again."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import redis

from refarch import ROOT
from sample_service.dynamodb_layout import PARTITION_KEY, TTL_ATTRIBUTE
from sample_service.paths import HEALTH_PATH

# The service runs from the checkout, as `python -m sample_service` with this as working directory.
REDIS_SERVER = "/usr/bin/redis-server"
ITEMS_TABLE = "sample-service-items"
REGION = "us-east-1"
# Dummy credentials and no shared config, so neither boto3 here nor the service can reach real AWS
# (or the EC2 metadata endpoint) by accident.
AWS_TEST_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_REGION": REGION,
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_EC2_METADATA_DISABLED": "true",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


def listening(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
        return True
    return False


# util-linux's setpriv sets the parent-death signal and then execs the command in the same process.
SETPRIV = shutil.which("setpriv") or "/usr/bin/setpriv"


def dying_with_parent(args: list[str]) -> list[str]:
    """`args` run so that the kernel sends them SIGTERM if the process that started them dies, so a drill or
    test run that is killed outright leaves no servers behind. Not a `preexec_fn`: one makes Python fork()
    instead of vfork(), and the fork handlers of gRPC (loaded by the Pulumi SDK in the same test process)
    can abort the child before it execs ("epoll_wait error: Bad file descriptor", grpc/grpc#43055)."""
    return [SETPRIV, "--pdeathsig", "TERM", "--", *args]


def stop_process(proc: subprocess.Popen[bytes] | None, timeout: float = 5) -> None:
    if proc is not None and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class RedisServer:
    """A throwaway redis-server without persistence; restartable on the same port."""

    def __init__(self, *extra_args: str) -> None:
        if not os.access(REDIS_SERVER, os.X_OK):
            raise RuntimeError(
                f"{REDIS_SERVER} not found: install redis-server (apt-get install redis-server)"
            )
        self.port = free_port()
        self._extra_args = extra_args
        self._dir = tempfile.mkdtemp(prefix="redis-")
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        args = ["--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        with open(Path(self._dir) / "redis.log", "ab") as log:
            self._proc = subprocess.Popen(
                dying_with_parent([REDIS_SERVER, *args, *self._extra_args]),
                cwd=self._dir,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_until(self._listening, 5, f"redis-server on port {self.port}")

    def _listening(self) -> bool:
        assert self._proc is not None
        if self._proc.poll() is not None:
            raise RuntimeError(f"redis-server exited: {(Path(self._dir) / 'redis.log').read_text()}")
        return listening(self.port)

    def stop(self) -> None:
        stop_process(self._proc)
        self._proc = None

    def kill(self) -> None:
        """SIGKILL, as a failed primary: no shutdown, every connection reset."""
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            self._proc = None

    def hang(self) -> None:
        """SIGSTOP: connections are still accepted by the kernel, but nothing is ever answered."""
        assert self._proc is not None
        self._proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self._proc is not None
        self._proc.send_signal(signal.SIGCONT)

    def client(self, **kwargs: Any) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, decode_responses=True, **kwargs)

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self._dir, ignore_errors=True)


def aws_client(service: str, endpoint: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=AWS_TEST_ENV["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=AWS_TEST_ENV["AWS_SECRET_ACCESS_KEY"],
    )


def create_items_table(endpoint: str, table: str = ITEMS_TABLE) -> None:
    """The layout the stacks create: partition key pk (S), TTL attribute expires_at."""
    dynamodb = aws_client("dynamodb", endpoint)
    dynamodb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": PARTITION_KEY, "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": PARTITION_KEY, "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.update_time_to_live(
        TableName=table, TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE}
    )


class MotoServer:
    """moto's DynamoDB API in a process of its own, so an outage is a real stop. Its data lives in memory:
    a restart comes back with an empty table."""

    def __init__(self, log_path: Path) -> None:
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._log_path = log_path
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with open(self._log_path, "ab") as log:
            self._proc = subprocess.Popen(
                dying_with_parent(
                    [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)]
                ),
                env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **AWS_TEST_ENV},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_until(self._listening, 30, f"moto server on port {self.port}")
        create_items_table(self.endpoint)

    def _listening(self) -> bool:
        assert self._proc is not None
        if self._proc.poll() is not None:
            raise RuntimeError(f"moto server exited: {self._log_path.read_text()}")
        return listening(self.port)

    def stop(self) -> None:
        stop_process(self._proc)
        self._proc = None


class ServiceProcess:
    """`python -m sample_service` in a subprocess; stdout (the JSON logs) goes to a file. By default the
    checkout's service on this interpreter; `python` and `cwd` run an installed release instead."""

    def __init__(
        self, env: dict[str, str], log_path: Path, *, python: str = sys.executable, cwd: Path = ROOT
    ) -> None:
        self.port = int(env["SERVICE_PORT"])
        self.log_path = log_path
        with open(log_path, "wb") as log:
            self.proc = subprocess.Popen(
                dying_with_parent([python, "-m", "sample_service"]),
                cwd=cwd,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def healthy(self) -> bool:
        if self.proc.poll() is not None:
            raise RuntimeError(f"service exited with {self.proc.returncode}:\n{self.log_path.read_text()}")
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=0.5)
        try:
            conn.request("GET", HEALTH_PATH)
            return conn.getresponse().status == 200
        except OSError:
            return False
        finally:
            conn.close()

    def wait_healthy(self, timeout: float = 15) -> None:
        wait_until(self.healthy, timeout, f"the service's {HEALTH_PATH} on port {self.port}")

    def terminate(self) -> None:
        """SIGTERM, as an instance being scaled in or replaced gets."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)

    def stop(self, timeout: float = 10) -> int:
        """SIGTERM, then wait for the exit code."""
        self.terminate()
        return self.proc.wait(timeout)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def log_records(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.log_path.read_text().splitlines()]
