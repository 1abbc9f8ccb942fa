"""Azure `replace-one-instance` after the third reader trial (briefs/s18/readerfix3-azure.md): each check runs
a step of a generated runbook's markdown in bash with `az` stubbed as Azure would answer in the case the
reader feared (tests/docs/test_azure_replace_one_reader2.py's harness), so each fails on the text the reader
walked through (`problems(old text)` lists them all) and passes on the fixed one.

Sources:
- `-o tsv` prints each element of a top-level list as its own row and a bare boolean row lower-case
  (`true`), a boolean inside a row as Python's str (`True`): knack's output.py, `format_tsv` and
  `_TsvOutput._dump_row` (knack as the azure-cli tool venv pins it); checked below with knack itself.
- `az vmss scale --new-capacity` "Change the number of VMs within a VMSS" and waits for the operation (az
  vmss reference, learn.microsoft.com/cli/azure/vmss#az-vmss-scale); `-o none` is azure-cli's global output
  format "none" (knack/azure-cli `--output` choices), parsed by the tests' azure-cli parser
  (test_azure_cli.py).
- Quota errors name the quota: "Operation could not be completed as it results in exceeding approved ...
  Cores quota" (learn.microsoft.com/troubleshoot/azure/azure-monitor/autoscale/
  autoscale-common-issues, "Quota exceeded"); a concurrent operation fails with `Conflict`/
  `OperationNotAllowed` without the word.
- A VM being deleted reports provisioningState `Deleting` (learn.microsoft.com/azure/virtual-machines/
  states-billing, "Provisioning states").
- JMESPath raw string literals ('Healthy') compare as strings (jmespath.org/specification, "Raw String
  Literals"); a backtick literal inside bash double quotes would be command substitution.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from pathlib import Path

from refarch import ROOT
from tests.docs.azure_fixtures import generated
from tests.docs.runbook_harness import committed, frozen
from tests.docs.test_azure_replace_one_reader import _code, _first, _steps
from tests.docs.test_azure_replace_one_reader2 import BEFORE, VM, _called, _run
from tools.docs.azure.backend_health import UP

AZURE_CLI_PYTHON = ROOT / "build" / "azure-cli-venv" / "bin" / "python"
OLD_IP = "10.0.0.5"
NEW_IP = "10.0.0.9"


def _expected(step: str) -> str:
    return step.split("Expected:", 1)[1].split("Stop if:", 1)[0]


def _tsv(value: str) -> str:
    """What knack's tsv output prints for the JSON `value` (the azure-cli tool venv's knack)."""
    script = (
        "import json, sys; from knack.output import format_tsv; from knack.util import CommandResultItem\n"
    )
    script += "print(format_tsv(CommandResultItem(json.loads(sys.argv[1]))), end='')"
    return subprocess.run(
        [str(AZURE_CLI_PYTHON), "-c", script, value], capture_output=True, text=True, check=True
    ).stdout


def problems(text: str, minimum: int) -> list[str]:
    """Every listed stumble of the third reader trial still in one replace-one-instance runbook's markdown."""
    found = []
    steps, rollback = _steps(text, "Steps"), _steps(text, "Rollback")
    hold_step = steps[_first(steps, r'--min-count "\$TARGET"')]
    scale_step = steps[_first(steps, r"vmss scale")]
    delete_step = steps[_first(steps, r'--instance-ids "\$VM"')]
    restore_steps = [steps[_first(steps, r'--min-count "\$MIN"')], rollback[-1]]
    hold, scale, delete = _code(hold_step), _code(scale_step), _code(delete_step)
    target = str(minimum + 1)
    with tempfile.TemporaryDirectory() as temporary:
        directory = Path(temporary)
        state = directory / "replace.env"
        common = {
            "PROFILES": "1",  # as the Names block sets it (step 4 checks it since review 2)
            "RG": "rg",
            "VMSS": "fleet",
            "AGW": "agw",
            "AUTOSCALE": "fleet-autoscale",
            "STATE": str(state),
        }

        # AZ-1. Step 4 saves the old instance's address; step 8 deletes only with the stack's minimum of
        # other instances Healthy (the new one Healthy too).
        limits = f'  *"vmss show"*) echo {minimum} ;;\n  *"capacity."*) echo {minimum} ;;\n'
        limits += f'  *"vmss list-instances"*) printf "{BEFORE}\\n" ;;\n'
        limits += f'  *"list-ip-addresses"*"-n {VM}"*) echo {OLD_IP} ;;\n'
        _run(hold, limits, directory, **common, VM=VM)
        if f"OLD_IP={OLD_IP}" not in (state.read_text() if state.exists() else ""):
            found.append("AZ-1: step 4 does not save the old instance's address to $STATE")
        variables = {**common, "VM": VM, "OLD_IP": OLD_IP, "CAP": str(minimum), "NEW_IP": NEW_IP}
        for others, deletes in ((minimum - 1, False), (minimum, True)):
            health = f'  *"length("*"{OLD_IP}"*) echo {others} ;;\n  *"show-backend-health"*) echo {UP} ;;\n'
            _, calls = _run(delete, health, directory, **variables)
            if (_called(calls, "delete-instances") >= 0) != deletes:
                found.append(
                    f"AZ-1: step 8 {'deletes' if not deletes else 'does not delete'} with {others} other "
                    f"instances Healthy (minimum {minimum})"
                )

        # AZ-5. A failed scale while autoscale adds the instance itself continues; only quota is a Rollback.
        added = f'  *"capacity.minimum"*) echo {target} ;;\n'
        added += f'  *"vmss show"*) test -e scaled && echo {target} || echo {minimum} ;;\n'
        added += '  *"vmss scale"*) echo "Conflict: another operation is in progress" >&2; '
        added += "touch scaled; return 1 ;;\n"
        out, _ = _run(scale, added, directory, **common, TARGET=target)
        if "autoscale added it" not in out or "STOP" in out:
            found.append("AZ-5: a failed scale while autoscale added the instance is a STOP")
        Path(directory / "scaled").unlink(missing_ok=True)
        quota = added.replace("Conflict: another operation is in progress", "exceeding approved Cores quota")
        out, _ = _run(scale, quota.replace("touch scaled; ", ""), directory, **common, TARGET=target)
        if "autoscale added it" in out or "STOP" not in out:
            found.append("AZ-5: a quota error that added nothing is not a STOP")
        # The reader reads the error: a quota one is a Rollback, any other (Conflict) a re-run.
        stop = scale_step.split("Stop if:", 1)[1]
        quota_rule = re.search(r"quota[^.]*: Rollback", stop)
        conflict_rule = re.search(r"`Conflict`[^.]*: run the step again", stop)
        if not quota_rule or not conflict_rule:
            found.append("AZ-5: the stop does not tell a quota error (Rollback) from a conflict (re-run)")

        # AZ-7. Step 8 re-run while the first delete runs: any delete error shows the VM's provisioning state.
        deleting = f'  *"length("*) echo {minimum} ;;\n  *"show-backend-health"*) echo {UP} ;;\n'
        deleting += '  *"delete-instances"*) echo "Conflict" >&2; return 1 ;;\n'
        deleting += '  *"vm show"*"provisioningState"*) echo Deleting ;;\n'
        out, calls = _run(delete, deleting, directory, **variables)
        if "Deleting" not in out or "Deleting" not in _expected(delete_step):
            found.append("AZ-7: a failed delete does not show whether $VM is still Deleting")

    # AZ-10. A bare boolean row is lower-cased by az's tsv output; inside a row it is Python's str.
    restored = _tsv(f'["{minimum}", true]').splitlines()
    for step in restore_steps:
        if re.findall(r"`(\w+)`", _expected(step).split("(", 1)[0]) != restored[1:]:
            found.append(f"AZ-10: the restore's Expected does not show az's `{restored[1]}`")
    verification = _steps(text, "Verification")
    alerts = verification[_first(verification, r"metrics alert list")]
    row_boolean = _tsv('[["alert", true]]').split()[-1]
    if f"`{row_boolean}`" not in _expected(alerts):
        found.append("AZ-10: the alerts' Expected does not show az's row boolean")

    # AZ-11. The scale prints nothing and the reader is told it blocks.
    if not re.search(r"vmss scale [^\n]*-o none", scale) or "do not interrupt" not in _expected(scale_step):
        found.append("AZ-11: the scale dumps the scale set or is not said to block")
    return found


def test_every_environment_runs_without_the_third_readers_stumbles():
    # The committed runbooks, which the drift test keeps equal to a fresh generation.
    for environment, (facts, _) in generated().items():
        text = committed("azure", environment)
        assert not problems(text, facts.min_size), environment


def test_the_checks_fail_on_the_runbook_the_reader_walked_through():
    # The prod runbook as the third reader read it (main before this round), kept beside this test.
    old = frozen("azure-prod-replace-one-instance.reader3.md")
    facts, _ = generated()["prod"]
    found = {problem.split(":", 1)[0] for problem in problems(old, facts.min_size)}
    assert found == {"AZ-1", "AZ-5", "AZ-7", "AZ-10", "AZ-11"}, found
