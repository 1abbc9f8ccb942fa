"""What the issue asks of every runbook: capacity arithmetic ending in "capacity never falls below N of M",
durations with their formula in the stack's values, the permissions its commands need, copy-pasteable
steps, verification through the gateway, escalation, and the CLI version it was written for."""

from __future__ import annotations

import json
import re

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
            for duration in runbook.durations:
                assert "=" in duration.formula or "poll" in duration.formula or duration.seconds == 0, where
            assert any(step.command for step in runbook.steps), where
            assert any("curl" in step.command for step in runbook.verification), where
            assert runbook.escalation and runbook.cli_version, where
            if runbook.permissions_format == "json":
                assert json.loads(runbook.permissions)["Statement"], where
