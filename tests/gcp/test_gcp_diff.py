"""`make diff` compares each stack's reviewed inventory with its committed snapshot, value by value."""

from __future__ import annotations

import json

from tools import diff, reviewed


def test_a_value_that_differs_from_the_snapshot_is_named(capsys, monkeypatch, tmp_path):
    real = reviewed.snapshot_path
    snapshot = json.loads(real("gcp", "prod").read_text())
    # The snapshot as if the reviewed autoscaler had allowed one instance fewer.
    ((name, values),) = snapshot["gcp:compute/regionAutoscaler:RegionAutoscaler"].items()
    maximum = values["autoscalingPolicy"]["maxReplicas"]
    values["autoscalingPolicy"]["maxReplicas"] = maximum - 1
    (tmp_path / "prod.json").write_text(json.dumps(snapshot))
    monkeypatch.setattr(
        diff,
        "snapshot_path",
        lambda cloud, stack: tmp_path / "prod.json" if stack == "prod" else real(cloud, stack),
    )
    assert diff.main(["--cloud", "gcp"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        "gcp dev: no changes",
        "gcp staging: no changes",
        f"gcp prod: ~ gcp:compute/regionAutoscaler:RegionAutoscaler {name} autoscalingPolicy.maxReplicas "
        f"{maximum - 1} -> {maximum}",
    ]
