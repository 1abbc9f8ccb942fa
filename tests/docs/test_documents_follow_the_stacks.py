"""Numbers in the documents are read from the stacks: change spec values (through the CDK context, as
`cdk deploy -c spec.<env>.<field>=...` would), synthesize, regenerate, and the documents change with them.
The same synthesis points the fleet at a restored table (`-c items_table.<env>=<name>`, what the
restore-store runbook deploys) and checks that every way the table reaches the fleet follows."""

from __future__ import annotations

import json

import pytest

from refarch.spec import load_all
from stacks.app_builder import build_app, new_app
from stacks.item_store import SERVING_TABLE_CONTEXT
from stacks.service_stack import stack_name
from tests.aws.conftest import REGION
from tools.docs import aws, render
from tools.docs.aws.template import Template
from tools.docs.inputs import Inputs

ENVIRONMENT = "staging"
RESTORED = "Items-restored-by-test"


def _changes(spec) -> dict[str, object]:
    """New values derived from the spec's own, so the test never restates them."""
    return {
        f"{ENVIRONMENT}.capacity.max": spec.capacity.max + 3,
        f"{ENVIRONMENT}.capacity.health_check_grace_seconds": spec.capacity.health_check_grace_seconds + 60,
    }


@pytest.fixture(scope="module")
def changed(tmp_path_factory) -> tuple[dict, dict, object]:
    original = load_all()[ENVIRONMENT]
    changes = _changes(original)
    directory = tmp_path_factory.mktemp("cdk.out-changed")
    context = {"region": REGION, f"{SERVING_TABLE_CONTEXT}.{ENVIRONMENT}": RESTORED}
    context |= {f"spec.{key}": value for key, value in changes.items()}
    app = build_app(new_app(outdir=str(directory), context=context))
    try:
        app.synth()
    except RuntimeError as error:
        if "ValidationFailed" not in str(error):
            raise
    template = json.loads((directory / f"{stack_name(ENVIRONMENT)}.template.json").read_text())
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


def test_the_restored_table_reaches_the_fleet_every_way(changed):
    template, _, _ = changed
    stack = Template(ENVIRONMENT, template)
    assert template["Outputs"]["ItemsTableName"]["Value"] == RESTORED
    data = stack.prop("AWS::EC2::LaunchTemplate", "LaunchTemplateData.UserData.Fn::Base64.Fn::Join")[1]
    assert any(f"\nITEMS_TABLE={RESTORED}\n" in part for part in data if isinstance(part, str))
    grants = json.dumps([body for body in stack.of_type("AWS::IAM::Policy").values()])
    assert f":table/{RESTORED}" in grants
    alarms = json.dumps(stack.of_type("AWS::CloudWatch::Alarm"))
    assert RESTORED in alarms
    # The stack's own table stays, untouched.
    assert len(stack.of_type("AWS::DynamoDB::Table")) == 1


def test_the_restore_runbook_deploys_that_override(generated):
    for built in generated:
        if built.facts.cloud == "aws" and built.facts.store_pitr:
            restore = next(r for r in built.runbooks if r.scenario == "restore-store")
            context = f"-c {SERVING_TABLE_CONTEXT}.{built.facts.environment}="
            assert any(context in command for command in restore.commands())


def test_inputs_without_a_cloud_module_leave_it_pending(docs_inputs):
    bare = Inputs(specs=docs_inputs.specs, models={}, drill=None)
    index = render.documents(bare)["README.md"]
    for cloud in ("aws", "azure", "gcp"):
        assert f"| {cloud} {ENVIRONMENT} | pending |" in index
