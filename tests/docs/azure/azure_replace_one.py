"""The Azure replace-one-instance runbook's markdown as its tests read and run it: the steps of a section, a
step's code, the first step matching a pattern; the fleet its bash runs see (the instances before, the one
replaced and their addresses), the azure-cli venv's python, a `sleep` that advances bash's clock instead of
waiting, and the az calls a run made."""

from __future__ import annotations

import re

from refarch import ROOT
from tests.docs.runbook_harness import SH_BLOCK
from tests.docs.runbook_harness import section as _section

STEP = re.compile(r"^\d+\. \*\*", re.MULTILINE)
# The instances before the procedure (step 4's $BEFORE), the one being replaced and the one added, addresses.
BEFORE, VM, NEW_VM = "vm-a\nvm-b\nvm-c", "vm-b", "vm-d"
OLD_IP, NEW_IP = "10.0.0.5", "10.0.0.9"
# What the Names block's lookups set: resource group, scale set, gateway, autoscale setting, and its count of
# autoscale profiles (step 4 checks it is 1 since the second Azure review).
NAMES = {"RG": "rg", "VMSS": "fleet", "AGW": "agw", "AUTOSCALE": "fleet-autoscale", "PROFILES": "1"}
# The python of the azure-cli tool venv (make azure-cli): jmespath and knack as az uses them.
AZURE_CLI_PYTHON = ROOT / "build" / "azure-cli-venv" / "bin" / "python"
# A stubbed `sleep`: a wait loop for a state the stub never gives ends at its deadline, at once.
SLEEP = "sleep() { SECONDS=$((SECONDS + $1)); }\n"


def _steps(text: str, title: str) -> list[str]:
    """The numbered items of a section, each with its title, commands, Expected and Stop if."""
    return STEP.split(_section(text, title))[1:]


def _code(step: str) -> str:
    return "\n".join(SH_BLOCK.findall(step)).replace("\\\n", " ")


def _first(steps: list[str], pattern: str) -> int:
    return next((i for i, step in enumerate(steps) if re.search(pattern, _code(step))), -1)


def _called(calls: list[str], pattern: str) -> int:
    """The index of the first call matching `pattern`, -1 when none does."""
    return next((i for i, call in enumerate(calls) if re.search(pattern, call)), -1)
