"""Azure `replace-one-instance` reads the states Azure really reports (the gateway's backend health, the
autoscale setting, its own state file) and says what to do in each (briefs/s19/reports/reader4-azure.md).
Each check runs a block of a generated runbook's markdown in bash with `az` (and `pulumi`, `sleep`) stubbed
as Azure would answer; the gateway's backend health is answered by evaluating the block's own JMESPath query
with jmespath and printing it with knack's tsv output (both as the azure-cli tool venv pins them), so a query
or comparison with a value the API never returns finds nothing, as it would in Azure. `problems(old text)`
lists every stumble on the runbook the fourth reader walked through; the committed runbooks have none.

Sources:
- Backend health server states: ApplicationGatewayBackendHealthServerHealth, "Known values supported by the
  service: Unknown, Up, Down, Partial, Draining" (learn.microsoft.com/javascript/api/@azure/arm-network/
  applicationgatewaybackendhealthserverhealth; .NET Azure.ResourceManager.Network.Models, same five).
- `az monitor autoscale update --min-count/--count` changes every profile without fixedDate or recurrence
  (azure-cli monitor operations/latest/monitor/autoscale/_update.py, in the azure-cli tool venv).
- The backend health operation is long-running, 202 Accepted then polled ("Application Gateways - Backend
  Health", learn.microsoft.com/rest/api/application-gateway/application-gateways/backend-health).
- `az vm show` of a deleted VM fails with ResourceNotFound (az vm reference; learn.microsoft.com/azure/
  azure-resource-manager/troubleshooting/error-not-found).
"""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path

import pytest

from refarch import ROOT
from refarch.spec import load_all
from tests.docs.azure.azure_fixtures import generated, inventories, mutated
from tests.docs.azure.azure_replace_one import (
    AZURE_CLI_PYTHON,
    BEFORE,
    NAMES,
    NEW_IP,
    NEW_VM,
    OLD_IP,
    SLEEP,
    VM,
    _code,
    _first,
    _steps,
)
from tests.docs.runbook_harness import (
    assignments,
    committed,
    logged_calls,
    rendered_at,
    run_bash,
    stub_function,
)
from tests.docs.runbook_harness import section as _section
from tools.docs import azure as azure_docs
from tools.docs.azure import backend_health
from tools.docs.azure import inventory as inv
from tools.docs.azure.backend_health import DOWN, UP

# main when the fourth reader walked through the runbook (frozen in data/).
READ_BY_THE_FOURTH_READER = "a06f0c1"
# What `show-backend-health` answers: the block's --query evaluated on this document, printed as tsv.
QUERY = """import json, sys
import jmespath
from knack.output import format_tsv
from knack.util import CommandResultItem
document = json.load(open(sys.argv[1]))
query = sys.argv[sys.argv.index("--query") + 1]
print(format_tsv(CommandResultItem(jmespath.search(query, document))), end="")
"""


def _expected(step: str) -> str:
    return step.split("Expected:", 1)[1].split("Stop if:", 1)[0]


def _stop_if(step: str) -> str:
    return step.split("Stop if:", 1)[1]


class Azure:
    """A directory with the stubs' files: the gateway's servers, the az call log, $HOME."""

    def __init__(self, directory: Path):
        self.directory = directory
        (directory / "query.py").write_text(QUERY)
        self.calls = directory / "calls"

    def servers(self, health: dict[str, str]) -> None:
        document = {
            "backendAddressPools": [
                {
                    "backendHttpSettingsCollection": [
                        {"servers": [{"address": a, "health": h} for a, h in health.items()]}
                    ]
                }
            ]
        }
        (self.directory / "backend.json").write_text(json.dumps(document))

    def run(self, code: str, az: str = "", pulumi: str = "", **variables: str) -> tuple[str, list[str]]:
        """`code` in bash with `az` answering per `az` (a `case "$*"` body; backend health by the query),
        `pulumi` per `pulumi`, and `sleep` advancing bash's clock instead of waiting."""
        self.calls.write_text("")
        health = f'  *"show-backend-health"*) "{AZURE_CLI_PYTHON}" query.py backend.json "$@" ;;\n'
        script = stub_function("az", health + az, log=self.calls)
        script += stub_function("pulumi", pulumi)
        script += SLEEP
        script += assignments({"HOME": str(self.directory), **variables}) + code
        result = run_bash(script, timeout=60, cwd=self.directory)
        return result.stdout + result.stderr, logged_calls(self.calls)


def _count(calls: list[str], pattern: str) -> int:
    """How many calls match `pattern`."""
    return sum(1 for call in calls if re.search(pattern, call))


# The stack's outputs and the resource group's names, as the Names block's lookups would find them.
PULUMI = (
    "  *actionGroup*) echo /subscriptions/sub-1/resourceGroups/rg/providers/microsoft.insights/"
    "actionGroups/on-call ;;\n"
    "  *resourceGroup*) echo rg ;;\n  *scaleSet*) echo fleet ;;\n  *apiUrl*) echo https://api.example ;;\n"
)
NAMES_AZ = (
    '  "account set"*) ;;\n  "account show"*) echo production ;;\n'
    '  *"application-gateway list"*) echo agw ;;\n  *"autoscale list"*) echo fleet-autoscale ;;\n'
    '  "group show"*) echo /subscriptions/sub-1/resourceGroups/rg ;;\n'
)


def problems(text: str, minimum: int) -> list[str]:
    """Every stumble of the fourth reader trial still in one replace-one-instance runbook's markdown."""
    found = []
    steps, rollback = _steps(text, "Steps"), _steps(text, "Rollback")
    names = _code(_section(text, "Names, looked up from the stack"))
    check = steps[_first(steps, r"rolling-upgrade get-latest")]
    named_step = steps[_first(steps, r"(^|\n)\s*NEW_VM=")]
    wait_step = steps[_first(steps, r"DEADLINE=")]
    delete_step = steps[_first(steps, r'--instance-ids "\$VM"')]
    restore_step = steps[_first(steps, r'--min-count "\$MIN"')]
    target = str(minimum + 1)
    others = [f"10.0.0.{20 + i}" for i in range(minimum - 1)]
    with tempfile.TemporaryDirectory() as temporary:
        azure = Azure(Path(temporary))
        state = Path(temporary) / "replace-fleet.env"
        common = {**NAMES, "STATE": str(state)}
        placed = {
            **common,
            "VM": VM,
            "OLD_IP": OLD_IP,
            "NEW_VM": NEW_VM,
            "NEW_IP": NEW_IP,
            "CAP": str(minimum),
        }

        # 1. The gateway says Up: step 7 stops waiting at once, step 8 counts the others Up and deletes.
        azure.servers({OLD_IP: DOWN, NEW_IP: UP, **dict.fromkeys(others, UP)})
        out, calls = azure.run(_code(wait_step), **placed)
        if _count(calls, "show-backend-health") != 1 or f"`gateway: {UP}`" not in _expected(wait_step):
            found.append(f"1: step 7 keeps waiting for a new instance the gateway reports {UP}")
        delete = _code(delete_step)
        _, calls = azure.run(delete, '  *"autoscale update"*) echo false ;;\n', **placed)
        if not _count(calls, "delete-instances"):
            found.append(f"1: step 8 does not delete with the new instance and {minimum} others {UP}")

        # 5. The new instance Up, another old one Down (with a minimum of 1 the new one alone is enough):
        # nothing is changed, and the rule says what to do.
        rule = re.search(
            r"do not delete \$VM[^.]*do not roll\s*back[^.]*held at \$TARGET[^.]*Escalation",
            _stop_if(delete_step),
        )
        if minimum > 1:
            azure.servers({OLD_IP: DOWN, NEW_IP: UP, **dict.fromkeys(others[1:], UP), others[0]: DOWN})
            out, calls = azure.run(delete, '  *"autoscale update"*) echo false ;;\n', **placed)
            if _count(calls, "autoscale update|delete-instances") or "STOP" not in out:
                rule = None
        if not rule:
            found.append("5: another old instance Down stops step 8 without a rule (keep the hold, escalate)")

        # 11. $NEW_VM absent from the pool and gone (scaled in): step 7 ends at once, says to re-run step 5.
        azure.servers({OLD_IP: DOWN, **dict.fromkeys(others, UP)})
        gone = '  *"vm show"*) echo "(ResourceNotFound) The Resource was not found." >&2; return 3 ;;\n'
        out, calls = azure.run(_code(wait_step), gone, **placed)
        if _count(calls, "show-backend-health") != 1 or not re.search(
            r"ResourceNotFound[^.]*: autoscale removed \$NEW_VM[^.]*run step 5 again", _stop_if(wait_step)
        ):
            found.append("11: step 7 waits out the boot budget for an instance autoscale removed")
        # 10. Each check of the gateway can take tens of seconds.
        if "do not interrupt" not in _expected(wait_step):
            found.append("10: step 7 does not say not to interrupt a slow check")

        # 8. Step 6 re-run after step 8 deleted $VM: no old zone, no false WARNING; a Down zone-mate is none.
        state.write_text("")
        listing = '  *"vmss list-instances"*"length("*) echo 0 ;;\n'
        listing += f'  *"vmss list-instances"*) printf "{BEFORE}\\n{NEW_VM}\\n" ;;\n'
        listing += f'  *"list-ip-addresses"*) echo {NEW_IP} ;;\n'
        listing += f'  *"vm show"*"-n {VM} "*) return 3 ;;\n  *"vm show"*) echo 2 ;;\n'
        out, _ = azure.run(_code(named_step), listing, **common, BEFORE=BEFORE, VM=VM)
        if "WARNING" in out or not re.search(rf"`{DOWN}`[^.]*counts as none", _expected(named_step)):
            found.append(
                "8: step 6 re-run after the delete warns of an empty zone (or counts Down zone-mates)"
            )

        # 3, 6, 9. The Names block: finishes a step 4 cut off before its rename, says a run is over, refuses a
        # second autoscale profile.
        def names_block(profiles: int, held: str) -> str:
            az = (
                NAMES_AZ
                + f'  *"length(profiles)"*) echo {profiles} ;;\n  *"capacity.minimum"*) echo {held} ;;\n'
            )
            out, _ = azure.run(names, az, PULUMI)
            return out

        state.unlink(missing_ok=True)
        Path(f"{state}.tmp").write_text(f"VM={VM}\nMIN={minimum}\nDEFAULT={minimum}\nTARGET={target}\n")
        out = names_block(1, target)
        if not state.exists() or f"TARGET={target}" not in out:
            found.append(
                "3: the Names block does not finish a step 4 cut off between its update and saving $STATE"
            )
        state.unlink(missing_ok=True)
        Path(f"{state}.tmp").write_text(f"VM={VM}\nMIN={minimum}\nDEFAULT={minimum}\nTARGET={target}\n")
        out = names_block(1, str(minimum))
        if state.exists() or "run step 4 again" not in out:
            found.append("3: the Names block saves a step 4 whose update did not take")
        Path(f"{state}.tmp").unlink()
        Path(f"{state}.done").write_text(f"MIN={minimum}\n")
        out = names_block(1, str(minimum))
        if "the last run finished" not in out:
            found.append("6: the Names block does not say the last run finished")
        if "STOP" in out or "Escalation" not in names_block(2, str(minimum)):
            found.append("9: the Names block does not stop on an autoscale setting with two profiles")
        # 6. Step 9 again after it finished (a lost shell): it shows the setting, not nothing.
        live = f'  *"autoscale show"*) printf "{minimum}\\ntrue\\n" ;;\n'
        live += '  *"autoscale update"*) echo updated ;;\n'
        out, calls = azure.run(_code(restore_step), live, **common, MIN="", DEFAULT="")
        if (
            "the last run finished" not in out
            or _count(calls, "autoscale update")
            or not re.search(rf"`the last run finished`, then {minimum} and `true`", _expected(restore_step))
        ):
            found.append("6: step 9 run after the run finished prints nothing")
        out, _ = azure.run(
            "\n".join(_code(step) for step in rollback[-1:]), live, **common, MIN="", DEFAULT=""
        )
        if "the last run finished" not in out:
            found.append("6: Rollback 2 run after the run finished prints nothing")

    # 4. Step 1 says what to do on an error other than NotFound and 403.
    if "any other error" not in _stop_if(check):
        found.append("4: step 1 says nothing of other errors")
    return found


def test_every_environment_reads_the_states_azure_reports():
    # The committed runbooks, which the drift test keeps equal to a fresh generation.
    for environment, (facts, _) in generated().items():
        assert not problems(committed("azure", environment), facts.min_size), environment


def test_the_checks_fail_on_the_runbook_the_reader_walked_through():
    # The prod runbook as the fourth reader read it (main before this round), frozen in data/.
    old = rendered_at(READ_BY_THE_FOURTH_READER, "azure", "prod")
    facts, _ = generated()["prod"]
    found = {problem.split(":", 1)[0] for problem in problems(old, facts.min_size)}
    assert found == {"1", "3", "4", "5", "6", "8", "9", "10", "11"}, found


def test_the_gateway_states_are_the_apis():
    # ApplicationGatewayBackendHealthServerHealth's known values (learn.microsoft.com/javascript/api/
    # @azure/arm-network/applicationgatewaybackendhealthserverhealth): the portal's "Healthy" is none.
    assert backend_health.STATES == ("Unknown", "Up", "Down", "Partial", "Draining")
    for state in backend_health.STATES:
        assert f"`{state}`" in backend_health.LEGEND


# The portal's words for a backend's health, which the CLI never prints: compared with, quoted as output, or
# in a JMESPath filter.
PORTAL_WORDS = re.compile(r"`(Healthy|Unhealthy)`|= (Healthy|Unhealthy)\b|=='(Healthy|Unhealthy)'")


def test_no_azure_runbook_expects_the_portals_words():
    runbooks = sorted((ROOT / "runbooks" / "azure").glob("*/*.md"))
    assert len(runbooks) >= 18
    found = {str(path): PORTAL_WORDS.findall(path.read_text()) for path in runbooks}
    assert not any(found.values()), {path: words for path, words in found.items() if words}
    assert PORTAL_WORDS.search(rendered_at(READ_BY_THE_FOURTH_READER, "azure", "prod"))


def test_a_second_autoscale_profile_is_refused_before_anything_is_built():
    inventory = inventories()["prod"]
    setting = next(resource for resource in inventory if resource.type == inv.AUTOSCALE)
    profiles = setting.inputs["profiles"]
    scheduled = [*profiles, {**profiles[0], "name": "weekends", "recurrence": {"frequency": "Week"}}]
    twice = mutated(inventory, inv.AUTOSCALE, "profiles", scheduled)
    with pytest.raises(ValueError, match=r"azure prod: the autoscale setting .* has 2 profiles"):
        azure_docs.runbooks(azure_docs.facts("prod", twice, load_all()["prod"]))
