"""Every rule on every cloud: the real stacks pass it with evidence, and a mutated copy is caught by it."""

from __future__ import annotations

import pytest

from refarch.rules import ACCEPTED, BY_ID, FAIL, PASS, RULES, Context, evaluate
from refarch.rules.accepted import for_cloud
from tests.rules.conftest import CLOUDS, ENVIRONMENTS, SPECS
from tests.rules.mutations import MORE, MUTATIONS, mutated, mutated_by

PRODUCTION = next(name for name, spec in SPECS.items() if spec.production)


def context(environment: str) -> Context:
    return Context(production=SPECS[environment].production)


def test_every_rule_has_a_mutation_on_every_cloud():
    assert {cloud: set(MUTATIONS[cloud]) for cloud in CLOUDS} == {
        cloud: {rule.id for rule in RULES} for cloud in CLOUDS
    }


@pytest.mark.parametrize("environment", ENVIRONMENTS)
@pytest.mark.parametrize("cloud", CLOUDS)
def test_unmodified_stacks_pass_every_rule_with_evidence(models, cloud, environment):
    # With the catalogue of accepted findings, as `make synth` and the policy pack evaluate them
    # (tests/rules/test_accepted.py proves each acceptance suppresses exactly the finding it names).
    results = evaluate(cloud, models[cloud][environment], context(environment), accepted=for_cloud(cloud))
    for result in results:
        assert result.status in (PASS, ACCEPTED), (
            result.rule,
            result.reason,
            [c.describe() for c in result.violations],
        )
        assert result.checks and not result.violations
        # Accepted is never a pass: only a rule whose every check held passes.
        assert (result.status == PASS) == all(check.ok for check in result.checks)
        # Every check names a resource that exists in the model (its type is found there).
        assert all(check.resource and check.property and check.type for check in result.checks)


@pytest.mark.parametrize("rule_id", [rule.id for rule in RULES])
@pytest.mark.parametrize("cloud", CLOUDS)
def test_a_mutated_stack_is_caught_by_the_rule(models, cloud, rule_id):
    original = models[cloud][PRODUCTION]
    before = {
        r.rule: {c.describe() for c in r.violations} for r in evaluate(cloud, original, context(PRODUCTION))
    }
    broken = mutated(cloud, rule_id, original)
    after = {r.rule: r for r in evaluate(cloud, broken, context(PRODUCTION))}
    caught = {c.describe() for c in after[rule_id].violations} - before[rule_id]
    assert after[rule_id].status == FAIL and caught, f"{cloud}: the {rule_id} mutation went unnoticed"
    # The copy was mutated, not the session's stack.
    assert {
        r.rule: {c.describe() for c in r.violations} for r in evaluate(cloud, original, context(PRODUCTION))
    } == before


@pytest.mark.parametrize(
    ("cloud", "rule_id", "what", "mutation"), MORE, ids=[f"{c}-{w}" for c, _, w, _ in MORE]
)
def test_more_ways_to_break_a_rule_are_caught(models, cloud, rule_id, what, mutation):
    original = models[cloud][PRODUCTION]
    (before,) = evaluate(cloud, original, context(PRODUCTION), (BY_ID[rule_id],))
    (after,) = evaluate(cloud, mutated_by(cloud, mutation, original), context(PRODUCTION), (BY_ID[rule_id],))
    caught = {c.describe() for c in after.violations} - {c.describe() for c in before.violations}
    assert after.status == FAIL and caught, f"{cloud}: {what} went unnoticed by {rule_id}"


def test_production_only_checks_follow_the_environment(models):
    # The dev cache has no replica: fine outside production, a violation when the same stack is production.
    dev = next(name for name, spec in SPECS.items() if not spec.production and spec.cache.replicas == 0)
    rule = (BY_ID["Stateless-DurableStateStores"],)
    for cloud in CLOUDS:
        (relaxed,) = evaluate(cloud, models[cloud][dev], Context(production=False), rule)
        (strict,) = evaluate(cloud, models[cloud][dev], Context(production=True), rule)
        assert relaxed.status == PASS, (cloud, [c.describe() for c in relaxed.violations])
        assert strict.status == FAIL, cloud


def test_a_rule_with_nothing_to_check_is_not_applicable_with_a_reason():
    for cloud in CLOUDS:
        empty = {"Resources": {}} if cloud == "aws" else []
        for result in evaluate(cloud, empty, Context()):
            assert result.status == "not_applicable" and result.reason.startswith("found no "), result
            assert "evidence" not in result.to_json()
