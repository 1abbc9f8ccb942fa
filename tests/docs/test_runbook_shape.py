"""What the issue asks of every runbook: capacity arithmetic ending in "capacity never falls below N of M",
durations with their formula in the stack's values, the permissions its commands need, copy-pasteable
steps, verification through the gateway, escalation, and the CLI version it was written for."""

from __future__ import annotations

import json
import re

import pytest

from tests.docs import formula
from tests.docs.runbook_harness import every_runbook
from tools.docs.model import SCENARIOS


def test_every_stack_has_one_runbook_per_scenario(generated):
    for stack in generated:
        assert [runbook.scenario for runbook in stack.runbooks] == list(SCENARIOS)


def test_every_runbook_has_what_the_issue_asks(generated):
    for stack in generated:
        for runbook in stack.runbooks:
            where = f"{stack.directory}/{runbook.scenario}"
            assert runbook.purpose and runbook.when and runbook.blast_radius, where
            assert any(re.search(r"never falls below \d+ of \d+", line) for line in runbook.capacity), where
            assert runbook.durations, where
            assert any(step.command for step in runbook.steps), where
            assert any("curl" in step.command for step in runbook.verification), where
            assert runbook.escalation and runbook.cli_version, where
            if runbook.permissions_format == "json":
                # An IAM policy document (AWS) or an Azure custom role definition.
                document = json.loads(runbook.permissions)
                assert document.get("Statement") or document.get("Actions"), where


def test_every_duration_formula_adds_up(generated):
    found = every_runbook(
        generated,
        lambda runbook: [p for d in runbook.durations for p in formula.problems(d.formula, d.seconds)],
    )
    assert not found, "\n".join(found)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("interval 10 s x unhealthy threshold 3 = 40 s", 40),  # the arithmetic gives 30
        ("interval 10 s x unhealthy threshold 3 = 30 s", 40),  # the figure is not the duration
        ("ceil(max 12 / surge 3) = 5 waves x 650 s", 3250),  # 4 waves, not 5
        ("boot budget 600 s + healthy threshold 2 x interval 10 s", 620),  # no figure stated
        ("boot budget = grace", 600),  # no number at all
        ("platform-managed", 0),  # 0 s without saying so
    ],
)
def test_a_formula_that_does_not_add_up_is_caught(text, seconds):
    assert formula.problems(text, seconds)
