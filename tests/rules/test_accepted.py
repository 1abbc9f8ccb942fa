"""The catalogue of accepted findings for the Pulumi clouds (refarch/rules/accepted.py): each acceptance names
a finding the rules really raise on its cloud's stacks, suppresses exactly that finding and nothing else, and
is reported as accepted with its reason, never as a pass: offline (`make synth`'s evidence and summary line),
from the command line, and through the policy pack."""

from __future__ import annotations

import dataclasses
import json

import pytest

from refarch.inventory import Inventory
from refarch.rules import ACCEPTANCES, ACCEPTED, BY_ID, PASS, Context, evaluate
from refarch.rules.accepted import for_cloud
from refarch.rules.azure import VMSS
from tests.rules.conftest import ENVIRONMENTS, SPECS
from tests.rules.mutations import _vmss, mutated_by
from tests.rules.test_cli import run
from tests.rules.test_policy_pack import run_policies
from tools import stateless_evidence

PULUMI_CLOUDS = ("azure", "gcp")
PRODUCTION = next(name for name, spec in SPECS.items() if spec.production)
IDS = [f"{a.cloud}-{a.rule}-{a.resource}" for a in ACCEPTANCES]


def context(environment: str) -> Context:
    return Context(production=SPECS[environment].production)


def test_the_catalogue_is_for_the_pulumi_clouds_with_specific_reasons():
    assert ACCEPTANCES, "nothing accepted: the tests below would prove nothing"
    keys = [(a.cloud, a.rule, a.resource, a.property) for a in ACCEPTANCES]
    assert len(keys) == len(set(keys)), "one entry per finding"
    for acceptance in ACCEPTANCES:
        # AWS accepts findings through cdk-nag acknowledgments (stacks/acknowledgments.py), not here.
        assert acceptance.cloud in PULUMI_CLOUDS, acceptance
        assert acceptance.rule in BY_ID, acceptance
        assert len(acceptance.reason) > 100, (
            f"{acceptance.rule} on {acceptance.resource}: say why, specifically"
        )
        assert acceptance.remediation is None or len(acceptance.remediation) > 60, acceptance


@pytest.mark.parametrize("acceptance", ACCEPTANCES, ids=IDS)
def test_each_acceptance_is_raised_without_it_and_suppresses_exactly_that_finding(inventories, acceptance):
    suppressed_on = []
    for environment in ENVIRONMENTS:
        model = inventories[acceptance.cloud][environment]
        raw = evaluate(acceptance.cloud, model, context(environment))
        with_it = evaluate(acceptance.cloud, model, context(environment), accepted=(acceptance,))
        for before, after in zip(raw, with_it, strict=True):
            covered = [c for c in before.violations if acceptance.covers(acceptance.cloud, before.rule, c)]
            assert len(covered) <= 1, f"{acceptance.rule}: accepts more than one finding {covered}"
            # Exactly the covered finding moves from violations to accepted, with this acceptance ...
            assert [dataclasses.replace(c, accepted=None) for c in after.accepted] == covered
            assert all(c.accepted is acceptance for c in after.accepted)
            assert list(after.violations) == [c for c in before.violations if c not in covered]
            # ... and every other check is untouched.
            assert [c for c in after.checks if c.ok] == [c for c in before.checks if c.ok]
            if covered:
                assert after.status == (ACCEPTED if not after.violations else before.status)
                suppressed_on.append(environment)
    assert suppressed_on, (
        f"{acceptance.rule} on {acceptance.resource} accepts nothing on any stack: remove it"
    )


@pytest.mark.parametrize("acceptance", ACCEPTANCES, ids=IDS)
def test_an_acceptance_does_not_cover_another_value_or_resource(inventories, acceptance):
    (rule,) = [BY_ID[acceptance.rule]]
    model = inventories[acceptance.cloud][PRODUCTION]
    (raw,) = evaluate(acceptance.cloud, model, context(PRODUCTION), (rule,))
    (finding,) = [c for c in raw.violations if acceptance.covers(acceptance.cloud, rule.id, c)]
    for other in (
        dataclasses.replace(finding, value=["another value", finding.value]),
        dataclasses.replace(finding, resource=f"{finding.resource}-copy"),
        dataclasses.replace(finding, property=f"{finding.property}.other"),
        dataclasses.replace(finding, type="azure-native:other:Thing"),
    ):
        assert not acceptance.covers(acceptance.cloud, rule.id, other), other
    assert not any(acceptance.covers(acceptance.cloud, r.id, finding) for r in BY_ID.values() if r != rule)


def _a_copy_of_the_fleet(inventory: Inventory) -> None:
    fleet = inventory.of_type(VMSS)[0]
    inventory.resources.append(dataclasses.replace(fleet, name=f"{fleet.name}-copy"))


def _a_second_ssh_key(inventory: Inventory) -> None:
    keys = _vmss(inventory)["virtualMachineProfile"]["osProfile"]["linuxConfiguration"]["ssh"]["publicKeys"]
    keys.append(dict(keys[0]))


@pytest.mark.parametrize(
    ("what", "mutation", "rules"),
    [
        (
            "a second scale set with the same key and image",
            _a_copy_of_the_fleet,
            {"Stateless-NoFixedIdentity", "Stateless-IdenticalInstances"},
        ),
        ("a second SSH key on the fleet", _a_second_ssh_key, {"Stateless-NoFixedIdentity"}),
    ],
)
def test_the_azure_acceptances_do_not_hide_a_new_finding(inventories, what, mutation, rules):
    broken = mutated_by("azure", mutation, inventories["azure"][PRODUCTION])
    results = evaluate("azure", broken, context(PRODUCTION), accepted=for_cloud("azure"))
    assert {r.rule for r in results if r.violations} >= rules, f"{what} went unnoticed"


@pytest.mark.parametrize("cloud", PULUMI_CLOUDS)
def test_make_synth_counts_no_accepted_finding_and_records_it_as_accepted(inventories, cloud, tmp_path):
    acceptances = for_cloud(cloud)
    accepted = 0
    for environment in ENVIRONMENTS:
        inventory = inventories[cloud][environment]
        counts = stateless_evidence.for_inventory(cloud, environment, inventory, tmp_path)
        document = json.loads(stateless_evidence.evidence_path(cloud, environment, tmp_path).read_text())
        results = {r["rule"]: r for r in document["results"]}
        recorded = [(rule, entry) for rule, r in results.items() for entry in r.get("accepted", [])]
        assert counts == (0, len(recorded)) and document["errors"] == 0
        assert document["accepted"] == len(recorded)
        accepted += len(recorded)
        for rule, entry in recorded:
            (acceptance,) = [a for a in acceptances if a.rule == rule and a.property == entry["property"]]
            assert entry["reason"] == acceptance.reason and entry.get("remediation") == acceptance.remediation
            assert entry["ok"] is False and results[rule]["status"] == ACCEPTED != PASS
            assert entry not in results[rule]["evidence"]
    assert bool(accepted) == bool(acceptances), "the catalogue's acceptances left no trace in the evidence"


def test_make_synth_still_fails_a_finding_the_catalogue_does_not_name(inventories, tmp_path, capsys):
    broken = mutated_by("azure", _a_second_ssh_key, inventories["azure"][PRODUCTION])
    assert stateless_evidence.for_inventory("azure", PRODUCTION, broken, tmp_path) == (1, 1)
    error = capsys.readouterr().err
    assert "Stateless-NoFixedIdentity" in error and "ssh.publicKeys = 2 (expected none)" in error


def _expected_reports(cloud: str, inventory: Inventory, environment: str) -> set[tuple[str, str, str]]:
    """(policy, message, resource name) of every catalogued finding on the stack, as the pack words them."""
    return {
        (r.rule, f"{c.describe()}. {BY_ID[r.rule].remediation}", c.resource.split("/")[0])
        for r in evaluate(cloud, inventory, context(environment), accepted=for_cloud(cloud))
        for c in r.accepted
    }


@pytest.mark.parametrize("production", [True, False])
def test_the_policy_pack_accepts_exactly_the_catalogue(inventories, tmp_path, production):
    stacks = [(c, e) for c in PULUMI_CLOUDS for e in ENVIRONMENTS if SPECS[e].production == production]
    paths = {}
    for cloud, environment in stacks:
        paths[cloud, environment] = tmp_path / f"{cloud}-{environment}.json"
        inventories[cloud][environment].write(paths[cloud, environment])
    with_catalogue = run_policies(paths.values(), production=production)
    without = run_policies(paths.values(), production=production, catalogue=False)
    expected_any = False
    for (cloud, environment), path in paths.items():
        assert with_catalogue[str(path)] == [], (cloud, environment)
        reported = {(policy, message, urn.rsplit("::", 1)[-1]) for policy, message, urn in without[str(path)]}
        expected = _expected_reports(cloud, inventories[cloud][environment], environment)
        assert reported == expected, (cloud, environment)
        expected_any |= bool(expected)
    assert expected_any, "the catalogue accepts nothing on these stacks: this test proves nothing"


def test_the_command_line_reports_an_accepted_finding_as_accepted(inventories, tmp_path):
    path = tmp_path / f"azure-{PRODUCTION}.json"
    inventories["azure"][PRODUCTION].write(path)
    result = run(path)
    assert result.returncode == 0, result.stdout + result.stderr
    for acceptance in for_cloud("azure"):
        line = f"{acceptance.rule}: accepted {acceptance.resource}: {acceptance.property} = "
        assert line in result.stdout and acceptance.reason in result.stdout
        assert f"{acceptance.rule}: pass" not in result.stdout
