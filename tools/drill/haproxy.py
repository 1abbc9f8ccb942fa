"""HAProxy as the drill's load balancer, configured from the same facts as the stacks' load balancers:
round robin with no affinity, the service's shallow HEALTH_PATH checked per HEALTH_CHECK, and
draining. Instances are registered and deregistered through the runtime API, as an Auto Scaling
group registers targets: a new one starts unhealthy and takes traffic only after passing its checks."""

from __future__ import annotations

import csv
import io
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from refarch.health_check import HealthCheckPolicy
from sample_service.paths import HEALTH_PATH
from tools.drill.servers import dying_with_parent, free_port, listening, stop_process, wait_until

BACKEND = "fleet"

HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"


@dataclass(frozen=True)
class CheckTiming:
    """The health-check policy, optionally time-compressed so a drill takes a minute rather than ten."""

    inter_ms: int
    timeout_ms: int
    rise: int
    fall: int
    status: int

    @classmethod
    def from_policy(cls, policy: HealthCheckPolicy, scale: float) -> CheckTiming:
        return cls(
            inter_ms=max(50, round(policy.interval_seconds * 1000 * scale)),
            timeout_ms=max(25, round(policy.timeout_seconds * 1000 * scale)),
            rise=policy.healthy_threshold,
            fall=policy.unhealthy_threshold,
            status=policy.healthy_status,
        )


def render_config(*, port: int, admin_socket: Path, check: CheckTiming) -> str:
    # No cookie, stick table or hash: every request is balanced on its own (stickiness off).
    # retries 0 and no redispatch: a request that fails reaches the client, as with a cloud load balancer.
    return f"""\
global
    stats socket {admin_socket} mode 600 level admin

defaults
    mode http
    retries 0
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    timeout http-keep-alive 60s
    timeout check {check.timeout_ms}ms

frontend service
    bind 127.0.0.1:{port}
    default_backend {BACKEND}

backend {BACKEND}
    balance roundrobin
    option httpchk GET {HEALTH_PATH}
    http-check expect status {check.status}
"""


class Haproxy:
    def __init__(self, check: CheckTiming, log_path: Path) -> None:
        self.port = free_port()
        self.check = check
        self._dir = Path(tempfile.mkdtemp(prefix="haproxy-"))
        self._socket = self._dir / "admin.sock"
        self._config = self._dir / "haproxy.cfg"
        self._config.write_text(self.render())
        self._log_path = log_path
        self._proc: subprocess.Popen[bytes] | None = None

    def render(self) -> str:
        return render_config(port=self.port, admin_socket=self._socket, check=self.check)

    def start(self) -> None:
        haproxy = HAPROXY
        with open(self._log_path, "ab") as log:
            # -db: stay in the foreground, so stopping this process stops HAProxy.
            self._proc = subprocess.Popen(
                dying_with_parent([haproxy, "-db", "-f", str(self._config)]),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_until(self._ready, 10, f"haproxy on port {self.port}")

    def _ready(self) -> bool:
        assert self._proc is not None
        if self._proc.poll() is not None:
            raise RuntimeError(f"haproxy exited: {self._log_path.read_text()}")
        return listening(self.port) and self._socket.exists()

    def command(self, line: str) -> str:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(5)
            sock.connect(str(self._socket))
            sock.sendall(line.encode() + b"\n")
            out = b""
            while chunk := sock.recv(65536):
                out += chunk
        return out.decode().strip()

    def _expect(self, line: str, *accepted: str) -> None:
        answer = self.command(line)
        if answer not in accepted:
            raise RuntimeError(f"haproxy: {line!r} answered {answer!r}")

    def register(self, name: str, port: int) -> None:
        """Add an instance in the state a cloud load balancer gives a new target: unhealthy until it passes
        `rise` consecutive checks. HAProxy would otherwise start a new server as UP."""
        c = self.check
        server = f"{BACKEND}/{name}"
        # Weight 0 until marked down, so not one request reaches it before its first passing checks.
        checks = f"check inter {c.inter_ms} rise {c.rise} fall {c.fall}"
        self._expect(f"add server {server} 127.0.0.1:{port} {checks} weight 0", "New server registered.")
        self._expect(f"enable health {server}", "")
        self._expect(f"set server {server} state ready", "")
        self._expect(f"set server {server} health down", "")
        self._expect(f"set weight {server} 1", "")

    def drain(self, name: str) -> None:
        """No new requests; those in flight finish (the cloud's deregistration / connection draining)."""
        self._expect(f"set server {BACKEND}/{name} state drain", "")

    def deregister(self, name: str) -> None:
        self._expect(f"set server {BACKEND}/{name} state maint", "")
        self._expect(f"del server {BACKEND}/{name}", "Server deleted.")

    def servers(self) -> dict[str, dict[str, str]]:
        """`show stat` rows of the fleet's servers, by name: status (UP, DOWN, DRAIN, MAINT...),
        scur (requests in flight), hrsp_5xx..."""
        text = self.command("show stat").lstrip("# ")
        rows = csv.DictReader(io.StringIO(text))
        return {r["svname"]: r for r in rows if r["pxname"] == BACKEND and r["svname"] != "BACKEND"}

    def status(self, name: str) -> str:
        return self.servers()[name]["status"]

    def in_flight(self, name: str) -> int:
        row = self.servers()[name]
        return int(row["scur"] or 0) + int(row["qcur"] or 0)

    def stop(self) -> None:
        stop_process(self._proc)
        self._proc = None
        shutil.rmtree(self._dir, ignore_errors=True)


CACHE_BACKEND = "cache"
CACHE_SERVER = f"{CACHE_BACKEND}/primary"


def render_cache_config(*, port: int, admin_socket: Path, primary_port: int) -> str:
    # TCP only: the cache's one endpoint, which follows the primary, as a managed cache's primary endpoint
    # does after a failover (a DNS record or a proxy that the service cannot tell apart from the cache).
    return f"""\
global
    stats socket {admin_socket} mode 600 level admin

defaults
    mode tcp
    timeout connect 1s
    timeout client 60s
    timeout server 60s

frontend {CACHE_BACKEND}
    bind 127.0.0.1:{port}
    default_backend {CACHE_BACKEND}

backend {CACHE_BACKEND}
    server primary 127.0.0.1:{primary_port}
"""


class CacheEndpoint(Haproxy):
    """One endpoint for the cache on 127.0.0.1, in front of whichever Redis is the primary."""

    def __init__(self, primary_port: int, log_path: Path) -> None:
        self.primary_port = primary_port
        super().__init__(CheckTiming(0, 0, 0, 0, 0), log_path)

    def render(self) -> str:
        return render_cache_config(port=self.port, admin_socket=self._socket, primary_port=self.primary_port)

    def switch_to(self, port: int) -> None:
        """Points the endpoint at a new primary and cuts the connections to the old one, as a failover's
        endpoint change does: the service's clients reconnect, to the new primary."""
        old = self.primary_port
        changed = f"port changed from '{old}' to '{port}' by 'stats socket command'"
        self._expect(
            f"set server {CACHE_SERVER} addr 127.0.0.1 port {port}", f"no need to change the addr, {changed}"
        )
        self._expect(f"shutdown sessions server {CACHE_SERVER}", "")
        self.primary_port = port

    def target_port(self) -> int:
        """The port the endpoint forwards to, as HAProxy reports it (`show servers state`: srv_port)."""
        header, row = self.command(f"show servers state {CACHE_BACKEND}").splitlines()[-2:]
        return int(dict(zip(header.lstrip("# ").split(), row.split(), strict=True))["srv_port"])
