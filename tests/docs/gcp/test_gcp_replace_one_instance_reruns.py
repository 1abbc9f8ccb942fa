"""The GCP replace-one-instance runbook survives re-runs of any step (brief s18/readerfix3-gcp.md): step 6
rerun while the group recreates the suspect, step 2 run on a leftover raised minimum, step 5 stopping with
no new instance, step 6's stop-if, Rollback 2 run twice. Steps 2 and 6 are run in bash against a stand-in
`gcloud` (canned rows), so the check is what the reader's shell does, not how the text reads;
`test_the_old_runbook_fails_every_check` runs every check on the runbooks as rendered before these fixes
(frozen in data/).

Sources: a managed instance's `id` is "empty when instance does not exist" and `currentAction` is what the
group is doing to it (NONE when nothing), fields of the REST ManagedInstance
(cloud.google.com/compute/docs/reference/rest/v1/ManagedInstance); recreate-instances "returns the
operation status per instance, which might be MEMBER_NOT_FOUND, FAIL, or SUCCESS"
(cloud.google.com/sdk/gcloud/reference/compute/instance-groups/managed/recreate-instances).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from refarch import spec
from tests.docs.gcp.gcp_replace_one import NEEDS_BASH, _index, _replace_one, _steps, problems_in_each
from tests.docs.runbook_harness import (
    SYSTEM_PATH,
    assert_each_mutant_caught,
    assignments,
    rendered_at,
    run_bash,
    stub_function,
)

# A stand-in gcloud: list-instances prints $ROW, describe $TARGET or $LIVE_MIN; the others say they ran.
STUB = stub_function(
    "gcloud",
    """    *list-instances*) printf '%b\\n' "$ROW" ;;
    *targetSize*) echo "$TARGET" ;;
    *minNumReplicas*) echo "$LIVE_MIN" ;;
    *) echo "CALLED gcloud $3" ;;""",
)


def _run(command: str, home: str, **env: str) -> str:
    return run_bash(STUB + assignments(env) + command, {"HOME": home, "PATH": SYSTEM_PATH}).stdout


def _stack_minimum(text: str) -> int:
    environment = re.search(r"--stack (\w+)", text).group(1)
    return spec.load_environment(environment).capacity.min


def problems(text: str, home: str) -> list[str]:
    found = []
    steps = _steps(text)
    read = _index(steps, "minNumReplicas)')\n")
    recreate = _index(steps, "recreate-instances")
    if min(read, recreate) < 0:
        return ["no read or recreate step"]
    minimum = _stack_minimum(text)
    suspect = "web-abcd"
    # (Since the fourth trial step 6 also asks for the suspect's ID from step 3: 222 below.)
    recreating = (
        steps[recreate]["command"].replace("<NAME from step 3>", suspect).replace("<ID from step 3>", "222")
    )
    state = {"GROUP": "web", "PROJECT": "p", "REGION": "r", "LIVE_MIN": minimum + 1, "RAISED": minimum + 1}
    # GCP-1: a rerun while the group recreates the suspect (its id empty): no second recreate, OLD_ID kept.
    out = _run(
        recreating + '\necho "OLD_ID=$OLD_ID"',
        home,
        **state,
        VM=suspect,
        OLD_ID="111",
        ROW="\\teurope-west1-b\\tRECREATING",
    )
    if "CALLED gcloud recreate-instances" in out or "OLD_ID=111" not in out or "under way" not in out:
        found.append("step 6 rerun during the recreate recreates again or loses OLD_ID")
    # GCP-1: a rerun after the recreate finished (a new id, nothing in progress): no second recreate.
    out = _run(recreating, home, **state, VM=suspect, OLD_ID="111", ROW="333\\teurope-west1-b\\tNONE")
    if "CALLED gcloud recreate-instances" in out:
        found.append("step 6 rerun after the recreate recreates again")
    # GCP-1: autohealing already recreating the suspect (nothing saved yet): do not recreate. (Since the
    # fourth trial: it says so and sends the reader on to the wait, not back to step 1.)
    out = _run(recreating, home, **state, VM="", OLD_ID="", ROW="222\\teurope-west1-b\\tRECREATING")
    if "CALLED gcloud recreate-instances" in out or not re.search("already acting on it|is recreating", out):
        found.append("step 6 recreates an instance the group is already acting on")
    # GCP-3: a leftover raised minimum (LIVE_MIN, one above the stack's) is not saved: step 8 would put
    # the leftover back.
    out = _run(steps[read]["command"], home, **state, TARGET=minimum + 1)
    if list(Path(home).glob("replace-one-instance.*")):
        found.append("step 2 saves a minimum that is not the stack's")
    if "nothing saved" not in out:
        found.append("step 2's WARNING does not say nothing was saved")
    # GCP-4: no new instance at all: the group is unchanged, Rollback 1; Rollback 2 only for a new row.
    extra = steps[recreate - 1]["stop_if"]
    if not re.search(r"no new row[^.]*Rollback 1", extra) or not re.search(r"new row[^.]*Rollback 2", extra):
        found.append("step 5's second STOP without a new instance goes to Rollback 2")
    # GCP-5: recreate-instances' row statuses, then the zone case, in sentences a reader can follow.
    stop = steps[recreate]["stop_if"]
    if "FAIL or MEMBER_NOT_FOUND: nothing was scheduled" not in stop or "FAIL;" in stop:
        found.append("step 6's stop-if does not say what a FAIL or MEMBER_NOT_FOUND row means")
    # GCP-9: Rollback 2 run twice: the delete failing on a DELETING or gone instance is success.
    removal = next((s for s in _steps(text, "Rollback") if "delete-instances" in s["command"]), None)
    if removal is None or not re.search(r"already DELETING or gone\): that is success", removal["expected"]):
        found.append("Rollback 2 does not say a second delete failing is success")
    return found


pytestmark = NEEDS_BASH


def test_replace_one_survives_reruns_of_any_step(documents, tmp_path):
    found = problems_in_each(documents, tmp_path, lambda text, home: problems(text, str(home)))
    assert not any(found.values()), found


# The runbooks as the third reader got them (before these fixes), frozen in data/ (rendered at RENDERED_AT).
RENDERED_AT = "d59a2c2"


@pytest.mark.parametrize("environment", ["dev", "staging", "prod"])
def test_the_old_runbook_fails_every_check(environment, tmp_path):
    old = rendered_at(RENDERED_AT, "gcp", environment)
    found = problems(old, str(tmp_path))
    assert len(found) == 7, found


MUTATIONS = {
    "rerun needs a live id": (
        r'test "\$LIVE_ID\$ACTION" !=',
        'test -n "$LIVE_ID" && test "$LIVE_ID$ACTION" !=',
    ),
    "rerun never already": (r'test "\$LIVE_ID\$ACTION" != "\$\{OLD_ID\}NONE"', "false"),
    "no acting branch": (
        r'elif (test "\$ACTION" = RECREATING [^\n]*|test "\$ACTION" != NONE); then',
        "elif false; then",
    ),
    "leftover saved": (r'elif test "\$MIN" != \d+; then', "elif false; then"),
    "no new row to Rollback 2": (r"Rollback 1 \(it puts the minimum back\)", "Rollback 2"),
    "garbled stop": (r"FAIL or MEMBER_NOT_FOUND", "FAIL;"),
    "second delete an error": (r"that is success", "Escalation"),
}


@pytest.mark.parametrize("mutation", MUTATIONS)
def test_each_stumble_is_caught(documents, mutation, tmp_path):
    def problems_in_a_home_of_its_own(text: str, path: str) -> list[str]:
        home = tmp_path / f"{mutation}-{path.replace('/', '-')}"
        home.mkdir()
        return problems(text, str(home))

    assert_each_mutant_caught(
        _replace_one(documents), mutation, *MUTATIONS[mutation], problems_in_a_home_of_its_own
    )
