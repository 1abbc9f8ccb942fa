"""Each environment's reviewed inventory: only the values that matter, signed off like code.

Regenerate with `pytest tests/gcp --snapshot-update` and review the diff.
"""

from __future__ import annotations

import pytest
from syrupy.extensions.json import JSONSnapshotExtension

from tools.reviewed import reviewed_view


@pytest.fixture
def json_snapshot(snapshot):
    return snapshot.use_extension(JSONSnapshotExtension)


def test_inventory_matches_reviewed_snapshot(inventory, json_snapshot):
    assert reviewed_view("gcp", inventory) == json_snapshot
