"""The Azure restore-store runbook's config changes, run in bash as a reader pastes them, against stand-ins
for `pulumi` (a config file; `up` records the settings it deploys), `git`, `az` and `sleep`. The settings each
`pulumi up` deploys must be the design's sequence (architect review of the restore switch, finding 1): grant
first, switch, stop reaching the account served before; the rollback mirrors it. tests/azure/
test_azure_restored_store.py holds that every such update keeps what instances use."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from refarch.spec import load_all
from tests.docs.azure.azure_fixtures import inventories
from tools.docs import azure as azure_docs

OWN, FIRST, SECOND = "itemsabc12345", "itemsabc12345-restored", "itemsabc12345-restored-restored"

PULUMI = r"""#!/usr/bin/env bash
# config get|set|rm KEY [VALUE] --stack S --cwd C; up; stack output cosmosAccount
config="$SIM/config"; touch "$config"
key() { grep "^$1=" "$config" | cut -d= -f2-; }
case "$1 $2" in
  "config get") value=$(key "$3"); test -n "$value" || { echo "error: key '$3' not found" >&2; exit 1; }
                echo "$value" ;;
  "config set") grep -v "^$3=" "$config" > "$config.new"; echo "$3=$4" >> "$config.new"
                mv "$config.new" "$config" ;;
  "config rm") grep -v "^$3=" "$config" > "$config.new"; mv "$config.new" "$config" ;;
  "up --stack") echo "$(key itemsAccount)|$(key itemsAccountDraining)" >> "$SIM/ups" ;;
  "stack output") value=$(key itemsAccount); echo "${value:-$OWN}" ;;
  *) echo "unexpected pulumi $*" >&2; exit 2 ;;
esac
"""
GIT = '#!/usr/bin/env bash\necho "git $*" >> "$SIM/git"\n'
AZ = '#!/usr/bin/env bash\necho "2026-11-30T00:00:00Z"\n'
SLEEP = '#!/usr/bin/env bash\necho "$1" >> "$SIM/sleeps"\n'


def _runbook():
    facts = azure_docs.facts("prod", inventories()["prod"], load_all()["prod"])
    return next(runbook for runbook in azure_docs.runbooks(facts) if runbook.scenario == "restore-store")


def _run(tmp: Path, commands: list[str], served: str | None, restored: str, account: str) -> list[str]:
    """Run the commands in one shell; return the (served|draining) settings each `pulumi up` deployed."""
    bin_dir, sim = tmp / "bin", tmp / "sim"
    bin_dir.mkdir(exist_ok=True)
    sim.mkdir(exist_ok=True)
    for name, body in {"pulumi": PULUMI, "git": GIT, "az": AZ, "sleep": SLEEP}.items():
        (bin_dir / name).write_text(body)
        (bin_dir / name).chmod(0o755)
    (sim / "config").write_text(f"itemsAccount={served}\n" if served else "")
    script = "\n".join(
        [f'RG=rg VMSS=vmss ACCOUNT="{account}" RESTORED="{restored}" STATE="$HOME/restore-rg.env"', *commands]
    )
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "HOME": str(tmp), "SIM": str(sim)}
    env["OWN"] = OWN
    subprocess.run(["bash", "-c", script], env=env, check=False, capture_output=True, text=True)
    ups = sim / "ups"
    return ups.read_text().splitlines() if ups.exists() else []


def _changes(steps) -> list[str]:
    return [step.command for step in steps if "pulumi config" in step.command or "sleep" in step.command]


def test_first_restore_grants_then_switches_and_keeps_the_own_accounts_grant(tmp_path):
    ups = _run(tmp_path, _changes(_runbook().steps), served=None, restored=FIRST, account=OWN)
    # Grant first (draining), then serve it with nothing draining: the own account's grant always stays.
    assert ups == [f"|{FIRST}", f"{FIRST}|"]
    # The switch adds its stage and the upgrade before it (review round 2, findings 1 and 2).
    assert (tmp_path / "restore-rg.env").read_text() == (
        f"RESTORED={FIRST}\nPREVIOUS=''\nACCOUNT={OWN}\nSTAGE=switching\nLAST_UPGRADE=2026-11-30T00:00:00Z\n"
    )


def test_second_restore_drains_the_first_until_the_switch_is_done(tmp_path):
    # Review finding 1: the old runbook moved itemsAccount from FIRST to SECOND in one update.
    ups = _run(tmp_path, _changes(_runbook().steps), served=FIRST, restored=SECOND, account=FIRST)
    assert ups == [f"{FIRST}|{SECOND}", f"{SECOND}|{FIRST}", f"{SECOND}|"]
    sleeps = (tmp_path / "sim" / "sleeps").read_text().split()
    assert sleeps and int(sleeps[0]) >= 600
    commits = (tmp_path / "sim" / "git").read_text().count("git commit")
    assert commits == len(ups)


def test_rollback_after_a_completed_second_restore_returns_to_the_first(tmp_path):
    runbook = _runbook()
    forward = _run(tmp_path, _changes(runbook.steps), served=FIRST, restored=SECOND, account=FIRST)
    (tmp_path / "sim" / "ups").unlink()
    # The Names block reloads $STATE (RESTORED, PREVIOUS, ACCOUNT) in a new shell, then every rollback step.
    # (Not the guard line: the lookups it checks are not stood in for here.)
    reload = [line for line in runbook.after_lookups if not line.startswith(": ")]
    rollback = [step.command for step in runbook.rollback if "az cosmosdb delete" not in step.command]
    ups = _run(tmp_path, [*reload, *rollback], served=SECOND, restored="", account=SECOND)
    assert forward[-1] == f"{SECOND}|"
    # Grant FIRST again, switch back to it with SECOND draining, then stop reaching SECOND.
    assert ups == [f"{SECOND}|{FIRST}", f"{FIRST}|{SECOND}", f"{FIRST}|"]
