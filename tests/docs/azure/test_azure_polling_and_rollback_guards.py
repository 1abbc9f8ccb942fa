"""The Azure runbooks' roles let az wait on every long-running command, and replace-one-instance never
deletes the replacement once the old instance is gone (Azure architect review 2,
briefs/s19/review2-azure.md). Each check reads a rendered runbook's markdown: the committed runbooks pass,
the ones the architect reviewed (tests/docs/data/azure-prod-*.at-75afa70.md) fail. The bash checks run a
block with `az`
stubbed as Azure answers (an error on stderr, a non-zero exit); the tsv checks print the block's own
--query with the azure-cli tool venv's jmespath and knack.

Sources:
- "Track asynchronous Azure operations", "Permission for tracking async status" (learn.microsoft.com/azure/
  azure-resource-manager/management/async-operations): a long-running operation answers 201/202 with an
  Azure-AsyncOperation or Location URL that the client polls; tracking it needs permission at the resource
  group level. Action names: "Azure permissions for Compute" (Microsoft.Compute/locations/operations/read)
  and "... for Networking" (Microsoft.Network/locations/operations/read, operationResults/read).
- Which commands azure-cli 2.91.0 waits on: `build_lro_poller` in its aaz command classes, `begin_*` SDK
  calls in cosmosdb/custom.py (build/azure-cli-venv).
- `az vm show` of a deleted VM fails with ResourceNotFound (learn.microsoft.com/azure/azure-resource-manager/
  troubleshooting/error-not-found); throttling answers 429 TooManyRequests ("Understand how Azure Resource
  Manager throttles requests").
- knack output.py `_TsvOutput._dump_row`: a top-level list prints one item a line, a bool lower case, a map
  one line of its values by key.
- `az monitor autoscale update` always writes a notification (monitor/operations/latest/monitor/autoscale/
  _update.py, AutoScaleUpdate.pre_instance_update).
"""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
from itertools import pairwise
from pathlib import Path

import pytest

from refarch import ROOT
from tests.docs.azure.azure_replace_one import _code, _first, _steps
from tests.docs.azure.test_azure_replace_one_instance_states import (
    AZURE_CLI_PYTHON,
    NAMES_AZ,
    PULUMI,
    QUERY,
    Azure,
    _count,
    _expected,
    _stop_if,
)
from tests.docs.runbook_harness import frozen, section
from tools.docs.azure import permissions
from tools.docs.azure.backend_health import UP
from tools.docs.commands import azure_cli


def command_modules() -> Path:
    """azure-cli's command modules in its own venv; without the venv, the message says `make azure-cli`."""
    try:
        return azure_cli.package("azure/cli/command_modules")
    except azure_cli.AzureCliMissing as missing:
        pytest.fail(str(missing))


REVIEWED_REPLACE = "azure-prod-replace-one-instance.at-75afa70.md"
REVIEWED_RESTORE = "azure-prod-restore-store.at-75afa70.md"
COMMITTED = sorted((ROOT / "runbooks" / "azure").glob("*/*.md"))
RUNBOOKS = [path for path in COMMITTED if "## Steps" in path.read_text()]


def _committed(environment: str, scenario: str) -> str:
    return (ROOT / "runbooks" / "azure" / environment / f"{scenario}.md").read_text()


# --- 1. Long-running commands and their polling reads -------------------------------------------------

# Where azure-cli 2.91.0 implements each az command that changes something or may wait: an aaz class
# (long-running when it builds an LRO poller) or a custom.py function (when it calls a `begin_*` method).
AAZ = {
    "vmss scale": "vm/aaz/latest/vmss/_create.py",  # vm/custom.py scale_vmss sends VMSSCreate
    "vmss delete-instances": "vm/aaz/latest/vmss/_delete_instances.py",
    "vmss rolling-upgrade start": "vm/aaz/latest/vmss/rolling_upgrade/_start.py",
    "vmss rolling-upgrade cancel": "vm/aaz/latest/vmss/rolling_upgrade/_cancel.py",
    "vmss rolling-upgrade get-latest": "vm/aaz/latest/vmss/rolling_upgrade/_get_latest.py",
    "vmss show": "vm/aaz/latest/vmss/_show.py",
    # network/custom.py show_ag_backend_health sends aaz Health
    "network application-gateway show-backend-health": (
        "network/aaz/latest/network/application_gateway/_health.py"
    ),
    "monitor autoscale update": "monitor/aaz/latest/monitor/autoscale/_update.py",
}
# cosmosdb/custom.py: the command's function, then any function it hands the call to.
CUSTOM = {
    "cosmosdb restore": ("cli_cosmosdb_restore", "_create_database_account"),
    "cosmosdb update": ("cli_cosmosdb_update",),
    "cosmosdb delete": ("cli_cosmosdb_delete",),
    "cosmosdb sql container update": ("cli_cosmosdb_sql_container_update",),
    "cosmosdb sql container throughput update": ("cli_cosmosdb_sql_container_throughput_update",),
    "cosmosdb sql container throughput migrate": ("cli_cosmosdb_sql_container_throughput_migrate",),
}
# Commands that only read (their names say so) need no source check.
READS = re.compile(r"\b(show|list|list-instances|get-latest|get-instance-view|list-ip-addresses|set)$")


def _long_running_in_source(command: str) -> bool:
    if command in AAZ:
        return "build_lro_poller(" in (command_modules() / AAZ[command]).read_text()
    source = (command_modules() / "cosmosdb" / "custom.py").read_text()
    chain = CUSTOM[command]
    body = {name: source.split(f"def {name}(", 1)[1].split("\ndef ", 1)[0] for name in chain}
    assert all(f"{callee}(" in body[caller] for caller, callee in pairwise(chain)), command
    return ".begin_" in body[chain[-1]]


def test_the_long_running_commands_are_those_azure_cli_waits_on():
    marked = {command for command in {*AAZ, *CUSTOM} if _long_running_in_source(command)}
    assert marked == set(permissions.LONG_RUNNING)
    # Every command of the Azure runbooks that changes something is checked against the source.
    used = permissions._az_commands([_sh(path.read_text()) for path in RUNBOOKS])
    unchecked = {command for command in used if not READS.search(command)} - {*AAZ, *CUSTOM}
    assert not unchecked, unchecked


def test_the_source_check_tells_a_poller_from_a_plain_call():
    assert _long_running_in_source("vmss delete-instances")
    assert not _long_running_in_source("monitor autoscale update")
    assert not _long_running_in_source("vmss rolling-upgrade get-latest")


SH = re.compile(r"```sh\n(.*?)```", re.S)
JSON = re.compile(r"```json\n(.*?)```", re.S)
QUOTED_AZ = re.compile(r"`(az [^`]* -[^`]+)`")


def _sh(text: str) -> str:
    return "\n".join(SH.findall(text))


def _granted(text: str) -> set[str]:
    """Every action of the runbook's roles (the resource group's, and the subscription's when it has one)."""
    return {action for block in JSON.findall(text) for action in json.loads(block).get("Actions", [])}


def _resource_group_role(text: str) -> dict:
    return json.loads(JSON.findall(section(text, "Preconditions"))[0])


def polling_problems(text: str) -> list[str]:
    """Long-running commands whose status read the roles lack, or that the dev `--debug` check omits; a
    command a stop-if tells the reader to run whose actions the roles lack."""
    found = []
    waiting = permissions.long_running([_sh(text)])
    group_role = _resource_group_role(text)
    granted = _granted(text)
    for command in waiting:
        for action in permissions.LONG_RUNNING[command]:
            in_group = action in group_role["Actions"]
            if not (in_group or (permissions.subscription_scoped(action) and action in granted)):
                found.append(f"az {command}: the roles lack {action}")
    debug = [line for line in section(text, "Preconditions").splitlines() if "`--debug`" in line]
    for command in waiting:
        if not any(f"az {command}" in line for line in debug):
            found.append(f"az {command}: no dev `--debug` check of its polled status URLs")
    # A remedy is run too: its actions must be granted (review 2 item 4: the throughput migrate).
    prose = SH.sub("", "".join(section(text, title) for title in ("Steps", "Verification", "Rollback")))
    remedies = QUOTED_AZ.findall(prose)
    missing = set(permissions.actions(remedies)) - granted if remedies else set()
    if missing:
        found.append(f"a command quoted in the steps needs {sorted(missing)}")
    if "throughput migrate" in text and not any("throughput migrate" in command for command in remedies):
        found.append("the throughput migrate remedy is not a whole command (its action cannot be derived)")
    return found


def test_every_azure_runbook_can_wait_on_its_long_running_commands():
    problems = [
        f"{path.parent.name}/{path.name}: {p}"
        for path in RUNBOOKS
        for p in polling_problems(path.read_text())
    ]
    assert not problems, "\n".join(problems)


def test_the_polling_check_fails_on_the_reviewed_runbooks():
    replace = polling_problems(frozen(REVIEWED_REPLACE))
    assert "az vmss scale: the roles lack Microsoft.Compute/locations/operations/read" in replace
    assert "az vmss delete-instances: the roles lack Microsoft.Compute/locations/operations/read" in replace
    assert (
        "az network application-gateway show-backend-health: the roles lack "
        "Microsoft.Network/locations/operationResults/read"
    ) in replace
    assert "az vmss scale: no dev `--debug` check of its polled status URLs" in replace
    restore = polling_problems(frozen(REVIEWED_RESTORE))
    assert "the throughput migrate remedy is not a whole command (its action cannot be derived)" in restore


def test_compute_and_network_polling_reads_go_to_the_resource_group_role():
    # "Permission for tracking async status": the resource group level; nothing new on the subscription.
    role = _resource_group_role(_committed("prod", "replace-one-instance"))
    assert role["AssignableScopes"][0].endswith(
        "/resourceGroups/" + role["AssignableScopes"][0].split("/")[-1]
    )
    assert {*permissions.COMPUTE_POLLING, *permissions.NETWORK_POLLING} <= set(role["Actions"])
    assert not any(
        permissions.subscription_scoped(a)
        for a in (*permissions.COMPUTE_POLLING, *permissions.NETWORK_POLLING)
    )
    restore = _committed("prod", "restore-store")
    assert f"{permissions.CONTAINER}/throughputSettings/migrateToAutoscale/action" in _granted(restore)


def test_the_migrate_remedy_may_read_its_own_operation_result():
    """A migrate's Location is .../throughputSettings/default/migrateToAutoscale/operationResults/<id>, read
    by azure-core's final GET: its own action, not the throughput update's (final Azure review 1)."""
    own = f"{permissions.CONTAINER}/throughputSettings/migrateToAutoscale/operationResults/read"
    assert own in _granted(_committed("prod", "restore-store"))
    assert own not in _granted(frozen(REVIEWED_RESTORE))


def test_a_no_wait_run_is_not_listed_for_the_debug_check():
    """`--no-wait` returns at once and polls nothing: the dev `--debug` check lists only commands that wait
    (final Azure review 2); the role keeps the reads for the runs that do wait."""
    start = 'az vmss rolling-upgrade start -g "$RG" -n "$VMSS" --no-wait'
    cancel = 'az vmss rolling-upgrade cancel -g "$RG" -n "$VMSS"'
    assert permissions.long_running([start]) == []
    assert permissions.long_running([start, cancel]) == ["vmss rolling-upgrade cancel"]
    assert set(permissions.COMPUTE_POLLING) <= set(permissions.actions([start]))


def test_the_debug_check_allows_202_while_an_operation_runs():
    # "Track asynchronous Azure operations": a Location URL answers 202 while the operation runs.
    for path in RUNBOOKS:
        for line in section(path.read_text(), "Preconditions").splitlines():
            if "`--debug`" in line:
                assert "202 while the operation still runs" in line and "never 403" in line, path
    assert "answers 200, not 403" in section(frozen(REVIEWED_RESTORE), "Preconditions")


# --- 2, 5, 6. replace-one-instance in bash --------------------------------------------------------------

VM, NEW_VM, OLD_IP, NEW_IP = "vm-b", "vm-d", "10.0.0.5", "10.0.0.9"
NOT_FOUND = 'echo "ERROR: (ResourceNotFound) The Resource was not found." >&2; return 3'
THROTTLED = 'echo "ERROR: (TooManyRequests) Too many requests." >&2; return 1'


def replace_problems(text: str, minimum: int) -> list[str]:
    found = []
    steps, rollback = _steps(text, "Steps"), _steps(text, "Rollback")
    names = _code(section(text, "Names, looked up from the stack"))
    hold = steps[_first(steps, r'--min-count "\$TARGET"')]
    wait = steps[_first(steps, r"DEADLINE=")]
    delete = steps[_first(steps, r'--instance-ids "\$VM"')]
    common = {"RG": "rg", "VMSS": "fleet", "AGW": "agw", "AUTOSCALE": "fleet-autoscale"}
    with tempfile.TemporaryDirectory() as temporary:
        azure = Azure(Path(temporary))
        state = Path(temporary) / "replace-fleet.env"
        common["STATE"] = str(state)
        paused = '  *"autoscale update"*) echo false ;;\n  *"delete-instances"*) ;;\n'

        # 2. Rollback 1 after step 8 deleted $VM: the replacement stays.
        for answer, why in ((NOT_FOUND, "is gone"), (THROTTLED, "cannot be read (429)")):
            out, calls = azure.run(
                _code(rollback[0]), f'  *"vm show"*) {answer} ;;\n' + paused, **common, VM=VM, NEW_VM=NEW_VM
            )
            if _count(calls, "delete-instances") or _count(calls, "autoscale update"):
                found.append(f"2: Rollback 1 deletes the replacement when the old instance {why}")
        out, calls = azure.run(
            _code(rollback[0]), '  *"vm show"*) ;;\n' + paused, **common, VM=VM, NEW_VM=NEW_VM
        )
        if not _count(calls, f"delete-instances .*--instance-ids {NEW_VM}"):
            found.append("2: Rollback 1 no longer deletes the replacement while the old instance exists")
        if "run step 9" not in _stop_if(rollback[0]):
            found.append("2: Rollback 1 does not say what to do when the old instance is gone")
        if not re.search(
            r"not Up`[^.]*Rollback, unless \$VM is already gone", _stop_if(delete).replace(UP, "Up")
        ):
            found.append("2: step 8's not-Up branch sends to Rollback even after $VM was deleted")

        # 6. Step 7: a throttled `az vm show` keeps waiting; only ResourceNotFound ends the wait at once.
        azure.servers({OLD_IP: UP})
        for answer, gone, error in ((THROTTLED, False, "429"), (NOT_FOUND, True, "ResourceNotFound")):
            out, calls = azure.run(
                _code(wait), f'  *"vm show"*) {answer} ;;\n', **common, NEW_VM=NEW_VM, NEW_IP=NEW_IP
            )
            if (_count(calls, "vm show") == 1) != gone:
                found.append(f"6: step 7 {'keeps waiting' if gone else 'ends'} on {error}")

        # 5. Step 4 changes nothing when the setting has another number of profiles than the stack's.
        reads = (
            f'  *"list-instances"*) printf "vm-a\\n{VM}\\n" ;;\n  *"vmss show"*) echo {minimum} ;;\n'
            f'  *"capacity.minimum"*) echo {minimum} ;;\n  *"capacity.default"*) echo {minimum} ;;\n'
            f'  *"list-ip-addresses"*) echo {OLD_IP} ;;\n  *"autoscale update"*) echo {minimum + 1} ;;\n'
        )
        out, calls = azure.run(_code(hold), reads, **common, VM=VM, PROFILES="2")
        state.unlink(missing_ok=True)
        if _count(calls, "autoscale update"):
            found.append("5: step 4 raises the minimum of a setting with two profiles")
        out, calls = azure.run(_code(hold), reads, **common, VM=VM, PROFILES="1")
        state.unlink(missing_ok=True)
        if not _count(calls, "autoscale update"):
            found.append("5: step 4 no longer raises the minimum with the stack's one profile")

        # 5. Finishing a cut-off step 4: a failed minimum read says so, not "run step 4 again".
        Path(f"{state}.tmp").write_text(f"VM={VM}\nTARGET={minimum + 1}\n")
        az = NAMES_AZ + f'  *"length(profiles)"*) echo 1 ;;\n  *"capacity.minimum"*) {THROTTLED} ;;\n'
        out, calls = azure.run(names, az, PULUMI)
        if "run step 4 again" in out or "read failed" not in out:
            found.append("5: a failed minimum read of a cut-off step 4 says to run step 4 again")
        if _count(calls, "capacity.minimum") != 1:
            found.append("5: the Names block reads the minimum more than once for a cut-off step 4")
    return found


def test_replace_one_instance_keeps_the_replacement_and_waits_through_throttling():
    for environment in ("dev", "staging", "prod"):
        text = _committed(environment, "replace-one-instance")
        minimum = int(re.search(r"autoscale minimum (\d+)", text).group(1))
        assert replace_problems(text, minimum) == [], environment


def test_the_replace_checks_fail_on_the_reviewed_runbook():
    text = frozen(REVIEWED_REPLACE)
    minimum = int(re.search(r"autoscale minimum (\d+)", text).group(1))
    assert replace_problems(text, minimum) == [
        "2: Rollback 1 deletes the replacement when the old instance is gone",
        "2: Rollback 1 deletes the replacement when the old instance cannot be read (429)",
        "2: Rollback 1 does not say what to do when the old instance is gone",
        "2: step 8's not-Up branch sends to Rollback even after $VM was deleted",
        "6: step 7 ends on 429",
        "5: step 4 raises the minimum of a setting with two profiles",
        "5: a failed minimum read of a cut-off step 4 says to run step 4 again",
        "5: the Names block reads the minimum more than once for a cut-off step 4",
    ]


# --- 3. restore-store: what az's tsv prints ---------------------------------------------------------------


def _tsv(document: dict, query: str) -> list[str]:
    """What `az ... --query <query> -o tsv` prints for `document` (jmespath and knack of the az venv)."""
    with tempfile.TemporaryDirectory() as temporary:
        (Path(temporary) / "query.py").write_text(QUERY)
        (Path(temporary) / "doc.json").write_text(json.dumps(document))
        result = subprocess.run(
            [str(AZURE_CLI_PYTHON), "query.py", "doc.json", "--query", query],
            cwd=temporary,
            capture_output=True,
            text=True,
            check=True,
        )
    return result.stdout.splitlines()


def _values(expected: str) -> list[str]:
    """The backticked values an Expected names before its `; then` (the account show's part)."""
    return re.findall(r"`([^`]+)`", expected.split("; then", 1)[0])


def restore_problems(text: str, account: dict) -> list[str]:
    """Steps 3 and 4's account reads: the values each Expected names, against what az prints for an account
    that is right (`account`: what Azure answers for it)."""
    found = []
    steps = _steps(text, "Steps")
    for number, pattern in ((3, r"disableLocalAuth"), (4, r"minimalTlsVersion")):
        step = steps[_first(steps, pattern)]
        query = re.search(
            r'az cosmosdb show -g "\$RG" -n "\$RESTORED"\s+--query "([^"]+)"', _code(step)
        ).group(1)
        printed = [line.replace("\t", " ") for line in _tsv(account, query)]
        named = _values(_expected(step))
        if not set(named) <= set(printed) or (number == 4 and named != printed):
            found.append(f"3: step {number} expects {named}, az prints {printed}")
    return found


def _restored_account(text: str) -> dict:
    """A restored account after step 4, with the values the runbook's own step 4 command sets."""
    update = _code(_steps(text, "Steps")[_first(_steps(text, "Steps"), r"minimalTlsVersion")])
    option = lambda name: re.search(rf"--{name} (\S+)", update).group(1)  # noqa: E731
    tags = dict(
        pair.split("=", 1) for pair in re.findall(r"(\S+=\S+)", update.split("--tags", 1)[1].split("\n")[0])
    )
    tier = re.search(r"--continuous-tier (\S+)", update)
    return {
        "provisioningState": "Succeeded",
        "publicNetworkAccess": "Disabled",
        "disableLocalAuth": True,
        "restoreParameters": {"restoreTimestampInUtc": "2026-11-30T02:00:00Z"},
        "locations": [{"isZoneRedundant": False}],
        "consistencyPolicy": {"defaultConsistencyLevel": option("default-consistency-level")},
        "disableKeyBasedMetadataWriteAccess": option("disable-key-based-metadata-write-access") == "true",
        "minimalTlsVersion": option("minimal-tls-version"),
        "backupPolicy": {"type": "Continuous", "continuousModeProperties": {"tier": tier and tier.group(1)}},
        "tags": tags,
    }


def test_restore_store_expects_what_az_prints():
    for environment in ("dev", "staging", "prod"):
        text = _committed(environment, "restore-store")
        assert restore_problems(text, _restored_account(text)) == [], environment


def test_the_tsv_check_fails_on_the_reviewed_restore_store():
    text = frozen(REVIEWED_RESTORE)
    found = restore_problems(text, _restored_account(text))
    assert [problem.split(" expects")[0] for problem in found] == ["3: step 3", "3: step 4"]


# --- 7. The autoscale notification az writes is a known limit --------------------------------------------

AUTOSCALE_UPDATE = "monitor/operations/latest/monitor/autoscale/_update.py"


def notification_problems(readme: str) -> list[str]:
    writes = "instance.properties.notifications.append(" in (command_modules() / AUTOSCALE_UPDATE).read_text()
    limits = section(readme, "Known limits")
    if writes and not re.search(
        r"\n- `az monitor autoscale update`(?:(?!\n- ).)*`notifications`", limits, re.S
    ):
        return ["7: `az monitor autoscale update` writes a notification; Known limits does not say so"]
    return []


def test_the_readme_says_the_autoscale_update_writes_a_notification():
    readme = (ROOT / "pulumi" / "azure" / "README.md").read_text()
    assert notification_problems(readme) == []
    without = re.sub(r"- `az monitor autoscale update` \(azure-cli.*?\n(?=- )", "", readme, flags=re.S)
    assert without != readme and notification_problems(without)


WAIT_TITLE = "Wait until the gateway reports the new instance"


def test_a_failed_health_read_is_not_taken_for_an_absent_instance():
    """An empty `gateway:` line under an az error is a failed read (a 403 on the polling reads, throttling):
    step 7's stop-if says to fix it and run the step again, not to roll back a possibly healthy instance
    (final Azure review 3)."""
    for environment in ("dev", "staging", "prod"):
        steps = _steps(_committed(environment, "replace-one-instance"), "Steps")
        (wait,) = [
            step for step in steps if step.startswith("Wait until the gateway reports the new instance")
        ]
        assert re.search(r"az error above the last line .*the read failed, not the instance", wait), (
            environment
        )
        assert "do not roll back for it" in wait
    old = _steps(frozen(REVIEWED_REPLACE), "Steps")
    (old_wait,) = [step for step in old if step.startswith(WAIT_TITLE)]
    assert "the read failed" not in old_wait
