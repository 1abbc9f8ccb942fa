"""Azure `replace-one-instance` run step by step in bash, as a reader on call pastes it: `az` (and `sleep`)
are a shell function that answers as Azure would in the case that could go wrong (a failed autoscale update, a
refused or failing scale, a new instance that is not Healthy, a delete re-run while the first runs, a
rollback after an early stop) and logs every call. Two checkers list every failure in one runbook:
`step_problems` (what each step does in bash, the Names block's subscription, the role's place) and
`retry_and_output_problems` (a failed scale or delete re-run, the old instance's address kept, az's tsv
output quoted in each Expected, the blocking scale). Each passes on every committed runbook and finds its
failures on the prod runbook as it was before the fixes (frozen in data/, see data/README.md).

Sources:
- `az monitor autoscale update --enabled {false, true}`: "Autoscale settings enabled status", azure-cli's
  monitor module (_params.py, `monitor autoscale`), parsed by the tests' azure-cli parser; an autoscale
  setting's enabled flag "Specifies whether automatic scaling is enabled for the resource"
  (learn.microsoft.com/dotnet/api/azure.resourcemanager.monitor.models.autoscalesettingpatch.isenabled).
- `az account set` switches among the subscriptions `az login` cached, no Azure call (azure-cli
  azure/cli/core/_profile.py, Profile.set_active_subscription).
- `-o tsv` prints each element of a top-level list as its own row and a bare boolean row lower-case
  (`true`), a boolean inside a row as Python's str (`True`): knack's output.py, `format_tsv` and
  `_TsvOutput._dump_row` (knack as the azure-cli tool venv pins it); checked below with knack itself.
- `az vmss scale --new-capacity` "Change the number of VMs within a VMSS" and waits for the operation (az
  vmss reference, learn.microsoft.com/cli/azure/vmss#az-vmss-scale); `-o none` is azure-cli's global output
  format "none" (knack/azure-cli `--output` choices), parsed by the tests' azure-cli parser
  (test_azure_cli_validator.py).
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

import pytest

from tests.docs.azure.azure_fixtures import generated
from tests.docs.azure.azure_replace_one import (
    AZURE_CLI_PYTHON,
    BEFORE,
    NAMES,
    NEW_IP,
    OLD_IP,
    SLEEP,
    VM,
    _called,
    _code,
    _first,
    _steps,
)
from tests.docs.runbook_harness import assignments, committed, frozen, logged_calls, run_bash, stub_function
from tests.docs.runbook_harness import section as _section
from tools.docs.azure.backend_health import DOWN, UP


def _run(code: str, az: str, directory: Path, **variables: str) -> tuple[str, list[str]]:
    """Run `code` in bash with `az` answering per `az` (a `case "$*"` body) and `sleep` advancing bash's
    clock instead of waiting (a wait loop for a state the stub never gives ends at its deadline); return
    what it printed (stdout and stderr) and the az calls it made, in order."""
    calls = directory / "calls"
    calls.write_text("")
    script = stub_function("az", az, log=calls) + SLEEP + assignments(variables) + code
    result = run_bash(script, timeout=60, cwd=directory)
    return result.stdout + result.stderr, logged_calls(calls)


def step_problems(text: str, minimum: int) -> list[str]:
    """What each step of one replace-one-instance runbook does wrong when run in bash, and what its text
    leaves out."""
    found = []
    steps, rollback = _steps(text, "Steps"), _steps(text, "Rollback")
    hold = _code(steps[_first(steps, r'--min-count "\$TARGET"')])
    scale = _code(steps[_first(steps, r"vmss scale")])
    named = _code(steps[_first(steps, r"(^|\n)\s*NEW_VM=")])
    wait = _code(steps[_first(steps, r"DEADLINE=")])
    delete = _code(steps[_first(steps, r'--instance-ids "\$VM"')])
    restore = _code(steps[_first(steps, r'--min-count "\$MIN"')])
    capacity = f'  *"vmss show"*) echo {minimum} ;;\n'
    limits = f'  *"capacity.minimum"*) echo {minimum} ;;\n  *"capacity.default"*) echo {minimum} ;;\n'
    # Step 8 also counts the other Up instances (retry_and_output_problems): enough. The gateway says Up,
    # not the portal's Healthy (tools/docs/azure/backend_health.py).
    healthy = f'  *"length("*) echo {minimum} ;;\n  *"show-backend-health"*) echo {UP} ;;\n'
    with tempfile.TemporaryDirectory() as temporary:
        directory = Path(temporary)
        state = str(directory / "replace.env")
        common = {**NAMES, "STATE": state}
        target = str(minimum + 1)

        # 1. Step 8: the minimum stays raised and autoscale is paused before the delete (a lowered minimum
        # with one instance too many lets autoscale scale in a healthy one meanwhile); step 9 resumes it.
        out, calls = _run(
            delete,
            healthy,
            directory,
            **common,
            VM=VM,
            OLD_IP="10.0.0.5",
            CAP=str(minimum),
            NEW_IP="10.0.0.9",
        )
        paused, deleted = _called(calls, "--enabled false"), _called(calls, "delete-instances")
        if not 0 <= paused < deleted or _called(calls, "--min-count") >= 0:
            found.append("1: step 8 lowers the minimum instead of pausing autoscale around the delete")
        _, calls = _run(restore, "", directory, **common, MIN=str(minimum), DEFAULT=str(minimum))
        if _called(calls, f"--min-count {minimum} .*--enabled true") < 0:
            found.append("1: step 9 does not resume autoscale")
        # Rollback, run as a whole: paused before the new instance is deleted, resumed after it.
        Path(state).write_text("")
        rollback_code = "\n".join(_code(step) for step in rollback)
        _, calls = _run(
            rollback_code, "", directory, **common, NEW_VM="vm-d", MIN=str(minimum), DEFAULT=str(minimum)
        )
        paused, deleted = _called(calls, "--enabled false"), _called(calls, "delete-instances.*vm-d")
        resumed = _called(calls, "--enabled true")
        if not 0 <= paused < deleted < resumed:
            found.append("1: the rollback does not pause autoscale around the delete and resume it after")

        # 2. Step 4: a failed autoscale update leaves no state file (no false "a run is in progress").
        Path(state).unlink(missing_ok=True)
        refused = '  *"autoscale update"*) echo "AuthorizationFailed" >&2; return 1 ;;\n'
        refused += capacity + limits + f'  *"vmss list-instances"*) printf "{BEFORE}\\n" ;;\n'
        refused += '  *"list-ip-addresses"*) echo 10.0.0.5 ;;\n'
        out, calls = _run(hold, refused, directory, **common, VM=VM)
        if _called(calls, "autoscale update") < 0:
            found.append("2: step 4 never reached its update (check the stub)")
        elif Path(state).exists():
            found.append("2: a failed update in step 4 leaves the state file of a run in progress")
        # 11. Step 4: a $VM that is not an instance of the scale set changes nothing.
        Path(state).unlink(missing_ok=True)
        _, calls = _run(hold, refused, directory, **common, VM="jumpbox")
        if _called(calls, "autoscale update") >= 0:
            found.append("11: step 4 proceeds with a VM that is not in the scale set")

        # 3. Step 5: a refused scale says STOP, not the benign `not scaling`.
        quota = capacity + f'  *"capacity.minimum"*) echo {target} ;;\n'
        quota += '  *"vmss scale"*) echo "OperationNotAllowed: quota" >&2; return 1 ;;\n'
        out, _ = _run(scale, quota, directory, **common, TARGET=target)
        if "not scaling" in out or "STOP" not in out:
            found.append("3: a refused scale prints `not scaling`")
        # 2. Step 5: the minimum step 4 should have raised is still the stack's: nothing is scaled.
        unraised = capacity + f'  *"capacity.minimum"*) echo {minimum} ;;\n'
        out, calls = _run(scale, unraised, directory, **common, TARGET=target)
        if _called(calls, "vmss scale") >= 0 or "STOP" not in out:
            found.append("2: step 5 scales out with the autoscale minimum not raised")

        # 5. Step 6: two new names stop with both named; nothing saved.
        Path(state).write_text("")
        two = f'  *"vmss list-instances"*) printf "{BEFORE}\\nvm-d\\nvm-e\\n" ;;\n'
        two += '  *"list-ip-addresses"*) ;;\n  *"zones"*) echo 1 ;;\n  *) echo 1 ;;\n'
        out, _ = _run(named, two, directory, **common, BEFORE=BEFORE, VM=VM)
        if not re.search(r"STOP: 2 new instances.*vm-d vm-e", out) or "NEW_VM" in Path(state).read_text():
            found.append("5: two new instances are not named as a stop")
        # 6. Step 6: the old instance's zone left empty is warned about.
        lone = '  *"--query length("*) echo 0 ;;\n'
        lone += f'  *"vmss list-instances"*) printf "{BEFORE}\\nvm-d\\n" ;;\n'
        lone += (
            '  *"list-ip-addresses"*) echo 10.0.0.9 ;;\n  *"-n vm-d"*) echo 2 ;;\n  *"zones"*) echo 1 ;;\n'
        )
        out, _ = _run(named, lone, directory, **common, BEFORE=BEFORE, VM=VM)
        if "WARNING: zone 1" not in out:
            found.append("6: the old instance's zone left without an instance is not warned about")

        # 10. Step 7: every pass prints the time and the state.
        booting = f'  *"show-backend-health"*) test -s n && echo {UP}; echo . >>n ;;\n'
        out, _ = _run(wait, booting, directory, **common, NEW_IP="10.0.0.9")
        if not re.search(r"^\d\d:\d\d:\d\d ", out, re.MULTILINE):
            found.append("10: the wait loop prints nothing while it waits")

        # 4. Step 8: a new instance that is not Healthy stops the delete.
        unhealthy = f'  *"show-backend-health"*) echo {DOWN} ;;\n'
        _, calls = _run(
            delete,
            unhealthy,
            directory,
            **common,
            VM=VM,
            OLD_IP="10.0.0.5",
            CAP=str(minimum),
            NEW_IP="10.0.0.9",
        )
        if _called(calls, "delete-instances") >= 0:
            found.append("4: step 8 deletes while the new instance is not Healthy")

        # 7. Rollback after a stop before step 6 (no new instance named): the run is retired.
        Path(state).write_text("")
        _run(
            rollback_code,
            '  *"delete-instances"*) echo "missing --instance-ids" >&2; return 1 ;;\n',
            directory,
            **common,
            NEW_VM="",
            MIN=str(minimum),
            DEFAULT=str(minimum),
        )
        if Path(state).exists():
            found.append("7: the rollback leaves the state file when no new instance was named")

    # 8. The Names block sets az to the stack's own subscription (the one in its action group's id).
    names = _code(_section(text, "Names, looked up from the stack"))
    if "SUB_ID=$(pulumi stack output actionGroup" not in names or (
        'az account set --subscription "${SUB_ID' not in names
    ):
        found.append("8: the Names block does not set the stack's subscription")
    # 12. "below" only where the role follows; exercised in staging first.
    if "role below" in _section(text, "Steps"):
        found.append("12: a step points at the role 'below' (it is above, in Preconditions)")
    if "staging with exactly this role" not in _section(text, "Preconditions"):
        found.append("12: nothing says to exercise the role in staging first")
    return found


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


def retry_and_output_problems(text: str, minimum: int) -> list[str]:
    """What one replace-one-instance runbook gets wrong on a failed or repeated scale or delete, and where its
    Expected text is not what az prints."""
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
        common = {**NAMES, "STATE": str(state)}

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


@pytest.mark.parametrize("check", [step_problems, retry_and_output_problems])
def test_every_committed_runbook_passes(check):
    # The committed runbooks, which the drift test keeps equal to a fresh generation.
    for environment, (facts, _) in generated().items():
        text = committed("azure", environment)
        assert not check(text, facts.min_size), environment


# The prod runbook before each round of fixes, kept in data/ (the commit it was rendered at in its name), and
# the findings each checker must report on it.
BEFORE_THE_FIXES = {
    "step_problems": (
        step_problems,
        "azure-prod-replace-one-instance.at-aa096e2.md",
        {"1", "2", "3", "4", "5", "6", "7", "8", "10", "11", "12"},
    ),
    "retry_and_output_problems": (
        retry_and_output_problems,
        "azure-prod-replace-one-instance.at-d59a2c2.md",
        {"AZ-1", "AZ-5", "AZ-7", "AZ-10", "AZ-11"},
    ),
}


@pytest.mark.parametrize("checker", BEFORE_THE_FIXES)
def test_each_check_fails_on_the_runbook_before_its_fixes(checker):
    check, name, expected = BEFORE_THE_FIXES[checker]
    facts, _ = generated()["prod"]
    found = {problem.split(":", 1)[0] for problem in check(frozen(name), facts.min_size)}
    assert found == expected, found
