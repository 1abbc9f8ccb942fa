"""Every runbook's Escalation starts with whom to page and how: the stack's own record of the spec's
`alarms.escalation` (AWS: the `Escalation` output of the template; Azure, GCP: the `escalation` export in
the preview's inventory). Change the record and the runbooks change; take it away and they say it is unset
and how to set it, naming nobody."""

from __future__ import annotations

import copy
import json
import re
from dataclasses import replace

import pytest

from refarch.platforms import CLOUDS
from refarch_pulumi.offline import project
from stacks.service_stack import ESCALATION_DESCRIPTION, ESCALATION_OUTPUT
from tools.docs import registry, render
from tools.docs.azure import inventory as azure_inventory
from tools.docs.gcp import inventory as gcp_inventory
from tools.docs.model import DOCUMENTATION_EXAMPLES, SCENARIOS

PULUMI_OUTPUT = {"azure": azure_inventory.ESCALATION_OUTPUT, "gcp": gcp_inventory.ESCALATION_OUTPUT}
UNSET = "No escalation destination is set for this environment"
CHANGED = "Changed rota: https://pager.example.net/changed (pager), then +44 20 7946 0000"


def recorded(cloud: str, model) -> str | None:
    """The destination the stack records, as its model carries it."""
    if cloud == "aws":
        return model["Outputs"].get(ESCALATION_OUTPUT, {}).get("Value")
    return model.outputs.get(PULUMI_OUTPUT[cloud])


def recording(cloud: str, model, value: str | None):
    """A copy of the model whose stack records `value` (None: no such output at all)."""
    if cloud == "aws":
        template = copy.deepcopy(model)
        template["Outputs"].pop(ESCALATION_OUTPUT, None)
        if value is not None:
            template["Outputs"][ESCALATION_OUTPUT] = {"Value": value, "Description": ESCALATION_DESCRIPTION}
        return template
    outputs = {k: v for k, v in model.outputs.items() if k != PULUMI_OUTPUT[cloud]}
    return replace(model, outputs=outputs if value is None else outputs | {PULUMI_OUTPUT[cloud]: value})


def escalation(text: str) -> str:
    match = re.search(r"^## Escalation\n(.*?)^## ", text, re.MULTILINE | re.DOTALL)
    assert match, "no Escalation section"
    return match.group(1).strip()


def regenerated(cloud: str, environment: str, model, spec) -> dict[str, str]:
    """Each runbook's Escalation section, generated from `model`."""
    module = registry.generator(cloud)
    facts = module.facts(environment, model, spec)
    template = render.environment().get_template("runbook.md.j2")
    return {
        runbook.scenario: escalation(
            template.render(runbook=runbook, facts=facts, results=(), runbooks=(), drill=None)
        )
        for runbook in module.runbooks(facts)
    }


@pytest.mark.parametrize("cloud", CLOUDS)
def test_every_runbook_pages_what_its_stack_records_first(cloud, docs_inputs, documents):
    for environment, model in docs_inputs.models[cloud].items():
        destination = recorded(cloud, model)
        # Production requires one (each cloud's config check), so its stack always records it.
        assert destination or not docs_inputs.specs[environment].production, environment
        for scenario in SCENARIOS:
            section = escalation(documents[f"{cloud}/{environment}/{scenario}.md"])
            first = section.split("\n2. ")[0]
            if destination:
                assert first.startswith(f"1. **Page `{destination}`**"), (environment, scenario, first)
            else:
                assert first.startswith(f"1. **{UNSET}**"), (environment, scenario, first)
                assert "alarms.escalation" in first
            assert "platform team directly" not in section


@pytest.mark.parametrize("cloud", CLOUDS)
def test_a_changed_record_changes_every_runbook(cloud, docs_inputs):
    model, spec = docs_inputs.models[cloud]["prod"], docs_inputs.specs["prod"]
    shipped = recorded(cloud, model)
    assert shipped and shipped != CHANGED
    before = regenerated(cloud, "prod", model, spec)
    after = regenerated(cloud, "prod", recording(cloud, model, CHANGED), spec)
    assert sorted(after) == sorted(SCENARIOS)
    for scenario in SCENARIOS:
        assert shipped in before[scenario] and CHANGED not in before[scenario]
        assert after[scenario].startswith(f"1. **Page `{CHANGED}`**")
        assert shipped not in after[scenario]


@pytest.mark.parametrize("cloud", CLOUDS)
def test_a_stack_without_the_record_says_it_is_unset_and_names_nobody(cloud, docs_inputs):
    model, spec = docs_inputs.models[cloud]["prod"], docs_inputs.specs["prod"]
    shipped = recorded(cloud, model)
    assert shipped
    without = regenerated(cloud, "prod", recording(cloud, model, None), spec)
    for scenario, section in without.items():
        assert section.startswith(f"1. **{UNSET}**"), scenario
        assert "alarms.escalation" in section and "python -m tools.docs" in section
        assert shipped not in section


@pytest.mark.parametrize("cloud", ["azure", "gcp"])
def test_the_spec_reaches_the_runbook_through_the_pulumi_export(cloud, docs_inputs):
    """End to end: the stack's `spec` config sets the destination, the preview's inventory records the
    export, the runbooks quote it (AWS's end to end: aws/test_aws_documents_follow_the_stack.py)."""
    pulumi_project = project(cloud)
    environment = "staging"
    assert recorded(cloud, docs_inputs.models[cloud][environment]) is None
    config = pulumi_project.config(environment)
    key = f"{pulumi_project.name}:spec"
    tree = json.loads(config.get(key, "{}"))
    tree.setdefault("alarms", {})["escalation"] = CHANGED
    model = pulumi_project.preview(environment, config | {key: json.dumps(tree)})
    assert recorded(cloud, model) == CHANGED
    sections = regenerated(cloud, environment, model, docs_inputs.specs[environment])
    assert all(section.startswith(f"1. **Page `{CHANGED}`**") for section in sections.values())


SAMPLE = "Platform on-call rota: https://oncall.example.com/platform (pager), then +1 555 0100"
REAL_LOOKING = "Payments on-call: https://pagerduty.acme.io/payments, then +44 20 7946 1234"
# Characters spec.py lets through that Markdown would otherwise read as emphasis, strikethrough or an entity.
MARKUP = "Ops_team_ on-call ~~rota~~ & call &copy; _now_"


@pytest.mark.parametrize("cloud", CLOUDS)
def test_the_destination_reads_as_written(cloud, docs_inputs):
    """A code span: `_x_`, `~~x~~` and `&copy;` stay as typed in the rendered Markdown."""
    model, spec = docs_inputs.models[cloud]["prod"], docs_inputs.specs["prod"]
    for section in regenerated(cloud, "prod", recording(cloud, model, MARKUP), spec).values():
        assert section.startswith(f"1. **Page `{MARKUP}`**")
        assert MARKUP not in section.replace(f"`{MARKUP}`", "")


@pytest.mark.parametrize("cloud", CLOUDS)
def test_a_documentation_example_is_called_a_sample_that_reaches_nobody(cloud, docs_inputs):
    model, spec = docs_inputs.models[cloud]["prod"], docs_inputs.specs["prod"]
    sample = regenerated(cloud, "prod", recording(cloud, model, SAMPLE), spec)
    real = regenerated(cloud, "prod", recording(cloud, model, REAL_LOOKING), spec)
    for scenario in SCENARIOS:
        first = sample[scenario].split("\n2. ")[0]
        assert "sample value that reaches nobody" in first and "alarms.escalation" in first
        assert "reaches nobody" not in real[scenario]


@pytest.mark.parametrize(
    "text",
    ["ops@example.com", "https://example.org/x", "pager.example", "oncall.test", "+1 555-0199", "555.0142"],
)
def test_each_reserved_form_is_recognised(text):
    assert DOCUMENTATION_EXAMPLES.search(f"Call {text} now")


@pytest.mark.parametrize("text", ["ops@myexample.com", "examples.org.uk", "+1 555 0200", "+1 415 555 1234"])
def test_real_addresses_are_not_taken_for_examples(text):
    assert not DOCUMENTATION_EXAMPLES.search(f"Call {text} now")
