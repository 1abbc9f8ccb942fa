"""The sample service's files as a release, and a content hash of them that names a service-only release.

The hash changes only when a file of the service does, so an unchanged service never rolls the fleet.
The self-contained bundle (these files, the wheels they need and the lock) is `refarch.bundle`'s; the Pulumi
archive of it is `refarch_pulumi.release`'s, so nothing here imports an IaC SDK.
"""

from __future__ import annotations

import hashlib
from fnmatch import fnmatch
from pathlib import Path

SERVICE_DIR = Path(__file__).resolve().parent.parent / "sample_service"
# Glob patterns left out of every cloud's bundle (the CDK asset takes the same list). Documents such as
# CONTRACT.md are for readers, not instances: editing one must not roll the fleet.
BUNDLE_EXCLUDES = ("__pycache__", "*.pyc", "*.md")


def service_files(root: Path = SERVICE_DIR) -> list[Path]:
    return sorted(
        path
        for path in root.rglob("*")
        if path.is_file()
        and not any(
            fnmatch(part, pattern) for part in path.relative_to(root).parts for pattern in BUNDLE_EXCLUDES
        )
    )


def file_digest(path: Path) -> bytes:
    return hashlib.sha256(path.read_bytes()).digest()


def release_id(root: Path = SERVICE_DIR) -> str:
    digest = hashlib.sha256()
    for path in service_files(root):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(file_digest(path))
    return digest.hexdigest()[:16]
