"""Every command in every generated runbook parses against its CLI's own command model, offline."""

from __future__ import annotations

import re

import pytest

from tests.docs.runbook_harness import every_runbook
from tools.docs.commands import VALIDATORS, azure_cli, simple_commands, validate


def test_every_runbook_command_parses(generated):
    problems = every_runbook(
        generated,
        lambda runbook: [problem for command in runbook.commands() for problem in validate(command)],
    )
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


# A cloud-CLI command quoted whole in a step's prose (with its options: `az lock list -g ...` in a stop-if)
# is run by the reader as well: review 3 found one azure-cli refuses ("--resource-type is ignored if
# --resource is not given."). A bare name (`az cosmosdb delete`, `pulumi up`) names a step's command.
QUOTED = re.compile(r"`((?:" + "|".join(sorted(set(VALIDATORS) - {"pulumi"})) + r") [^`]* -[^`]+)`")


def quoted_commands(runbook) -> list[str]:
    """The cloud-CLI commands quoted between backticks in the runbook's step titles, expectations and
    stop-ifs."""
    steps = (*runbook.steps, *runbook.verification, *runbook.rollback, *runbook.escalation)
    return [
        command
        for step in steps
        for text in (step.title, step.expected, step.stop_if)
        for command in QUOTED.findall(text)
    ]


def test_every_command_quoted_in_prose_parses(generated):
    problems = every_runbook(
        generated,
        lambda runbook: [problem for command in quoted_commands(runbook) for problem in validate(command)],
    )
    assert not problems, "\n".join(problems)
    # The interrupted-update check of the Azure restore is among them.
    azure = next(stack for stack in generated if stack.facts.cloud == "azure")
    restore = next(runbook for runbook in azure.runbooks if runbook.scenario == "restore-store")
    assert any(command.startswith("az lock list ") for command in quoted_commands(restore))


def test_a_refused_command_quoted_in_prose_is_caught():
    from tools.docs.model import Step

    class Book:
        steps = (Step(title="t", stop_if='then `az lock list -g "$RG" --resource-type T/u -o tsv` shows'),)
        verification = rollback = escalation = ()

    [command] = quoted_commands(Book)
    [problem] = validate(command)
    assert (
        f"azure-cli {azure_cli.version()}: --resource-type is ignored if --resource is not given." in problem
    )
