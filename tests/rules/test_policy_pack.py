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

POLICY_DIR = ROOT / "pulumi" / "policy"
POLICY_PYTHON = POLICY_DIR / "venv" / "bin" / "python"
HARNESS = ROOT / "tests" / "rules" / "policy_harness.py"
PRODUCTION = next(name for name, spec in SPECS.items() if spec.production)


def run_policies(paths, production: bool, **config) -> dict[str, list]:
    assert POLICY_PYTHON.exists(), "the policy pack's venv is missing: run `make policy`"
    config = json.dumps({"production": production, **config})
    command = [str(POLICY_PYTHON), str(HARNESS), config, *map(str, paths)]
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
    # The pack's default config accepts the catalogue's findings (tests/rules/test_accepted.py).
    assert reported[str(paths["real"])] == []
    for rule in RULES:
        before = {m for policy, m, _ in reported[str(paths["real"])] if policy == rule.id}
        after = [(m, urn) for policy, m, urn in reported[str(paths[rule.id])] if policy == rule.id]
        caught = [(m, urn) for m, urn in after if m not in before]
        assert caught, f"{cloud}: policy {rule.id} missed its mutation"
        # Each violation points at the resource that holds the property, by its URN.
        for _, urn in caught:
            assert urn and urn.startswith("urn:pulumi:") and "::refarch:" not in urn, urn


def test_a_finding_accepted_in_the_users_config_is_not_reported(models, tmp_path):
    path = tmp_path / "azure.json"
    models["azure"][PRODUCTION].write(path)
    # Without the project's catalogue, the fleet's findings are reported ...
    reported = run_policies([path], production=True, catalogue=False)[str(path)]
    assert reported, "nothing to accept on the Azure stack without the catalogue: this test proves nothing"
    names = {urn.rsplit("::", 1)[-1] for _, _, urn in reported}
    # ... and a user's `accepted` config, naming the resources with a reason, accepts them.
    accepted = {name: "a reason the user gives, for this test" for name in names}
    assert run_policies([path], production=True, catalogue=False, accepted=accepted)[str(path)] == []
