"""The GCP replace-one-instance runbook keeps its state across shells and hand-overs (briefs/s18/reports/
reader2-gcp.md): a state file left by an earlier run, a shell lost between saving the suspect's id and
recreating it, a deployment putting the minimum back mid-procedure, an extra instance that does not boot,
trailing comments that zsh runs as commands, a hand-over to another machine, a zone left without an
instance, an autoscaler slower than the poll, the extra instance leaving after step 8, a suspect's boot
disk deleted with it. Each check reads the rendered runbook of every environment, as the reader gets it;
`test_the_old_runbook_fails_every_check` runs them on the runbooks as rendered before the fixes (frozen in
data/).

Sources: a recreated managed instance keeps its name and gets a new `id`; scale-in ("resizing down") picks
the VMs to delete "arbitrarily", weighing status and health among others
(cloud.google.com/compute/docs/reference/rest/v1/instanceGroupManagers/resize), so the rollback deletes
the failing instance by name (gcloud compute instance-groups managed delete-instances, which lowers the
target size); the autoscaler removes instances after its stabilization period
(cloud.google.com/compute/docs/autoscaler#stabilization_period); the autoscaler's `status` and
`statusDetails` are fields of the REST Autoscaler
(cloud.google.com/compute/docs/reference/rest/v1/autoscalers).
"""

from __future__ import annotations

import re

import pytest

from tests.docs.gcp.gcp_replace_one import _index, _replace_one, _steps
from tests.docs.runbook_harness import SH_BLOCK, assert_each_mutant_caught, rendered_at
from tests.docs.runbook_harness import section as _section

QUOTED = re.compile(r"'[^']*'|\"(?:[^\"\\]|\\.)*\"")


def _trailing_comments(text: str) -> list[str]:
    """Command lines with a `# comment` after the command (zsh without interactivecomments runs `#`)."""
    lines = [line.strip() for block in SH_BLOCK.findall(text) for line in block.splitlines()]
    return [line for line in lines if not line.startswith("#") and re.search(r"\s#", QUOTED.sub("''", line))]


def _runs_after(command: str, first: str, then: str) -> bool:
    """`then` appears on a line after the first line holding `first`."""
    lines = command.splitlines()
    start = next((i for i, line in enumerate(lines) if first in line), None)
    return start is not None and any(then in line for line in lines[start + 1 :])


def problems(text: str) -> list[str]:
    found = []
    steps = _steps(text)
    rollback = _steps(text, "Rollback")
    read = _index(steps, "minNumReplicas)')\n")
    raise_ = _index(steps, '--min-num-replicas="$RAISED"')
    recreate = _index(steps, "recreate-instances")
    extra = raise_ + 1
    if min(read, raise_, recreate) < 0:
        return ["no read, raise or recreate step"]
    # 1. A state file from an earlier run is recognised (dated, shown) and set aside, not silently reused.
    if not re.search(r"^\s*STARTED=\$\(date ", steps[read]["command"], re.MULTILINE):
        found.append("the state file does not record when the procedure started")
    if 'mv "$STATE" "$STATE.stale"' not in steps[read]["stop_if"]:
        found.append("step 2 does not say to set aside a state file left by an earlier run")
    # 1. "Already recreated" only for the instance typed tonight, and only if its live id moved on.
    command = steps[recreate]["command"].splitlines()
    already = next((i for i, line in enumerate(command) if "already recreated" in line), None)
    condition = command[already - 1] if already else ""
    if not re.search(r'"\$VM" = "\$\w+"', condition) or not re.search(r'!= "\$\{?OLD_ID', condition):
        found.append("step 6 decides “already recreated” without comparing the name and the live id")
    if f"run step {recreate + 1} again" not in steps[recreate + 1]["stop_if"]:
        found.append("step 7 does not send the reader back when the recreate never ran")
    # 4. The recreate runs only while the raised minimum holds (a deployment may have put it back).
    recreating = steps[recreate]["command"]
    live_min = recreating.find("minNumReplicas")
    if live_min < 0 or live_min > recreating.find("recreate-instances") or '-lt "$RAISED"' not in recreating:
        found.append("step 6 does not check the minimum is still raised before recreating")
    # 3. An extra instance that does not boot: a rollback puts the minimum back, then deletes it by name.
    removal = next((i for i, step in enumerate(rollback) if "delete-instances" in step["command"]), None)
    if removal is None or not _runs_after(
        rollback[removal]["command"], '--min-num-replicas="$MIN"', "delete-instances"
    ):
        found.append("no rollback removes step 5's failing extra instance after putting the minimum back")
    elif f"Rollback {removal + 1}" not in steps[extra]["stop_if"]:
        found.append("step 5's stop sends the reader to a rollback that refuses while an instance fails")
    # 2. No trailing comment on a command line.
    for line in _trailing_comments(text):
        found.append(f"a trailing comment zsh would run: {line[:60]}")
    # 8. The count holds, not the zone spread: said, and step 5 shows where the extra instance is.
    if not re.search(r"zone may have no serving instance", _section(text, "Capacity")):
        found.append("Capacity does not say the suspect's zone may be left without an instance")
    if "ZONE" not in steps[extra]["expected"]:
        found.append("step 5 does not point at the new instance's zone")
    # 10. The poll's STOP says what the autoscaler reports, and is retried once.
    if (
        "autoscaler.status" not in steps[extra]["command"]
        or "rerun this step once" not in steps[extra]["stop_if"]
    ):
        found.append("step 5's STOP shows nothing of the autoscaler and gives no retry")
    # 11. The extra instance leaving after step 8 is expected.
    if "DELETING" not in _steps(text, "Verification")[0]["expected"]:
        found.append("Verification expects no DELETING row while the extra instance leaves")
    # 12. The state file is moved once; the minimum is shown after each change.
    last = steps[-1]["command"]
    if 'test ! -e "$STATE" || mv' not in last:
        found.append("step 8 moves the state file even when it is gone")
    for index in (raise_, len(steps) - 1):
        if not _runs_after(steps[index]["command"], "update-autoscaling", "minNumReplicas"):
            found.append(f"step {index + 1} does not show the minimum after changing it")
    # 7. A hand-over: step 2 prints the file to post; the preconditions say how to take over.
    if not re.search(r'^(cat|grep \.) "\$STATE"$', steps[read]["command"], re.MULTILINE):
        found.append("step 2 does not print the state file to post for a hand-over")
    if "Taking over" not in _section(text, "Preconditions"):
        found.append("the preconditions do not say how to take over from a colleague")
    # 5. A leaked credential: the reader learns the disk goes with the recreate and the credential stays.
    when = _section(text, "When to use it")
    if "deletes its boot disk" not in when or "rotated" not in when:
        found.append("a suspect instance's evidence and credential are not mentioned before the recreate")
    # 9. Pulumi unreachable: the escalation address from the stack's config file; an empty group stops.
    # (The first step names the escalation destination the stack records, without a command.)
    escalation = "\n".join(step["command"] for step in _steps(text, "Escalation"))
    if not re.search(r"\|\| grep '[^']*alertEmail' pulumi/gcp/Pulumi\.\w+\.yaml", escalation):
        found.append("no escalation address when the Pulumi backend is unreachable")
    if not re.search(r'^test -n "\$GROUP" \|\| echo "STOP', steps[0]["command"], re.MULTILINE):
        found.append("step 1 goes on with an empty group")
    return found


def test_replace_one_keeps_its_state_across_shells_and_hand_overs(documents):
    found = {path: problems(text) for path, text in _replace_one(documents).items()}
    assert not any(found.values()), found


# The runbooks as the second reader got them (before these fixes), frozen in data/ (rendered at RENDERED_AT).
RENDERED_AT = "dc2b841"


@pytest.mark.parametrize("environment", ["dev", "staging", "prod"])
def test_the_old_runbook_fails_every_check(environment):
    old = rendered_at(RENDERED_AT, "gcp", environment)
    found = problems(old)
    # Every check above finds its stumble on the old output (four trailing comments among them).
    assert len(found) == 22, found


MUTATIONS = {
    "stale state reused": (r"move it aside with `mv \"\$STATE\" \"\$STATE.stale\"`", "go on"),
    "already by OLD_ID only": (r'test "\$VM" = "\$SUSPECT" && ', ""),
    "minimum not rechecked": (r'-lt "\$RAISED"', '-lt "$MIN"'),
    "no delete rollback": (r"delete-instances", "recreate-instances"),
    "trailing comment": (r"(SUSPECT='<NAME from step 3>')\n", r"\1  # the suspect\n"),
    "no zone note": (r"zone may have no serving instance", "zone is fine"),
    "mv twice": (r'test ! -e "\$STATE" \|\| mv', "mv"),
    "no hand-over": (r"Taking over", "Handing"),
    "no evidence note": (r" Recreating it deletes its boot disk", " Recreating it"),
    "no grep fallback": (r" \\\n\s+\|\| grep [^\n]*", ""),
}


@pytest.mark.parametrize("mutation", MUTATIONS)
def test_each_stumble_is_caught(documents, mutation):
    assert_each_mutant_caught(
        _replace_one(documents), mutation, *MUTATIONS[mutation], lambda text, _: problems(text)
    )
