"""The drill's instances run the release the clouds' instances boot: the AWS bundle (the drill's store is a
DynamoDB API) built for this machine's platform by refarch.bundle, installed with the boot scripts' own
`install_release` (offline: only the bundle's wheels, each checked against the lock's hashes) into
build/drill/<bundle>/, and started as `venv/bin/python -m sample_service` there. Both steps are
content-addressed: an unchanged service and lock reuse the bundle and its install."""

from __future__ import annotations

import platform as host
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from refarch.boot import INSTALL_RELEASE, render_fragment
from refarch.bundle import Bundle, build_platform_bundle
from refarch.platforms import ARCHITECTURES, IMAGES, image_platform
from refarch.wheelhouse import BUILD_DIR

CLOUD = "aws"
INSTALLS = BUILD_DIR / "drill"
# Every proxy variable at a port nothing listens on: the install must need no network at all.
UNREACHABLE = "http://127.0.0.1:9"
NO_NETWORK = {
    name: UNREACHABLE for name in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "https_proxy", "http_proxy")
}
INSTALLED = ".installed"


@dataclass(frozen=True)
class Release:
    bundle: Bundle
    path: Path  # the release directory: sample_service/, wheelhouse/, requirements.lock, venv/
    install_seconds: float  # 0.0 when an earlier run's install was reused

    @property
    def python(self) -> str:
        return str(self.path / "venv" / "bin" / "python")


class ReleaseError(RuntimeError):
    """This machine cannot run the instances' release (another platform); the message says why."""


def base_python() -> str:
    """A Python of the images' minor version without this checkout's venv: the interpreter the venv was
    made from (as a boot uses the image's python3, not a venv's)."""
    wanted = IMAGES[CLOUD].python
    if sys.version_info[:2] != wanted:
        raise ReleaseError(
            f"the instances run Python {wanted[0]}.{wanted[1]} and this is {sys.version.split()[0]}:"
            " run the drill with a Python of that version"
        )
    return sys._base_executable


def host_bundle() -> Bundle:
    arch = host.machine()
    if sys.platform != "linux" or arch not in ARCHITECTURES:
        raise ReleaseError(
            f"the release is built for Linux on {' or '.join(ARCHITECTURES)}; this is {sys.platform} {arch}"
        )
    return build_platform_bundle(CLOUD, image_platform(CLOUD, arch))


def install(bundle: Bundle, python: str, installs: Path = INSTALLS) -> Release:
    """The bundle installed as a boot installs it, once per bundle id."""
    target = installs / bundle.path.name
    if (target / INSTALLED).exists():
        return Release(bundle, target, 0.0)
    installs.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=target.name + ".", dir=installs))
    try:
        shutil.copytree(bundle.path, staging, dirs_exist_ok=True)
        script = f'set -euo pipefail\n{render_fragment(INSTALL_RELEASE)}\ninstall_release "$1" "$2"'
        started = time.monotonic()
        done = subprocess.run(
            ["bash", "-c", script, "install", str(staging), python],
            env={"PATH": "/usr/bin:/bin", "HOME": str(staging), **NO_NETWORK},
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        took = time.monotonic() - started
        if done.returncode != 0:
            raise ReleaseError(f"install_release failed for {bundle.path}:\n{done.stdout}{done.stderr}")
        # The venv's python finds its environment from its own path (pyvenv.cfg names only the base
        # interpreter), so the rename keeps it valid; the service runs as `python -m`, no script needed.
        (staging / INSTALLED).touch()
        try:
            staging.replace(target)
        except OSError:
            if not (target / INSTALLED).exists():
                raise
            shutil.rmtree(staging)  # another run installed the same bundle first
            return Release(bundle, target, 0.0)
        return Release(bundle, target, took)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def installed_release() -> Release:
    return install(host_bundle(), base_python())
