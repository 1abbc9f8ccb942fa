"""Numbers in the documents are read from the stacks: change spec values (through the CDK context, as
`cdk deploy -c spec.<env>.<field>=...` would), synthesize, regenerate, and the documents change with them.
The same synthesis points the fleet at a restored table (`-c items_table.<env>=<name>`, what the
restore-store runbook deploys) and checks that every way the table reaches the fleet follows."""

from __future__ import annotations

import json

import pytest

from refarch.spec import load_all
from sample_service.dynamodb_layout import OPERATIONS
from stacks.item_store import DRAINING_TABLE_CONTEXT, SERVING_TABLE_CONTEXT
from tests.aws.conftest import REGION
from tools.docs import aws, render
from tools.docs.aws.template import Template
from tools.docs.inputs import synthesize_aws

ENVIRONMENT = "staging"
RESTORED = "Items-restored-by-test"
DRAINING = "Items-switched-from-by-test"


def _changes(spec) -> dict[str, object]:
    """New values derived from the spec's own, so the test never restates them."""
    return {
        f"{ENVIRONMENT}.capacity.max": spec.capacity.max + 3,
        f"{ENVIRONMENT}.capacity.health_check_grace_seconds": spec.capacity.health_check_grace_seconds + 60,
        # Unset in the spec file: the stack's `Escalation` output appears and the runbooks page it.
        f"{ENVIRONMENT}.alarms.escalation": f"{ENVIRONMENT.title()} rota: https://oncall.example.com/{ENVIRONMENT}",
    }


@pytest.fixture(scope="module")
def changed(tmp_path_factory) -> tuple[dict, dict, object]:
    original = load_all()[ENVIRONMENT]
    changes = _changes(original)
    directory = tmp_path_factory.mktemp("cdk.out-changed")
    context = {
        "region": REGION,
        f"{SERVING_TABLE_CONTEXT}.{ENVIRONMENT}": RESTORED,
        f"{DRAINING_TABLE_CONTEXT}.{ENVIRONMENT}": DRAINING,
    }
    context |= {f"spec.{key}": value for key, value in changes.items()}
    template = synthesize_aws(directory, **context)[1][ENVIRONMENT]
    specs = load_all(overrides=changes)
    return template, specs, directory


def _runbook_texts(template: dict, spec) -> dict[str, str]:
    facts = aws.facts(ENVIRONMENT, template, spec)
    env = render.environment()
    return {
        runbook.scenario: env.get_template("runbook.md.j2").render(
            runbook=runbook, facts=facts, results=(), runbooks=(), drill=None
        )
        for runbook in aws.runbooks(facts)
    }


def test_a_changed_spec_changes_the_documents(changed, docs_inputs):
    template, specs, _ = changed
    original = load_all()[ENVIRONMENT]
    before = _runbook_texts(docs_inputs.models["aws"][ENVIRONMENT], original)
    after = _runbook_texts(template, specs[ENVIRONMENT])
    new = specs[ENVIRONMENT].capacity
    assert before != after
    assert f"{original.capacity.min}-{original.capacity.max}" in before["replace-one-instance"]
    assert f"{new.min}-{new.max}" in after["replace-one-instance"]
    assert (
        f"boot budget (health-check grace) {new.health_check_grace_seconds} s"
        in after["replace-one-instance"]
    )
    assert (
        f"boot budget (health-check grace) {new.health_check_grace_seconds} s"
        not in before["replace-one-instance"]
    )
    destination = specs[ENVIRONMENT].alarms.escalation
    assert original.alarms.escalation is None and destination
    for scenario, text in after.items():
        # A code span since 4c3d3fe: the destination reads as written (tools/docs/model.py).
        assert f"## Escalation\n\n1. **Page `{destination}`**" in text, scenario
        assert destination not in before[scenario]
        assert "1. **No escalation destination is set for this environment**" in before[scenario]


def test_the_restored_table_reaches_the_fleet_every_way(changed):
    template, _, _ = changed
    stack = Template(ENVIRONMENT, template)
    assert template["Outputs"]["ItemsTableName"]["Value"] == RESTORED
    data = stack.prop("AWS::EC2::LaunchTemplate", "LaunchTemplateData.UserData.Fn::Base64.Fn::Join")[1]
    assert any(f"\nITEMS_TABLE={RESTORED}\n" in part for part in data if isinstance(part, str))
    grants = json.dumps([body for body in stack.of_type("AWS::IAM::Policy").values()])
    assert f":table/{RESTORED}" in grants
    # The instances the refresh has not replaced yet still use the stack's own table (and a draining one,
    # switching back): each keeps the store's operations until a later deploy drops it.
    own_table, _ = stack.only("AWS::DynamoDB::Table")
    operations = {f"dynamodb:{operation}" for operation in OPERATIONS}
    assert _table_grants(stack) == {table: operations for table in (RESTORED, own_table, DRAINING)}
    alarms = json.dumps(stack.of_type("AWS::CloudWatch::Alarm"))
    assert RESTORED in alarms
    # The stack's own table stays, untouched.
    assert len(stack.of_type("AWS::DynamoDB::Table")) == 1


def _listed(value) -> list:
    return value if isinstance(value, list) else [value]


def _table_grants(stack: Template) -> dict[str, set[str]]:
    """The fleet role's DynamoDB actions per table (a table's logical id, or the name in an imported ARN)."""
    (role,) = [name for name in stack.of_type("AWS::IAM::Role") if name.startswith("FleetInstanceRole")]
    found: dict[str, set[str]] = {}
    for body in stack.of_type("AWS::IAM::Policy").values():
        if {"Ref": role} not in body["Properties"]["Roles"]:
            continue
        for statement in body["Properties"]["PolicyDocument"]["Statement"]:
            actions, resources = (_listed(statement[field]) for field in ("Action", "Resource"))
            if not any(action.startswith("dynamodb:") for action in actions):
                continue
            for resource in resources:
                text = json.dumps(resource)
                table = next((name for name in stack.of_type("AWS::DynamoDB::Table") if name in text), None)
                if table is None:
                    table = text.split(":table/")[1].split('"')[0]
                found.setdefault(table, set()).update(actions)
    return found


def test_the_restore_runbook_deploys_that_override(generated):
    for built in generated:
        if built.facts.cloud == "aws" and built.facts.store_pitr:
            restore = next(r for r in built.runbooks if r.scenario == "restore-store")
            # The override is written into cdk.json (which every deploy reads), then deployed.
            context = f'.context["{SERVING_TABLE_CONTEXT}.{built.facts.environment}"] = $table'
            assert any(context in c and "cdk deploy" in c for c in restore.commands())
