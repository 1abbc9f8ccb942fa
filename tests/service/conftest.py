"""Real local dependencies for the sample service: redis-server, a moto DynamoDB server, the service itself
as a subprocess, and a TCP proxy that can make a dependency refuse or stall. Everything binds 127.0.0.1.
The server processes are tools/drill/servers.py's, which the replacement drill uses too."""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tools.drill.servers import (
    AWS_TEST_ENV,
    ITEMS_TABLE,
    RedisServer,
    ServiceProcess,
    aws_client,
    create_items_table,
    free_port,
)


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


class Service(ServiceProcess):
    """The service process, plus a blocking client that records how long each request took."""

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        raw: bytes | None = None,
        chunks: list[bytes] | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = 10,
    ) -> Response:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            started = time.monotonic()
            if chunks is not None:
                conn.request(method, path, body=iter(chunks), headers=headers or {}, encode_chunked=True)
            else:
                payload = raw if raw is not None else None if body is None else json.dumps(body).encode()
                conn.request(method, path, body=payload, headers=headers or {})
            response = conn.getresponse()
            data = response.read()
            elapsed = time.monotonic() - started
        finally:
            conn.close()
        parsed = json.loads(data) if data else None
        return Response(status=response.status, headers=response.headers, body=parsed, elapsed=elapsed)


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
    create_items_table(endpoint)
    yield endpoint
    server.stop()


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
