"""The GCP replace-one-instance runbook survives failures mid-procedure (found by a reader trial at 3 a.m.,
briefs/s18/reports/reader-gcp.md): a lost shell, a recreated instance that still fails, a slow deletion, an
unreachable Pulumi backend, an instance autohealing is already handling, an autoscaler acting
mid-procedure, a loop that never ends, a mistyped instance name and a deployment running meanwhile. Each
check reads the rendered runbook of every environment, as the reader gets it.

Sources: connection draining ends with the VM deleted "up to 60 seconds after your specified timeout
duration" (cloud.google.com/load-balancing/docs/enabling-connection-draining); a recreated managed instance
keeps its name and gets a new `id` (cloud.google.com/compute/docs/reference/rest/v1/ManagedInstance: "The
unique identifier for this resource"); gcloud's own list-instances format takes NAME from
instance.basename() and ZONE from instance.scope().segment(0) (the managed instance has no `zone` field).
"""

from __future__ import annotations

import re

import pytest

from tests.docs.gcp.gcp_replace_one import _index, _replace_one, _steps
from tests.docs.runbook_harness import assert_each_mutant_caught
from tests.docs.runbook_harness import section as _section
from tools.docs.commands import validate

TIMEOUT = re.compile(r"wait-until .*--timeout=(\d+)")
ROW = re.compile(r"^\| (.+?) \| (.+?) \| .+? \|$", re.MULTILINE)
LOOP = re.compile(r"^\s*(?:until|while) (.*?); do (.*?); done", re.MULTILINE)


def _durations(text: str) -> dict[str, int]:
    """Each expected-duration row's seconds, from its formula's result ("... = 710 s")."""
    rows = {}
    for name, formula in ROW.findall(_section(text, "Expected duration")):
        total = re.search(r"= (\d+) s$", formula) or re.search(r"then (\d+) s$", formula)
        if total:
            rows[name] = int(total.group(1))
    return rows


def problems(text: str) -> list[str]:
    """Every stumble of the reader trial still present in one rendered replace-one-instance runbook."""
    found = []
    steps = _steps(text)
    rollback = _steps(text, "Rollback")
    durations = _durations(text)
    recreate = _index(steps, "recreate-instances")
    raise_ = _index(steps, '--min-num-replicas="$RAISED"')
    read = _index(steps, "minNumReplicas)")
    if min(recreate, raise_, read) < 0:
        return ["no read, raise or recreate step"]
    lines = [line for step in steps for line in step["command"].splitlines()]
    # 1. The values read before the change survive a lost shell: a state file, written before the raise,
    # reloaded (not re-read) when it exists, moved aside at the end; the runbook says how to resume.
    state_read = steps[read]["command"]
    if not re.search(r'^STATE=~/"', state_read, re.MULTILINE):
        found.append("no state file named in the read step")
    elif not re.search(r'if test -s "\$STATE"; then\n(?:.*\n)*else\n(?:.*\n)*MIN=\$\(gcloud', state_read):
        found.append("the read step re-reads MIN even when the state file holds it")
    for name in ("N", "MIN", "RAISED"):
        if not re.search(rf"^{name}=\$\(grep .*\"\$STATE\"", state_read, re.MULTILINE):
            found.append(f"{name} is not reloaded from the state file")
    if '> "$STATE"' not in state_read:
        found.append("the read step does not write the state file")
    if not re.search(r'(mv|rm) [^\n]*"\$STATE"', steps[-1]["command"]):
        found.append("the last step leaves the state file behind (a later run would resume a finished one)")
    if not any(
        "lost shell" in line and f"step {read + 1}" in line
        for line in _section(text, "Preconditions").splitlines()
    ):
        found.append("the runbook does not say how to resume after a lost shell")
    # 2. A recreated instance that still fails keeps the raised minimum; the rollback waits for health.
    final_wait = next(
        (i for i in range(recreate + 1, len(steps)) if "wait-until" in steps[i]["command"]), None
    )
    if final_wait is None:
        found.append("no wait after the recreate")
    else:
        stop_if = steps[final_wait]["stop_if"]
        if "Rollback, then" in stop_if or "NOT put the minimum back" not in stop_if:
            found.append("a failing recreate sends the reader to put the minimum back")
    if not rollback or "HEALTHY" not in rollback[0]["title"]:
        found.append("the rollback does not wait for every instance to be healthy")
    extra_wait = next((i for i in range(raise_ + 1, recreate) if "wait-until" in steps[i]["command"]), None)
    if extra_wait is None or f"do not run step {recreate + 1}" not in steps[extra_wait]["stop_if"]:
        found.append("an extra instance that does not boot does not stop the recreate")
    # 3. Timeouts above their expected durations; the recreate includes the deletion after draining.
    recreated = durations.get("the suspect instance recreated", 0)
    extra = durations.get("extra instance in service", 0)
    if recreated <= extra:
        found.append("the recreate's duration leaves out the deletion after draining")
    for index, expected in ((extra_wait, extra), (final_wait, recreated)):
        timeouts = [int(t) for t in TIMEOUT.findall(steps[index]["command"])] if index is not None else []
        if not timeouts or min(timeouts) <= expected:
            found.append(
                f"step {None if index is None else index + 1}'s timeout {timeouts} has no margin "
                f"over {expected} s"
            )
    # 5. Step 1 waits out autohealing (bounded) instead of sending the reader round a loop.
    first = [int(t) for t in TIMEOUT.findall(steps[0]["command"])]
    healing = durations.get("autohealing instead (instance failing its check)", 0)
    if not first or first[0] < healing:
        found.append(f"step 1 gives up after {first} s, before autohealing ({healing} s) can finish")
    if extra_wait is not None and "UNHEALTHY" not in steps[extra_wait]["expected"]:
        found.append("the wait for the extra instance expects the suspect to be healthy too")
    # 6. The instance lists show the id, which a recreate changes (the name stays).
    for index in (_index(steps, "list-instances"), final_wait):
        listed = [line for line in steps[index]["command"].splitlines() if "list-instances" in line]
        if index is None or index < 0 or not any(re.search(r"[(,]id[:,)]", line) for line in listed):
            found.append(f"step {None if index is None else index + 1} does not show the instance id")
    # 7. The raise reads the target size just before it (the autoscaler may have grown the group).
    raise_lines = steps[raise_]["command"].splitlines()
    update = next(i for i, line in enumerate(raise_lines) if "update-autoscaling" in line)
    if not any("value(targetSize)" in line for line in raise_lines[:update]):
        found.append("the raise does not re-read the target size")
    # 8. Every loop ends on its own: its condition tests a counter the body counts up.
    for condition, body in LOOP.findall("\n".join(lines)):
        counters = re.findall(r"(\w+)=\$\(\(\1 \+ 1\)\)", body)
        if not any(f"${counter}" in condition or f"${{{counter}" in condition for counter in counters):
            found.append(f"a loop that never ends if its read fails: until {condition}")
    # 9. The suspect's name is checked against the group (one instance) before it is recreated.
    command = steps[recreate]["command"]
    check = re.search(r'list-instances [^\n]*--filter="name=\$(VM|SUSPECT)"', command)
    if not check or check.start() > command.index("recreate-instances"):
        found.append("the instance name is not checked before the recreate")
    # 10. No `${VAR:?}` guard in a step: in a pasted interactive block only that line stops.
    if any(re.match(r': "\$\{\w+:\?\}"', line) for line in lines):
        found.append("a step relies on a ${VAR:?} guard to stop a pasted block")
    # 4. The group can be found with gcloud alone when the Pulumi backend is unreachable, by a command the
    # checker accepts.
    fallback = re.search(
        r'^test -n "\$GROUP" \|\| (GROUP=\$\(gcloud .*\))', steps[0]["command"], re.MULTILINE
    )
    if not fallback:
        found.append("no gcloud-only way to find the group when Pulumi is unreachable")
    elif validate(fallback.group(1)):
        found.append(f"the fallback lookup does not parse: {validate(fallback.group(1))}")
    # 11. No deployment resets the minimum or replaces instances meanwhile.
    if not re.search(r"pause [^\n]*`pulumi up`", _section(text, "Preconditions")):
        found.append("no precondition pauses the stack's deployments")
    return found


def test_replace_one_survives_failures_mid_procedure(documents):
    found = {path: problems(text) for path, text in _replace_one(documents).items()}
    assert not any(found.values()), found


# Each mutation puts back one stumble of the trial's (old) output.
MUTATIONS = {
    "state re-read": (r'if test -s "\$STATE"; then', "if false; then"),
    "rollback on timeout": (r"do NOT put the minimum back", "Rollback, then Escalation"),
    "no margin": (r"(wait-until [^\n]*--timeout=)\d+", r"\g<1>650"),
    "no id": (r",id:label=ID", ""),
    "unbounded loop": (r"TRIES=\$\(\(TRIES \+ 1\)\); ", ""),
    "name unchecked": (r'--filter="name=\$SUSPECT"', ""),
    "no fallback": (r'test -n "\$GROUP" \|\| GROUP=[^\n]*\n', ""),
    "fallback misspelt": (r"managed list --project", "managed list --projects"),
    "no pause": (r"pause the pipeline that runs `pulumi up`", "deploy"),
}


@pytest.mark.parametrize("mutation", MUTATIONS)
def test_each_stumble_is_caught(documents, mutation):
    assert_each_mutant_caught(
        _replace_one(documents), mutation, *MUTATIONS[mutation], lambda text, _: problems(text)
    )
