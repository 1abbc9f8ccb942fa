"""The Azure restore-store runbook as its tests run it: the prod runbook from the offline inventory and its
commands run in bash against stand-ins for `az`, `pulumi` and `git` that log their calls."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from refarch.spec import load_all
from tests.docs.azure.azure_fixtures import inventories
from tools.docs import azure as azure_docs
from tools.docs.commands import azure_cli

STACK = "--stack prod --cwd pulumi/azure"


# What the `az vmss rolling-upgrade get-latest` stand-in prints: the start time read before a switch.
BEFORE = "2026-11-30T03:00:00.0000000+00:00"


STANDINS = f"""
az() {{ echo "az $*" >>"$LOG"; echo "{BEFORE}"; }}
pulumi() {{ echo "pulumi $*" >>"$LOG"; }}
git() {{ echo "git $*" >>"$LOG"; }}
"""


def _restore(inventory=None):
    facts = azure_docs.facts("prod", inventory or inventories()["prod"], load_all()["prod"])
    return next(runbook for runbook in azure_docs.runbooks(facts) if runbook.scenario == "restore-store")


def _run(command: str, tmp_path, **variables: str) -> tuple[str, str]:
    """Run `command` with the stand-ins; returns the calls it made and the state file's contents."""
    state, log = tmp_path / "restore.env", tmp_path / "calls.log"
    state.write_text("RESTORED=items-restored\nPREVIOUS=\nACCOUNT=items\n")
    log.write_text("")
    setup = "".join(f"{name}={value!r}\n" for name, value in variables.items())
    subprocess.run(
        ["bash", "-c", STANDINS + setup + command],
        env={"STATE": str(state), "LOG": str(log), "PATH": "/usr/bin:/bin"},
        check=False,
    )
    return log.read_text(), state.read_text()


def cosmos_sdk() -> Path:
    """azure-mgmt-cosmosdb as installed in azure-cli's venv; the test fails, not the collection, when the venv
    is missing, with azure_cli's own message (run `make azure-cli`)."""
    try:
        return azure_cli.package("azure/mgmt/cosmosdb")
    except azure_cli.AzureCliMissing as missing:
        pytest.fail(str(missing), pytrace=False)
