"""The cdk-nag pack: catches each rule on a small violating CDK app, reports through the policy validation
report, honours acknowledgments, and finds nothing on the real stacks."""

from __future__ import annotations

from pathlib import Path

import pytest
from aws_cdk import Validations

from refarch.rules import RULES
from stacks import acknowledgments
from stacks.app_builder import DEFAULT_REGION, build_app, new_app
from stacks.findings import NagFinding, nag_findings
from stacks.service_stack import stack_name
from stacks.stateless_checks import StatelessChecks
from tests.rules.violating_app import violating_stack


def synth_violating(directory: Path, acknowledge: tuple[str, str] | None = None) -> list[NagFinding]:
    app = new_app(outdir=str(directory))
    stack = violating_stack(app)
    if acknowledge:
        construct, rule_id = acknowledge
        # Through the project's catalogue of reasons, as the stacks acknowledge AwsSolutions findings.
        acknowledgments.acknowledge(stack.node.find_child(construct), rule_id)
    Validations.of(app).add_plugins(StatelessChecks(app))
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    # The CDK's own template validation reports too (W2508 on the open ports): keep the pack's findings.
    return [finding for finding in nag_findings(directory) if finding.stateless]


@pytest.fixture(scope="module")
def violations(tmp_path_factory) -> list[NagFinding]:
    return synth_violating(tmp_path_factory.mktemp("violating"))


def test_every_rule_is_caught_on_the_violating_app(violations):
    assert {finding.rule for finding in violations} == {rule.id for rule in RULES}
    assert all(finding.severity == "error" for finding in violations)
    # Each finding names the resource that holds the broken property.
    assert ("Stateless-NoAffinity", "Violating/TargetGroup") in {(f.rule, f.path) for f in violations}
    assert ("Stateless-ScalingOwnsCount", "Violating/Fleet") in {(f.rule, f.path) for f in violations}


def test_an_acknowledgment_suppresses_exactly_what_it_names(violations, tmp_path, monkeypatch):
    monkeypatch.setitem(acknowledgments.REASONS, "Stateless-NoAffinity", "a reason, for this test")
    acknowledged = synth_violating(tmp_path, ("TargetGroup", "Stateless-NoAffinity"))
    removed = {(f.rule, f.path) for f in violations} - {(f.rule, f.path) for f in acknowledged}
    assert removed == {("Stateless-NoAffinity", "Violating/TargetGroup")}


def test_the_real_stacks_have_no_stateless_findings(synthesized):
    assert [f for f in synthesized.nag if f.stateless] == []


def test_the_app_builder_runs_the_pack_a_one_zone_spec_fails_with_rule_and_resource(tmp_path):
    # The spec accepts one zone outside production; the pack does not. Nothing else in the app changes.
    app = build_app(
        new_app(outdir=str(tmp_path), context={"region": DEFAULT_REGION}), overrides={"dev.zones": 1}
    )
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    found = [(f.rule, f.path) for f in nag_findings(tmp_path) if f.stateless]
    assert [rule for rule, _ in found] == ["Stateless-ZoneSpread"]
    assert found[0][1].startswith(f"{stack_name('dev')}/")  # the Auto Scaling group's construct path
