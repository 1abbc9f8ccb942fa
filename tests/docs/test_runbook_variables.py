"""A runbook is run top to bottom in one shell: every variable a command uses is set before it, by the
exports, a lookup or an earlier step. (A refresh command once used $ROLLOUT_ALARMS in a runbook that never
looked the alarms up.)"""

from __future__ import annotations

import re

from tests.docs.runbook_harness import every_runbook

# A use of a variable; `${NAME:-default}` says the name may be unset (a state file not written yet).
USE = re.compile(r"\$\{?([A-Z_][A-Z0-9_]*)(?![A-Z0-9_]|:-)\}?")
# An assignment at the start of a line or after `&&`, `||` or `;` (`test ... && NOW=$(date ...) && ...`).
SET = re.compile(r"(?:^|&&|\|\||;)\s*(?:export\s+)?([A-Z_][A-Z0-9_]*)=", re.MULTILINE)
# Set by the shell itself: $HOME (a state file's place), $SECONDS (a wait loop's deadline).
SHELL = {"HOME", "SECONDS"}


def undefined(runbook) -> list[str]:
    defined = {name for name, _ in runbook.exports} | SHELL
    missing = []
    for line in runbook.before_lookups:
        missing += [f"before the lookups: ${name}" for name in USE.findall(line) if name not in defined]
        defined.update(SET.findall(line))
    for lookup in runbook.lookups:
        missing += [
            f"{lookup.variable}: ${name}" for name in USE.findall(lookup.command) if name not in defined
        ]
        defined.add(lookup.variable)
    for block in runbook.after_lookups:
        for line in block.splitlines():
            missing += [f"after the lookups: ${name}" for name in USE.findall(line) if name not in defined]
            defined.update(SET.findall(line))
    for step in (*runbook.steps, *runbook.verification, *runbook.rollback, *runbook.escalation):
        for line in step.command.splitlines():
            # An assignment's own value may use what is defined so far; the name is defined after it.
            missing += [f"{step.title[:40]}: ${name}" for name in USE.findall(line) if name not in defined]
            defined.update(SET.findall(line))
    return missing


def test_every_variable_is_set_before_it_is_used(generated):
    problems = every_runbook(generated, undefined)
    assert not problems, "\n".join(problems)


def test_an_unset_variable_is_caught(generated):
    from dataclasses import replace

    runbook = generated[0].runbooks[0]
    assert undefined(replace(runbook, lookups=runbook.lookups[1:]))


def test_a_state_file_never_named_is_caught(generated):
    """The AWS replace-one-instance steps write $STATE, which the names block sets before the lookups."""
    from dataclasses import replace

    aws = next(stack for stack in generated if stack.facts.cloud == "aws")
    (runbook,) = (r for r in aws.runbooks if r.scenario == "replace-one-instance")
    assert not undefined(runbook)
    assert any("$STATE" in problem for problem in undefined(replace(runbook, before_lookups=())))
