"""Azure `replace-one-instance` after the second reader trial (briefs/s18/reports/reader2-azure.md): each
check runs a step of a generated runbook's markdown in bash, with `az` (and `sleep`) replaced by a shell
function that answers as Azure would in the case the reader feared and logs every call; so each fails on the
text the reader walked through (`problems(old text)` lists them all) and passes on the fixed one.

Sources:
- `az monitor autoscale update --enabled {false, true}`: "Autoscale settings enabled status", azure-cli's
  monitor module (_params.py, `monitor autoscale`), parsed by the tests' azure-cli parser; an autoscale
  setting's enabled flag "Specifies whether automatic scaling is enabled for the resource"
  (learn.microsoft.com/dotnet/api/azure.resourcemanager.monitor.models.autoscalesettingpatch.isenabled).
- `az account set` switches among the subscriptions `az login` cached, no Azure call (azure-cli
  azure/cli/core/_profile.py, Profile.set_active_subscription).
- `-o tsv` prints a list's boolean as Python's str (`True`), a lone boolean lower-case: knack's
  output.py `_TsvOutput._dump_row`.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from tests.docs.azure_fixtures import generated
from tests.docs.runbook_harness import assignments, committed, frozen, logged_calls, run_bash, stub_function
from tests.docs.runbook_harness import section as _section
from tests.docs.test_azure_replace_one_reader import _code, _first, _steps
from tools.docs.azure.backend_health import DOWN, UP

# The instances before the procedure (step 4's $BEFORE) and the one being replaced.
BEFORE = "vm-a\nvm-b\nvm-c"
VM = "vm-b"


def _run(code: str, az: str, directory: Path, **variables: str) -> tuple[str, list[str]]:
    """Run `code` in bash with `az` answering per `az` (a `case "$*"` body) and `sleep` advancing bash's
    clock instead of waiting (a wait loop for a state the stub never gives ends at its deadline); return
    what it printed (stdout and stderr) and the az calls it made, in order."""
    calls = directory / "calls"
    calls.write_text("")
    sleep = "sleep() { SECONDS=$((SECONDS + $1)); }\n"
    script = stub_function("az", az, log=calls) + sleep + assignments(variables) + code
    result = run_bash(script, timeout=60, cwd=directory)
    return result.stdout + result.stderr, logged_calls(calls)


def _called(calls: list[str], pattern: str) -> int:
    """The index of the first call matching `pattern`, -1 when none does."""
    return next((i for i, call in enumerate(calls) if re.search(pattern, call)), -1)


def problems(text: str, minimum: int) -> list[str]:
    """Every stumble of the second reader trial still in one replace-one-instance runbook's markdown."""
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
    # Step 8 also counts the other Up instances (round 3, test_azure_replace_one_reader3): enough. The
    # gateway says Up, not the portal's Healthy (round 4, tools/docs/azure/backend_health.py).
    healthy = f'  *"length("*) echo {minimum} ;;\n  *"show-backend-health"*) echo {UP} ;;\n'
    with tempfile.TemporaryDirectory() as temporary:
        directory = Path(temporary)
        state = str(directory / "replace.env")
        # PROFILES as the Names block sets it (step 4 checks it since review 2).
        common = {"RG": "rg", "VMSS": "fleet", "AGW": "agw", "AUTOSCALE": "fleet-autoscale", "STATE": state}
        common["PROFILES"] = "1"
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


def test_every_environment_runs_without_the_second_readers_stumbles():
    # The committed runbooks, which the drift test keeps equal to a fresh generation.
    for environment, (facts, _) in generated().items():
        text = committed("azure", environment)
        assert not problems(text, facts.min_size), environment


def test_the_checks_fail_on_the_runbook_the_reader_walked_through():
    # The prod runbook as the second reader read it (main before this round), kept beside this test.
    old = frozen("azure-prod-replace-one-instance.reader2.md")
    facts, _ = generated()["prod"]
    found = {problem.split(":", 1)[0] for problem in problems(old, facts.min_size)}
    assert found == {"1", "2", "3", "4", "5", "6", "7", "8", "10", "11", "12"}, found
