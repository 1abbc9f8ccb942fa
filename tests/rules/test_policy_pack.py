"""The Pulumi policy pack, exercised through pulumi-policy's own argument types (StackValidationArgs,
PolicyResource, PolicyResourceOptions) built from inventory entries: the path `pulumi preview --policy-pack`
takes, without the CLI. It runs in the pack's own venv (`make policy`), as Pulumi would run it."""

from __future__ import annotations

import json
import subprocess

import pytest
import yaml

from refarch import ROOT
from refarch.rules import RULES
from tests.rules.conftest import SPECS
from tests.rules.mutations import mutated
from tests.rules.pending import PENDING

POLICY_DIR = ROOT / "pulumi" / "policy"
POLICY_PYTHON = POLICY_DIR / "venv" / "bin" / "python"
HARNESS = ROOT / "tests" / "rules" / "policy_harness.py"
PRODUCTION = next(name for name, spec in SPECS.items() if spec.production)


def run_policies(paths, production: bool) -> dict[str, list]:
    assert POLICY_PYTHON.exists(), "the policy pack's venv is missing: run `make policy`"
    command = [str(POLICY_PYTHON), str(HARNESS), json.dumps({"production": production}), *map(str, paths)]
    result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_the_pack_declares_one_mandatory_policy_per_rule_and_its_own_venv():
    manifest = yaml.safe_load((POLICY_DIR / "PulumiPolicy.yaml").read_text())
    assert manifest["runtime"] == {"name": "python", "options": {"virtualenv": "venv"}}
    assert not (ROOT / "pulumi" / "__init__.py").exists()
    source = (POLICY_DIR / "stateless_policies.py").read_text()
    assert "for rule in RULES" in source and "EnforcementLevel.MANDATORY" in source


@pytest.mark.parametrize("cloud", ["azure", "gcp"])
def test_policies_pass_the_real_stacks_and_catch_every_mutation(models, cloud, tmp_path):
    real = models[cloud][PRODUCTION]
    files = {"real": real, **{rule.id: mutated(cloud, rule.id, real) for rule in RULES}}
    paths = {}
    for key, inventory in files.items():
        paths[key] = tmp_path / f"{key}.json"
        inventory.write(paths[key])
    reported = run_policies(paths.values(), production=True)
    on_real = {policy for policy, _, _ in reported[str(paths["real"])]}
    assert on_real == {rule for (c, env, rule) in PENDING if c == cloud and env == PRODUCTION}
    for rule in RULES:
        before = {m for policy, m, _ in reported[str(paths["real"])] if policy == rule.id}
        after = [(m, urn) for policy, m, urn in reported[str(paths[rule.id])] if policy == rule.id]
        caught = [(m, urn) for m, urn in after if m not in before]
        assert caught, f"{cloud}: policy {rule.id} missed its mutation"
        # Each violation points at the resource that holds the property, by its URN.
        for _, urn in caught:
            assert urn and urn.startswith("urn:pulumi:") and "::refarch:" not in urn, urn


def test_an_accepted_finding_is_not_reported(models, tmp_path):
    path = tmp_path / "azure.json"
    models["azure"][PRODUCTION].write(path)
    pending = [rule for (c, env, rule) in PENDING if c == "azure" and env == PRODUCTION]
    reported = run_policies([path], production=True)[str(path)]
    assert {policy for policy, _, _ in reported} == set(pending)
    fleet = reported[0][2].rsplit("::", 1)[-1]
    config = {"production": True, "accepted": {fleet: "key whose private half was discarded"}}
    command = [str(POLICY_PYTHON), str(HARNESS), json.dumps(config), str(path)]
    result = subprocess.run(command, capture_output=True, text=True, check=True, timeout=120)
    assert json.loads(result.stdout)[str(path)] == []
