"""The release as a Pulumi archive, for the Pulumi projects only (the CDK never loads this module: its asset
zips the same directory itself)."""

from __future__ import annotations

from pathlib import Path

import pulumi

from refarch.bundle import Bundle
from refarch.release import SERVICE_DIR, service_files


def archive(root: Path = SERVICE_DIR) -> pulumi.AssetArchive:
    """The files at the archive's root, as `unzip -d .../sample_service` expects."""
    return pulumi.AssetArchive(
        {path.relative_to(root).as_posix(): pulumi.FileAsset(str(path)) for path in service_files(root)}
    )


def bundle_archive(bundle: Bundle) -> pulumi.FileArchive:
    """The self-contained release bundle (refarch.bundle) as Pulumi uploads it: its directory, zipped, with
    sample_service/, wheelhouse/ and requirements.lock at the archive's root."""
    return pulumi.FileArchive(str(bundle.path))
