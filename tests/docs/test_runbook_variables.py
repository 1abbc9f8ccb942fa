"""A runbook is run top to bottom in one shell: every variable a command uses is set before it, by the
exports, a lookup or an earlier step. (A refresh command once used $ROLLOUT_ALARMS in a runbook that never
looked the alarms up.)"""

from __future__ import annotations

import re

USE = re.compile(r"\$\{?([A-Z_][A-Z0-9_]*)\}?")
SET = re.compile(r"^\s*(?:export\s+)?([A-Z_][A-Z0-9_]*)=", re.MULTILINE)


def undefined(runbook) -> list[str]:
    defined = {name for name, _ in runbook.exports}
    missing = []
    for line in runbook.before_lookups:
        missing += [f"before the lookups: ${name}" for name in USE.findall(line) if name not in defined]
    for lookup in runbook.lookups:
        missing += [
            f"{lookup.variable}: ${name}" for name in USE.findall(lookup.command) if name not in defined
        ]
        defined.add(lookup.variable)
    for line in runbook.after_lookups:
        missing += [f"after the lookups: ${name}" for name in USE.findall(line) if name not in defined]
    for step in (*runbook.steps, *runbook.verification, *runbook.rollback, *runbook.escalation):
        for line in step.command.splitlines():
            # An assignment's own value may use what is defined so far; the name is defined after it.
            missing += [f"{step.title[:40]}: ${name}" for name in USE.findall(line) if name not in defined]
            defined.update(SET.findall(line))
    return missing


def test_every_variable_is_set_before_it_is_used(generated):
    problems = [
        f"{stack.directory}/{runbook.scenario}: {problem}"
        for stack in generated
        for runbook in stack.runbooks
        for problem in undefined(runbook)
    ]
    assert not problems, "\n".join(problems)


def test_an_unset_variable_is_caught(generated):
    from dataclasses import replace

    runbook = generated[0].runbooks[0]
    assert undefined(replace(runbook, lookups=runbook.lookups[1:]))
