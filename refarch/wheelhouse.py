"""The wheelhouse: exactly the wheels a cloud's lock pins, built for one target platform, so an instance
installs the service with `pip install --no-index --find-links <wheelhouse> --require-hashes` and fetches
nothing.

Wheels come from a content-addressed store (build/wheels/<sha256>/<file>): a wheel is downloaded once, by
`pip download --only-binary=:all: --require-hashes --no-deps` for the target platform, and every later
wheelhouse for any cloud reuses it. A wheelhouse is keyed by its lock and platform (build/wheelhouse/<key>),
so a rebuild with an unchanged lock runs no pip at all.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import canonicalize_name, parse_wheel_filename

from refarch import ROOT
from refarch.locks import Lock, Pin
from refarch.platforms import Platform

BUILD_DIR = ROOT / "build"
WHEEL_STORE = BUILD_DIR / "wheels"
WHEELHOUSES = BUILD_DIR / "wheelhouse"
# Written last into a finished wheelhouse, in `sha256sum` format: a directory without it is an interrupted
# build.
MANIFEST = "SHA256SUMS"
_NOT_FOUND = re.compile(r"No matching distribution found for (?P<requirement>\S+)")
_HASH_MISMATCH = re.compile(r"^\s+(?P<requirement>\S+==\S+) from ", re.MULTILINE)


class WheelhouseError(RuntimeError):
    """A locked package has no usable wheel for the target platform."""


@dataclass(frozen=True)
class Wheelhouse:
    path: Path
    # The sha256 of each wheel in it, by file name: part of the release bundle's id.
    digests: dict[str, str]
    downloaded: int


class WheelStore:
    """Wheels by the sha256 of their content, each in build/wheels/<sha256>/<its file name>."""

    def __init__(self, root: Path = WHEEL_STORE) -> None:
        self.root = root

    def find(self, pin: Pin, platform: Platform) -> Path | None:
        """The stored wheel with one of the pin's hashes that runs on `platform` (pip's preferred one)."""
        candidates = []
        for digest in pin.hashes:
            for wheel in (self.root / digest).glob("*.whl"):
                name, version, _, _ = parse_wheel_filename(wheel.name)
                rank = platform.rank(wheel.name)
                if name == canonicalize_name(pin.name) and str(version) == pin.version and rank is not None:
                    candidates.append((rank, wheel))
        return min(candidates)[1] if candidates else None

    def add(self, wheel: Path) -> Path:
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        target = self.root / digest / wheel.name
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(target.name + ".partial")
            shutil.copyfile(wheel, partial)
            partial.replace(target)
        return target


def wheelhouse_key(lock: Lock, platform: Platform) -> str:
    digest = hashlib.sha256(str(platform).encode())
    for pin in sorted(lock.pins, key=lambda pin: pin.name):
        digest.update(f"\0{pin.requirement}:{','.join(sorted(pin.hashes))}".encode())
    return digest.hexdigest()[:16]


def _requirements_file(pins: Sequence[Pin], directory: Path) -> Path:
    path = directory / "requirements.txt"
    path.write_text(
        "".join(f"{pin.requirement} {' '.join(f'--hash=sha256:{h}' for h in pin.hashes)}\n" for pin in pins)
    )
    return path


def _failed_pins(stderr: str, pins: Sequence[Pin]) -> list[Pin]:
    """The pins pip names as having no wheel for the platform, or one whose hash the lock does not list."""
    named = {canonicalize_name(m["requirement"].split("==")[0]) for m in _NOT_FOUND.finditer(stderr)}
    named |= {canonicalize_name(m["requirement"].split("==")[0]) for m in _HASH_MISMATCH.finditer(stderr)}
    return [pin for pin in pins if canonicalize_name(pin.name) in named]


@dataclass
class Download:
    # Each fetched wheel's place in the store, by the package's canonical name.
    fetched: dict[str, Path]
    # Each pin that could not be fetched, with pip's reason.
    failures: dict[Pin, str]
    # Why nothing could be fetched at all, when it is no one package's fault.
    index_error: str | None = None


def _index_lists(pin: Pin, pip_options: Sequence[str]) -> bool:
    """Whether the index has `pin`'s version for some platform (this machine's), so a failed download of it
    for the target platform means it has no wheel there rather than no index."""
    command = [sys.executable, "-m", "pip", "index", "versions", pin.name, "--disable-pip-version-check"]
    completed = subprocess.run([*command, *pip_options], capture_output=True, text=True, check=False)
    return completed.returncode == 0 and pin.version in completed.stdout


def download(
    pins: Sequence[Pin], platform: Platform, store: WheelStore, pip_options: Sequence[str] = ()
) -> Download:
    """Fetch each pin's wheel for `platform` into the store, checked against the pin's hashes when it has
    some (the lock generator's pins have none yet). pip stops at the first pin without a wheel, so the rest
    are tried again without it: every such pin is named at once."""
    result = Download({}, {})
    pending = list(pins)
    while pending:
        hashed = ["--require-hashes"] if all(pin.hashes for pin in pending) else []
        with tempfile.TemporaryDirectory(prefix="wheels-") as scratch:
            command = [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--only-binary=:all:",
                "--no-deps",
                *hashed,
                "--no-input",
                "--progress-bar=off",
                "--disable-pip-version-check",
                "--dest",
                scratch,
                "-r",
                str(_requirements_file(pending, Path(scratch))),
                *platform.pip_args(),
                *pip_options,
            ]
            completed = subprocess.run(command, capture_output=True, text=True, check=False)
            for wheel in Path(scratch).glob("*.whl"):
                name = canonicalize_name(parse_wheel_filename(wheel.name)[0])
                result.fetched[name] = store.add(wheel)
        if completed.returncode == 0:
            break
        failed = _failed_pins(completed.stderr, pending)
        if not failed or not _index_lists(failed[0], pip_options):
            # Not one package's fault: pip finds no version of it for any platform (the index is
            # unreachable, say), so trying each pin in turn would not help.
            lines = completed.stderr.strip().splitlines()
            result.index_error = lines[-1] if lines else "pip download failed"
            if failed:
                result.index_error = f"the index lists {failed[0].requirement} for no platform at all"
            result.failures.update(dict.fromkeys(pending, result.index_error))
            break
        result.failures.update(dict.fromkeys(failed, "no wheel with a locked hash"))
        pending = [
            pin for pin in pending if pin not in failed and canonicalize_name(pin.name) not in result.fetched
        ]
    return result


def build_wheelhouse(
    cloud: str,
    lock: Lock,
    platform: Platform,
    *,
    store: WheelStore | None = None,
    wheelhouses: Path = WHEELHOUSES,
    pip_options: Sequence[str] = (),
) -> Wheelhouse:
    """The wheelhouse of `cloud`'s `lock` for `platform`, downloading only wheels the store lacks.

    Raises WheelhouseError naming every package without a wheel for the platform."""
    store = store or WheelStore()
    path = wheelhouses / f"{cloud}-{wheelhouse_key(lock, platform)}"
    if str(platform) not in lock.platforms:
        raise WheelhouseError(
            f"{cloud}: the lock carries wheels for {'; '.join(lock.platforms) or 'no platform'}, not for "
            f"{platform}: add it to refarch/platforms.py (lock_platforms) and run `make lock`"
        )
    if (path / MANIFEST).exists():
        return Wheelhouse(path, read_manifest(path), downloaded=0)
    missing = [pin for pin in lock.pins if store.find(pin, platform) is None]
    fetched = download(missing, platform, store, pip_options) if missing else Download({}, {})
    if fetched.index_error:
        raise WheelhouseError(
            f"{cloud}: cannot download the {len(missing)} wheel(s) for {platform} that {store.root} lacks: "
            f"{fetched.index_error}. Is the package index reachable (pip's configuration, a proxy)?"
        )
    failures = fetched.failures
    unresolved = [pin for pin in lock.pins if store.find(pin, platform) is None]
    if unresolved:
        problems = "\n".join(
            f"  {pin.requirement}: {failures.get(pin, 'no wheel with a locked hash')}" for pin in unresolved
        )
        raise WheelhouseError(
            f"{cloud}: no wheel for {platform} of {len(unresolved)} locked package(s):\n{problems}\n"
            "Pick an instance type of an architecture these packages ship wheels for, or change the "
            "dependency and run `make lock`."
        )
    wheelhouses.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=path.name + ".", dir=wheelhouses))
    digests = {}
    for pin in lock.pins:
        wheel = store.find(pin, platform)
        assert wheel is not None
        _link(wheel, staging / wheel.name)
        digests[wheel.name] = wheel.parent.name
    (staging / MANIFEST).write_text("".join(f"{digests[name]}  {name}\n" for name in sorted(digests)))
    shutil.rmtree(path, ignore_errors=True)
    staging.replace(path)
    return Wheelhouse(path, digests, downloaded=len(missing))


def read_manifest(wheelhouse: Path) -> dict[str, str]:
    lines = (wheelhouse / MANIFEST).read_text().splitlines()
    return {name: digest for digest, name in (line.split("  ", 1) for line in lines)}


def _link(source: Path, target: Path) -> None:
    """A hard link where the file system allows one (no copy of tens of MB per bundle), else a copy."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)
