"""Real local dependencies for the sample service: redis-server, a moto DynamoDB server, the service itself
as a subprocess, and a TCP proxy that can make a dependency refuse or stall. Everything binds 127.0.0.1."""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
import redis

# The service runs from the checkout, as `python -m sample_service` with this as working directory.
REPO_ROOT = Path(__file__).resolve().parents[2]

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
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


class RedisServer:
    """A throwaway redis-server without persistence; restartable on the same port."""

    def __init__(self, *extra_args: str) -> None:
        if not os.access(REDIS_SERVER, os.X_OK):
            pytest.fail(f"{REDIS_SERVER} not found: install redis-server (e.g. apt-get install redis-server)")
        self.port = free_port()
        self._extra_args = extra_args
        self._dir = tempfile.mkdtemp(prefix="redis-")
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        args = ["--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        with open(Path(self._dir) / "redis.log", "ab") as log:
            self._proc = subprocess.Popen(
                [REDIS_SERVER, *args, *self._extra_args], cwd=self._dir, stdout=log, stderr=subprocess.STDOUT
            )
        wait_until(self._listening, 5, f"redis-server on port {self.port}")

    def _listening(self) -> bool:
        assert self._proc is not None
        if self._proc.poll() is not None:
            pytest.fail(f"redis-server exited: {(Path(self._dir) / 'redis.log').read_text()}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
            return True
        return False

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc = None

    def client(self, **kwargs: Any) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, decode_responses=True, **kwargs)

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self._dir, ignore_errors=True)


class FaultProxy:
    """A TCP relay in front of a dependency. Modes: "forward" relays; "refuse" leaves nothing listening
    (connection refused); "stall" accepts connections and never answers (every read times out).
    Each mode change drops the open connections, as an outage or a failover does."""

    def __init__(self, upstream_port: int) -> None:
        self.port = free_port()
        self._upstream_port = upstream_port
        self._mode = "forward"
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self._listen()

    def _listen(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self._listener.settimeout(0.05)  # lets the accept loop notice that the listener was closed
        threading.Thread(target=self._accept_loop, args=(self._listener,), daemon=True).start()

    def _accept_loop(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self._sockets.add(client)
                mode = self._mode
            if mode != "forward":
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self._upstream_port), timeout=2)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._sockets.add(upstream)
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                dst.sendall(data)
        for sock in (src, dst):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def set_mode(self, mode: str) -> None:
        assert mode in ("forward", "refuse", "stall")
        with self._lock:
            self._mode = mode
            open_sockets, self._sockets = self._sockets, set()
        for sock in open_sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        if mode == "refuse" and self._listener is not None:
            self._listener.close()
            self._listener = None
        elif mode != "refuse" and self._listener is None:
            self._listen()

    def close(self) -> None:
        self.set_mode("refuse")


@dataclass
class Response:
    status: int
    headers: http.client.HTTPMessage
    body: Any
    elapsed: float

    def assert_error(self, status: int, message: str | None = None) -> None:
        """A 4xx/5xx must always be JSON {"error": "..."}."""
        assert self.status == status, (self.status, self.body)
        assert self.headers["Content-Type"].startswith("application/json")
        assert isinstance(self.body["error"], str)
        if message is not None:
            assert self.body["error"] == message


class Service:
    """`python -m sample_service` in a subprocess; stdout (the JSON logs) goes to a file."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.port = int(env["SERVICE_PORT"])
        self.log_path = log_path
        with open(log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "sample_service"],
                cwd=REPO_ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def wait_healthy(self, timeout: float = 15) -> None:
        def healthy() -> bool:
            if self.proc.poll() is not None:
                pytest.fail(f"service exited with {self.proc.returncode}:\n{self.log_path.read_text()}")
            try:
                return self.request("GET", "/health", timeout=0.5).status == 200
            except OSError:
                return False

        wait_until(healthy, timeout, "the service's /health")

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        raw: bytes | None = None,
        chunks: list[bytes] | None = None,
        timeout: float = 10,
    ) -> Response:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            started = time.monotonic()
            if chunks is not None:
                conn.request(method, path, body=iter(chunks), encode_chunked=True)
            else:
                payload = raw if raw is not None else None if body is None else json.dumps(body).encode()
                conn.request(method, path, body=payload)
            response = conn.getresponse()
            data = response.read()
            elapsed = time.monotonic() - started
        finally:
            conn.close()
        parsed = json.loads(data) if data else None
        return Response(status=response.status, headers=response.headers, body=parsed, elapsed=elapsed)

    def stop(self, timeout: float = 10) -> int:
        """SIGTERM, as an instance being scaled in gets; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def log_records(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.log_path.read_text().splitlines()]

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    yield server
    server.destroy()


@pytest.fixture
def make_redis() -> Iterator[Callable[..., RedisServer]]:
    """A dedicated redis-server, for tests that stop, restart or block it."""
    servers: list[RedisServer] = []

    def make(*extra_args: str) -> RedisServer:
        server = RedisServer(*extra_args)
        servers.append(server)
        server.start()
        return server

    yield make
    for server in servers:
        server.destroy()


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    # The layout the stacks create: partition key pk (S), TTL attribute expires_at.
    dynamodb = aws_client("dynamodb", endpoint)
    dynamodb.create_table(
        TableName=ITEMS_TABLE,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.update_time_to_live(
        TableName=ITEMS_TABLE,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"},
    )
    yield endpoint
    server.stop()


def aws_client(service: str, endpoint: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=AWS_TEST_ENV["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=AWS_TEST_ENV["AWS_SECRET_ACCESS_KEY"],
    )


@pytest.fixture(scope="session")
def dynamodb(moto_endpoint: str) -> Any:
    return aws_client("dynamodb", moto_endpoint)


@pytest.fixture(scope="session")
def secretsmanager(moto_endpoint: str) -> Any:
    return aws_client("secretsmanager", moto_endpoint)


@pytest.fixture(scope="session")
def service_env(redis_server: RedisServer, moto_endpoint: str) -> dict[str, str]:
    """Everything the service needs, pointing at the shared redis and moto; tests override parts."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        **AWS_TEST_ENV,
        "AWS_ENDPOINT_URL_DYNAMODB": moto_endpoint,
        "SERVICE_HOST": "127.0.0.1",
        "CACHE_HOST": "127.0.0.1",
        "CACHE_PORT": str(redis_server.port),
        "CACHE_TLS": "false",
        "STORE_BACKEND": "dynamodb",
        "ITEMS_TABLE": ITEMS_TABLE,
    }


def launch(service_env: dict[str, str], log_path: Path, overrides: dict[str, str | None]) -> Service:
    env = {**service_env, "SERVICE_PORT": str(free_port())}
    for name, value in overrides.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return Service(env, log_path)


@pytest.fixture
def start_service(service_env: dict[str, str], tmp_path: Path) -> Iterator[Callable[..., Service]]:
    """Start the service with service_env plus overrides (None removes a variable)."""
    services: list[Service] = []

    def start(wait: bool = True, **overrides: str | None) -> Service:
        service = launch(service_env, tmp_path / f"service-{len(services)}.log", overrides)
        services.append(service)
        if wait:
            service.wait_healthy()
        return service

    yield start
    for service in services:
        service.kill()


@pytest.fixture(scope="module")
def shared_service(
    service_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Service]:
    """One instance for the tests that only send requests; non-default settings prove the env is read."""
    log_path = tmp_path_factory.mktemp("shared-service") / "service.log"
    service = launch(service_env, log_path, {"SESSION_TTL_SECONDS": "600", "MAX_BODY_BYTES": "8192"})
    try:
        service.wait_healthy()
        yield service
        assert service.stop() == 0
    finally:
        service.kill()


@pytest.fixture
def fault_proxy() -> Iterator[Callable[[int], FaultProxy]]:
    proxies: list[FaultProxy] = []

    def make(upstream_port: int) -> FaultProxy:
        proxy = FaultProxy(upstream_port)
        proxies.append(proxy)
        return proxy

    yield make
    for proxy in proxies:
        proxy.close()
