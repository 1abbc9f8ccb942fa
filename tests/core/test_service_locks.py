"""The per-cloud service locks are what `make lock` writes, checked offline: every package of the cloud's
closure at requirements.lock's version, each with hashes, and no other cloud's client libraries."""

from __future__ import annotations

import dataclasses

import pytest

from refarch.locks import Pin, parse_lock, read_lock, render_lock
from refarch.platforms import CLOUDS
from tools import service_lock


@pytest.mark.parametrize("cloud", CLOUDS)
def test_lock_matches_pyproject_and_requirements_lock(cloud: str) -> None:
    assert service_lock.lock_problems(cloud, read_lock(cloud)) == [], "stale: run `make lock`"


@pytest.mark.parametrize("cloud", CLOUDS)
def test_each_cloud_carries_only_its_own_clients(cloud: str) -> None:
    names = {pin.name for pin in read_lock(cloud).pins}
    own = {requirement.name for requirement in service_lock.extra_requirements(f"service-{cloud}")}
    assert own <= names
    assert service_lock.foreign_roots(cloud) and not service_lock.foreign_roots(cloud) & names


def test_lock_round_trips_through_pips_format() -> None:
    lock = read_lock("aws")
    assert parse_lock(render_lock("# header", lock)) == lock
    digests = [digest for pin in lock.pins for digest in pin.hashes]
    assert digests and all(len(digest) == 64 for digest in digests)


def _mutated(lock, name: str, **changes):
    return dataclasses.replace(
        lock, pins=tuple(dataclasses.replace(p, **changes) if p.name == name else p for p in lock.pins)
    )


def test_drift_is_caught() -> None:
    lock = read_lock("aws")
    first, last = lock.pins[0], lock.pins[-1]
    foreign = sorted(service_lock.foreign_roots("aws"))[0]

    def problems(changed) -> str:
        return "\n".join(service_lock.lock_problems("aws", changed))

    assert f"{first.name}==0.0.1, requirements.lock pins {first.version}" in problems(
        _mutated(lock, first.name, version="0.0.1")
    )
    assert f"{first.requirement} has no --hash" in problems(_mutated(lock, first.name, hashes=()))
    assert f"{last.requirement} is missing" in problems(dataclasses.replace(lock, pins=lock.pins[:-1]))
    with_foreign = dataclasses.replace(lock, pins=(*lock.pins, Pin(foreign, "1.0", ("0" * 64,))))
    assert f"{foreign} belongs to another cloud's extra" in problems(with_foreign)
    one_platform = dataclasses.replace(lock, platforms=lock.platforms[:1])
    assert f"expected {'; '.join(lock.platforms)}" in problems(one_platform)
