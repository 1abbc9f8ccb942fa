"""What the reader of GCP's replace-one-instance runbook does on each outcome the group can produce: a slow
new instance, autohealing recreating the suspect first, the suspect removed by a scale-in, a suspect whose
disk security wants kept, an alert to link to a row, a deployment putting the minimum back, a hand-over
mid-way, a shell lost during Verification, two groups matching the fallback lookup, a gateway that never
answers, an autoscaler slow to apply the new minimum. The blocks are run in bash against a stand-in
`gcloud` (canned answers, every call logged), so the check is what the reader's shell does.
`test_the_old_runbook_fails_every_check` runs every check on the runbook as the fourth reader got it.

Sources: `gcloud compute instance-groups managed wait-until` raises "Timeout while waiting for group to
become stable." on its timeout (googlecloudsdk's managed instance group wait_until), a non-zero exit;
ManagedInstance.currentAction VERIFYING "Waiting until health check specified as part of this managed
instance group's autohealing policy reports HEALTHY", RECREATING, CREATING, and `name` ("always exists
even if the instance has not yet been created") (cloud.google.com/compute/docs/reference/rest/v1/
ManagedInstance); autoscaler changes "may take a couple of minutes" (cloud.google.com/compute/docs/
autoscaler/managing-autoscalers); `gcloud compute snapshots create NAME --source-disk --source-disk-zone`
(cloud.google.com/sdk/gcloud/reference/compute/snapshots/create); a health-check log entry names the
instance by jsonPayload.healthCheckProbeResult.ipAddress (cloud.google.com/load-balancing/docs/
health-check-logging); curl --max-time bounds the whole request (curl.se/docs/manpage.html).
"""

from __future__ import annotations

import math
import re
import time
from pathlib import Path

import pytest

from tests.docs.gcp.gcp_replace_one import NEEDS_BASH, _index, _replace_one, _steps, problems_in_each
from tests.docs.runbook_harness import (
    SYSTEM_PATH,
    assignments,
    mutants,
    rendered_at,
    run_bash,
    section,
    stub_function,
)
from tools.docs.commands import gcloud
from tools.docs.gcp.runbooks import AUTOSCALER_APPLY_SECONDS, PROBE_IP_FIELD

SUSPECT, SUSPECT_ID = "web-abcd", "111"
# A stand-in gcloud: each surface answers from a variable; the others say they ran.
STUB = stub_function(
    "gcloud",
    """    *wait-until*) if test "${WAIT_RC:-0}" = 0; then echo "Group is stable"; fi; echo "WAIT<$5>"; \
return "${WAIT_RC:-0}" ;;
    *"managed list "*) printf '%b' "$GROUPS_FOUND" ;;
    *"value(instance.scope().segment(0))"*) printf '%b' "$ZONE_FOUND" ;;
    *list-instances*) printf '%b\\n' "$ROW" ;;
    *'creationTimestamp.date("%Y%m%d%H%M", tz=UTC)'*) echo "$CREATED_UTC" ;;
    *creationTimestamp*) echo "$CREATED_AT" ;;
    *"snapshots describe"*) ;;
    *"instances describe"*) echo "$DISK_FOUND" ;;
    *targetSize*) echo "$TARGET" ;;
    *minNumReplicas*) echo "$LIVE_MIN" ;;
    *) echo "CALLED gcloud $1 $2 $3 $4 $5" ;;""",
)
# Seconds a stubbed `sleep` would have slept, summed (the poll's bound, without the wait).
SLEEP = "SLEPT=0\nsleep() { SLEPT=$((SLEPT + $1)); }\n"


def _run(command: str, home: Path, **env: object) -> str:
    return run_bash(
        STUB + SLEEP + assignments(env) + command, {"HOME": str(home), "PATH": SYSTEM_PATH}
    ).stdout


def _filled(command: str) -> str:
    return command.replace("<NAME from step 3>", SUSPECT).replace("<ID from step 3>", SUSPECT_ID)


def problems(text: str, home: Path) -> list[str]:
    found = []
    steps = _steps(text)
    read = _index(steps, "minNumReplicas)')\n")
    raise_ = _index(steps, '--min-num-replicas="$RAISED"')
    recreate = _index(steps, "recreate-instances")
    if min(read, raise_, recreate) < 0:
        return ["no read, raise or recreate step"]
    extra, stable, restore = raise_ + 1, recreate + 1, len(steps)
    state = home / "replace-one-instance.p.web.env"
    group = {"GROUP": "web", "PROJECT": "p", "REGION": "r", "STATE": state}
    # The stack's minimum, as step 2 checks it: the group at its minimum, the raised one a step above.
    low = int(re.search(r'test "\$MIN" = (\d+)', steps[read]["command"]).group(1))
    high = low + 1
    raised = {**group, "N": low, "MIN": low, "RAISED": high, "LIVE_MIN": high, "STARTED": "2026-12-01T03:00Z"}

    # 7. Autohealing got there first: the suspect VERIFYING (a new VM), or NONE with a new id. No second
    # recreate; go on with the wait, the suspect and step 3's id saved for it. The new VM was created after
    # step 2 (a NONE row with another id on an older VM is a mistyped id: see
    # test_gcp_replace_one_instance_review).
    for row in ("222\\teurope-west1-b\\tVERIFYING", "333\\teurope-west1-b\\tNONE"):
        state.unlink(missing_ok=True)
        out = _run(
            _filled(steps[recreate]["command"]),
            home,
            **raised,
            VM="",
            OLD_ID="",
            ROW=row,
            CREATED_AT="2026-12-01T03:30:00.000-00:00",
            CREATED_UTC="202612010330",
        )
        saved = state.read_text() if state.exists() else ""
        if "CALLED gcloud compute instance-groups managed recreate-instances" in out:
            found.append(f"step {recreate + 1} recreates a suspect autohealing already replaced ({row})")
        elif f"go on with step {stable + 1}" not in out or f"OLD_ID={SUSPECT_ID}" not in saved:
            found.append(
                f"step {recreate + 1} does not skip to step {stable + 1} when autohealing acted ({row})"
            )
    # 7. A suspect the group removed (scale-in): nothing to recreate; the minimum goes back.
    if not re.search(rf"the group removed it[^.;]*: go to step {restore}\b", steps[recreate]["stop_if"]):
        found.append(f"step {recreate + 1} calls a suspect the group removed a mistyped name")

    # 2. A slow new instance: wait-until's non-zero exit is shown; CREATING/VERIFYING with no error gets one
    # more wait, then Rollback 2; any other row not RUNNING/HEALTHY/NONE stops the recreate.
    out = _run(steps[extra]["command"], home, **raised, TARGET=high, WAIT_RC=1, ROW="")
    if "NOT STABLE" not in out:
        found.append(f"step {extra + 1} says nothing when wait-until gives up")
    stop = steps[extra]["stop_if"]
    if not re.search(
        r"CREATING or VERIFYING[^.]*no LAST_ERROR[^.]*rerun this step once; still so[^.]*"
        r"Rollback 2",
        stop,
    ):
        found.append(f"step {extra + 1} has no next step for a new instance still CREATING or VERIFYING")
    if not re.search(r"any row other than the suspect's is not RUNNING, HEALTHY and ACTION NONE", stop):
        found.append(f"step {extra + 1} stops only on UNHEALTHY or LAST_ERROR")
    if "VERIFYING lasts until" not in stop or "exits non-zero" not in stop:
        found.append(f"step {extra + 1} does not say what VERIFYING and wait-until's timeout mean")

    # 8. The poll gives the autoscaler the documented couple of minutes and more, and says how long.
    out = _run(steps[extra]["command"] + '\necho "SLEPT=$SLEPT"', home, **raised, TARGET=low)
    slept = int(re.search(r"SLEPT=(\d+)", out).group(1))
    if slept < AUTOSCALER_APPLY_SECONDS or f"after {slept} s" not in out:
        found.append(f"step {extra + 1} gives the autoscaler {slept} s, not {AUTOSCALER_APPLY_SECONDS}")

    # 3. The suspect's boot disk kept, before the recreate, when security asks.
    keep = _index(steps, "snapshots create")
    if keep < 0 or keep > recreate:
        found.append("no step snapshots the suspect's boot disk before the recreate")
    else:
        command = _filled(steps[keep]["command"])
        # The snapshot's name comes from step 2's STARTED (test_gcp_replace_one_instance_review).
        out = _run(
            command, home, **group, STARTED=raised["STARTED"], ZONE_FOUND="europe-west1-b", DISK_FOUND=SUSPECT
        )
        if not re.search(
            rf"CALLED gcloud compute snapshots create {SUSPECT}-\d+ --source-disk={SUSPECT}", out
        ):
            found.append(f"step {keep + 1} does not snapshot the suspect's disk")
        out = _run(
            command, home, **group, STARTED=raised["STARTED"], ZONE_FOUND="europe-west1-b", DISK_FOUND=""
        )
        if "snapshots create" in out or "STOP" not in out:
            found.append(f"step {keep + 1} snapshots without the suspect's disk")
    create = gcloud.surface_of(["gcloud", "compute", "snapshots", "create", "s"])
    permissions = section(text, "Preconditions")
    if create is None or not all(f"`{p}`" in permissions for p in create.permissions):
        found.append("the snapshot's permissions are not listed")

    # 4. The alert linked to a row: the health-check entry's IP to INTERNAL_IP (no alert policy of the stack
    # is on gce_instance, so no instance_id label: test_gcp_replace_one_instance_review).
    find = steps[read + 1]
    if "INTERNAL_IP" not in find["command"] or f"`{PROBE_IP_FIELD}`" not in find["expected"]:
        found.append(f"step {read + 2} does not link the alert's instance to a row")
    elif not re.search(r"^no row[^.]*Escalation", find["stop_if"]):
        found.append(f"step {read + 2} does not say what to do when no row is the alert's")

    # 5. After the recreate, the minimum is still the raised one (a deployment could have put it back).
    wait = steps[stable]["command"]
    if "STOP" not in _run(wait, home, **raised | {"LIVE_MIN": low}, ROW=""):
        found.append(f"step {stable + 1} does not notice the minimum put back")
    elif "STOP" in _run(wait, home, **raised, ROW=""):
        found.append(f"step {stable + 1} stops with the minimum still raised")

    # 6. The steps that add to the state file print it, for a hand-over.
    state.unlink(missing_ok=True)
    out = _run(steps[raise_]["command"], home, **raised | {"LIVE_MIN": low, "RAISED": ""}, TARGET=low)
    if f"\nRAISED={high}\n" not in out:
        found.append(f"step {raise_ + 1} does not print the state file it wrote")
    out = _run(
        _filled(steps[recreate]["command"]),
        home,
        **raised,
        VM="",
        OLD_ID="",
        ROW=f"{SUSPECT_ID}\\teurope-west1-b\\tNONE",
    )
    if f"\nVM={SUSPECT}\n" not in out or f"\nOLD_ID={SUSPECT_ID}\n" not in out:
        found.append(f"step {recreate + 1} does not print the state file it wrote")

    # 9. A shell lost during Verification: step 2 does not start again from a run the last step closed
    # minutes ago (within the Verification's window: the extra instance leaving, then the alerts closing).
    leaving = int(re.search(r"within (\d+) s of step", section(text, "Verification")).group(1))
    alerts = int(re.search(r"stays open (\d+) minutes", section(text, "Verification")).group(1))
    state.write_text(f"N={low}\nMIN={low}\n")
    done = Path(f"{state}.done")
    _run(steps[-1]["command"], home, **raised)
    out = _run(steps[read]["command"], home, **group, TARGET=low, LIVE_MIN=low)
    if state.exists() or "STOP" not in out:
        found.append("step 2 starts a new run right after the last step closed one")
    else:
        bound = int(re.search(r"-lt (\d+); then\n", steps[read]["command"]).group(1))
        if bound < leaving + alerts * 60:
            found.append(f"step 2's {bound} s is shorter than Verification ({leaving} s, then {alerts} min)")
        long_ago = int(time.time()) - bound - 60
        done.write_text(re.sub(r"DONE=\d+", f"DONE={long_ago}", done.read_text()))
        _run(steps[read]["command"], home, **group, TARGET=low, LIVE_MIN=low)
        if not state.exists():
            found.append("step 2 refuses to start after a run closed long ago")
    done.unlink(missing_ok=True)

    # 10. The fallback lookup finding two groups stops, and no command gets a two-line name.
    out = _run(steps[0]["command"], home, **group | {"GROUP": ""}, GROUPS_FOUND="web-a\\nweb-b\\n")
    if "STOP" not in out or "WAIT<web-a" in out:
        found.append("step 1 goes on with two groups")

    # 12. Verification's request is bounded in time.
    curl = next((s["command"] for s in _steps(text, "Verification") if "curl" in s["command"]), "")
    if not re.search(r"curl [^\n]*--max-time \d+", curl):
        found.append("Verification's curl may wait for ever")
    return found


pytestmark = NEEDS_BASH


def test_replace_one_has_a_next_step_for_each_outcome(documents, tmp_path):
    found = problems_in_each(documents, tmp_path, problems)
    assert not any(found.values()), found


def test_verification_waits_as_long_as_the_uptime_check(generated, documents):
    for stack in generated:
        if stack.facts.cloud != "gcp":
            continue
        text = documents[f"gcp/{stack.facts.environment}/replace-one-instance.md"]
        limit = math.ceil(float(stack.facts.details["uptime_timeout"].removesuffix("s")))
        assert f"--max-time {limit} " in text, stack.facts.environment


# The runbook as the fourth reader got it, as rendered at that commit (frozen in data/).
TRIAL_COMMIT = "a06f0c1"
CHECKS = 17


@pytest.mark.parametrize("environment", ["dev", "staging", "prod"])
def test_the_old_runbook_fails_every_check(environment, tmp_path):
    found = problems(rendered_at(TRIAL_COMMIT, "gcp", environment), tmp_path)
    assert len(found) == CHECKS, found


MUTATIONS = {
    "autohealing recreated again": (r'elif test "\$ACTION" = RECREATING [^\n]*; then', "elif false; then"),
    "removed is mistyped": (r"the group removed it", "a mistyped name"),
    "timeout silent": (r' \|\| echo "NOT STABLE[^"]*"', ""),
    "slow is failed": (r"rerun this step once; still so", "Rollback 2; still so"),
    "short poll": (r'test "\$TRIES" -ge \d+', 'test "$TRIES" -ge 12'),
    "no snapshot": (r"gcloud compute snapshots create [^\n]*\n", "true\n"),
    "snapshot of nothing": (r'\|\| test -z "\$DISK"; then', "; then"),
    "no alert link": (r"`jsonPayload\.healthCheckProbeResult\.ipAddress`", "IP"),
    "minimum unchecked": (r'test "\$\{LIVE_MIN:-0\}" -ge "\$\{RAISED:-1\}" \|\| ', ""),
    "raise not posted": (r'(echo "minimum now: [^\n]*\n) *grep \. "\$STATE"\n', r"\1"),
    "closed run restarted": (r'elif test "\$\(\(\$\(date [^\n]*\n[^\n]*\n', ""),
    "two groups": (r"-gt 1; then", "-gt 2; then"),
    "curl unbounded": (r" --max-time \d+", ""),
}


@pytest.mark.parametrize("mutation", MUTATIONS)
def test_each_stumble_is_caught(documents, mutation, tmp_path):
    for path, text, broken in mutants(_replace_one(documents), *MUTATIONS[mutation]):
        assert broken != text, (mutation, path)
        home = tmp_path / f"{mutation}-{path.replace('/', '-')}"
        home.mkdir()
        assert problems(broken, home), (mutation, path)
