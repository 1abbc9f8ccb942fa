"""The self-contained release bundle a cloud's instances boot from: the service's code, the wheelhouse of
every dependency for the instances' platform, and the cloud's lock, in one directory that the CDK asset
and the Pulumi archive zip as it is:

    sample_service/     the service's files (refarch.release.service_files)
    wheelhouse/         exactly the locked wheels for the platform (refarch.wheelhouse)
    requirements.lock   the cloud's lock, with the hashes `pip install --require-hashes` checks

Unzipped into a release directory, `install_release.sh` turns it into a venv without any network, and the
service unit runs `python -m sample_service` there. Its id is a content hash over all three parts, so a
change to the service, the lock or the platform is a new release, and nothing else is.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from refarch.locks import lock_path, parse_lock
from refarch.platforms import Platform, platform_for
from refarch.release import SERVICE_DIR, file_digest, service_files
from refarch.wheelhouse import BUILD_DIR, WheelhouseError, WheelStore, build_wheelhouse

BUNDLES = BUILD_DIR / "bundles"
SERVICE = "sample_service"
WHEELHOUSE = "wheelhouse"
LOCK = "requirements.lock"


@dataclass(frozen=True)
class Bundle:
    cloud: str
    platform: Platform
    path: Path
    id: str
    # Wheels this build had to download (0 when the wheel store had every one).
    downloaded: int

    @property
    def size_bytes(self) -> int:
        return sum(path.stat().st_size for path in self.path.rglob("*") if path.is_file())


def bundle_id(service: dict[str, bytes], wheels: dict[str, str], lock_text: str, platform: Platform) -> str:
    digest = hashlib.sha256(f"{platform}\0".encode())
    for name, content_digest in sorted(service.items()):
        digest.update(f"{SERVICE}/{name}\0".encode() + content_digest)
    for name, wheel_digest in sorted(wheels.items()):
        digest.update(f"{WHEELHOUSE}/{name}\0{wheel_digest}".encode())
    digest.update(f"{LOCK}\0".encode() + hashlib.sha256(lock_text.encode()).digest())
    return digest.hexdigest()[:16]


def build_bundle(cloud: str, instance_type: str, **options: Any) -> Bundle:
    """The bundle for `cloud`'s instances of `instance_type`, built once per id under build/bundles/;
    `options` are build_platform_bundle's.

    Raises WheelhouseError, naming the instance type, its platform and every package without a wheel."""
    platform = platform_for(cloud, instance_type)
    try:
        return build_platform_bundle(cloud, platform, **options)
    except WheelhouseError as error:
        raise WheelhouseError(
            f"instance type {instance_type!r} runs {platform.arch} ({platform}). {error}"
        ) from None


def build_platform_bundle(
    cloud: str,
    platform: Platform,
    *,
    service_dir: Path = SERVICE_DIR,
    lock_file: Path | None = None,
    bundles: Path = BUNDLES,
    store: WheelStore | None = None,
    wheelhouses: Path | None = None,
    pip_options: Sequence[str] = (),
) -> Bundle:
    lock_text = (lock_file or lock_path(cloud)).read_text()
    options = {"wheelhouses": wheelhouses} if wheelhouses else {}
    wheelhouse = build_wheelhouse(
        cloud, parse_lock(lock_text), platform, store=store, pip_options=pip_options, **options
    )
    files = {path.relative_to(service_dir).as_posix(): path for path in service_files(service_dir)}
    service = {name: file_digest(path) for name, path in files.items()}
    release = bundle_id(service, wheelhouse.digests, lock_text, platform)
    path = bundles / f"{cloud}-{platform.arch}-{release}"
    if not path.exists():
        bundles.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=path.name + ".", dir=bundles))
        for name, source in files.items():
            (staging / SERVICE / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, staging / SERVICE / name)
        shutil.copytree(wheelhouse.path, staging / WHEELHOUSE, copy_function=_link_or_copy)
        (staging / LOCK).write_text(lock_text)
        staging.chmod(0o755)
        try:
            staging.replace(path)
        except OSError:
            # Another build of the same id finished first: its bundle is this one.
            shutil.rmtree(staging)
            if not path.exists():
                raise
    return Bundle(cloud, platform, path, release, wheelhouse.downloaded)


def _link_or_copy(source: str, target: str) -> None:
    try:
        Path(target).hardlink_to(source)
    except OSError:
        shutil.copyfile(source, target)
