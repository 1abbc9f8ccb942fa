"""`python -m refarch.rules <template.json>`: the rules on any CloudFormation template, from the shell."""

from __future__ import annotations

import json
import subprocess
import sys

from refarch.rules import RULES
from tests.rules.mutations import mutated


def run(*args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "refarch.rules", *map(str, args)], capture_output=True, text=True
    )


def test_the_real_template_passes_and_evidence_is_written(synthesized, tmp_path):
    template = tmp_path / "prod.json"
    template.write_text(json.dumps(synthesized.templates["prod"]))
    result = run(template, "--evidence", tmp_path / "evidence.json")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count(": pass (") == len(RULES)
    evidence = json.loads((tmp_path / "evidence.json").read_text())
    assert evidence["errors"] == 0 and all(r["evidence"] for r in evidence["results"])


def test_a_broken_template_fails_naming_the_rule_and_resource(synthesized, tmp_path):
    template = tmp_path / "broken.json"
    template.write_text(json.dumps(mutated("aws", "Stateless-NoAffinity", synthesized.templates["prod"])))
    result = run(template)
    assert result.returncode == 1
    assert "Stateless-NoAffinity: ERROR" in result.stdout and "stickiness.enabled = 'true'" in result.stdout


def test_not_a_template_is_refused_without_a_traceback(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("[]")
    result = run(bad)
    assert result.returncode == 2 and "neither a CloudFormation template" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_inventory_is_read_for_its_cloud(models, tmp_path):
    path = tmp_path / "gcp-prod.json"
    mutated("gcp", "Stateless-NoAffinity", models["gcp"]["prod"]).write(path)
    result = run(path)
    assert result.returncode == 1
    assert "Stateless-NoAffinity: ERROR" in result.stdout and "sessionAffinity = 'CLIENT_IP'" in result.stdout
