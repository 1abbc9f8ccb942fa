"""The drill's building blocks on 127.0.0.1: redis-server, a moto server process, HAProxy and a fleet of
service instances behind it, configured as `make drill` configures them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from refarch.health_check import HEALTH_CHECK
from refarch.spec import load_environment
from tools.drill.fleet import Fleet, instance_env
from tools.drill.haproxy import CheckTiming, Haproxy
from tools.drill.servers import MotoServer, RedisServer

# Health checks every half second keep these tests short; the drill's default is 0.1 (one a second).
CHECK_SCALE = 0.05


@pytest.fixture
def cache() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    yield server
    server.destroy()


@pytest.fixture(scope="session")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    """Shared: moto takes seconds to start. A test that stops it starts it again (with an empty table)."""
    server = MotoServer(tmp_path_factory.mktemp("moto") / "moto.log")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def haproxy(tmp_path: Path) -> Iterator[Haproxy]:
    lb = Haproxy(CheckTiming.from_policy(HEALTH_CHECK, CHECK_SCALE), tmp_path / "haproxy.log")
    lb.start()
    yield lb
    lb.stop()


@pytest.fixture
def make_fleet(
    cache: RedisServer, store: MotoServer, haproxy: Haproxy, tmp_path: Path
) -> Iterator[Callable[..., Fleet]]:
    """Instances with the dev environment's settings behind HAProxy; keyword arguments override variables."""
    fleets: list[Fleet] = []

    def make(count: int, **overrides: str) -> Fleet:
        spec = load_environment("dev")
        env = {**instance_env(spec, cache.port, store.endpoint, "redis"), **overrides}
        fleet = Fleet(haproxy, env, tmp_path)
        fleets.append(fleet)
        fleet.start(count)
        return fleet

    yield make
    for fleet in fleets:
        fleet.stop()
