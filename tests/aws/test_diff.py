"""`make diff` shows what a spec change does to each AWS template, resource by resource, before a deploy."""

from __future__ import annotations

from refarch.spec import load_environment
from tools import diff


def test_a_spec_override_shows_as_the_resource_property_it_changes(capsys):
    maximum = load_environment("dev").capacity.max
    assert diff.main(["--cloud", "aws", "-c", f"spec.dev.capacity.max={maximum + 1}"]) == 0
    lines = capsys.readouterr().out.splitlines()
    changed = [line for line in lines if line.startswith("aws dev: ")]
    assert len(changed) == 1, lines
    assert changed[0].startswith("aws dev: ~ AWS::AutoScaling::AutoScalingGroup Fleet")
    assert changed[0].endswith(f" MaxSize {maximum} -> {maximum + 1}")
    # The other environments match their reviewed snapshots.
    assert {line for line in lines if not line.startswith("aws dev: ")} == {
        f"aws {env}: no changes" for env in ("staging", "prod")
    }


def test_added_removed_and_changed_resources_are_named_with_their_type():
    before = {
        "Resources": {
            "Gone": {"Type": "AWS::S3::Bucket"},
            "Kept": {"Type": "AWS::SNS::Topic", "Properties": {"DisplayName": "ops"}},
        }
    }
    after = {
        "Resources": {
            "Kept": {"Type": "AWS::SNS::Topic", "Properties": {"DisplayName": "on-call"}},
            "New": {"Type": "AWS::SQS::Queue"},
        }
    }
    assert diff.template_changes(before, after) == [
        "- AWS::S3::Bucket Gone",
        "~ AWS::SNS::Topic Kept DisplayName ops -> on-call",
        "+ AWS::SQS::Queue New",
    ]
