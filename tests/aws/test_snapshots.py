"""Each environment's whole template, reviewed like code. Regenerate with `pytest --snapshot-update`."""

from __future__ import annotations

import json
import re

import pytest
from syrupy.extensions.json import JSONSnapshotExtension

# Content hashes of assets change with any edit to the service bundle, not with the architecture.
ASSET_HASH = re.compile(r"[0-9a-f]{64}")
# So does the release bundle's id (refarch.bundle), which names the release directory an instance installs.
RELEASE = re.compile(r"RELEASE='[0-9a-f]{16}'")


def normalised(template: dict) -> dict:
    text = RELEASE.sub("RELEASE='<release>'", ASSET_HASH.sub("<asset-hash>", json.dumps(template)))
    return json.loads(text)


@pytest.fixture
def json_snapshot(snapshot):
    return snapshot.use_extension(JSONSnapshotExtension)


def test_template_matches_reviewed_snapshot(synthesized, environment, json_snapshot):
    assert normalised(synthesized.templates[environment]) == json_snapshot


def test_account_template_matches_reviewed_snapshot(synthesized, json_snapshot):
    from stacks.account import ACCOUNT_STACK_NAME

    template = json.loads((synthesized.directory / f"{ACCOUNT_STACK_NAME}.template.json").read_text())
    assert normalised(template) == json_snapshot
