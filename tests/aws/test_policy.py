"""cdk-nag (AwsSolutions) and cfn-lint on every synthesized template."""

from __future__ import annotations

import json

import pytest
from cfn_queries import of_type

from stacks.acknowledgments import METADATA_TYPE, REASONS
from stacks.findings import (
    PluginCrashed,
    checkov_findings,
    control_findings,
    lint_findings,
    nag_findings,
    templates_of,
)
from stacks.service_stack import stack_name


def test_no_unacknowledged_nag_errors_or_warnings(synthesized):
    assert [(finding.rule, finding.path) for finding in synthesized.nag] == []


def _acknowledgments(synthesized, field: str = "rule", tool: str | None = "nag") -> list[tuple[str, str]]:
    """(rule id or catalogue key, construct path) of every acknowledgment the stacks made for `tool`
    (None: every tool)."""
    found = []
    for stack in synthesized.all_stacks:
        for construct in stack.node.find_all():
            for entry in construct.node.metadata:
                if entry.type == METADATA_TYPE and tool in (None, entry.data.get("tool", "nag")):
                    found.append((entry.data[field], construct.node.path))
    return found


def test_each_acknowledgment_suppresses_exactly_what_it_names(synthesized, synthesized_unacknowledged):
    acknowledged = _acknowledgments(synthesized)
    assert acknowledged, "the stacks acknowledge nothing: this test would prove nothing"
    raw = {(finding.rule, finding.path) for finding in synthesized_unacknowledged.nag}
    for rule, path in acknowledged:
        # The finding exists without the acknowledgment, on the acknowledged construct or below it ...
        assert any(r == rule and (p == path or p.startswith(path + "/")) for r, p in raw), (rule, path)
    # ... and with them, nothing else disappears and nothing remains.
    suppressed = {
        (r, p)
        for r, p in raw
        for rule, path in acknowledged
        if r == rule and (p == path or p.startswith(path + "/"))
    }
    assert raw - suppressed == {(finding.rule, finding.path) for finding in synthesized.nag} == set()


def test_every_catalogued_reason_is_used_and_specific(synthesized):
    used = {key for key, _ in _acknowledgments(synthesized, "catalogue", tool=None)}
    for key, reason in REASONS.items():
        assert len(reason) > 60, f"{key}: say why, specifically"
    assert set(REASONS) - used == set(), "catalogued but never used"


def test_prod_cache_is_never_acknowledged_as_single_az(synthesized):
    prefix = stack_name("prod") + "/"
    prod = [rule for rule, path in _acknowledgments(synthesized) if path.startswith(prefix)]
    assert prod, "no acknowledgments found in prod: the filter no longer matches its stack"
    assert "AwsSolutions-AEC4" not in prod


@pytest.mark.parametrize("level", ["error", "warning"])
def test_cfn_lint_is_clean(synthesized, level):
    counts = lint_findings(templates_of(synthesized.directory))
    assert set(counts) == {stack.stack_name for stack in synthesized.all_stacks}
    assert {stack: found[level] for stack, found in counts.items()} == {stack: 0 for stack in counts}


def test_cfn_lint_would_catch_a_broken_template(synthesized, tmp_path):
    import json

    broken = json.loads(json.dumps(synthesized.templates["dev"]))
    table = next(iter(of_type(broken["Resources"], "AWS::DynamoDB::Table").values()))
    table["Properties"]["BillingMode"] = "FREE_FOR_EVER"
    path = tmp_path / "Broken.template.json"
    path.write_text(json.dumps(broken))
    assert lint_findings([path])["Broken"]["error"] >= 1


@pytest.fixture(scope="module")
def checkov_acknowledged(synthesized):
    return checkov_findings(templates_of(synthesized.directory))


@pytest.fixture(scope="module")
def checkov_unacknowledged(synthesized_unacknowledged):
    return checkov_findings(templates_of(synthesized_unacknowledged.directory))


def _checkov_skips(synthesized) -> set[tuple[str, str, str]]:
    """(stack, check id, logical id) of every checkov acknowledgment the stacks made."""
    found = set()
    for stack in synthesized.all_stacks:
        for construct in stack.node.find_all():
            for entry in construct.node.metadata:
                if entry.type == METADATA_TYPE and entry.data.get("tool") == "checkov":
                    found.add((stack.stack_name, entry.data["rule"], stack.get_logical_id(construct)))
    return found


def test_checkov_finds_nothing_unacknowledged(checkov_acknowledged):
    assert checkov_acknowledged == {stack: set() for stack in checkov_acknowledged}


def test_each_checkov_skip_suppresses_exactly_what_it_names(synthesized, checkov_unacknowledged):
    raw = {
        (stack, check, resource)
        for stack, found in checkov_unacknowledged.items()
        for check, resource in found
    }
    skips = _checkov_skips(synthesized)
    assert skips, "the stacks skip no checkov check: this test would prove nothing"
    # Every skip names a finding that exists without it, and every finding has exactly its skip.
    assert raw == skips


@pytest.fixture(scope="module")
def controls_raw(synthesized):
    return control_findings(templates_of(synthesized.directory), acknowledged=False)


def _control_acknowledgments(synthesized) -> set[tuple[str, str, str]]:
    """(stack, control id, logical id) of every Control Tower control acknowledgment the stacks made."""
    found = set()
    for stack in synthesized.all_stacks:
        for construct in stack.node.find_all():
            for entry in construct.node.metadata:
                if entry.type == METADATA_TYPE and entry.data.get("tool") == "cfn-guard":
                    found.add((stack.stack_name, entry.data["rule"], stack.get_logical_id(construct)))
    return found


def test_control_tower_controls_find_nothing_unacknowledged(synthesized):
    found = control_findings(templates_of(synthesized.directory))
    assert found == {stack: set() for stack in found}


def test_each_control_acknowledgment_accepts_exactly_what_it_names(synthesized, controls_raw):
    raw = {(stack, control, resource) for stack, found in controls_raw.items() for control, resource in found}
    acknowledged = _control_acknowledgments(synthesized)
    assert acknowledged, "the stacks acknowledge no control: this test would prove nothing"
    assert raw == acknowledged


def test_prod_fails_no_control_that_only_non_production_may_fail(synthesized):
    prod = {
        control for stack, control, _ in _control_acknowledgments(synthesized) if stack == stack_name("prod")
    }
    assert prod, "no acknowledgment found in prod: the filter no longer matches its stack"
    assert not prod & {"CT.CLOUDWATCH.PR.2", "CT.CLOUDWATCH.PR.3", "CT.EC2.PR.10", "CT.AUTOSCALING.PR.11"}
    assert not prod & {"CT.ELASTICLOADBALANCING.PR.5", "CT.AUTOSCALING.PR.1", "CT.AUTOSCALING.PR.6"}


def test_a_validation_plugin_that_crashed_is_no_pass(tmp_path):
    # CDK records a plugin that raised as a report with an error and no violations; counting it as zero
    # findings once hid a statelessness pack that never ran (it raised on the account stack).
    report = {
        "title": "Validation Report",
        "pluginReports": [
            {
                "summary": {"pluginName": "Stateless", "status": "failure", "metadata": {"error": "boom"}},
                "violations": [],
            }
        ],
    }
    (tmp_path / "policy-validation-report.json").write_text(json.dumps(report))
    with pytest.raises(PluginCrashed, match="Stateless did not run: boom"):
        nag_findings(tmp_path)
