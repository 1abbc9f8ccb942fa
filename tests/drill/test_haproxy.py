"""HAProxy plays the stacks' load balancer: its settings come from the same policy and health path, and a
newly registered instance gets no traffic until it has passed its checks, as on a cloud load balancer."""

from __future__ import annotations

import dataclasses
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from refarch.health_check import HEALTH_CHECK
from sample_service.paths import HEALTH_PATH
from tools.drill.haproxy import HAPROXY, CheckTiming, render_config
from tools.drill.servers import ServiceProcess, free_port


def test_check_timing_is_the_policy_scaled() -> None:
    assert CheckTiming.from_policy(HEALTH_CHECK, 1) == CheckTiming(
        inter_ms=HEALTH_CHECK.interval_seconds * 1000,
        timeout_ms=HEALTH_CHECK.timeout_seconds * 1000,
        rise=HEALTH_CHECK.healthy_threshold,
        fall=HEALTH_CHECK.unhealthy_threshold,
        status=HEALTH_CHECK.healthy_status,
    )
    scaled = CheckTiming.from_policy(HEALTH_CHECK, 0.1)
    assert (scaled.inter_ms, scaled.timeout_ms) == (
        HEALTH_CHECK.interval_seconds * 100,
        HEALTH_CHECK.timeout_seconds * 100,
    )
    assert (scaled.rise, scaled.fall) == (HEALTH_CHECK.healthy_threshold, HEALTH_CHECK.unhealthy_threshold)


def test_config_checks_the_health_path_balances_round_robin_without_affinity(tmp_path: Path) -> None:
    policy = dataclasses.replace(HEALTH_CHECK, healthy_status=204)  # proves the status is not hard-coded
    check = CheckTiming.from_policy(policy, 1)
    config = render_config(port=8080, admin_socket=tmp_path / "admin.sock", check=check)
    lines = [line.strip() for line in config.splitlines()]
    assert f"option httpchk GET {HEALTH_PATH}" in lines
    assert "http-check expect status 204" in lines
    assert f"timeout check {HEALTH_CHECK.timeout_seconds * 1000}ms" in lines
    assert "balance roundrobin" in lines
    assert not [
        line for line in lines if line.split(" ")[0] in ("cookie", "stick", "stick-table", "hash-type")
    ]
    assert "retries 0" in lines  # nothing a cloud load balancer would not do hides a failed request
    assert "bind 127.0.0.1:8080" in lines


@pytest.mark.servers
def test_haproxy_accepts_the_config(tmp_path: Path) -> None:
    haproxy = HAPROXY
    config = tmp_path / "haproxy.cfg"
    config.write_text(
        render_config(
            port=free_port(), admin_socket=tmp_path / "a.sock", check=CheckTiming.from_policy(HEALTH_CHECK, 1)
        )
    )
    done = subprocess.run([haproxy, "-c", "-f", str(config)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.servers
def test_a_new_instance_takes_traffic_only_after_passing_its_checks(make_fleet: Any, haproxy: Any) -> None:
    fleet = make_fleet(1)
    port = free_port()
    haproxy.register("late", port)  # nothing listens there yet
    statuses = set()
    deadline = time.monotonic() + 4 * haproxy.check.inter_ms / 1000
    while time.monotonic() < deadline:
        statuses.add(haproxy.status("late"))
        time.sleep(0.01)
    assert statuses <= {"DOWN", f"DOWN 1/{haproxy.check.rise}"}, statuses

    env = {**fleet.env, "SERVICE_PORT": str(port)}
    late = ServiceProcess(env, fleet.log_dir / "late.log")
    try:
        seen = []
        deadline = time.monotonic() + 30
        while haproxy.status("late") != "UP" and time.monotonic() < deadline:
            seen.append(haproxy.status("late"))
            time.sleep(0.005)
        assert haproxy.status("late") == "UP"
        # It went through the rising state: one passing check was not enough.
        assert f"DOWN 1/{haproxy.check.rise}" in seen
    finally:
        late.kill()
