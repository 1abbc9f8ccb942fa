"""The GCP architect's review of replace-one-instance, each finding run in bash against a stand-in `gcloud`
on the rendered runbook, and on the runbook as reviewed (frozen in data/) where every check must fail.

Sources: ManagedInstance.id / currentAction (cloud.google.com/compute/docs/reference/rest/v1/
instanceGroupManagers/listManagedInstances); Instance.creationTimestamp, RFC 3339 (cloud.google.com/compute/
docs/reference/rest/v1/instances); the IAM Permissions sections of regionOperations.get/wait,
globalOperations.get/wait and snapshots.get (cloud.google.com/compute/docs/reference/rest/v1/...): gcloud
waits for the operation it starts (googlecloudsdk request_helper.py, waiters.py; snapshots create polls
with poller.Poller(client.snapshots)); health-check log entries name the probe IP
(cloud.google.com/load-balancing/docs/health-check-logging).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from tests.docs.runbook_harness import (
    SH_BLOCK,
    SYSTEM_PATH,
    assert_each_mutant_caught,
    assignments,
    rendered_at,
    run_bash,
    runbooks,
    section,
    stub_function,
)
from tools.docs.commands import gcloud

STEP = re.compile(r"^\d+\. \*\*(.*?)\*\*\n", re.MULTILINE)
SUSPECT, TYPED_ID = "web-abcd", "1234567890123456789"
STARTED = "2026-12-01T03:00Z"
LOG = "gcloud.log"
# gcloud's date() projection (cloud.google.com/sdk/gcloud/reference/topic/projections) as the stand-in
# answers it: the UTC creation time as YYYYmmddHHMM digits; the raw field is RFC 3339 with an offset.
UTC_MINUTES = 'creationTimestamp.date("%Y%m%d%H%M", tz=UTC)'
STUB = stub_function(
    "gcloud",
    f"""    *'{UTC_MINUTES}'*) echo "$CREATED_UTC" ;;
    *creationTimestamp*) echo "$CREATED_AT" ;;
    *"snapshots describe"*) echo "$SNAPSHOT_STATUS" ;;
    *"value(instance.scope().segment(0))"*) echo europe-west1-b ;;
    *list-instances*) printf '%b\\n' "$ROW" ;;
    *"instances describe"*) echo "$SUSPECT-disk" ;;
    *minNumReplicas*) echo "$LIVE_MIN" ;;
    *) echo "CALLED gcloud $*" ;;""",
)


def _steps(text: str) -> list[dict[str, str]]:
    """Each step: its command (lines unindented) and its Expected text."""
    parts = STEP.split(section(text, "Steps"))[1:]
    found = []
    for body in parts[1::2]:
        expected = re.search(r"Expected: (.*)", body)
        command = "\n".join(line.strip() for b in SH_BLOCK.findall(body) for line in b.splitlines())
        found.append({"command": command, "expected": expected.group(1) if expected else ""})
    return found


def _with(steps: list[dict[str, str]], needle: str) -> dict[str, str]:
    return next(s for s in steps if needle in s["command"])


def _run(command: str, home: Path, **env: object) -> str:
    filled = command.replace("<NAME from step 3>", SUSPECT).replace("<ID from step 3>", TYPED_ID)
    return run_bash(STUB + assignments(env) + filled, {"HOME": str(home), "PATH": SYSTEM_PATH}).stdout


def problems(text: str, home: Path) -> list[str]:
    found = []
    steps = _steps(text)
    state = home / "replace-one-instance.p.web.env"
    base = {"GROUP": "web", "PROJECT": "p", "REGION": "r", "STATE": state, "SUSPECT": SUSPECT}
    run = {**base, "N": 2, "MIN": 2, "RAISED": 3, "LIVE_MIN": 3, "STARTED": STARTED, "VM": "", "OLD_ID": ""}

    # 1. A mistyped ID (one digit off), ACTION NONE, an instance older than the run: STOP, nothing saved;
    # the same with an instance created after step 2 (autohealing recreated it): skip to the wait.
    recreate = _with(steps, "recreate-instances")["command"]
    row = "1234567890123456780\\teurope-west1-b\\tNONE"
    out = _run(
        recreate, home, **run, ROW=row, CREATED_AT="2026-11-20T10:00:00.000-08:00", CREATED_UTC="202611201800"
    )
    if "STOP" not in out or "go on with step" in out or state.exists():
        found.append("step 7 goes on with a mistyped ID")
    state.unlink(missing_ok=True)
    out = _run(
        recreate, home, **run, ROW=row, CREATED_AT="2026-11-30T19:05:00.000-08:00", CREATED_UTC="202612010305"
    )
    if "go on with step" not in out or "CALLED gcloud compute instance-groups managed recreate" in out:
        found.append("step 7 does not skip an instance autohealing recreated after step 2")
    state.unlink(missing_ok=True)

    # 2. The permissions listed include the operation polling of every call that waits for one.
    waits = {
        ("compute", "instance-groups", "managed", "update-autoscaling", "g"): {
            "compute.regionOperations.get"
        },
        ("compute", "instance-groups", "managed", "recreate-instances", "g"): {
            "compute.regionOperations.get"
        },
        ("compute", "instance-groups", "managed", "delete-instances", "g"): {"compute.regionOperations.get"},
        ("compute", "snapshots", "create", "s"): {"compute.globalOperations.get", "compute.snapshots.get"},
    }
    listed = section(text, "Preconditions")
    for words, needed in waits.items():
        surface = gcloud.surface_of(["gcloud", *words])
        missing = needed - set(surface.permissions if surface else ())
        missing |= {p for p in needed if f"`{p}`" not in listed}
        if missing:
            found.append(f"{' '.join(words[:-1])} lacks {sorted(missing)}")

    # 3. The snapshot's name is the same on a rerun (from STARTED), printed, and a READY one is not remade.
    keep = _with(steps, "snapshots create")["command"]
    first = _run(keep, home, **run, SNAPSHOT_STATUS="")
    again = _run(keep, home, **run, SNAPSHOT_STATUS="READY")
    name = f"{SUSPECT}-{re.sub(r'[^0-9]', '', STARTED)}"
    if f"snapshots create {name} " not in first or "snapshots create" in again or name not in again:
        found.append("step 4 makes another snapshot on a rerun, or does not print its name")

    # 4. Step 8 with RAISED empty (the state file not reloaded) stops.
    stable = _with(steps, "raised in step")["command"]
    if "STOP" not in _run(stable, home, **run | {"RAISED": ""}, ROW=""):
        found.append("step 8 passes with RAISED empty")

    # 5. No alert policy of the stack is on gce_instance: step 3 does not send the reader to its label.
    if re.search(r"instance_id|gce_instance", steps[2]["expected"]):
        found.append("step 3 matches an instance_id label no alert has")

    # 6. Closing the run prints the DONE= line, and the hand-over says to post and write it.
    state.write_text("N=2\nMIN=2\n")
    out = _run(steps[-1]["command"], home, **run)
    if not re.search(r"^DONE=\d+$", out, re.MULTILINE) or "DONE=" not in steps[-1]["expected"]:
        found.append("step 9 does not print the DONE= line to post")
    if not re.search(r"Taking over[^\n]*DONE=[^\n]*\.done", listed):
        found.append("the hand-over does not say what to do with a posted DONE= line")
    Path(f"{state}.done").unlink(missing_ok=True)
    return found


pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="the runbook's commands need bash")


def test_the_review_is_fixed(documents, tmp_path):
    found = {}
    for path, text in runbooks(documents, "gcp").items():
        home = tmp_path / path.replace("/", "-")
        home.mkdir()
        found[path] = problems(text, home)
    assert not any(found.values()), found


# The runbook as the architect reviewed it (main before this fix).
REVIEWED_COMMIT = "75afa70"
CHECKS = 10


@pytest.mark.parametrize("environment", ["dev", "staging", "prod"])
def test_the_reviewed_runbook_fails_every_check(environment, tmp_path):
    found = problems(rendered_at(REVIEWED_COMMIT, "gcp", environment), tmp_path)
    assert len(found) == CHECKS, found


MUTATIONS = {
    "typed ID trusted": (
        r'elif test "\$LIVE_ID" != "\$SUSPECT_ID" && test "\$ACTION" = NONE && ',
        "elif false && ",
    ),
    "no operation polling": (r"- `compute\.regionOperations\.get`[^\n]*\n", ""),
    "snapshot named by the clock": (r"\$\{STARTED//\[!0-9\]/\}", "$(date -u +%Y%m%d%H%M)"),
    "RAISED may be empty": (r'test -n "\$RAISED" && test "\$\{LIVE_MIN', 'test "${LIVE_MIN'),
    "gce_instance label": (r"For “", "Match the `instance_id` label, or for “"),
    "DONE= not printed": (r'  grep -s \'\^DONE=\' "\$STATE\.done"\n', ""),
}


def _in_own_home(check, tmp_path):
    """`check` as assert_each_mutant_caught calls it: each runbook's bash runs in a home of its own."""

    def run(text: str, path: str) -> list[str]:
        home = tmp_path / path.replace("/", "-")
        home.mkdir()
        return check(text, home)

    return run


@pytest.mark.parametrize("mutation", MUTATIONS)
def test_each_mutation_is_caught(documents, mutation, tmp_path):
    texts = runbooks(documents, "gcp")
    assert_each_mutant_caught(texts, mutation, *MUTATIONS[mutation], _in_own_home(problems, tmp_path))


# The final review (after gcpfix6), each finding run against the runbook as rendered then (frozen at cae4ff8).
# ManagedInstance.currentAction, every documented value (cloud.google.com/compute/docs/reference/rest/v1/
# instanceGroupManagers/listManagedInstances): only a recreate's own actions may stand for "recreated".
ACTIONS = (
    *("NONE", "CREATING", "CREATING_WITHOUT_RETRIES", "RECREATING", "DELETING", "ABANDONING", "RESTARTING"),
    *("REFRESHING", "VERIFYING", "STARTING", "STOPPING", "SUSPENDING", "RESUMING"),
)
RECREATES = ("RECREATING", "CREATING", "VERIFYING")
FINAL_STUB = stub_function(
    "gcloud",
    f"""    *'{UTC_MINUTES}'*) echo "$CREATED_UTC" ;;
    *creationTimestamp*) echo "$CREATED_AT" ;;
    *"snapshots describe"*) read -r s <"$STATUSES"; tail -n +2 "$STATUSES" >"$STATUSES.t"
      test ! -s "$STATUSES.t" || mv "$STATUSES.t" "$STATUSES"; echo "$s" ;;
    *"value(instance.scope().segment(0))"*) echo europe-west1-b ;;
    *list-instances*) printf '%b\\n' "$ROW" ;;
    *"instances describe"*) echo "$SUSPECT-disk" ;;
    *minNumReplicas*) echo "$LIVE_MIN" ;;
    *) echo "CALLED gcloud $*" ;;""",
)
# macOS: BSD date has no -d; sleep skipped so a wait loop runs at once.
MACOS = (
    'date() { case " $* " in *" -d "*) echo "date: illegal option -- d" >&2; return 1 ;; esac; '
    'command date "$@"; }\nsleep() { :; }\n'
)
FINAL_REVIEWED_COMMIT = "cae4ff8"
FINAL_CHECKS = 5


def _final_run(command: str, home: Path, statuses: str = "", **env: object) -> str:
    filled = command.replace("<NAME from step 3>", SUSPECT).replace("<ID from step 3>", TYPED_ID)
    (home / "statuses").write_text(statuses.replace(" ", "\n") + "\n")
    script = FINAL_STUB + MACOS + assignments({**env, "STATUSES": home / "statuses"}) + filled
    return run_bash(script, {"HOME": str(home), "PATH": SYSTEM_PATH}, timeout=60).stdout


def final_review_problems(text: str, home: Path) -> list[str]:
    found = []
    steps = _steps(text)
    state = home / "replace-one-instance.p.web.env"
    base = {"GROUP": "web", "PROJECT": "p", "REGION": "r", "STATE": state, "SUSPECT": SUSPECT}
    run = {**base, "N": 2, "MIN": 2, "RAISED": 3, "LIVE_MIN": 3, "STARTED": STARTED, "VM": "", "OLD_ID": ""}
    recreate = _with(steps, "recreate-instances")["command"]
    mistyped = "1234567890123456780\\teurope-west1-b\\t"
    # Created after step 2 (03:00Z): 03:05 UTC, as gcloud converts it and as the API gives it.
    after = {"CREATED_UTC": "202612010305", "CREATED_AT": "2026-11-30T19:05:00.000-08:00"}
    before = {"CREATED_UTC": "202611201800", "CREATED_AT": "2026-11-20T10:00:00.000-08:00"}

    # 1. A mistyped ID with any action but NONE (check 2) or a recreate's stops (the group is acting on it),
    # nothing saved; with a recreate's action it skips to the wait.
    wrong = []
    for action in (a for a in ACTIONS if a != "NONE"):
        state.unlink(missing_ok=True)
        out = _final_run(recreate, home, **run, ROW=mistyped + action, **after)
        skipped = (
            "go on with step" in out and "CALLED gcloud compute instance-groups managed recreate" not in out
        )
        stopped = "acting on it" in out and not state.exists()
        if not (skipped if action in RECREATES else stopped):
            wrong.append(action)
    state.unlink(missing_ok=True)
    if wrong:
        found.append(f"step 7 with a mistyped ID and ACTION {wrong}: skip and stop the wrong way round")

    # 2. On macOS (no date -d) the creation time still decides: after step 2 skips, before stops as mistyped;
    # an unread time says so, not "mistyped".
    skip = _final_run(recreate, home, **run, ROW=mistyped + "NONE", **after)
    state.unlink(missing_ok=True)
    stop = _final_run(recreate, home, **run, ROW=mistyped + "NONE", **before)
    unread = _final_run(recreate, home, **run, ROW=mistyped + "NONE", CREATED_UTC="", CREATED_AT="")
    if (
        "go on with step" not in skip
        or "mistyped" not in stop
        or state.exists()
        or "could not be read" not in unread
        or "mistyped" in unread
    ):
        found.append("step 7 needs GNU date -d, or calls an unread creation time mistyped")
    state.unlink(missing_ok=True)

    # 3. A rerun of step 4 while the snapshot is being made waits for it; FAILED, or never READY, stops.
    keep = _with(steps, "snapshots create")["command"]
    create = "CALLED gcloud compute snapshots create"
    outs = {s: _final_run(keep, home, s, **run) for s in ("CREATING CREATING READY", "UPLOADING READY")}
    failed = _final_run(keep, home, "FAILED", **run)
    endless = _final_run(keep, home, "CREATING", **run)
    if (
        any(create in o or "already kept" not in o for o in outs.values())
        or create in failed
        or "STOP" not in failed
        or create in endless
        or "STOP" not in endless
    ):
        found.append(
            "step 4 creates the snapshot again while an earlier one is being made, or keeps a FAILED one"
        )

    # 5. The alert names only the probe IP: step 3's stop-if asks for no ID.
    stop_if = section(text, "Steps").split("\n3. ", 1)[1].split("\n4. ", 1)[0]
    if "no row's INTERNAL_IP is the alert's" not in stop_if:
        found.append("step 3's stop-if asks for the alert's ID")

    # 4. Commands that wait read back what they waited on (waiters.WaitForOperations gets the target of an
    # operation that is not a delete; firestore ttls update.yaml polls firestore...databases.operations).
    reads = {
        (
            "compute",
            "instance-groups",
            "managed",
            "recreate-instances",
            "g",
        ): "compute.instanceGroupManagers.get",
        (
            "compute",
            "instance-groups",
            "managed",
            "delete-instances",
            "g",
        ): "compute.instanceGroupManagers.get",
        ("compute", "instance-groups", "managed", "rolling-action", "stop-proactive-update", "g"): (
            "compute.instanceGroupManagers.get"
        ),
        ("firestore", "fields", "ttls", "update", "f"): "datastore.operations.get",
    }
    listed = section(text, "Preconditions")
    line = re.search(r"- `compute\.instanceGroupManagers\.get` \(for ([^\n]*)\)", listed)
    missing = [
        " ".join(w[:-1]) for w, p in reads.items() if p not in gcloud.surface_of(["gcloud", *w]).permissions
    ]
    missing += [c for c in ("recreate-instances", "delete-instances") if not line or c not in line.group(1)]
    if missing:
        found.append(f"no read-back permission for {missing}")
    return found


def test_the_final_review_is_fixed(documents, tmp_path):
    found = {}
    for path, text in runbooks(documents, "gcp").items():
        home = tmp_path / path.replace("/", "-")
        home.mkdir()
        found[path] = final_review_problems(text, home)
    assert not any(found.values()), found


@pytest.mark.parametrize("environment", ["dev", "staging", "prod"])
def test_the_finally_reviewed_runbook_fails_every_check(environment, tmp_path):
    found = final_review_problems(rendered_at(FINAL_REVIEWED_COMMIT, "gcp", environment), tmp_path)
    assert len(found) == FINAL_CHECKS, found


FINAL_MUTATIONS = {
    "any action may skip": (
        r"elif ! printf '%s\\n' \"\$ACTION\" \| grep -qxE [^\n]*\n",
        "elif false; then\n",
    ),
    "GNU date": (
        r'! test "\$CREATED" -ge "\$\{STARTED//\[!0-9\]/\}"',
        '! test "$(date -u -d "$CREATED" +%s)" -ge "$(date -u -d "$STARTED" +%s)"',
    ),
    "unread time called mistyped": (r"could not be read", "is mistyped"),
    "no snapshot wait": (r"grep -qxE 'CREATING\|UPLOADING'", "grep -qxE 'NOTHING'"),
    "FAILED snapshot remade": (r'elif test -n "\$STATUS"; then', "elif false; then"),
    "ID in step 3": (r"no row's INTERNAL_IP", "no row's ID or INTERNAL_IP"),
}


@pytest.mark.parametrize("mutation", FINAL_MUTATIONS)
def test_each_final_mutation_is_caught(documents, mutation, tmp_path):
    texts = runbooks(documents, "gcp")
    check = _in_own_home(final_review_problems, tmp_path)
    assert_each_mutant_caught(texts, mutation, *FINAL_MUTATIONS[mutation], check)
