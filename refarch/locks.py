"""The service's per-cloud lock files: every package an instance of that cloud installs, pinned to one
version, with the sha256 of each wheel it may install (one per target platform), in pip's requirements
format so `pip install --require-hashes -r <lock>` reads them directly. `make lock` writes them
(tools/service_lock.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from refarch.release import SERVICE_DIR

LOCKS_DIR = SERVICE_DIR / "locks"
_PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[^\s\\]+)")
_HASH = re.compile(r"--hash=sha256:(?P<digest>[0-9a-f]{64})")
_PLATFORMS = "# platforms: "


@dataclass(frozen=True)
class Pin:
    name: str
    version: str
    hashes: tuple[str, ...]

    @property
    def requirement(self) -> str:
        return f"{self.name}=={self.version}"


@dataclass(frozen=True)
class Lock:
    pins: tuple[Pin, ...]
    # The platforms whose wheels' hashes the lock carries, as Platform.__str__ names them.
    platforms: tuple[str, ...]


def lock_path(cloud: str, locks_dir: Path = LOCKS_DIR) -> Path:
    return locks_dir / f"{cloud}.lock"


def parse_lock(text: str) -> Lock:
    pins: list[Pin] = []
    platforms: tuple[str, ...] = ()
    # pip's own continuation rule: a trailing backslash joins the next line.
    for line in text.replace("\\\n", " ").splitlines():
        if line.startswith(_PLATFORMS):
            platforms = tuple(part.strip() for part in line[len(_PLATFORMS) :].split(";"))
        match = _PIN.match(line)
        if match:
            hashes = tuple(hash_match["digest"] for hash_match in _HASH.finditer(line))
            pins.append(Pin(match["name"], match["version"], hashes))
    return Lock(tuple(pins), platforms)


def read_lock(cloud: str, locks_dir: Path = LOCKS_DIR) -> Lock:
    return parse_lock(lock_path(cloud, locks_dir).read_text())


def render_lock(header: str, lock: Lock) -> str:
    lines = [header.rstrip("\n"), _PLATFORMS + "; ".join(lock.platforms)]
    for pin in sorted(lock.pins, key=lambda pin: pin.name):
        hashes = [f"    --hash=sha256:{digest}" for digest in sorted(pin.hashes)]
        lines.append(" \\\n".join([pin.requirement, *hashes]))
    return "\n".join(lines) + "\n"
