"""Stack-level tags are in the cloud assembly: with `@aws-cdk/core:explicitStackTags` (cdk.json)
`Tags.of(stack)` tags only the resources, so the stack passes its tags itself ("Tags", AWS CDK v2 Developer
Guide: https://docs.aws.amazon.com/cdk/v2/guide/tagging.html; the flag's entry in aws-cdk-lib's
FEATURE_FLAGS.md). The CLI deploys the manifest's stack tags; CloudFormation gives them to what it creates."""

from __future__ import annotations

import json

from stacks.app_builder import new_app
from stacks.service_stack import stack_name, stack_tags


def _manifest_tags(directory) -> dict[str, dict[str, str]]:
    manifest = json.loads((directory / "manifest.json").read_text())
    return {
        name: artifact.get("properties", {}).get("tags", {})
        for name, artifact in manifest["artifacts"].items()
        if artifact["type"] == "aws:cloudformation:stack"
    }


def test_the_flag_that_drops_them_is_on():
    assert new_app().node.try_get_context("@aws-cdk/core:explicitStackTags") is True


def test_each_environment_s_stack_carries_its_tags(synthesized, environment):
    tags = _manifest_tags(synthesized.directory)[stack_name(environment)]
    assert tags == stack_tags(synthesized.stacks[environment].spec)
    assert tags["environment"] == environment
    # The same tags as its resources: one source for both.
    table = next(
        body
        for body in synthesized.templates[environment]["Resources"].values()
        if body["Type"] == "AWS::DynamoDB::Table"
    )
    assert {tag["Key"]: tag["Value"] for tag in table["Properties"]["Tags"]} == tags
