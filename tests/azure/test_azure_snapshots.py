"""Each environment's reviewed inventory (the values tools/reviewed.py lists), failing on any drift.
After a deliberate change, review the diff (`make diff`), then run this file with `--snapshot-update`."""

from __future__ import annotations

import pytest
from syrupy.extensions.json import JSONSnapshotExtension

from tools.reviewed import reviewed_view


@pytest.fixture
def json_snapshot(snapshot):
    return snapshot.use_extension(JSONSnapshotExtension)


def test_inventory_matches_reviewed_snapshot(inventory, json_snapshot):
    # A reviewed type with no resource shows as `{}` (the item store's lock outside production).
    assert reviewed_view("azure", inventory) == json_snapshot
