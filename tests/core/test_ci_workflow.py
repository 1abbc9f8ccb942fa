"""Forks run the project's CI on their own host: the GitHub workflow runs .ci/run on pull requests and writes
`make diff` to the job summary; .ci/run runs the README's commands and the drill."""

from __future__ import annotations

import re

import yaml

from refarch import ROOT

WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"
CI_RUN = ROOT / ".ci" / "run"


def workflow() -> dict:
    # PyYAML reads the bare key `on` as the boolean True (YAML 1.1).
    document = yaml.safe_load(WORKFLOW.read_text())
    return {("on" if key is True else key): value for key, value in document.items()}


def steps() -> list[dict]:
    (job,) = workflow()["jobs"].values()
    return job["steps"]


def test_the_workflow_runs_on_pull_requests():
    assert "pull_request" in workflow()["on"]


def test_the_workflow_runs_ci_run_and_then_make_diff_into_the_summary():
    runs = [step.get("run", "") for step in steps()]
    ci = [i for i, run in enumerate(runs) if run.strip() == ".ci/run"]
    summary = [i for i, run in enumerate(runs) if "make diff" in run and "$GITHUB_STEP_SUMMARY" in run]
    assert len(ci) == 1 and len(summary) == 1 and ci[0] < summary[0]
    # The summary is written even when .ci/run failed: that is when a reviewer needs it most.
    assert steps()[summary[0]].get("if") == "always()"
    assert any(step.get("uses", "").startswith("actions/checkout@") for step in steps()[: ci[0]])


def test_ci_run_runs_synth_test_and_drill_and_stops_on_the_first_failure():
    script = CI_RUN.read_text()
    assert "set -euo pipefail" in script
    commands = re.findall(r"^make (\w+)\s*$", script, re.MULTILINE)
    assert commands == ["synth", "test", "drill"]


def test_every_make_target_the_workflow_runs_exists():
    makefile = (ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([a-z]+):", makefile, re.MULTILINE))
    used = {t for step in steps() for t in re.findall(r"\bmake (\w+)", step.get("run", ""))}
    used |= set(re.findall(r"^make (\w+)", CI_RUN.read_text(), re.MULTILINE))
    assert used and used <= targets
