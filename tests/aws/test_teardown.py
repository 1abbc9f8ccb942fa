"""The AWS README's Teardown table lists exactly what `cdk destroy` leaves behind, read from the synthesized
templates."""

from __future__ import annotations

import json
import re

from stacks.account import ACCOUNT_STACK_NAME
from tests.teardown_doc import documented, documented_without_its_last_row, grouped

# What CloudFormation keeps on a stack delete (AWS CloudFormation User Guide, "DeletionPolicy attribute"),
# and the deletion protection that makes it refuse one (DynamoDB, Cognito user pools).
KEEPING_POLICIES = {"Retain", "RetainExceptOnCreate", "Snapshot"}


def outlives_destroy(resource: dict) -> bool:
    properties = resource.get("Properties", {})
    return (
        resource.get("DeletionPolicy") in KEEPING_POLICIES
        or properties.get("DeletionProtectionEnabled") is True
        or properties.get("DeletionProtection") == "ACTIVE"
    )


def kept(templates: dict[str, dict]) -> dict[tuple[str, str], set[str]]:
    # Logical ids end in a hash of the construct path; the table names the construct.
    return grouped(
        [
            (resource["Type"], re.sub(r"[0-9A-F]{8}$", "", logical_id), environment)
            for environment, template in templates.items()
            for logical_id, resource in template["Resources"].items()
            if outlives_destroy(resource)
        ]
    )


def all_templates(synthesized) -> dict[str, dict]:
    account = json.loads((synthesized.directory / f"{ACCOUNT_STACK_NAME}.template.json").read_text())
    return {**json.loads(json.dumps(synthesized.templates)), "account": account}


def test_the_table_lists_every_retained_resource_and_nothing_else(synthesized):
    retained = kept(all_templates(synthesized))
    assert retained, "nothing is retained anywhere: the test would prove nothing"
    assert documented("aws") == retained


def test_a_resource_newly_retained_in_dev_is_missing_from_the_table(synthesized):
    templates = all_templates(synthesized)
    name, resource = next((n, r) for n, r in templates["dev"]["Resources"].items() if not outlives_destroy(r))
    resource["DeletionPolicy"] = "Retain"
    key = (resource["Type"], re.sub(r"[0-9A-F]{8}$", "", name))
    assert "dev" in kept(templates)[key] and "dev" not in documented("aws").get(key, set())


def test_a_row_deleted_from_the_table_fails(synthesized):
    assert documented_without_its_last_row("aws") != kept(all_templates(synthesized))
