"""The six GCP runbooks of one environment, with `gcloud` commands (checked against
tools/docs/commands/gcloud_surfaces.toml) and names looked up from the Pulumi stack's outputs and config.

Every number comes from StackFacts (the inventory); the IAM permissions are derived from the commands
themselves through the surface table.
"""

from __future__ import annotations

import math
from dataclasses import replace

from refarch_pulumi.stack import spec_set_command
from tools.docs.commands import gcloud, simple_commands
from tools.docs.gcp.facts import PROJECT_DIR, TEMPLATE, config_lookup, output_lookup
from tools.docs.gcp.inventory import ESCALATION_OUTPUT
from tools.docs.gcp.state import PITR_DAYS
from tools.docs.model import (
    REHEARSALS,
    SCENARIO_TITLES,
    Duration,
    Lookup,
    Runbook,
    StackFacts,
    Step,
    escalation_contact,
    guard,
)

PULUMI = "Pulumi CLI 3 (for the name lookups)"
WHERE = '--region="$REGION" --project="$PROJECT"'
# The title of each of the fleet's per-database store bindings starts so (item_store.py's grant_title).
GRANT_TITLE_PREFIX = "only-"


def _lookups(facts: StackFacts, *extra: Lookup) -> tuple[Lookup, ...]:
    env = facts.environment
    return (
        Lookup(
            variable="PROJECT", command=config_lookup(env, "gcp:project"), source="stack config gcp:project"
        ),
        Lookup(variable="REGION", command=config_lookup(env, "gcp:region"), source="stack config gcp:region"),
        Lookup(
            variable="GROUP",
            command=f"{output_lookup(env, 'instanceGroup')} | grep -o '[^/]*$'",
            source="stack output instanceGroup (the group's URL; its last part is the group's name)",
        ),
        Lookup(variable="API_URL", command=output_lookup(env, "apiUrl"), source="stack output apiUrl"),
        *extra,
    )


SETUP = (
    "From the root of your checkout of this repository: `pulumi` logged in to the stack's state backend "
    "(`pulumi login`), with PULUMI_CONFIG_PASSPHRASE set if the stack uses a passphrase secrets provider; "
    "`gcloud` logged in (`gcloud auth login`) as an account holding the permissions below."
)
DESCRIBE = 'gcloud compute instance-groups managed describe "$GROUP" ' + WHERE


def _guards(lookups: tuple[Lookup, ...], region: str) -> tuple[str, ...]:
    """Stop at once on a lookup that printed nothing (a failed `pulumi` hidden by a pipe), and show what
    was found."""
    names = [lookup.variable for lookup in lookups]
    return (
        # In an interactive shell `:?` aborts only its own line: the reader must stop there by hand. The
        # comment goes on a line of its own (a trailing one breaks the line in zsh without
        # interactivecomments).
        "# an empty one is named on the next line (parameter null or not set): stop, paste nothing more",
        guard(names),
        "echo " + " ".join(f'"{name}=${name}"' for name in names),
        f"# expect: REGION={region}, GROUP a name with no '/', API_URL an https:// address",
    )


def _read_size_and_minimum(expected: str, stop_if: str, raise_by: str) -> Step:
    """The group's target size now and the autoscaler's minimum, read before anything changes (the group
    may already be above its stack minimum), and the raised minimum computed from them."""
    return Step(
        title="Read the group's target size and the autoscaler's minimum",
        command=f"N=$({DESCRIBE} --format='value(targetSize)')\n"
        f"MIN=$({DESCRIBE} --format='value(autoscaler.autoscalingPolicy.minNumReplicas)')\n"
        ': "${N:?}" "${MIN:?}"\n'
        f"RAISED={raise_by}\n"
        'echo "target size $N, minimum $MIN, raised minimum $RAISED"',
        expected=expected,
        stop_if=stop_if,
    )


def _wait_for_raised(timeout: int, expected: str, stop_if: str) -> Step:
    """The autoscaler applies a new minimum asynchronously: `wait-until --stable` right after it can report
    a group that has not started growing. Wait for the target size first, then for the instances."""
    return Step(
        title="Wait for the target size, then for the new instances to be in service",
        command=f'until test "$({DESCRIBE} --format=\'value(targetSize)\')" -ge "$RAISED"; '
        "do sleep 10; done\n"
        'gcloud compute instance-groups managed wait-until "$GROUP" --stable '
        f"--timeout={timeout} {WHERE}\n"
        f'gcloud compute instance-groups managed list-instances "$GROUP" {WHERE}',
        expected=expected,
        stop_if=stop_if,
    )


def _check_stable() -> Step:
    return Step(
        title="Check that nothing is changing the group",
        command=f'gcloud compute instance-groups managed wait-until "$GROUP" --stable --timeout=30 {WHERE}',
        expected="“Group is stable” at once",
        stop_if="it times out: an update, a repair or a scaling is in progress; wait for it (rerun this "
        "step) before going on",
    )


def _raise_minimum(facts: StackFacts) -> str:
    """The one change to the autoscaler: a pasted block runs on after a failed read, so the change runs only
    when every value read is set and RAISED lies between the current size and the maximum."""
    return (
        f'test -n "$MIN" && test "${{N:-0}}" -ge {facts.min_size} && test "${{RAISED:-0}}" -gt "$N" '
        f'&& test "$RAISED" -le {facts.max_size} \\\n'
        f'  && gcloud compute instance-groups managed update-autoscaling "$GROUP" {WHERE} '
        '--min-num-replicas="$RAISED" \\\n'
        '  || echo "STOP: nothing changed (N=$N MIN=$MIN RAISED=$RAISED)"'
    )


def _restore_minimum(title: str, expected: str) -> Step:
    return Step(
        title=title,
        command=f'gcloud compute instance-groups managed update-autoscaling "$GROUP" {WHERE} '
        '--min-num-replicas="$MIN"',
        expected=expected,
    )


def _cache_lookups(facts: StackFacts) -> tuple[Lookup, ...]:
    return (
        Lookup(
            variable="CACHE_HOST",
            command=output_lookup(facts.environment, "cacheHost"),
            source="stack output cacheHost",
        ),
        Lookup(
            variable="CACHE",
            command=f'gcloud redis instances list {WHERE} --filter="host=$CACHE_HOST" '
            '--format="value(name.basename())"',
            source="the Memorystore instance serving cacheHost",
        ),
    )


# The Pulumi commands that deploy the stack (or, for a preview, act with the deployer's identity).
DEPLOYING = ("pulumi preview", "pulumi up", "pulumi config set", "pulumi config rm")


def permissions(commands: list[str]) -> str:
    """The IAM permissions each gcloud command needs, from the surface table, and who needs Pulumi access."""
    needed: dict[str, set[str]] = {}
    # The runbook's own Pulumi commands (`pulumi up`, `pulumi config get`: `config` and `stack` take a verb).
    pulumi: list[str] = []
    for command in commands:
        for argv in simple_commands(command):
            if argv[0] == "pulumi":
                words = argv[: 3 if argv[1:2] in (["config"], ["stack"]) else 2]
                pulumi += [" ".join(words)] if " ".join(words) not in pulumi else []
            surface = gcloud.surface_of(argv) if argv[0] == "gcloud" else None
            if surface is not None:
                for permission in surface.permissions:
                    needed.setdefault(permission, set()).add(" ".join(surface.command))
    lines = [
        f"- `{permission}` (for `gcloud {'`, `gcloud '.join(sorted(used))}`)"
        for permission, used in sorted(needed.items())
    ]
    # `pulumi up` and a config change write the stack: a deployment, not a read; a preview is the deployer's
    # too (it reads the stack's state and resources with the deployer's identity).
    writes = [c for c in pulumi if c in DEPLOYING]
    if writes:
        lines.append(
            "- write access to the Pulumi stack's state backend and the deployer's Google Cloud permissions "
            f"(for {_listed(writes)}: a deployment of the stack, made with the identity that deploys it, not "
            "with the permissions above)"
        )
    elif pulumi:
        lines.append(f"- read access to the Pulumi stack's state backend (for {_listed(pulumi)})")
    return "\n".join(lines)


def _listed(commands: list[str]) -> str:
    """`a`, `b` and `c`, in the order the runbook first runs them."""
    quoted = [f"`{command}`" for command in commands]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]


def _wave_seconds(facts: StackFacts) -> tuple[str, int]:
    hc = facts.health_check
    total = facts.replacement_seconds
    formula = (
        f"boot budget {facts.boot_budget_seconds} s + healthy threshold {hc.healthy_threshold} x interval "
        f"{hc.interval_seconds} s + draining {facts.draining_seconds} s = {total} s"
    )
    return formula, total


def _seconds(duration: str) -> int:
    """A protobuf Duration as the Monitoring API gives it ("10s") in whole seconds."""
    return math.ceil(float(duration.removesuffix("s")))


def _verification(facts: StackFacts) -> tuple[Step, ...]:
    alerts = ", ".join(f"“{display}”" for _, display in facts.details["alerts"])
    return (
        Step(
            title="Every instance runs and passes its health check",
            command=f'gcloud compute instance-groups managed list-instances "$GROUP" {WHERE}',
            expected=f"at least {facts.min_size} rows, each STATUS RUNNING, HEALTH_STATE HEALTHY and ACTION "
            f"NONE, spread over {len(facts.zones)} zones",
            stop_if="a row stays UNHEALTHY longer than the boot budget "
            f"({facts.boot_budget_seconds} s): Escalation",
        ),
        Step(
            title="A real request through the API gateway (unauthenticated, as the uptime check makes it)",
            # Bounded as the uptime check is (curl --max-time: "Maximum time in seconds that you allow
            # the whole operation to take", curl.se/docs/manpage.html): a hung gateway is an answer too.
            command=f"curl -sS --max-time {_seconds(facts.details['uptime_timeout'])} -o /dev/null "
            '-w "%{http_code}\\n" '
            f'"${{API_URL%/}}{facts.details["uptime_path"]}"',
            expected="200",
            stop_if="anything else (000: no answer within the time limit) twice in a row, 30 s apart: "
            "Escalation",
        ),
        Step(
            title="Alerts back to OK",
            command='echo "https://console.cloud.google.com/monitoring/alerting?project=$PROJECT"',
            expected=f"at that address (Cloud Monitoring > Alerting), no open incident for {alerts}",
            stop_if=f"an incident stays open {ALERTS_CLEAR_SECONDS // 60} minutes after the last step: "
            "Escalation",
        ),
    )


def _escalation(facts: StackFacts) -> tuple[Step, ...]:
    page = escalation_contact(
        facts.escalation,
        f"stack output `{ESCALATION_OUTPUT}`",
        f"`{spec_set_command('alarms.escalation')} --stack {facts.environment} "
        f"--cwd {PROJECT_DIR}`, or environments.toml `[{facts.environment}.alarms]`",
    )
    return (
        page,
        Step(
            title="Who the stack's alerts e-mail: tell them too",
            # The stack's config file in this checkout answers when the Pulumi backend does not.
            command=f"{config_lookup(facts.environment, 'refarch-gcp:alertEmail')} \\\n"
            f"  || grep 'refarch-gcp:alertEmail' pulumi/gcp/Pulumi.{facts.environment}.yaml",
            expected="the address the alert policies notify (stack config refarch-gcp:alertEmail, read from "
            f"pulumi/gcp/Pulumi.{facts.environment}.yaml when the backend is unreachable): page it through "
            "your on-call tool, or mail it with the runbook, the step that stopped and its output",
        ),
        Step(
            title="Open a Google Cloud support case for a platform fault",
            command='echo "https://console.cloud.google.com/support/cases?project=$PROJECT"',
            expected=f"open the case at that address (console > Support > Cases); quote the project, region "
            f"{facts.region} and the group, cache or database name looked up above",
        ),
    )


def _runbook(facts: StackFacts, scenario: str, resume: tuple[str, ...] = (), **fields) -> Runbook:
    """A runbook with the permissions its own commands need (every one `Runbook.commands()` returns).
    `resume`: shell lines after the lookups' guards that reload a run in progress (its state file)."""
    lookups = fields.pop("lookups")
    draft = Runbook(
        cloud="gcp",
        environment=facts.environment,
        scenario=scenario,
        title=SCENARIO_TITLES[scenario],
        permissions="",
        permissions_format="markdown",
        lookups=lookups,
        steps=tuple(fields.pop("steps")),
        verification=fields.pop("verification", None) or _verification(facts),
        rollback=tuple(fields.pop("rollback")),
        escalation=_escalation(facts),
        drill=REHEARSALS[scenario],
        cli_version=f"{gcloud.table().cli}; {PULUMI}",
        before_lookups=(
            "set -o pipefail",
            "# (so that a failed `pulumi` inside a pipe leaves its variable empty)",
        ),
        after_lookups=_guards(lookups, facts.region) + resume,
        **fields,
    )
    return replace(draft, permissions=permissions(draft.commands()))


def _capacity(facts: StackFacts, floor: int, *lines: str) -> tuple[str, ...]:
    return (
        f"Zones: {', '.join(facts.zones)}; autoscaler min {facts.min_size}, max {facts.max_size}; "
        f"at the minimum, {facts.per_zone}.",
        *lines,
        f"Capacity never falls below {floor} of {facts.min_size} during this procedure.",
    )


# A VM removed from the group's backend is deleted up to this long after its connection draining ends
# (cloud.google.com/load-balancing/docs/enabling-connection-draining: "It can take up to 60 seconds after
# your specified timeout duration has passed for the instance to be terminated").
DELETION_LAG_SECONDS = 60
# A wait's timeout over its expected duration (API latency, a slow instance creation): a quarter more,
# rounded up to 10 s, so a timeout means something is wrong rather than slow.
TIMEOUT_MARGIN = 1.25
# Step 6 polls the target size this often, for up to this long, before it stops: changes to an autoscaler's
# settings "may take a couple of minutes" to take effect (cloud.google.com/compute/docs/autoscaler/
# managing-autoscalers), so five minutes leaves room over two.
POLL_SECONDS = 10
AUTOSCALER_APPLY_SECONDS = 300
POLL_TRIES = AUTOSCALER_APPLY_SECONDS // POLL_SECONDS
# An open incident is expected to close within this long after the last step (Verification 3).
ALERTS_CLEAR_SECONDS = 600
# replace-one-instance's steps in order, by what they do: every "step N" of its text is numbered from here.
REPLACE_STEPS = ("settle", "read", "find", "keep", "raise", "extra", "recreate", "stable", "restore")


def _n(step: str) -> int:
    return REPLACE_STEPS.index(step) + 1


# What replace-one-instance keeps in its state file, so that a re-run after a lost shell reuses the values
# read before anything changed (a re-read would see the raised minimum).
REPLACE_STATE = ("STARTED", "N", "MIN", "RAISED", "VM", "OLD_ID")
# Its path, in the reader's home, one per project and group: step 2's command fills in the shell variables,
# the preconditions name it with placeholders.
REPLACE_STATE_FILE = "replace-one-instance.{project}.{group}.env"
# list-instances with the managed instance's id (it changes when the instance is recreated, its name does
# not) and the last error; columns as gcloud's own list-instances format names them (NAME from
# instance.basename(), ZONE from instance.scope().segment(0)); id and lastAttempt are fields of the REST
# ManagedInstance (cloud.google.com/compute/docs/reference/rest/v1/ManagedInstance), as is `name`, which the
# steps filter on ("The name always exists even if the instance has not yet been created").
LIST_FORMAT = (
    "--format='table(instance.basename():label=NAME,instance.scope().segment(0):label=ZONE,id:label=ID,"
    "instanceStatus:label=STATUS,instanceHealth[0].detailedHealthState:label=HEALTH_STATE,"
    'currentAction:label=ACTION,lastAttempt.errors.errors.map().format("Error {0}: {1}",code,message)'
    ".list():label=LAST_ERROR)'"
)
LIST_INSTANCES = f'gcloud compute instance-groups managed list-instances "$GROUP" {WHERE} {LIST_FORMAT}'
MIN_FORMAT = "value(autoscaler.autoscalingPolicy.minNumReplicas)"
# After the minimum goes back, the autoscaler removes the extra instance once load has stayed low for its
# stabilization period: 10 minutes, or the group's initialization period if that is longer
# (cloud.google.com/compute/docs/autoscaler#stabilization_period).
STABILIZATION_SECONDS = 600
# The alert policy that pages for one instance (gcp_stack/monitoring.py's log-match "unhealthy-backends"):
# its incident shows the health-check log entry, which names the instance by its internal IP
# (jsonPayload.healthCheckProbeResult.ipAddress, cloud.google.com/load-balancing/docs/health-check-logging).
INSTANCE_ALERT = "unhealthy-backends"
PROBE_IP_FIELD = "jsonPayload.healthCheckProbeResult.ipAddress"
# The actions of a group recreating an instance: RECREATING, then CREATING and VERIFYING the new one
# (ManagedInstance.currentAction; VERIFYING lasts until the autohealing health check reports HEALTHY).
RECREATE_ACTIONS = ("RECREATING", "CREATING", "VERIFYING")


def _fallback_group(facts: StackFacts) -> str:
    """The group's name from gcloud alone (the Pulumi backend unreachable): the one group in the region with
    the stack's base instance name (the reference's own example filters on "region:( ... )")."""
    return (
        f'GROUP=$(gcloud compute instance-groups managed list --project="$PROJECT" '
        f'--filter="region:({facts.region}) AND baseInstanceName={facts.details["base_instance_name"]}" '
        "--format='value(name)')"
    )


def _with_margin(seconds: int) -> int:
    return math.ceil(seconds * TIMEOUT_MARGIN / 10) * 10


def _save_state() -> str:
    keys = "".join(f"{name}=%s\\n" for name in REPLACE_STATE)
    values = " ".join(f'"${name}"' for name in REPLACE_STATE)
    return f"printf '{keys}' {values} > \"$STATE\""


# A run closes by moving its state file aside, stamped with when (seconds since the epoch), so that step 2
# can tell a run closed minutes ago (a shell lost during Verification) from an old one.
CLOSE_STATE = 'test ! -e "$STATE" || echo "DONE=$(date -u +%s)" >> "$STATE"'


# A closed run's last line, for the incident channel: a colleague on another machine has no $STATE.done, so
# step 2's guard there needs the line posted (see the hand-over precondition).
POST_DONE = "grep -s '^DONE=' \"$STATE.done\""
CLOSED = "the DONE= line: post it in the incident channel (the run is closed)"


# Each step that adds to the state file prints it, for the incident channel (a hand-over writes the file
# from the lines posted last).
POST_STATE = 'grep . "$STATE"'
POSTED = (
    "then the state file's lines: post them in the incident channel (they replace the ones posted before)"
)


def _replace_settle(facts: StackFacts, timeout: int) -> Step:
    """Wait out whatever is changing the group; with the Pulumi backend unreachable, find the group first:
    exactly one line, or nothing (two groups matching would put a newline in every later command)."""
    return Step(
        title="Wait until nothing is changing the group",
        command="# only when the Pulumi backend is unreachable does the next line look GROUP up\n"
        f'test -n "$GROUP" || {_fallback_group(facts)}\n'
        'if test "$(printf \'%s\\n\' "$GROUP" | grep -c .)" -gt 1; then\n'
        '  echo "STOP: several groups found: $GROUP: paste nothing more"\n'
        "  GROUP=\n"
        "fi\n"
        'echo "GROUP=$GROUP"\n'
        'test -n "$GROUP" || echo "STOP: no group found: paste nothing more"\n'
        'gcloud compute instance-groups managed wait-until "$GROUP" --stable '
        f"--timeout={timeout} {WHERE}",
        expected="the group's name (no STOP); “Group is stable”: at once when nothing is changing, "
        f"within {timeout} s while autohealing recreates an instance that fails its check "
        "(an UNHEALTHY instance with ACTION RECREATING or VERIFYING) or a scaling finishes",
        stop_if="it prints STOP: no group, or several (their names follow “several groups found”): set "
        "GROUP by hand only to the stack's (stack output instanceGroup), otherwise Escalation. "
        f"It times out after {timeout} s: something is stuck; read LAST_ERROR with "
        f"step {_n('find')}'s command, then Escalation. If autohealing just recreated the instance you were "
        f"paged for and step {_n('find')} shows it HEALTHY, autohealing has handled it: go to Verification; "
        "if it goes UNHEALTHY again, do not use this runbook: Escalation",
    )


def _replace_read(facts: StackFacts, recent_seconds: int) -> Step:
    """Read N and MIN once and keep them (with the choices later steps add) in a state file: after a lost
    shell, rerunning this step reloads them instead of reading a minimum step 5 already raised. Only the
    stack's minimum is saved: a leftover raised one would make the last step "put back" the leftover. A run
    that ended minutes ago (its file moved to .done) is not started again by a shell lost in Verification."""
    loads = "\n".join(
        f"  {name}=$(grep -o '^{name}=.*' \"$STATE\" | grep -o '[^=]*$')" for name in REPLACE_STATE
    )
    restore = _n("restore")
    return Step(
        title="Read the group's target size and the autoscaler's minimum, once: they are saved to a state "
        "file, and rerunning this step (after a lost shell, after the Names block) reloads them",
        command=f'STATE=~/"{REPLACE_STATE_FILE.format(project="$PROJECT", group="$GROUP")}"\n'
        "DONE=$(grep -s -o '^DONE=[0-9]*' \"$STATE.done\" | grep -o '[0-9]*$')\n"
        'if test -s "$STATE"; then\n'
        '  echo "resuming: values saved by an earlier step 2 in $STATE"\n'
        f"{loads}\n"
        f'  test "$MIN" = {facts.min_size} || echo "STOP: $STATE holds the minimum $MIN, not the stack\'s '
        f'{facts.min_size}: Escalation"\n'
        f'elif test "$(($(date -u +%s) - ${{DONE:-0}}))" -lt {recent_seconds}; then\n'
        f'  echo "STOP: $STATE.done: a run of this procedure ended less than {recent_seconds} s ago; '
        'nothing read or saved"\n'
        "else\n"
        f"  N=$({DESCRIBE} --format='value(targetSize)')\n"
        f"  MIN=$({DESCRIBE} --format='{MIN_FORMAT}')\n"
        "  STARTED=$(date -u +%Y-%m-%dT%H:%MZ)\n  RAISED=$((N + 1))\n  VM=\n  OLD_ID=\n"
        '  if test -z "$N" || test -z "$MIN"; then\n'
        '    echo "STOP: N or MIN is empty; nothing saved"\n'
        f'  elif test "$MIN" != {facts.min_size}; then\n'
        f'    echo "WARNING: the minimum is $MIN, not the stack\'s {facts.min_size}; nothing saved"\n'
        "  else\n"
        f'    {_save_state()} && echo "saved in $STATE"\n'
        "  fi\n"
        "fi\n"
        'echo "started $STARTED: target size $N, minimum $MIN, raised minimum $RAISED, suspect '
        '${VM:-not chosen yet} ${OLD_ID}"\n'
        'test -n "$N" && test -n "$MIN" || echo "STOP: N or MIN is empty"\n'
        f"{POST_STATE}",
        expected="“saved in” the state file's path (a first run) or “resuming”; when step 2 first ran "
        f"(STARTED); a target size of {facts.min_size} or more and at most {facts.max_size - 1}; the minimum "
        f"{facts.min_size}; RAISED = target size + 1; then the file's lines: post them in the incident "
        "channel (whoever takes over writes the same file from them, see Preconditions)",
        stop_if=f"it prints STOP, or a target size of {facts.max_size} (the max: no room for an extra "
        "instance): Escalation; but STOP with “.done: a run of this procedure ended”: step "
        f"{restore} (or a Rollback) closed a run less than {recent_seconds} s ago (the Verification's "
        "window): after a shell lost during Verification, rerun the Names block only and go on with "
        "Verification; to replace another instance now, move it aside with "
        '`mv "$STATE.done" "$STATE.old"` and rerun this step. '
        "It prints WARNING on a first run (no state file): a previous run may have "
        f"left the minimum raised; nothing is saved (the state file keeps only the stack's minimum, so "
        f"step {restore} never puts back a leftover); do not go on: Escalation, to decide whether "
        f"{facts.min_size} goes back, then rerun this step. "
        "It prints “resuming” but the file is not from tonight's procedure (STARTED is missing or older, "
        "or its VM is set and is not the instance you were paged for): it is left by an earlier, "
        'unfinished run; move it aside with `mv "$STATE" "$STATE.stale"` and rerun this step (its '
        "WARNING then says whether that run left the minimum raised)",
    )


def _replace_find(facts: StackFacts, evacuate: str) -> Step:
    """The group's instances, then its VMs with their internal IP: the one-instance alert names the instance
    by its IP (the health-check log entry), never by name; no alert policy of the stack is on gce_instance."""
    (alert,) = (display for name, display in facts.details["alerts"] if name == INSTANCE_ALERT)
    return Step(
        title="Find the instance (name, zone, id, health)",
        command=f"{LIST_INSTANCES}\n"
        f'gcloud compute instances list --project="$PROJECT" '
        f'--filter="name~^{facts.details["base_instance_name"]}-" '
        "--format='table(name,zone.basename():label=ZONE,id:label=ID,"
        "networkInterfaces[0].networkIP:label=INTERNAL_IP)'",
        expected="$N rows with the columns NAME, ZONE, ID, STATUS, HEALTH_STATE, ACTION, LAST_ERROR; then "
        f"the same instances with their INTERNAL_IP. For “{alert}”, the suspect is the row whose "
        f"INTERNAL_IP is the `{PROBE_IP_FIELD}` of the incident's log entry; note its NAME and ID "
        f"(steps {_n('keep')} and {_n('recreate')} ask for them)",
        stop_if="no row's INTERNAL_IP is the alert's: the instance is not in this group (or was "
        "already replaced: a recreated instance gets a new ID): Escalation. Any ACTION other than NONE: "
        f"the group is changing, rerun step {_n('settle')} (it waits) once, then Escalation; fewer rows "
        f"than $MIN, or several instances in one ZONE misbehaving: a zone problem, use {evacuate}",
    )


# Snapshot.status (cloud.google.com/compute/docs/reference/rest/v1/snapshots): CREATING and UPLOADING are
# an earlier run's snapshot still being made; READY kept; FAILED or DELETING not kept. Empty: not found.
SNAPSHOT_STATUS = (
    'STATUS=$(gcloud compute snapshots describe "$SNAPSHOT" --project="$PROJECT" --format=\'value(status)\')'
)
SNAPSHOT_POLLS, SNAPSHOT_POLL_S = 60, 10


def _replace_keep() -> Step:
    """A suspect's boot disk is deleted with it on the recreate (the template's autoDelete): snapshot it
    first when security asks. The disk is the instance's first (the boot disk), in the instance's zone;
    `snapshots create` waits for the snapshot unless --async. A rerun (the shell lost during the create)
    finds the snapshot by its name and waits for it rather than creating it again ("already exists")."""
    return Step(
        title="Only when security wants the suspect's disk kept (a leaked credential): snapshot its boot "
        "disk; otherwise skip this step",
        command="# put the suspect instance's NAME from step 3 between the quotes\n"
        "SUSPECT='<NAME from step 3>'\n"
        f'ZONE=$(gcloud compute instance-groups managed list-instances "$GROUP" {WHERE} '
        "--filter=\"name=$SUSPECT\" --format='value(instance.scope().segment(0))')\n"
        "DISK=\n"
        'test -z "$ZONE" || DISK=$(gcloud compute instances describe "$SUSPECT" --zone="$ZONE" '
        "--project=\"$PROJECT\" --format='value(disks[0].source.basename())')\n"
        'if test "$(printf \'%s\\n\' "$ZONE" | grep -c .)" != 1 || test -z "$DISK"; then\n'
        '  echo "STOP: no one instance $SUSPECT with a disk (zone: ${ZONE:-none}, disk: ${DISK:-none})"\n'
        'elif test -z "$STARTED"; then\n'
        '  echo "STOP: STARTED is empty: rerun the Names block and step 2 first"\n'
        "else\n"
        '  SNAPSHOT="$SUSPECT-${STARTED//[!0-9]/}"\n'
        '  echo "snapshot $SNAPSHOT of $DISK in $ZONE: give security this name"\n'
        f"  {SNAPSHOT_STATUS}\n"
        "  TRIES=0\n"
        "  while printf '%s\\n' \"$STATUS\" | grep -qxE 'CREATING|UPLOADING' && "
        f'test "$TRIES" -lt {SNAPSHOT_POLLS}; do\n'
        f'    echo "$SNAPSHOT is $STATUS (an earlier run of this step): waiting"; sleep {SNAPSHOT_POLL_S}\n'
        "    TRIES=$((TRIES + 1))\n"
        f"    {SNAPSHOT_STATUS}\n"
        "  done\n"
        '  if test "$STATUS" = READY; then\n'
        '    echo "already kept: $SNAPSHOT is READY (an earlier run of this step)"\n'
        '  elif test -n "$STATUS"; then\n'
        '    echo "STOP: $SNAPSHOT is $STATUS, not READY: not kept"\n'
        "  else\n"
        '    gcloud compute snapshots create "$SNAPSHOT" --source-disk="$DISK" --source-disk-zone="$ZONE" '
        '--project="$PROJECT" --description="boot disk of $SUSPECT, kept before replace-one-instance"\n'
        "  fi\n"
        "fi",
        expected="“snapshot” with its name (the suspect's NAME and step 2's STARTED, so a rerun finds the "
        "same one), the suspect's boot disk and zone, on a first run a “not found” error (the check for an "
        "earlier snapshot), then the create finishing without an error (gcloud waits for it), or on a "
        "rerun “waiting” while an earlier run's snapshot is being made (up to "
        f"{SNAPSHOT_POLLS * SNAPSHOT_POLL_S} s), then “already kept”: give security the snapshot's name (it "
        "outlives the instance and is billed until they delete it)",
        stop_if="it prints STOP: the NAME is mistyped (check it against step 3), or the instance is gone "
        "already; STOP “not READY” (FAILED, DELETING, or still being made after the wait): Escalation, do "
        "not go on to the recreate; the create fails: do not go on to the recreate: ask security whether to "
        "go on without the disk; Escalation if unsure",
    )


def _show_minimum() -> str:
    """The autoscaler's minimum as it is now: what "Expected: the minimum is ..." is checked against."""
    return f"echo \"minimum now: $({DESCRIBE} --format='{MIN_FORMAT}')\""


def _put_back_minimum() -> str:
    """Put back the minimum step 2 read, then move the state file aside once (a second run, or the
    Rollback after the last step, finds it gone and says nothing)."""
    return (
        f'if gcloud compute instance-groups managed update-autoscaling "$GROUP" {WHERE} '
        '--min-num-replicas="$MIN"; then\n'
        f"  {CLOSE_STATE}\n"
        '  test ! -e "$STATE" || mv "$STATE" "$STATE.done"\n'
        f"  {POST_DONE}\n"
        "fi\n"
        f"{_show_minimum()}"
    )


def _replace_raise(facts: StackFacts) -> Step:
    """Raise the minimum to the target size now plus one (the autoscaler may have grown the group since
    step 2), at most the max, once: a rerun finds the minimum already at RAISED and changes nothing."""
    return Step(
        title="Raise the minimum to the target size now plus one, so capacity never dips",
        command=f"NOW=$({DESCRIBE} --format='value(targetSize)')\n"
        f"LIVE_MIN=$({DESCRIBE} --format='{MIN_FORMAT}')\n"
        'if test -n "$RAISED" && test "${LIVE_MIN:-0}" -ge "$RAISED" && test "$LIVE_MIN" -gt "${MIN:-0}"; '
        "then\n"
        '  echo "already raised to $LIVE_MIN by an earlier run of this step: '
        f'go on with step {_n("extra")}"\n'
        "else\n"
        f'  if test -n "$MIN" && test "${{NOW:-0}}" -ge {facts.min_size} '
        f'&& test "$NOW" -lt {facts.max_size}; then\n'
        "    RAISED=$((NOW + 1))\n"
        f"    {_save_state()}\n"
        f'    gcloud compute instance-groups managed update-autoscaling "$GROUP" {WHERE} '
        '--min-num-replicas="$RAISED" || echo "STOP: the update failed"\n'
        "  else\n"
        '    echo "STOP: nothing changed (target size now $NOW, MIN=$MIN)"\n'
        "  fi\n"
        "fi\n"
        f"{_show_minimum()}\n"
        f"{POST_STATE}",
        expected=f"“minimum now: $RAISED” (after “already raised” on a rerun); {POSTED}",
        stop_if="it prints STOP: do not recreate the instance without the extra one; Escalation",
    )


def _replace_wait_extra(timeout: int, evacuate: str) -> Step:
    """The autoscaler applies a new minimum asynchronously: wait (a bounded number of polls) for the target
    size before `wait-until --stable`, which could otherwise report a group that has not started growing.
    wait-until exits non-zero on its timeout (gcloud raises "Timeout while waiting for group to become
    stable.", googlecloudsdk's managed instance groups wait_until), which the block says in words: after it,
    a slow new instance (CREATING or VERIFYING, no error) is told from a failing one."""
    poll = POLL_SECONDS * POLL_TRIES
    recreate = _n("recreate")
    return Step(
        title="Wait for the target size, then for the extra instance to be in service",
        command="SIZE=0\nTRIES=0\n"
        f'until test "${{SIZE:-0}}" -ge "$RAISED" || test "$TRIES" -ge {POLL_TRIES}; '
        f"do sleep {POLL_SECONDS}; "
        f"TRIES=$((TRIES + 1)); SIZE=$({DESCRIBE} --format='value(targetSize)'); done\n"
        'if test "${SIZE:-0}" -ge "$RAISED"; then\n'
        f'  gcloud compute instance-groups managed wait-until "$GROUP" --stable --timeout={timeout} {WHERE} '
        f'|| echo "NOT STABLE after {timeout} s: read the rows below"\n'
        "else\n"
        f'  echo "STOP: the target size is ${{SIZE:-unknown}}, not $RAISED, after {poll} s; the autoscaler '
        'says:"\n'
        f"  {DESCRIBE} --format='value(autoscaler.status,autoscaler.statusDetails)'\n"
        "fi\n"
        f"{LIST_INSTANCES}",
        expected="“Group is stable”; $RAISED rows (more if the autoscaler grew the group), every row but the "
        "suspect's STATUS RUNNING, HEALTH_STATE HEALTHY, ACTION NONE and no LAST_ERROR; the suspect may be "
        f"UNHEALTHY, or already {' or '.join(RECREATE_ACTIONS)} (autohealing is replacing it: step "
        f"{recreate} then skips the recreate). Note the new instance's NAME and ZONE (the row not in step "
        f"{_n('find')}'s list): it may be in another zone than the suspect's (see Capacity)",
        stop_if=f"it prints STOP (the autoscaler's status and messages follow it): rerun this step once; a "
        "second STOP and no new row (the target size never rose: no new instance, the group is "
        f"unchanged): do not run step {recreate}; Rollback 1 (it puts the minimum back), then Escalation. "
        f"It prints NOT STABLE (wait-until exits non-zero when it gives up after {timeout} s), or any row "
        "other than the suspect's is not RUNNING, HEALTHY and ACTION NONE: do not run step "
        f"{recreate}. The new row still CREATING or VERIFYING (HEALTH_STATE empty, UNKNOWN or TIMEOUT) with "
        "no LAST_ERROR: it is slow, not failed (VERIFYING lasts until the autohealing health check reports "
        "it HEALTHY): rerun this step once; still so, or UNHEALTHY, or a LAST_ERROR: the template does not "
        f"boot (recreating would replace a serving instance with one that fails): Rollback 2 (it removes "
        "that instance), then Escalation. A row that is neither the new one nor the suspect's misbehaves: "
        f"keep the minimum raised; several in one ZONE: {evacuate}; otherwise Escalation",
    )


def _replace_recreate(facts: StackFacts) -> Step:
    """Recreate the suspect once, and only while the raised minimum holds (a deployment may have put it
    back) and its name is exactly one instance of the group. The name typed tonight is compared with the
    one in the state file (a file left by another run names another instance), and "already recreated"
    needs the live id to differ from the saved one (it is empty while the group recreates the instance) or
    an action other than NONE (the shell may have been lost between saving the id and the recreate call);
    id and action are compared as one string, digits then capitals, so neither can stand for the other.
    Any action but NONE or a recreate's (ManagedInstance.currentAction: a restart, refresh, deletion...)
    stops whatever ID was typed. An instance the group is already recreating, or has recreated since step
    3 (autohealing: a new id, created at or after STARTED; gcloud's date() projection gives both as UTC
    YYYYmmddHHMM digits, so no GNU `date -d`), is not recreated again: its name and step 3's id are saved,
    as if this step had recreated it. A name the group no longer has (a scale-in removed it) leaves nothing
    to recreate."""
    settle, stable, restore = _n("settle"), _n("stable"), _n("restore")
    recreating = " || ".join(f'test "$ACTION" = {action}' for action in RECREATE_ACTIONS)
    return Step(
        title="Recreate the suspect instance",
        command="# put the suspect instance's NAME and ID from step 3 between the quotes\n"
        "SUSPECT='<NAME from step 3>'\n"
        "SUSPECT_ID='<ID from step 3>'\n"
        f'FOUND=$(gcloud compute instance-groups managed list-instances "$GROUP" {WHERE} '
        "--filter=\"name=$SUSPECT\" --format='value(id,instance.scope().segment(0),currentAction)')\n"
        "LIVE_ID=$(printf '%s\\n' \"$FOUND\" | grep -o '^[0-9]*')\n"
        "ACTION=$(printf '%s\\n' \"$FOUND\" | grep -o '[A-Z_]*$')\n"
        "ZONE=$(printf '%s\\n' \"$FOUND\" | grep -o '[a-z][a-z0-9-]*-[a-z]')\n"
        "CREATED=\n"
        'test -z "$LIVE_ID" || test "$(printf \'%s\\n\' "$FOUND" | grep -c .)" != 1 || '
        'CREATED=$(gcloud compute instances describe "$SUSPECT" --zone="$ZONE" --project="$PROJECT" '
        "--format='value(creationTimestamp.date(\"%Y%m%d%H%M\", tz=UTC))')\n"
        f"LIVE_MIN=$({DESCRIBE} --format='{MIN_FORMAT}')\n"
        'if test -n "$OLD_ID" && test "$VM" = "$SUSPECT" && test "$LIVE_ID$ACTION" != "${OLD_ID}NONE"; '
        "then\n"
        '  echo "already recreated or under way: $VM had id $OLD_ID, now ${LIVE_ID:-none yet} '
        f'($ACTION): go on with step {stable}"\n'
        'elif test -n "$VM" && test "$VM" != "$SUSPECT"; then\n'
        '  echo "STOP: $STATE is for $VM, not $SUSPECT"\n'
        "elif ! printf '%s\\n' \"$SUSPECT_ID\" | grep -qx '[0-9][0-9]*'; then\n"
        '  echo "STOP: SUSPECT_ID is $SUSPECT_ID, not an ID from step 3"\n'
        'elif test -z "$RAISED" || test "${LIVE_MIN:-0}" -lt "$RAISED"; then\n'
        '  echo "STOP: the minimum is ${LIVE_MIN:-unknown}, not $RAISED: something put it back"\n'
        'elif test -z "$FOUND"; then\n'
        '  echo "STOP: the group has no instance $SUSPECT"\n'
        'elif test "$(printf \'%s\\n\' "$FOUND" | grep -c .)" != 1; then\n'
        '  echo "STOP: $SUSPECT is not one instance of the group (found: $FOUND)"\n'
        "elif ! printf '%s\\n' \"$ACTION\" | "
        f"grep -qxE '{'|'.join(('NONE', *RECREATE_ACTIONS))}'; then\n"
        f'  echo "STOP: the group is acting on it ($ACTION): $SUSPECT is not recreated; rerun step {settle}, '
        'then this step"\n'
        'elif test "$LIVE_ID" != "$SUSPECT_ID" && test "$ACTION" = NONE && '
        "! printf '%s\\n' \"$CREATED\" | grep -qx '[0-9]\\{12\\}'; then\n"
        '  echo "STOP: $SUSPECT has id $LIVE_ID, not $SUSPECT_ID, and its creation time could not be read '
        '(${CREATED:-empty}): nothing recreated"\n'
        'elif test "$LIVE_ID" != "$SUSPECT_ID" && test "$ACTION" = NONE && '
        '! test "$CREATED" -ge "${STARTED//[!0-9]/}"; then\n'
        '  echo "STOP: $SUSPECT has id $LIVE_ID, not $SUSPECT_ID, and was created $CREATED (UTC), before '
        'step 2 ($STARTED): the ID is mistyped; nothing recreated"\n'
        f'elif {recreating} || test "$LIVE_ID" != "$SUSPECT_ID"; then\n'
        "  VM=$SUSPECT\n"
        "  OLD_ID=$SUSPECT_ID\n"
        f"  {_save_state()}\n"
        '  echo "the group is recreating $VM or has recreated it (id $OLD_ID in step 3, now '
        f"${{LIVE_ID:-none yet}}, $ACTION, created ${{CREATED:-not yet}}): nothing to do here, go on with "
        f'step {stable}"\n'
        "else\n"
        "  VM=$SUSPECT\n"
        "  OLD_ID=${OLD_ID:-$LIVE_ID}\n"
        f"  {_save_state()}\n"
        '  echo "recreating $VM (id, zone, action: $FOUND)"\n'
        f'  gcloud compute instance-groups managed recreate-instances "$GROUP" --instances="$VM" {WHERE}\n'
        "fi\n"
        f"{POST_STATE}",
        expected="“recreating” with the suspect's id, zone and ACTION NONE, then one row, status SUCCESS; "
        "“the group is recreating” when autohealing got there first (the suspect "
        f"{', '.join(RECREATE_ACTIONS)} or with another ID than step 3's): go on with step {stable}; "
        "“already recreated or under way” on a rerun after the recreate ran (the id may be empty while "
        f"the group recreates it); {POSTED}",
        stop_if="it prints STOP: “is for” another instance: the state file is left by another run, see step "
        f"2's Stop if; “not an ID”: put the suspect's ID from step {_n('find')} between the quotes; “the ID "
        f"is mistyped” (the instance is older than this run, so its id cannot have changed since step "
        f"{_n('find')}): copy the ID from step {_n('find')}'s row for NAME again and rerun this step; “could "
        "not be read”: rerun this step once, then Escalation; “the minimum is”: a deployment or someone "
        "put the minimum back (pause deployments, "
        f"Preconditions), rerun step {_n('raise')}, then step {_n('extra')}, then this step; “has no "
        f"instance”: check the NAME against step {_n('find')}'s NAME column; spelt right, and absent from "
        f"a fresh list too (step {_n('find')}'s command): the group removed it (a scale-in), nothing is "
        f"left to recreate: go to step {restore}; “not one instance”: check the NAME against step "
        f"{_n('find')}'s NAME column; “acting on it” (a restart, a refresh, a deletion: whatever the ID "
        f"typed): rerun step {settle}, then this step. The row's status is FAIL or MEMBER_NOT_FOUND: "
        f"nothing was scheduled; check the NAME against step {_n('find')} and rerun this step once (it "
        "resumes); still failing: Escalation. Other instances in the suspect's ZONE misbehave too: "
        f"runbooks/gcp/{facts.environment}/evacuate-zone.md",
    )


def _replace_stable(timeout: int, evacuate: str) -> Step:
    """The recreate done, and the raised minimum still in place: a deployment meanwhile could have put the
    stack's back, and the autoscaler would then remove an instance."""
    return Step(
        title="Wait for the group to be stable again",
        command='gcloud compute instance-groups managed wait-until "$GROUP" --stable '
        f"--timeout={timeout} {WHERE}\n"
        f"{LIST_INSTANCES}\n"
        f'echo "suspect $VM, id before step {_n("recreate")}: $OLD_ID"\n'
        f"LIVE_MIN=$({DESCRIBE} --format='{MIN_FORMAT}')\n"
        f'echo "minimum now: ${{LIVE_MIN:-unknown}}, raised in step {_n("raise")}: $RAISED"\n'
        'test -n "$RAISED" && test "${LIVE_MIN:-0}" -ge "${RAISED:-1}" || echo "STOP: the minimum is no '
        'longer raised (or RAISED is empty: rerun the Names block and step 2)"',
        expected="“Group is stable”; $RAISED rows, each RUNNING, HEALTHY, ACTION NONE, no "
        "LAST_ERROR; the row named $VM with an ID other than $OLD_ID; “minimum now” $RAISED",
        stop_if=f"it times out after {timeout} s, or a row is UNHEALTHY or shows a "
        "LAST_ERROR: do NOT put the minimum back (the raised minimum is what keeps the healthy "
        "instances: putting it back lets the autoscaler remove one of them); read LAST_ERROR; if "
        f"every failing instance is in one ZONE, use {evacuate}; otherwise Escalation. Run Rollback "
        "only once the group is stable and every instance HEALTHY. The row $VM still shows ID "
        "$OLD_ID with ACTION NONE: the recreate never ran (a shell lost before it); run step "
        f"{_n('recreate')} again. It prints STOP (the minimum is no longer raised): a deployment or someone "
        f"put it back; pause deployments (Preconditions), rerun step {_n('raise')} and step {_n('extra')}, "
        "then this step",
    )


def _evidence(facts: StackFacts) -> str:
    """What recreating destroys, for a suspect instance: the template's boot disk is deleted with the VM
    (`autoDelete`), and the new VM boots from the same template, service account included."""
    (template,) = (r for r in facts.resources if r.type == TEMPLATE)
    disks = template.properties.get("disks", [])
    if not any(disk.get("boot") and disk.get("autoDelete") for disk in disks):
        return ""
    return (
        " Recreating it deletes its boot disk (the template's autoDelete), the evidence, and the new "
        "instance boots from the same template with the same service account: for a leaked credential, "
        f"page security before step {_n('recreate')}; if they want the disk kept, step {_n('keep')} "
        "snapshots it; and have the credential rotated."
    )


def _remove_failed_extra() -> Step:
    """The extra-instance wait stopped: the extra instance does not boot, and nothing was recreated. Put the
    minimum back and delete that instance by name: left to the autoscaler's scale-in, the group picks which
    VM goes "arbitrarily", weighing status and health among other things
    (cloud.google.com/compute/docs/reference/rest/v1/instanceGroupManagers/resize), and could take a
    healthy one. delete-instances lowers the target size by the instances it deletes
    (cloud.google.com/sdk/gcloud/reference/compute/instance-groups/managed/delete-instances)."""
    extra, recreate = _n("extra"), _n("recreate")
    return Step(
        title=f"If you stopped at step {extra} (step {recreate} not run: the extra instance does not boot): "
        "put the minimum back and delete that instance yourself",
        command=f"# put the failing new instance's NAME from step {extra} (the row not in step "
        f"{_n('find')}'s list) between the quotes\n"
        f"FAILED='<new NAME from step {extra}>'\n"
        'if test -n "$OLD_ID"; then\n'
        f'  echo "STOP: step {recreate} recreated $VM: this is not the step-{extra} rollback; '
        'use Rollback 1"\n'
        f'elif gcloud compute instance-groups managed update-autoscaling "$GROUP" {WHERE} '
        '--min-num-replicas="$MIN"; then\n'
        f'  gcloud compute instance-groups managed delete-instances "$GROUP" --instances="$FAILED" {WHERE}\n'
        f"  {CLOSE_STATE}\n"
        '  test ! -e "$STATE" || mv "$STATE" "$STATE.done"\n'
        f"  {POST_DONE}\n"
        "else\n"
        '  echo "STOP: the minimum was not put back, so nothing was deleted"\n'
        "fi\n"
        f"{_show_minimum()}\n"
        f"{LIST_INSTANCES}",
        expected=f"{CLOSED}; “minimum now: $MIN”; the delete's row for the failing instance, status "
        f"SUCCESS; the list shows it DELETING, then gone, and $N rows as in step {_n('find')}. Run a "
        "second time, the delete fails for that instance (already DELETING or gone): that is success, "
        "as long as the list shows its NAME DELETING or not at all",
        stop_if="it prints STOP, or the delete fails and the list still shows the failing NAME with an "
        "ACTION other than DELETING: Escalation",
    )


def replace_one(facts: StackFacts) -> Runbook:
    hc = facts.health_check
    wave, wave_total = _wave_seconds(facts)
    raised = facts.min_size + 1
    detect = hc.detection_seconds
    recreate_total = wave_total + DELETION_LAG_SECONDS
    extra_timeout, recreate_timeout = _with_margin(wave_total), _with_margin(recreate_total)
    evacuate = f"runbooks/gcp/{facts.environment}/evacuate-zone.md"
    scale_in = max(STABILIZATION_SECONDS, facts.warmup_seconds)
    # Verification 1 runs while the autoscaler may be removing the extra instance.
    listed, *checks = _verification(facts)
    leaving = scale_in + facts.draining_seconds + DELETION_LAG_SECONDS
    # A run closed this recently is still in its Verification (the extra instance leaving, then the alerts
    # closing): step 2 does not start a new one from a shell lost there.
    recent_seconds = leaving + ALERTS_CLEAR_SECONDS
    verification = (
        replace(
            listed,
            expected=f"{listed.expected}; within {leaving} s of step {_n('restore')} (the autoscaler's "
            "stabilization period, draining and deletion) one row may show ACTION DELETING: the extra "
            "instance leaving",
        ),
        *checks,
    )
    steps = {
        "settle": _replace_settle(facts, recreate_timeout),
        "read": _replace_read(facts, recent_seconds),
        "find": _replace_find(facts, evacuate),
        "keep": _replace_keep(),
        "raise": _replace_raise(facts),
        "extra": _replace_wait_extra(extra_timeout, evacuate),
        "recreate": _replace_recreate(facts),
        "stable": _replace_stable(recreate_timeout, evacuate),
        "restore": Step(
            title="Put back the minimum read in step 2, and move the state file aside",
            command=_put_back_minimum(),
            expected=f"{CLOSED}; “minimum now: $MIN”; the autoscaler removes the extra instance when load "
            f"allows (after its stabilization period, {scale_in} s); resume the stack's deployments",
        ),
    }
    raise_, extra, restore = _n("raise"), _n("extra"), _n("restore")
    return _runbook(
        facts,
        "replace-one-instance",
        verification=verification,
        purpose="Replace one instance with a fresh one from the group's current template, keeping full "
        "capacity.",
        when=(
            "An instance misbehaves but still passes its health check (autohealing replaces one that fails "
            "it "
            f"after {hc.unhealthy_threshold} failed checks {hc.interval_seconds} s apart, on its own).",
            "An instance is suspect (a leaked credential on it, odd traffic)." + _evidence(facts),
            "Google schedules the instance's host for retirement.",
        ),
        blast_radius="One instance. Its in-flight requests finish during connection draining "
        f"({facts.draining_seconds} s); sessions live in the cache, so no user loses one.",
        capacity=_capacity(
            facts,
            facts.min_size,
            f"Step {raise_} raises the autoscaler's minimum to the group's target size plus one "
            f"(at the minimum: {raised}), so a new instance is serving before the suspect one is recreated; "
            f"step {restore} puts back the minimum read in step 2. If the recreated instance fails, the "
            f"minimum stays raised (step {_n('stable')}): putting it back would let the autoscaler remove a "
            "healthy instance.",
            f"The count holds, not the spread: the group places the extra instance in any zone (step {extra} "
            "shows which), so while the suspect is recreated (up to "
            f"{recreate_total} s) its zone may have no serving instance; the load balancer sends its "
            "traffic to the other zones.",
        ),
        durations=(
            Duration(name="extra instance in service", formula=wave, seconds=wave_total),
            Duration(
                name="the suspect instance recreated",
                formula=f"{wave.rsplit(' = ', 1)[0]} + deletion after draining up to "
                f"{DELETION_LAG_SECONDS} s = {recreate_total} s",
                seconds=recreate_total,
            ),
            Duration(
                name="autohealing instead (instance failing its check)",
                formula=f"unhealthy threshold {hc.unhealthy_threshold} x interval {hc.interval_seconds} s "
                f"= {detect} s to notice + {recreate_total} s to replace = {detect + recreate_total} s",
                seconds=detect + recreate_total,
            ),
        ),
        preconditions=(
            SETUP,
            "The stack's backend URL and passphrase are your team's (this repository records neither): "
            "have them before you are on call. If the backend is unreachable, set the names by hand instead "
            f"of the Names block: PROJECT is `gcp:project` in pulumi/gcp/Pulumi.{facts.environment}.yaml, "
            f"`REGION={facts.region}`; step 1 then finds GROUP with gcloud; API_URL (verification only) is "
            "the `apiUrl` the last deployment printed.",
            f"No deployment of this stack runs until step {restore}: pause the pipeline that runs "
            f"`pulumi up` for {facts.environment} (a release mid-procedure replaces instances, and a "
            f"refreshing update puts the minimum back to {facts.min_size}); resume it after step {restore} "
            f"(step {_n('stable')} checks the minimum is still raised).",
            f"The group is stable: no update or repair in progress (step {_n('settle')} waits for one to "
            "finish).",
            f"The group's target size is below the autoscaler's max ({facts.max_size}), so one more instance "
            f"fits (steps 2 and {raise_} check it).",
            "A lost shell: rerun the Names block, then step 2: it reloads what it saved in "
            f"~/{REPLACE_STATE_FILE.format(project='<project>', group='<group>')} (steps {raise_} and "
            f"{_n('recreate')} add to it; step {restore} moves it aside); then go on from the step you were "
            "at.",
            "Taking over from a colleague (another machine): run the Names block, write the lines they "
            f"posted last (steps 2, {raise_} and {_n('recreate')} print them) into that file, the same path "
            "on your machine, then run step 2: it resumes from them. If they posted a DONE= line (step "
            f"{restore} or a Rollback closed the run), write their lines into that path with `.done` added "
            "instead: step 2 then refuses to start the closed run again.",
        ),
        lookups=_lookups(facts),
        steps=tuple(steps[name] for name in REPLACE_STEPS),
        rollback=(
            Step(
                title="Put back the minimum read in step 2 (if you stopped part-way), only once the group is "
                f"stable and every instance HEALTHY (step {_n('stable')}'s list): never while an instance "
                f"fails (Rollback 2 is for step {extra}'s failing extra instance)",
                command=_put_back_minimum(),
                expected=f"{CLOSED}; “minimum now: $MIN” (after a lost shell, rerun the Names block and "
                f"step 2 first: it reloads MIN from the state file; the stack sets {facts.min_size}); resume "
                "the stack's deployments",
            ),
            _remove_failed_extra(),
        ),
    )


def replace_every(facts: StackFacts) -> Runbook:
    update = facts.details["update"]
    wave, wave_total = _wave_seconds(facts)
    waves = math.ceil(facts.max_size / facts.surge)
    timeout = (waves + 1) * wave_total
    return _runbook(
        facts,
        "replace-every-instance",
        purpose="Replace every instance with a fresh one from the current template, new capacity first.",
        when=(
            "A credential that instances held may have leaked.",
            "A new image was published and the template already names it (the template's image is pinned, so "
            "a new image is a `pulumi up` and rolls on its own: see roll-back-release for that path).",
            "Instances drifted (a manual change on one) and must be made identical again.",
        ),
        blast_radius=f"The whole fleet, {facts.surge} instance(s) at a time; each old instance drains "
        f"{facts.draining_seconds} s before it stops.",
        capacity=_capacity(
            facts,
            facts.minimum_healthy,
            f"The group's update policy: {update['type']}, replacement {update['replacementMethod']}, max "
            "surge "
            f"{update['maxSurgeFixed']}, max unavailable {update['maxUnavailableFixed']}: up to "
            f"{facts.surge} new instances start before any old one stops, and none is taken out early.",
        ),
        durations=(
            Duration(name="one wave", formula=wave, seconds=wave_total),
            Duration(
                name="the whole fleet at its largest",
                formula=f"ceil(max {facts.max_size} / surge {facts.surge}) = {waves} waves x {wave_total} s",
                seconds=waves * wave_total,
            ),
        ),
        preconditions=(
            SETUP,
            "No other update is in progress on the group (step 1 checks it).",
            f"Quota for {facts.surge} extra instance(s) of the template's machine type in {facts.region}.",
        ),
        lookups=_lookups(facts),
        steps=(
            _check_stable(),
            Step(
                title="Start the replacement with the group's own surge",
                command=f'gcloud compute instance-groups managed rolling-action replace "$GROUP" {WHERE} '
                f"--max-surge={update['maxSurgeFixed']} --max-unavailable={update['maxUnavailableFixed']} "
                f"--replacement-method={update['replacementMethod'].lower()}",
                expected="the group's description, updatePolicy as given",
                stop_if="an error: nothing changed; read it and escalate",
            ),
            Step(
                title="Watch the instances",
                command=f'gcloud compute instance-groups managed list-instances "$GROUP" {WHERE}',
                expected=f"new instances CREATING then HEALTHY; never fewer than {facts.minimum_healthy} "
                "HEALTHY",
                stop_if=f"fewer than {facts.minimum_healthy} HEALTHY, or a new instance not HEALTHY within "
                f"{facts.boot_budget_seconds} s: pause (Rollback, step 1)",
            ),
            Step(
                title="Wait until every instance is replaced",
                command='gcloud compute instance-groups managed wait-until "$GROUP" --stable '
                f"--timeout={timeout} {WHERE}",
                expected="“Group is stable”",
                stop_if=f"it times out after {timeout} s (one wave more than the largest fleet needs): "
                "escalate",
            ),
        ),
        rollback=(
            Step(
                title="Pause: stop replacing further instances",
                command="gcloud compute instance-groups managed rolling-action stop-proactive-update "
                f'"$GROUP" {WHERE}',
                expected="update type OPPORTUNISTIC: replaced instances stay, the rest are left alone",
            ),
            Step(
                title="Resume later (same template, nothing to roll back)",
                command=f'gcloud compute instance-groups managed rolling-action replace "$GROUP" {WHERE} '
                f"--max-surge={update['maxSurgeFixed']} --max-unavailable={update['maxUnavailableFixed']}",
                expected="the replacement continues; a bad template is roll-back-release instead",
            ),
        ),
    )


def evacuate_zone(facts: StackFacts) -> Runbook:
    zones = len(facts.zones)
    lost = facts.lost_per_zone
    raised = min(facts.min_size + lost, facts.max_size)
    wave, wave_total = _wave_seconds(facts)
    hc = facts.health_check
    detect = hc.detection_seconds
    return _runbook(
        facts,
        "evacuate-zone",
        purpose="Keep full capacity in the healthy zones while one zone is impaired, then return.",
        when=("Google reports a zonal incident, or instances in one zone fail together.",),
        blast_radius=f"The instances in one zone: at most {lost} at the minimum. The load balancer stops "
        f"sending them requests after {detect} s (unhealthy threshold {hc.unhealthy_threshold} x interval "
        f"{hc.interval_seconds} s).",
        capacity=_capacity(
            facts,
            facts.min_size - lost if zones > 1 else 0,
            f"A regional group adds no instances in the other zones on its own when one zone fails "
            f"(“About regional MIGs”, cloud.google.com/compute/docs/instance-groups/regional-migs); the "
            "autoscaler does. Step 3 raises its minimum to the group's target size plus one zone's share "
            f"of it (at the minimum: from {facts.min_size} to {raised}, at most the max {facts.max_size}), "
            "so "
            f"the {zones - 1} healthy zone(s) carry at least what the group served; the last step puts back "
            "the minimum read in step 2.",
            f"The zone list ({', '.join(facts.zones)}) is the stack's; this runbook does not change it.",
        ),
        durations=(
            Duration(
                name="impaired instances out of rotation",
                formula=f"unhealthy threshold {hc.unhealthy_threshold} x interval {hc.interval_seconds} s "
                f"= {detect} s",
                seconds=detect,
            ),
            Duration(name="replacement capacity in service", formula=wave, seconds=wave_total),
        ),
        preconditions=(SETUP, f"The autoscaler's max ({facts.max_size}) is at least {raised}."),
        lookups=_lookups(facts),
        steps=(
            Step(
                title="See which zone's instances fail",
                command=f'gcloud compute instance-groups managed list-instances "$GROUP" {WHERE}',
                expected="the impaired zone's rows UNHEALTHY or missing, the others HEALTHY",
                stop_if="instances fail in every zone: this is not a zone problem (check the release and "
                "the cache)",
            ),
            _read_size_and_minimum(
                expected=f"a target size of {facts.min_size} or more and the minimum ({facts.min_size} as "
                f"the stack sets it); RAISED = target size + one zone's share, at most {facts.max_size}",
                stop_if="an error about an empty N or MIN: Escalation",
                raise_by=f"$((N + (N + {zones - 1}) / {zones}))\n"
                f'test "$RAISED" -le {facts.max_size} || RAISED={facts.max_size}  # at most the max',
            ),
            Step(
                title="Raise the minimum to $RAISED",
                command=_raise_minimum(facts),
                expected="minNumReplicas $RAISED",
                stop_if="it prints STOP (nothing changed: N, MIN or RAISED empty or out of range) or the "
                "command fails: Escalation",
            ),
            _wait_for_raised(
                wave_total,
                expected="the loop returns once the target size is $RAISED; “Group is stable”, or a timeout "
                "while creations in the impaired zone keep failing",
                stop_if=f"fewer than $N HEALTHY instances outside the impaired zone after {wave_total} s: "
                "Escalation",
            ),
            _restore_minimum(
                "When Google reports the zone healthy: put back the minimum read in step 2",
                expected="minNumReplicas $MIN; proactive redistribution evens the zones again",
            ),
        ),
        rollback=(
            _restore_minimum(
                "Undo the raised minimum",
                expected=f"minNumReplicas $MIN (if this shell is gone, the value step 2 printed; the stack "
                f"sets {facts.min_size})",
            ),
        ),
    )


def cache_failure(facts: StackFacts) -> Runbook:
    ttl = facts.details["session_ttl"]
    extra_lookups = _cache_lookups(facts)
    describe = (
        f'gcloud redis instances describe "$CACHE" {WHERE} --format="value(state,currentLocationId,tier)"'
    )
    if facts.cache_failover:
        steps = (
            Step(
                title="Check the cache's state and where its primary is",
                command=describe,
                expected=f"READY, primary in {facts.details['cache_location']} or "
                f"{facts.details['cache_alternative']}, STANDARD_HA",
                stop_if="the state is not READY and not FAILING_OVER: Google is repairing it; wait and "
                "escalate",
            ),
            Step(
                title="Fail over to the replica (only if automatic failover has not already happened)",
                command=f'gcloud redis instances failover "$CACHE" {WHERE} '
                "--data-protection-mode=limited-data-loss",
                expected="the operation completes; the primary moves to the other zone",
                stop_if="it aborts because the replica lags (30 MB or more behind): wait, or decide on "
                "--data-protection-mode=force-data-loss with the owner",
            ),
            Step(
                title="Confirm the new primary", command=describe, expected="READY, primary in the other zone"
            ),
        )
        blast = (
            "Sessions written in the last moments before the failover may be lost (replication is "
            "asynchronous); "
            "the cache's address does not change, so instances reconnect on their own."
        )
        floor = facts.min_size
    else:
        steps = (
            Step(
                title="Check the cache's state",
                command=describe,
                expected="BASIC: no replica to fail over to; Google restarts or repairs the node",
                stop_if="not READY within 10 minutes: escalate",
            ),
        )
        blast = (
            f"BASIC tier: a failed node loses every session (each lives {ttl} s after its last write); "
            "users sign "
            "in again. Requests that need no session keep working: the health check is shallow."
        )
        floor = facts.min_size
    return _runbook(
        facts,
        "cache-primary-failure",
        purpose="Restore the session cache when its primary fails, knowing what sessions are lost.",
        when=("The cache alert fires, or requests fail with cache timeouts.",),
        blast_radius=blast,
        capacity=_capacity(
            facts,
            floor,
            "No instance is replaced: the load balancer's health check does not depend on the cache.",
            f"Cache replicas: {facts.cache_replicas}; automatic failover: "
            f"{'yes' if facts.cache_failover else 'no'}.",
        ),
        durations=(
            Duration(
                name="sessions lost at most (BASIC) or re-created by users",
                formula=f"session TTL (SESSION_TTL_SECONDS) = {ttl} s",
                seconds=ttl,
            ),
        ),
        preconditions=("`gcloud` is authenticated and the repository is checked out (for the lookups).",),
        lookups=_lookups(facts, *extra_lookups),
        steps=steps,
        rollback=(
            Step(
                title="Nothing to undo",
                expected="a failover is not reversed; fail over again only if the new primary's zone is "
                "impaired",
            ),
        ),
    )


# `gcloud firestore databases update` flags for what a clone does not take from its source (the REST
# reference's projects.databases.clone: type, index configuration and documents only): what each sets, and
# how `describe` shows it.
CLONE_SETTINGS = {
    "--enable-pitr": (
        "point-in-time recovery",
        "`pointInTimeRecoveryEnablement: POINT_IN_TIME_RECOVERY_ENABLED`",
    ),
    "--delete-protection": ("delete protection", "`deleteProtectionState: DELETE_PROTECTION_ENABLED`"),
}
# A changed allow policy "typically 2 minutes, potentially 7 minutes or longer" to propagate ("Access change
# propagation", https://cloud.google.com/iam/docs/access-change-propagation): how long the restore waits
# between granting the clone and serving it.
IAM_PROPAGATION_SECONDS = 7 * 60
SERVED, DRAINING = "itemsDatabase", "itemsDatabaseDraining"


def _restore_state(environment: str) -> str:
    """The restore's state file: the clone and the database the fleet served before (the grant step writes
    it)."""
    return f"$HOME/restore-store-{environment}.env"


def _interrupted(stack: str) -> str:
    """Where an interrupted `pulumi up` (lost session, Ctrl-C) leaves the stack, and how to resume it
    (pulumi.com/docs/iac/troubleshooting/common-issues/interrupted-updates; pulumi.com/docs/iac/cli/commands/
    pulumi_cancel)."""
    return (
        "`pulumi up` interrupted (lost session, Ctrl-C): the next one says the stack is locked by an update "
        f"in progress: when no one else runs one, `pulumi cancel {stack}` first; or it warns of pending "
        f"operations: check those resources in the console, then `pulumi refresh {stack}` (interactively: "
        "it asks what to do with a pending create); then rerun this step's `pulumi up`"
    )


def _commit(environment: str, message: str) -> str:
    """Keep a changed setting with the code: a later `pulumi up` from another checkout must not undo it."""
    return f'git commit -m "{environment}: {message}" pulumi/gcp/Pulumi.{environment}.yaml'


def _fleet_bindings(facts: StackFacts, fields: str) -> str:
    """The fleet's bindings of its item role, one line each with `fields` (flattened to members: a binding
    with several members gives a line per member; the filter keeps the fleet's). Anchored patterns: `=` is a
    word/prefix match (cloud.google.com/sdk/gcloud/reference/topic/filters)."""
    role, member = _fleet_grant(facts)
    return (
        'gcloud projects get-iam-policy "$PROJECT" --flatten="bindings[].members" '
        f"--filter=\"bindings.role~'^{_pattern(role)}\\$' AND bindings.members~'^{_pattern(member)}\\$'\" "
        f'--format="value({fields})"'
    )


def _fleet_grant(facts: StackFacts) -> tuple[str, str]:
    """The fleet's item role (`projects/<project>/roles/<id>`) and member (`serviceAccount:<name>@<project>
    .iam.gserviceaccount.com`), with the project as the Names block's `$PROJECT`."""
    role, member = facts.details["fleet_grant"]
    project = role.split("/")[1]
    return tuple(value.replace(project, "$PROJECT") for value in (role, member))


def _pattern(literal: str) -> str:
    """A literal for a gcloud filter's regular expression (role names and emails have `.` only; `$PROJECT`
    is expanded by the shell: a project ID is lower-case letters, digits and `-`)."""
    return literal.replace(".", "\\.")


def _grant_check(facts: StackFacts, title: str, before: str, expected: str) -> Step:
    """The fleet's bindings of its item role (one per database, titled `only-<database>`: item_store.py), each
    with its member, not every member's."""
    return Step(
        title=title,
        command=before
        + _fleet_bindings(facts, "bindings.members,bindings.condition.title,bindings.condition.expression"),
        expected=expected,
    )


def _delete_clone(variable: str, own: str, protected: bool, scheduled: bool, stack: str) -> tuple[Step, ...]:
    """A clone no instance uses any more: its weekly backups outlive it ("Deleting the source database does
    not automatically delete related backups", cloud.google.com/firestore/docs/backups), so list and delete
    them too, each command its own block (a placeholder pasted with the others would run). The filter is
    anchored: `database=...` also matches a longer name (`x-restored-2` for `x-restored`:
    cloud.google.com/sdk/gcloud/reference/topic/filters), and `backups delete` does not ask (gcloud reference
    firestore/backups/delete), so the list prints each backup's database to check. The database's delete is
    guarded by what the stack serves and drains now, read inside the block: the Names block's $DATABASE may be
    from before a switch or a rollback; and never the stack's own database `own`, which the stack keeps (and
    always grants) while a clone is served."""
    served = f"pulumi stack output firestoreDatabase {stack}"
    draining = f"pulumi config get {DRAINING} {stack}"
    return (
        Step(
            title=f"List the backups of `${variable}` (they outlive the database and are billed until they "
            "expire); keep the database, or a backup, on purpose as evidence if it is needed",
            command=f': "${{{variable}:?}}" && gcloud firestore backups list --location="$REGION" '
            f'--project="$PROJECT" --filter="database~\'/databases/${variable}\\$\'" '
            '--format="value(name.basename(),database)"',
            expected="one line per backup of that database"
            + (" (its weekly schedule's, while it was served)" if scheduled else "")
            + f", its ID then its database, which ends in `/databases/${variable}`; or nothing (go to the "
            "database's delete)",
            stop_if=f"a listed database does not end in `/databases/${variable}`: do not delete that backup",
        ),
        Step(
            title="Delete one listed backup: set BACKUP to its ID; repeat this block for each",
            command="BACKUP=0a1b2c3d-0000-0000-0000-000000000000  # replace with an ID listed above\n"
            'gcloud firestore backups delete --backup="$BACKUP" --location="$REGION" --project="$PROJECT"',
            expected="the backup deleted at once, without a prompt (gcloud reference firestore/backups/"
            "delete): check the ID before pressing Enter",
            stop_if="NOT_FOUND: the ID is not one listed (or already deleted); list again",
        ),
        Step(
            title=f"Delete the database `${variable}`, never the stack's own `{own}` nor one the stack "
            "serves or drains now (read here: the Names block's $DATABASE may predate a switch or a "
            "rollback)",
            command=f"SERVED=$({served})\n"
            f'test -n "$SERVED" && test "${variable}" != "{own}" && test "${variable}" != "$SERVED" \\\n'
            f'  && test "${variable}" != "$({draining})" \\\n'
            + (
                f'  && gcloud firestore databases update --database="${variable}" --no-delete-protection '
                '--project="$PROJECT" \\\n'
                if protected
                else ""
            )
            + f'  && gcloud firestore databases delete --database="${variable}" --project="$PROJECT" \\\n'
            + f"  || echo \"STOP: ${variable} is the stack's own, served (firestoreDatabase: "
            '${SERVED:-unread}) or draining, or a command failed"',
            expected=f"`error: configuration key ... not found` ({DRAINING} not set); "
            + ("the delete protection turned off; " if protected else "")
            + "then `The database 'projects/.../databases/...' will be deleted.` and `Do you want to "
            "continue (Y/n)?` (gcloud's prompt, SDK surface firestore/databases/delete): answer y only if "
            f"the database named is ${variable}; then the database deleted",
            stop_if=f"STOP: ${variable} is the stack's own database `{own}` (the stack keeps it: only a code "
            "change removes it), or the database the stack serves (`firestoreDatabase`) or drains "
            f"(`{DRAINING}`), or the stack output could not be read (`unread`): nothing changed; finish the "
            "switch away from it and stop granting it first, or fix the `pulumi` login. "
            "Answered n: nothing deleted"
            + (
                " (its delete protection is off: turn it on again with `--delete-protection` to keep it)"
                if protected
                else ""
            ),
        ),
    )


def restore_store(facts: StackFacts) -> Runbook:
    database = facts.details["database"]
    protected = facts.details["delete_protection"]
    env = facts.environment
    stack = f"--stack {env} --cwd pulumi/gcp"
    update = facts.details["update"]
    _, wave_total = _wave_seconds(facts)
    waves = math.ceil(facts.max_size / facts.surge)
    timeout = (waves + 1) * wave_total
    scheduled = any(r.type == "gcp:firestore/backupSchedule:BackupSchedule" for r in facts.resources)
    # What a clone does not take from its source and the spec asks for this environment.
    wanted = (("--enable-pitr", facts.store_pitr), ("--delete-protection", protected))
    settings = [flag for flag, on in wanted if on]
    # The TTL policy the stack gives its own database (item_store.py's firestore.Field): a clone lacks it.
    collection, ttl_field = facts.details["ttl_field"]
    up = f"pulumi up {stack} --yes"
    interrupted = _interrupted(stack)
    # Step numbers the text refers to: clone, wait, what the clone lacks, verify, then the grant.
    grant_step = 5
    retire_step = grant_step + 7
    switch_step, drop_step = grant_step + 2, grant_step + 5
    previous_or_own = f"`$PREVIOUS` (empty: the stack's own database `{database}`)"
    role, member = _fleet_grant(facts)
    return _runbook(
        facts,
        "restore-store",
        purpose="Recover the item store as it was at a past minute, into a new database; grant the fleet "
        "that database, then switch the fleet to it with the stack's `itemsDatabase` setting, and retire "
        "the old database.",
        when=(
            "Items were corrupted or deleted by a bad release or an operator.",
            "Not for a Firestore outage: Firestore replicates across the region's zones; wait for it.",
        ),
        blast_radius="None while cloning: the clone is a new database. Items written after the chosen "
        "minute are not in the clone (the data lost is the time between that minute and the switch). "
        "Sessions and files are unaffected. The switch changes the instances' FIRESTORE_DATABASE, so the "
        f"group's proactive update replaces every instance, {facts.surge} at a time, as for any release.",
        capacity=_capacity(
            facts,
            facts.minimum_healthy,
            "No instance is replaced while cloning or granting; the switch is a release: a new instance "
            f"template rolled out by the group's proactive update ({update['minimalAction']}, surge "
            f"{update['maxSurgeFixed']}, unavailable {update['maxUnavailableFixed']}).",
        ),
        durations=(
            Duration(
                name="how far back you can go",
                formula=f"point-in-time recovery window {PITR_DAYS} days x 86400 s = {PITR_DAYS * 86400} s "
                f"({facts.store_backup})"
                if facts.store_pitr
                else f"no point-in-time recovery ({facts.store_backup})",
                seconds=PITR_DAYS * 86400 if facts.store_pitr else 0,
            ),
            Duration(
                name=f"the grant reaching every IAM check (step {grant_step + 1})",
                formula="IAM allow-policy change (typically 2 min, potentially 7 min or longer: "
                "cloud.google.com/iam/docs/access-change-propagation): "
                f"{IAM_PROPAGATION_SECONDS // 60} min x 60 s = {IAM_PROPAGATION_SECONDS} s",
                seconds=IAM_PROPAGATION_SECONDS,
            ),
            Duration(
                name="the switch: the whole fleet at its largest",
                formula=f"ceil(max {facts.max_size} / surge {facts.surge}) = {waves} waves x {wave_total} s",
                seconds=waves * wave_total,
            ),
        ),
        preconditions=(
            "`gcloud` is authenticated, the repository is checked out at the deployed release and `pulumi` "
            "is logged in to the stack's backend (the switch is a deployment); `git` can commit there (each "
            f"setting is committed in pulumi/gcp/Pulumi.{env}.yaml).",
            "`gcloud firestore databases clone --help` prints the command's help (older Google Cloud CLI "
            "releases have `restore` only, from a backup: update the CLI first).",
            "You know the minute to restore to, in UTC, within the recovery window.",
            "Point-in-time recovery is "
            f"{'on' if facts.store_pitr else 'OFF: only the weekly backups can be restored'}.",
            f"No restore is in progress: `{config_lookup(env, DRAINING)}` prints an error (not set), and "
            f"{_restore_state(env)} does not exist (step {grant_step} refuses otherwise).",
        ),
        lookups=_lookups(
            facts,
            Lookup(
                variable="DATABASE",
                command=output_lookup(env, "firestoreDatabase"),
                source="stack output firestoreDatabase (the database the fleet uses)",
            ),
            Lookup(
                variable="STATE",
                command=f'echo "{_restore_state(env)}"',
                source=f"the state file step {grant_step} writes (RESTORED, and PREVIOUS: the database "
                "served before); this block reloads it after a lost shell",
            ),
        ),
        resume=(
            'test -f "$STATE" && . "$STATE" && echo "resumed from $STATE: RESTORED=${RESTORED:-} '
            'PREVIOUS=${PREVIOUS:-}"',
        ),
        steps=(
            Step(
                title="Clone the database at that minute into a new one (the source keeps serving meanwhile)",
                command="SNAPSHOT_TIME=2026-01-31T09:30:00Z  # replace with the minute before the damage "
                "(UTC)\n"
                f"RESTORED={database}-restored\n"
                "gcloud firestore databases clone "
                '--source-database="projects/$PROJECT/databases/$DATABASE" '
                f'--snapshot-time="$SNAPSHOT_TIME" --destination-database="$RESTORED" '
                '--project="$PROJECT"',
                expected="a long-running operation starts; the new database is unreadable until it completes",
                stop_if="the snapshot time is refused (outside the window, or not a whole minute); the name "
                "is taken: choose another RESTORED",
            ),
            Step(
                title="Wait for the clone: the database exists while its clone runs, but is unreadable "
                "until the clone's long-running operation is done (REST projects.databases.clone)",
                command='OP=$(gcloud firestore databases describe --database="$RESTORED" '
                '--project="$PROJECT" --format="value(sourceInfo.operation)") \\\n'
                '  && until test -z "$OP" || test "$(gcloud firestore operations describe "$OP" '
                '--database="$RESTORED" --project="$PROJECT" --format="value(done)")" = True; do \\\n'
                '  echo "cloning: $OP"; sleep 60; done \\\n'
                '  && echo "clone done: $RESTORED"',
                expected=f"`cloning: ...` once a minute, then `clone done: {database}-restored`",
                stop_if="NOT_FOUND (describe fails: no `clone done`): the clone did not start; go back to "
                "step 1. Still cloning after an hour: escalate; the operation's `error`, if it "
                'failed, says why (`gcloud firestore operations describe "$OP" --database="$RESTORED"`)',
            ),
            Step(
                title="Give the clone what a clone does not take from its source (only the type, index "
                'configuration and documents: REST projects.databases.clone; "A backup does not contain '
                'TTL policies": cloud.google.com/firestore/docs/backups) and the stack gives its own: the '
                f"TTL policy on `{collection}.{ttl_field}`"
                + "".join(f" and {CLONE_SETTINGS[flag][0]}" for flag in settings),
                command=f"gcloud firestore fields ttls update {ttl_field} --collection-group={collection} "
                '--enable-ttl --database="$RESTORED" --project="$PROJECT"'
                + (
                    '\ngcloud firestore databases update --database="$RESTORED" '
                    f'{" ".join(settings)} --project="$PROJECT"'
                    if settings
                    else ""
                ),
                expected=f"the field `{ttl_field}` of `{collection}` shown with its `ttlConfig` (state "
                "`CREATING`, then `ACTIVE` once Firestore has applied it; already there: no change)"
                + "".join(f"; the database with {CLONE_SETTINGS[flag][1]}" for flag in settings),
            ),
            Step(
                title="Verify the restored items",
                expected=f"in the console's Firestore viewer, `{database}-restored` holds the items as "
                "they were",
                stop_if="they are not as they were: clone again from another minute (new name) before "
                "switching",
            ),
            Step(
                title="Grant first: record the database the fleet serves now (PREVIOUS; empty: the stack's "
                "own) in the state file, then name the clone as draining, which grants it and nothing else "
                f"(no instance uses it yet). The fleet holds its item role `{role}` (a custom role with "
                "only what the service does to items) in one binding per "
                "database, each conditioned on that database only: `pulumi up` reads the clone (a misspelt "
                "or absent one fails the preview) and creates the clone's binding (`fleet-uses-database-"
                '<clone>`, condition `only-<clone>`: `resource.name == ".../databases/<clone>"`). The '
                f"binding on `{database}` (`fleet-uses-items`) and, with PREVIOUS a clone, PREVIOUS's stay "
                "as they are: a changed condition would replace a binding, and the provider deletes it "
                "before it creates the new one. The store alert watches the clone too; nothing else changes",
                command=f"PREVIOUS=$({config_lookup(env, SERVED)} || true)  # empty: the stack's own\n"
                f"IN_PROGRESS=$({config_lookup(env, DRAINING)} || true)\n"
                'test ! -e "$STATE" && test -n "$RESTORED" && test -z "$IN_PROGRESS" \\\n'
                # A failed `config get` (backend, login, passphrase) reads as "not set": the stack's
                # output says which database the fleet serves; PREVIOUS (or the own) must be that one.
                f'  && test "${{PREVIOUS:-{database}}}" = "$DATABASE" \\\n'
                '  && printf \'RESTORED=%q\\nPREVIOUS=%q\\n\' "$RESTORED" "$PREVIOUS" >"$STATE" \\\n'
                f'  && pulumi config set {DRAINING} "$RESTORED" {stack} \\\n'
                f"  && {_commit(env, 'grant the fleet the restored database $RESTORED')} \\\n"
                f"  && {up} \\\n"
                '  || echo "STOP (STATE=$STATE RESTORED=$RESTORED PREVIOUS=$PREVIOUS '
                'IN_PROGRESS=$IN_PROGRESS DATABASE=$DATABASE)"\n'
                # A refused re-run must not leave the values it just re-read in the shell.
                'test -f "$STATE" && . "$STATE"',
                expected="`error: configuration key ... not found` for each key that is not set (PREVIOUS "
                f"empty when the fleet serves `{database}`); then the update completes: the binding "
                "`fleet-uses-database-$RESTORED` created and the alert policy `store-errors` updated (it "
                "watches the clone too), nothing else (no other binding, no instance template, no group "
                "update); "
                "$STATE holds RESTORED and PREVIOUS (the last line reloads them: on a refused re-run, those "
                "of the run in progress)",
                stop_if="STOP with $STATE existing before this step or IN_PROGRESS set: a restore is in "
                "progress: finish it (its state file names it) or roll it back first; RESTORED empty: run "
                "step 1's `RESTORED=` line again. STOP with PREVIOUS (or, when empty, "
                f"`{database}`) not $DATABASE, nothing written: `pulumi config get` failed for another "
                "reason than a key not set (its error says: backend, login, passphrase), or the served "
                "setting is not deployed; fix that and rerun this step. STOP after the state file was "
                "written and the setting set but the `git commit` failed (it printed why): $STATE exists, "
                "so a rerun of this step refuses; fix git, then run the commit and "
                f"`{up}` by hand. STOP after `pulumi up` failed: the fleet still serves "
                f"{previous_or_own} and keeps its grant on it (no existing binding changes; at most the "
                f"clone's is missing): fix the cause and rerun `{up}`, or give up with Rollback step 4. "
                + interrupted,
            ),
            _grant_check(
                facts,
                f"Wait {IAM_PROPAGATION_SECONDS // 60} minutes for the grant to reach every IAM check (an "
                "allow-policy change typically propagates in 2 minutes, potentially 7 or longer: "
                "cloud.google.com/iam/docs/access-change-propagation), so that no new instance is refused "
                "the clone after the switch; then read the fleet's bindings as IAM has them",
                f"sleep {IAM_PROPAGATION_SECONDS}\n",
                f"after the wait, one line per database granted, each beginning `{member}`: "
                f"`only-{database}` with "
                f'`resource.name == ".../databases/{database}"`, `only-$RESTORED` with '
                '`.../databases/$RESTORED"` (and `only-$PREVIOUS` when PREVIOUS is set)',
            ),
            Step(
                title="Switch the fleet to the clone: serve RESTORED and let PREVIOUS drain (or, when "
                "PREVIOUS is empty, no draining database: the stack's own is always granted). The database "
                "reaches the instances through their template's startup script (FIRESTORE_DATABASE); the "
                f"databases it serves and drains have their bindings since step {grant_step}, so no binding "
                "changes. "
                f"The block first checks step {grant_step}'s grant is deployed (`{DRAINING}` is RESTORED and "
                f"IAM has the fleet's `{GRANT_TITLE_PREFIX}$RESTORED` binding). "
                "`pulumi up` "
                + ("gives the clone the weekly backup schedule, " if scheduled else "")
                + "puts the clone first in the store alert, which keeps watching "
                f"`{database}` (instances not yet replaced still call it) and PREVIOUS while it drains, "
                "and rolls out a new template; it returns once every instance runs it and is healthy "
                "(the group's `wait_for_instances`)",
                # Grant first: the clone's binding deployed (the draining setting, and IAM's policy).
                command=f': "${{RESTORED:?}}" && test "$RESTORED" = "$({config_lookup(env, DRAINING)})" \\\n'
                f"  && {_fleet_bindings(facts, 'bindings.condition.title')} "
                f'| grep -xF "{GRANT_TITLE_PREFIX}$RESTORED" \\\n'
                f'  && pulumi config set {SERVED} "$RESTORED" {stack} \\\n'
                f'  && if test -n "$PREVIOUS"; then pulumi config set {DRAINING} "$PREVIOUS" {stack}; \\\n'
                f"  else pulumi config rm {DRAINING} {stack}; fi \\\n"
                f"  && {_commit(env, 'serve the restored database $RESTORED')} \\\n"
                f"  && {up} \\\n"
                '  || echo "STOP (RESTORED=$RESTORED PREVIOUS=$PREVIOUS)"',
                expected=f"`{GRANT_TITLE_PREFIX}$RESTORED` (the grant found); then the update completes: no "
                "binding changed (`fleet-uses-items`, `fleet-uses-database-$RESTORED`), the alert policy "
                f"`store-errors` updated (the clone first, then PREVIOUS if set and `{database}`), a new "
                "instance template, the group's version updated"
                + (
                    ", the schedule `weekly-restored` created (replaced, with PREVIOUS a clone: that clone's "
                    "schedule goes)"
                    if scheduled
                    else ""
                ),
                stop_if=f"STOP with no `{GRANT_TITLE_PREFIX}$RESTORED` line before it: nothing changed: "
                f"`{DRAINING}` (`{config_lookup(env, DRAINING)}`) is not $RESTORED or IAM has no such "
                f"binding of the fleet: step {grant_step}'s grant is not deployed: do step {grant_step} "
                f"(its `pulumi up`) and step {grant_step + 1} first; or this step already set its settings "
                f"(`{SERVED}` is $RESTORED): rerun only its `pulumi up`. "
                "The preview fails: nothing changed; fix the cause, rerun the `pulumi up`. The "
                "update fails before the group was updated: no instance uses the clone yet; fix the cause "
                "and rerun the `pulumi up`. The update fails after the group was updated (most likely its "
                f"wait timing out after {timeout} s): some instances already use the clone; both databases "
                "stay granted: do Rollback step 2, then escalate (that `pulumi up` first finishes the failed "
                "update's pending deletes). " + interrupted,
            ),
            _rollout_wait(timeout, f"it times out after {timeout} s: Rollback step 2, then escalate"),
            Step(
                title="The fleet now serves the clone",
                command=output_lookup(env, "firestoreDatabase"),
                expected=f"`{database}-restored` ($RESTORED)",
            ),
            Step(
                title="Only when PREVIOUS names a clone (the fleet served one before this restore): stop "
                "granting it, now that no instance uses it. With PREVIOUS empty there is nothing to do: the "
                "stack's own database keeps its grant",
                command='if test -n "$PREVIOUS"; then \\\n'
                f"  pulumi config rm {DRAINING} {stack} \\\n"
                f"  && {_commit(env, 'stop granting the fleet $PREVIOUS')} \\\n"
                f"  && {up}; \\\n"
                'else echo "nothing to do: PREVIOUS is empty"; fi',
                expected="`nothing to do: PREVIOUS is empty`; or the update completes: the binding "
                "`fleet-uses-database-$PREVIOUS` deleted and the alert policy `store-errors` updated (it "
                f"no longer watches PREVIOUS; it watches the clone and `{database}`), nothing else (the "
                "other bindings and the instance template do not change)",
                stop_if=f"the update fails: at most PREVIOUS's binding is gone, the fleet keeps its grants "
                f"on `{database}` and the clone; rerun `{up}`. " + interrupted,
            ),
            _grant_check(
                facts,
                "Read the fleet's bindings as IAM has them",
                "",
                f"two lines, each beginning `{member}`: `only-{database}` naming "
                f'`/databases/{database}"` and `only-$RESTORED` naming `/databases/$RESTORED"`; no other '
                "database",
            ),
            Step(
                title=f"Retire the old database. With PREVIOUS empty it is the stack's own `{database}`: "
                "keep it, untouched, as the evidence of what went wrong. No instance uses it (the grant "
                "still names it, always); it stays the stack's resource"
                + (
                    " (protected in the stack's state, with Firestore's delete protection"
                    + (" and its weekly backups" if scheduled else "")
                    + ")"
                    if protected
                    else " (this environment's spec asks no delete protection)"
                )
                + "; only a code change removes it. Keep `itemsDatabase` set until then. With PREVIOUS a "
                "clone: it is no longer granted; delete it with Rollback steps 5-7 (`RESTORED=$PREVIOUS`) "
                "once no longer needed. Then close the state file",
                command=f'gcloud firestore databases describe --database="{database}" --project="$PROJECT" '
                '--format="value(deleteProtectionState)"\n'
                'mv "$STATE" "$STATE.done"',
                expected=("`DELETE_PROTECTION_ENABLED`" if protected else "`DELETE_PROTECTION_DISABLED`")
                + "; $STATE renamed $STATE.done (the restore is over)",
            ),
        ),
        rollback=(
            Step(
                title=f"Only after the restore was closed (step {retire_step} renamed $STATE to $STATE.done, "
                "the latest closed run) and the shell lost: reopen it, on its own, to check what it names "
                "before anything changes",
                command='test ! -e "$STATE" && test -f "$STATE.done" \\\n'
                '  && mv "$STATE.done" "$STATE" && . "$STATE" \\\n'
                '  && echo "reopened $STATE: RESTORED=$RESTORED PREVIOUS=$PREVIOUS"',
                expected="`reopened ...`: check it names this restore's RESTORED (the clone to roll back "
                "from) and PREVIOUS; nothing printed when $STATE is open (nothing to reopen)",
                stop_if="it names another restore (an earlier one, or one already rolled back): put it back "
                '(`mv "$STATE" "$STATE.done"`) and escalate: the state of this restore is lost',
            ),
            Step(
                title="Put the fleet back on the database it served before, "
                f"{previous_or_own}, and let the clone drain: both stay granted, and no binding "
                "changes, so that a failed or interrupted update never drops the clone while instances "
                f"still use it. Only until step {drop_step} has run with PREVIOUS a clone (that clone "
                "is no longer granted then: serving it again is a new restore: close the state file "
                f'(`mv "$STATE" "$STATE.done"`, as step {retire_step} does) first, then step '
                f"{grant_step} with RESTORED=$PREVIOUS); the block checks it: with PREVIOUS set, "
                f"`{DRAINING}` must still be PREVIOUS",
                # The served setting must be this run's RESTORED (the switch set it): a state file of
                # another run, or a switch that never ran, changes nothing.
                # And PREVIOUS, a clone, still granted (draining): the drop step deletes its binding, and
                # serving it again in the same update as a new binding would race IAM's propagation.
                command=f': "${{RESTORED:?}}" && test "$RESTORED" = "$({config_lookup(env, SERVED)})" \\\n'
                '  && if test -n "$PREVIOUS"; then \\\n'
                f'  test "$PREVIOUS" = "$({config_lookup(env, DRAINING)})" \\\n'
                f'  && pulumi config set {SERVED} "$PREVIOUS" {stack}; '
                f"else pulumi config rm {SERVED} {stack}; fi \\\n"
                f'  && pulumi config set {DRAINING} "$RESTORED" {stack} \\\n'
                f"  && {_commit(env, 'serve the database served before the restore again')} \\\n"
                f"  && {up} \\\n"
                '  || echo "STOP (RESTORED=$RESTORED PREVIOUS=$PREVIOUS)"',
                expected="the update completes; `firestoreDatabase` is $PREVIOUS, or "
                f"`{database}` when PREVIOUS is empty; no binding changed"
                + (
                    ", the weekly backup schedule `weekly-restored` deleted (with PREVIOUS a clone: "
                    "replaced, for PREVIOUS)"
                    if scheduled
                    else ""
                )
                + "; the alert policy `store-errors` updated (the database served first; it watches the same "
                "databases); a new instance template, the group's version updated",
                stop_if=f"STOP with PREVIOUS set and `{DRAINING}` (`{config_lookup(env, DRAINING)}`) not "
                f"$PREVIOUS: nothing changed: step {drop_step} has run, PREVIOUS is no longer granted: "
                f'serving it again is a new restore: close the state file (`mv "$STATE" "$STATE.done"`), set '
                f"`RESTORED=$PREVIOUS` and go on from step {grant_step}. "
                f"STOP with `{SERVED}` (`{config_lookup(env, SERVED)}`) not $RESTORED: nothing "
                f"changed: the switch (step {switch_step}) had not set it, or this step already ran: go to "
                "step 3; or the state file is another restore's (step 1): escalate. The update fails "
                "before the group was updated: fix the cause and rerun the `pulumi up`; after it: some "
                "instances use each database, both stay granted: keep `itemsDatabaseDraining` set and "
                "escalate. RESTORED empty (`RESTORED: parameter null or not set`): no open state file, and "
                "no closed one to reopen (step 1). " + interrupted,
            ),
            _rollout_wait(
                timeout,
                f"it times out after {timeout} s: keep `itemsDatabaseDraining` set (both databases stay "
                "granted) and escalate",
            ),
            Step(
                title="Only once every instance runs the new template: stop granting the clone",
                command=f"pulumi config rm {DRAINING} {stack} \\\n"
                f"  && {_commit(env, 'stop granting the fleet $RESTORED')} \\\n"
                f"  && {up}",
                expected="the update completes: the binding `fleet-uses-database-$RESTORED` deleted and the "
                "alert policy `store-errors` updated (it no longer watches the clone; it watches "
                f"`{database}` and, with PREVIOUS a clone, PREVIOUS), "
                f"nothing else (`fleet-uses-items` on `{database}` and, with PREVIOUS a clone, PREVIOUS's "
                "stay; the instance template does not change); the clone itself stays",
                stop_if="the update fails: at most the clone's binding is gone, the others stay; rerun "
                f"`{up}`. " + interrupted,
            ),
            *_delete_clone("RESTORED", database, protected, scheduled, stack),
            Step(
                title="Close the state file (after step 4)",
                command='mv "$STATE" "$STATE.done"',
                expected="$STATE renamed $STATE.done (the restore is over)",
            ),
        ),
    )


def _rollout_wait(timeout: int, stop_if: str) -> Step:
    """Confirm the rollout a switch's `pulumi up` made: the group waits for its instances
    (fleet.py: wait_for_instances, status UPDATED), so after a successful update this returns at once."""
    return Step(
        title="Confirm every instance runs the new template (returns at once after a successful `pulumi up`, "
        "which waited for the group)",
        command=f'gcloud compute instance-groups managed wait-until "$GROUP" --version-target-reached '
        f"--timeout={timeout} {WHERE}",
        expected="“Version target is reached”",
        stop_if=stop_if,
    )


def roll_back_release(facts: StackFacts) -> Runbook:
    update = facts.details["update"]
    _, wave_total = _wave_seconds(facts)
    waves = math.ceil(facts.max_size / facts.surge)
    timeout = (waves + 1) * wave_total
    return _runbook(
        facts,
        "roll-back-release",
        purpose="Put the previous release back on every instance, new capacity first.",
        when=("A release misbehaves: errors or latency alerts after `pulumi up`.",),
        blast_radius=f"The whole fleet, {facts.surge} at a time, as for any release.",
        capacity=_capacity(
            facts,
            facts.minimum_healthy,
            "`pulumi up` creates a new instance template; the group's proactive update "
            f"({update['minimalAction']}, "
            f"surge {update['maxSurgeFixed']}, unavailable {update['maxUnavailableFixed']}) rolls it out. "
            "The previous template is deleted after each release, so rolling back is a release of the "
            "previous commit.",
        ),
        durations=(
            Duration(
                name="the whole fleet at its largest",
                formula=f"ceil(max {facts.max_size} / surge {facts.surge}) = {waves} waves x {wave_total} s",
                seconds=waves * wave_total,
            ),
        ),
        preconditions=(
            "The repository is checked out and `pulumi` is logged in to the stack's backend.",
            "You know the last good release's commit (`git log --oneline` lists candidates).",
        ),
        lookups=_lookups(facts),
        steps=(
            Step(
                title="Check out the last good release",
                command="GOOD_COMMIT=0123abcd  # replace with the last good release's commit\n"
                'git checkout "$GOOD_COMMIT"',
                expected="HEAD is now at the good commit",
            ),
            Step(
                title="Preview: only the template and the group's version change",
                command=f"pulumi preview --stack {facts.environment} --cwd pulumi/gcp --diff",
                expected="replace the instance template, update the group's versions",
                stop_if="anything else changes (the cache, the database): stop and escalate",
            ),
            Step(
                title="Deploy it",
                command=f"pulumi up --stack {facts.environment} --cwd pulumi/gcp --yes",
                expected="the update completes once every instance runs the old release",
            ),
            Step(
                title="Confirm every instance runs it",
                command='gcloud compute instance-groups managed wait-until "$GROUP" '
                "--version-target-reached "
                f"--timeout={timeout} {WHERE}",
                expected="“Version target is reached”",
                stop_if=f"it times out after {timeout} s: escalate",
            ),
        ),
        rollback=(
            Step(
                title="Pause the rollout",
                command="gcloud compute instance-groups managed rolling-action stop-proactive-update "
                f'"$GROUP" {WHERE}',
                expected="update type OPPORTUNISTIC: no further instance is replaced",
            ),
        ),
    )


def runbooks(facts: StackFacts) -> list[Runbook]:
    return [
        replace_one(facts),
        replace_every(facts),
        evacuate_zone(facts),
        cache_failure(facts),
        restore_store(facts),
        roll_back_release(facts),
    ]
