"""Every runbook, on every cloud, stops after its lookups when one came back empty, and every line of the
lookup block is a command the validators check (`Runbook.commands()`). Azure's guard line was once a field
of its own that `commands()` left out, so no parser ever saw it."""

from __future__ import annotations

import re

from tests.docs.lookup_block import ASSIGNED, lookup_block, unguarded


def _runbook_texts(generated, documents):
    for stack in generated:
        for runbook in stack.runbooks:
            yield (
                f"{stack.directory}/{runbook.scenario}",
                runbook,
                documents[f"{stack.directory}/{runbook.scenario}.md"],
            )


def unchecked(runbook, markdown: str) -> list[str]:
    """The block's lines that run something `runbook.commands()` does not return."""
    checked = {line for command in runbook.commands() for line in command.replace("\\\n", " ").splitlines()}
    found = []
    for line in lookup_block(markdown):
        # Comments and the exports (plain values) run nothing; a lookup runs the command inside `$( )`.
        if not line.strip() or line.startswith(("#", "export ")):
            continue
        command = line.split("=$(", 1)[1].rsplit(")", 1)[0] if ASSIGNED.match(line) else line
        if command not in checked:
            found.append(line)
    return found


def test_every_line_of_the_lookup_block_is_validated(generated, documents):
    found = {where: unchecked(runbook, text) for where, runbook, text in _runbook_texts(generated, documents)}
    assert not any(found.values()), {where: lines for where, lines in found.items() if lines}
    clouds = {where.split("/")[0] for where in found}
    assert len(clouds) == 3, clouds


def test_a_line_left_out_of_the_commands_is_caught(generated, documents):
    from dataclasses import replace

    for stack in generated:
        runbook = stack.runbooks[0]
        text = documents[f"{stack.directory}/{runbook.scenario}.md"]
        assert unchecked(replace(runbook, after_lookups=()), text), stack.directory


def test_every_lookup_is_guarded(generated, documents):
    found = {where: unguarded(text) for where, _, text in _runbook_texts(generated, documents)}
    assert not any(found.values()), {where: names for where, names in found.items() if names}


def test_a_missing_guard_is_caught(documents):
    # Each cloud's guard form: AWS echoes NAME=${NAME:?}, Azure and GCP run `: "${NAME:?}" ...`.
    for cloud in ("aws", "azure", "gcp"):
        text = documents[f"{cloud}/prod/replace-one-instance.md"]
        broken = re.sub(r"\$\{API_URL:\?\}", "$API_URL", text)
        assert broken != text, cloud
        assert unguarded(broken) == ["API_URL"], cloud
