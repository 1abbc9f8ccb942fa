"""The sample service as a release, for the Pulumi projects: its files, and a content hash that names
the release (the bundle object and the instances' release directory).

The hash changes only when a file of the service does, so an unchanged service never rolls the fleet.
(The CDK stack gets the same from its asset hash.)
"""

from __future__ import annotations

import hashlib
from fnmatch import fnmatch
from pathlib import Path

import pulumi

SERVICE_DIR = Path(__file__).resolve().parent.parent / "sample_service"
# Glob patterns left out of every cloud's bundle (the CDK asset takes the same list).
BUNDLE_EXCLUDES = ("__pycache__", "*.pyc")


def service_files(root: Path = SERVICE_DIR) -> list[Path]:
    return sorted(
        path
        for path in root.rglob("*")
        if path.is_file()
        and not any(
            fnmatch(part, pattern) for part in path.relative_to(root).parts for pattern in BUNDLE_EXCLUDES
        )
    )


def release_id(root: Path = SERVICE_DIR) -> str:
    digest = hashlib.sha256()
    for path in service_files(root):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:16]


def archive(root: Path = SERVICE_DIR) -> pulumi.AssetArchive:
    """The files at the archive's root, as `unzip -d .../sample_service` expects."""
    return pulumi.AssetArchive(
        {path.relative_to(root).as_posix(): pulumi.FileAsset(str(path)) for path in service_files(root)}
    )
