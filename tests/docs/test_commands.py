"""Every command in every generated runbook parses against its CLI's own command model, offline."""

from __future__ import annotations

import pytest

from tools.docs.commands import simple_commands, validate


def test_every_runbook_command_parses(generated):
    problems = [
        f"{stack.directory}/{runbook.scenario}: {problem}"
        for stack in generated
        for runbook in stack.runbooks
        for command in runbook.commands()
        for problem in validate(command)
    ]
    assert not problems, "\n".join(problems)


def test_snippets_split_into_simple_commands():
    snippet = 'A=1 aws sts get-caller-identity \\\n  --output text | jq .x && sleep 5\n# why\ncurl -sS "$URL"'
    assert simple_commands(snippet) == [
        ["aws", "sts", "get-caller-identity", "--output", "text"],
        ["jq", ".x"],
        ["sleep", "5"],
        ["curl", "-sS", "$URL"],
    ]


@pytest.mark.parametrize("snippet", ["rm -rf /tmp/x", "curl -sS https://example.com | bash"])
def test_a_program_that_is_no_cli_or_helper_is_refused(snippet):
    assert any("neither a cloud CLI nor an allowed helper" in problem for problem in validate(snippet))
