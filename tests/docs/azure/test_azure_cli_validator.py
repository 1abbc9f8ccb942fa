"""`az` commands are parsed by azure-cli's own command table and parser (its own venv, `make azure-cli`),
offline; `pulumi` lookups name a project, a stack and an output the program exports."""

from __future__ import annotations

import time
from importlib import metadata
from pathlib import Path

import pytest

from tests.docs.azure.azure_fixtures import generated
from tools.docs.commands import azure_cli, pulumi_cli, validate

GOOD = ["az", "vmss", "rolling-upgrade", "start", "-g", "refarch-prod", "-n", "refarch-prod-vmss"]


def test_azure_cli_accepts_a_command_of_its_table():
    assert azure_cli.validate(GOOD) == []


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        # a command that does not exist
        (["az", "vmss", "rolling-upgrade", "begin", "-g", "rg", "-n", "x"], "'begin' is not a command"),
        (["az", "vmss", "rebalance-zones", "-g", "rg", "-n", "x"], "'rebalance-zones' is not a command"),
        # an option the command does not have
        ([*GOOD, "--batch-size", "2"], "unrecognized arguments: --batch-size"),
        # a required argument left out (the scale set's name)
        (GOOD[:-2], "the following arguments are required: -n"),
        (
            ["az", "vmss", "scale", "-g", "rg", "-n", "x"],
            "the following arguments are required: --new-capacity",
        ),
        # a resource's name and group, or its --ids
        (
            ["az", "monitor", "action-group", "show", "--query", "emailReceivers"],
            "required: -n, --resource-group (or --ids)",
        ),
        (["az", "monitor", "action-group", "show", "--ids", "not-an-id"], "invalid resource ID: not-an-id"),
        # a --query that is no JMESPath expression
        (["az", "vmss", "list", "-g", "rg", "--query", "[?zones[0]=='1'"], "invalid jmespath_type value"),
        # an enum value azure-cli does not allow
        (["az", "vmss", "list", "-g", "rg", "-o", "text"], "'text' is not a valid value for --output"),
        (
            [
                "az",
                "cosmosdb",
                "restore",
                "-g",
                "rg",
                "--account-name",
                "a",
                "--target-database-account-name",
                "b",
                "--location",
                "westeurope",
                "--public-network-access",
                "Off",
                "--restore-timestamp",
                "$T",
            ],
            "'Off' is not a valid value for --public-network-access",
        ),
        # a value azure-cli's own argument action refuses
        (
            [
                "az",
                "cosmosdb",
                "restore",
                "-g",
                "rg",
                "--account-name",
                "a",
                "--target-database-account-name",
                "b",
                "--location",
                "westeurope",
                "--restore-timestamp",
                "yesterday",
            ],
            "Unable to parse: 'yesterday'",
        ),
        # a group, not a command
        (["az", "vmss", "rolling-upgrade"], "required"),
    ],
)
def test_azure_cli_refuses(argv, says):
    problems = azure_cli.validate(argv)
    assert len(problems) == 1 and says in problems[0], problems


def test_every_azure_runbook_command_parses_in_one_parser_process():
    commands = [
        command
        for _, runbooks in generated().values()
        for runbook in runbooks
        for command in runbook.commands()
    ]
    assert any(command.startswith("az ") for command in commands)
    started = time.monotonic()
    problems = [problem for command in commands for problem in validate(command)]
    assert not problems, "\n".join(problems)
    # One azure-cli process serves every command: loading it costs seconds, each parse milliseconds.
    assert time.monotonic() - started < 60


def test_the_tool_venv_holds_the_azure_cli_the_lock_pins():
    site = next((azure_cli.VENV / "lib").glob("python*/site-packages"))
    installed = metadata.Distribution.at(next(Path(site).glob("azure_cli-*.dist-info"))).version
    assert installed == azure_cli.version()


def test_runbooks_name_the_azure_cli_version_they_were_checked_against():
    for _, runbooks in generated().values():
        assert all(f"Azure CLI {azure_cli.version()}" in runbook.cli_version for runbook in runbooks)


@pytest.mark.parametrize(
    ("snippet", "says"),
    [
        ("pulumi stack output scaleSet --stack prod --cwd pulumi/azure", None),
        ("pulumi stack output scaleSets --stack prod --cwd pulumi/azure", "is not one pulumi/azure exports"),
        (
            "pulumi stack output scaleSet --stack production --cwd pulumi/azure",
            "has no Pulumi.production.yaml",
        ),
        ("pulumi stack output scaleSet --stack prod --cwd pulumi/aws", "is not a Pulumi project"),
        ("pulumi stack output scaleSet --stack prod --cwd pulumi/azure --yes", "has no flag --yes"),
        ("pulumi destroy --stack prod --cwd pulumi/azure", "is not a subcommand runbooks may use"),
        ('pulumi config set itemsAccount "$RESTORED" --stack prod --cwd pulumi/azure', None),
        ("pulumi config rm refarch-azure:itemsAccount --stack prod --cwd pulumi/azure", None),
        ("pulumi config set --path spec.capacity.max 8 --stack prod --cwd pulumi/azure", None),
        ("pulumi config get gcp:project --stack prod --cwd pulumi/gcp", None),
        (
            'pulumi config set itemsAcount "$RESTORED" --stack prod --cwd pulumi/azure',
            "is not one pulumi/azure reads",
        ),
        ('pulumi config set itemsDatabase "$RESTORED" --stack prod --cwd pulumi/azure', "is not one"),
        ("pulumi config set itemsAccount --stack prod --cwd pulumi/azure", "takes 2 argument(s)"),
        ("pulumi config rm itemsAccount --stack prod --cwd pulumi/azure --yes", "has no flag --yes"),
    ],
)
def test_pulumi_commands_name_what_the_project_has(snippet, says):
    problems = validate(snippet)
    assert (problems == []) if says is None else any(says in problem for problem in problems), problems


def test_exported_outputs_are_read_from_the_program():
    assert {"scaleSet", "resourceGroup", "apiUrl"} <= pulumi_cli.exported(pulumi_cli.ROOT / "pulumi/azure")
    # Outputs a component exports through `self.export({...})` (refarch_pulumi.component) count too.
    assert {"cosmosAccount", "firestoreDatabase"} <= pulumi_cli.exported(pulumi_cli.ROOT / "pulumi/azure") | (
        pulumi_cli.exported(pulumi_cli.ROOT / "pulumi/gcp")
    )
