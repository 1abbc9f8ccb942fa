"""Each environment's whole template, reviewed like code. Regenerate with `pytest --snapshot-update`."""

from __future__ import annotations

import json

import pytest
from syrupy.extensions.json import JSONSnapshotExtension

from tools.reviewed import normalised_template as normalised


@pytest.fixture
def json_snapshot(snapshot):
    return snapshot.use_extension(JSONSnapshotExtension)


def test_template_matches_reviewed_snapshot(synthesized, environment, json_snapshot):
    assert normalised(synthesized.templates[environment]) == json_snapshot


def test_account_template_matches_reviewed_snapshot(synthesized, json_snapshot):
    from stacks.account import ACCOUNT_STACK_NAME

    template = json.loads((synthesized.directory / f"{ACCOUNT_STACK_NAME}.template.json").read_text())
    assert normalised(template) == json_snapshot
