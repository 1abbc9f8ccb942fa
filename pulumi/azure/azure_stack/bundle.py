"""The sample service as the instances install it: a content-addressed archive of its source."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pulumi

SERVICE_DIR = Path(__file__).resolve().parents[3] / "sample_service"


def _files() -> list[Path]:
    return sorted(
        path
        for path in SERVICE_DIR.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    )


def release_id() -> str:
    """Changes exactly when the service's source or lock changes; names the blob and the release directory."""
    digest = hashlib.sha256()
    for path in _files():
        digest.update(str(path.relative_to(SERVICE_DIR)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:20]


def archive() -> pulumi.AssetArchive:
    return pulumi.AssetArchive(
        {str(path.relative_to(SERVICE_DIR)): pulumi.FileAsset(str(path)) for path in _files()}
    )
