"""Replacing instances: one, or every one through an instance refresh."""

from __future__ import annotations

import dataclasses

from stacks.boot import OS_SECONDS
from tools.docs.aws import steps as c
from tools.docs.aws.runbooks.common import (
    GROUP_INSTANCES,
    alarm_lookups,
    assemble,
    in_service_count,
    list_instances,
    no_refresh_running,
    refresh_duration,
    refresh_preferences,
    refresh_status,
    runbook_path,
    timings,
    waiter_bound,
    warmed_replacement,
)
from tools.docs.commands.aws_cli import session
from tools.docs.model import Duration, Runbook, StackFacts, Step

# This procedure's state file: what a re-run after a lost shell must not read again (the instance named in
# step 3, the time step 5 marked it), reloaded by the names block.
STATE_FILE = "$HOME/replace-one-instance-$STACK.env"
# CLI v2 pipes output through a pager by default (AWS CLI User Guide, "Using the output pager": AWS_PAGER=""
# turns it off): the watch loop of step 6 must not stop in `less`.
NO_PAGER = ("AWS_PAGER", '""')


# The slack a procedure under way may take beyond its own waits without writing its state file: an escalation
# or an expired session renewed; an assumed role's session lasts an hour by default ("DurationSeconds ... By
# default, the value is set to 3600 seconds", AssumeRole, AWS STS API Reference).
SESSION_SECONDS = 3600


def stale_after(facts: StackFacts) -> tuple[int, str]:
    """(seconds, why) after which a state file nobody wrote to is an earlier procedure's: the longest a
    procedure under way goes without writing it, plus SESSION_SECONDS of slack. Step 5 writes the mark, step 7
    the end; between them step 6 escalates at the waiter's ceiling and step 7's waiter gives up at it; after
    step 7 the verification waits at most two canary runs (its step 5). A shell that still holds the file's
    INSTANCE is this procedure's, however old the file (resume)."""
    delay, attempts = waiter_bound("elbv2", "TargetInService")
    ceiling = delay * attempts
    canary = 2 * facts.details["canary_schedule_seconds"]
    longest = max(2 * ceiling, canary)
    return longest + SESSION_SECONDS, (
        f"the longest this procedure goes without writing it ({longest} s: step 6 escalates at {ceiling} s, "
        f"step 7's waiter gives up after {ceiling} s; the verification waits at most {canary} s for the "
        f"canary), plus an hour for an escalation or a renewed session ({SESSION_SECONDS} s, an assumed "
        "role's default session)"
    )


def resume(facts: StackFacts) -> tuple[str, ...]:
    """The names block's first lines: the state file, reloaded unless nobody wrote to it for longer than a
    procedure under way would (a file last week's run left would pass for a replacement in progress)."""
    seconds, _ = stale_after(facts)
    return (
        "# this procedure's state (steps 3, 5 and 7 write it, the last verification step archives it): "
        "reloaded here on a re-run",
        f'STATE="{STATE_FILE}"',
        # GNU and BSD (macOS) date both take -r FILE: its modification time.
        # A shell still holding the file's INSTANCE is this procedure's, however long since it last wrote.
        'if test -f "$STATE" && ! grep -qxF "INSTANCE=${INSTANCE:-none}" "$STATE" && \\\n'
        f'  test $(( $(date +%s) - $(date -r "$STATE" +%s) )) -gt {seconds}; then\n'
        "  INSTANCE= && MARKED_AT= && MARKED_EPOCH= && DONE_AT=\n"
        '  echo "NOT RESUMED: $STATE was last written $(date -u -r "$STATE" +%FT%TZ), over '
        f'{seconds} s ago:" \\\n'
        '    "an earlier procedure\'s; close it (the last verification step), then start at step 1"\n'
        'elif test -f "$STATE"; then\n'
        '  . "$STATE" && \\\n'
        '    echo "resumed from $STATE (written $(date -u -r "$STATE" +%FT%TZ)): INSTANCE=${INSTANCE:-}" \\\n'
        '    "MARKED_AT=${MARKED_AT:-} DONE_AT=${DONE_AT:-}"\n'
        "fi",
    )


# A finished procedure's state file is moved aside: left in place, its old MARKED_AT would pass for a
# procedure in progress (step 6 still lists those activities). The last step of all: the verification and an
# escalation's message still read INSTANCE and MARKED_AT.
ARCHIVE = Step(
    title="Close the procedure (every check above passed, or the escalation is over): archive the state "
    "file, so that a later run does not resume this one",
    command=(
        'mv "$STATE" "$STATE.done-$(date -u +%FT%H%M%SZ)" && echo "archived $STATE" && \\\n'
        # this shell forgets them too: step 3 refuses to start another replacement while MARKED_AT is set
        "  INSTANCE= && MARKED_AT= && MARKED_EPOCH= && DONE_AT="
    ),
    expected="`archived` and the file's name; the archive (`$STATE.done-<time>`) keeps the instance and "
    "its times for the record.",
    stop_if="`No such file or directory`: it was archived already (or never written: step 3).",
)


def since_the_mark(facts: StackFacts) -> Duration:
    """One replacement as step 6 counts it, from the mark: the group launches at once, the new instance is
    `Pending` until it runs (within the boot budget's estimate for the OS to boot, stacks/boot.py: running
    comes before the boot script), then the replacement proper, counted from InService. Left out: the old
    instance's shutdown after its drain, for which EC2 gives no figure ("If your instance remains in the
    shutting-down state longer than a few minutes, it might be delayed", Troubleshoot instance termination,
    Amazon EC2 User Guide)."""
    replacement = warmed_replacement(facts).seconds
    total = OS_SECONDS + replacement
    return Duration(
        name="the replacement as step 6 counts it, from the mark",
        formula=f"launch until in service (`Pending`, within the boot budget's estimate for the OS) "
        f"{OS_SECONDS} s + one replacement {replacement} s = {total} s (not counted: the old instance's "
        "shutdown after the drain, which EC2 gives no figure for)",
        seconds=total,
    )


def watch_replacement(facts: StackFacts) -> Step:
    """The group's activities since step 5 marked the instance (newest first: "Activities are sorted by
    start time. Activities still in progress are described first", DescribeScalingActivities, Amazon EC2 Auto
    Scaling API Reference), all of them, with their cause: ours is the termination "taken out of service in
    response to a user health-check" (the Cause column's example in "Troubleshoot unhealthy instances",
    Amazon EC2 Auto Scaling User Guide); the group's own replacement's is "... in response to an ELB system
    health check failure" (the same column's example in "Health checks for instances in an Auto Scaling
    group"); a scale-in's "... taken out of service in response to a difference between desired and actual
    capacity, shrinking the capacity ..." (the Cause of a size change: "an instance was started in response to
    a difference between desired and actual capacity", AWS CLI Command Reference, describe-scaling-activities,
    its example). Polled in a loop until the old instance has left the group: DescribeAutoScalingInstances
    lists no instance for an id that is in no group (--output text prints its null as `None`), whether our
    replacement or a scale-in terminated it. Past the expected time since the mark the targets are looked at;
    only the waiter's ceiling (step 7) is a reason to escalate without a failure."""
    codes = session().get_service_model("autoscaling").shape_for("ScalingActivityStatusCode").enum
    ending = ("Successful", "Failed", "Cancelled")
    under_way = ", ".join(f"`{code}`" for code in codes if code not in ending)
    delay, attempts = waiter_bound("elbv2", "TargetInService")
    ceiling = delay * attempts
    expected = since_the_mark(facts)
    return Step(
        title="Watch the group's activities since the mark until the old instance has left the group (every "
        "30 s; it stops by itself, Ctrl-C stops it earlier)",
        command=(
            # Reached without a mark in this shell (step 1's wait for another change, a lost shell without
            # the state file): bash would count an empty MARKED_EPOCH as 0, seconds since 1970.
            'if test -z "${MARKED_EPOCH:-}"; then\n'
            "  MARKED_EPOCH=$(date +%s)\n"
            '  echo "no mark in this shell: seconds counted from now"\n'
            "fi\n"
            "while :; do\n"
            # Seconds from step 5's own clock, not the server's: the limits below count from the mark.
            f'  echo "$(date -u +%T) UTC: $(( $(date +%s) - MARKED_EPOCH )) s since the mark (expected '
            f'{expected.seconds:g} s, escalate at {ceiling} s)"\n'
            # In progress first, then newest (DescribeScalingActivities): ours are among the first 20; without
            # --max-items the CLI fetches all six weeks of activities, page by page, before --query filters.
            '  aws autoscaling describe-scaling-activities --auto-scaling-group-name "$ASG" '
            "--max-items 20 \\\n"
            "    --query \"Activities[?StartTime>='$MARKED_AT'].[StartTime,StatusCode,Description,Cause,"
            'StatusMessage]" \\\n'
            "    --output text\n"
            '  if test -n "${INSTANCE:-}"; then\n'
            '    OLD=$(aws autoscaling describe-auto-scaling-instances --instance-ids "$INSTANCE" \\\n'
            '      --query "AutoScalingInstances[0].LifecycleState" --output text)\n'
            '    echo "$INSTANCE: $OLD"\n'
            '    if test "$OLD" = None; then\n'
            '      echo "GONE: $INSTANCE has left the group: go on at step 7" && break\n'
            "    fi\n"
            "  fi\n"
            "  sleep 30\n"
            "done"
        ),
        expected="every 30 s the time and the seconds since the mark, the activities newest first, then "
        "`$INSTANCE` and its lifecycle state: `Terminating EC2 instance: <INSTANCE>` (its cause: `... taken "
        "out of service in response to a user health-check` after step 5, or `... in response to an ELB "
        "system health check failure` when the group replaced it on its own before you marked it: step 1) "
        "above `Launching a new EC2 instance: <new id>`; the termination waits for the replacement to pass "
        "its health check, then drains the old one. While one is under way its status is one of "
        f"{under_way}; `WaitingForInstanceWarmup` for about {facts.warmup_seconds} s (the group's "
        "default instance warm-up) is expected before the old one is terminated. The loop ends with `GONE` "
        "once the old instance has left the group (its lifecycle state `None`), about "
        f"{expected.seconds:g} s since the mark (the duration table's last row) plus its shutdown: go on at "
        "step 7. Other activities (their cause says scaling out or in, or "
        "rebalancing zones) may appear too: only ours failing is a stop. A scale-in may terminate "
        "`$INSTANCE` itself (its termination's cause: `... a difference between desired and actual "
        "capacity`) with no launch: `GONE` all the same, and step 8 checks the count. No mark in this "
        "shell (`no mark in this shell`: step 1's wait for another change, or a lost shell without the "
        "state file): the seconds count from now, the 20 newest activities print, and nothing ends the "
        "loop: stop it with Ctrl-C when the change is `Successful`. After a lost shell: run the names "
        "block (it reloads `INSTANCE`, `MARKED_AT` and `MARKED_EPOCH` from `$STATE`), then this step; "
        "without the state file, `Terminating EC2 instance: i-...` with either cause names the instance.",
        stop_if="the launch or our termination ends `Failed` or `Cancelled`: its last column "
        "(`StatusMessage`) says why (capacity, launch template, permissions); escalate at once. No `GONE` at "
        f"{expected.seconds:g} s since the mark (the loop prints the seconds): look at the "
        "targets (verification step 1: a new one `Elb.InitialHealthChecking` is still booting) and keep "
        f"watching; still no `GONE` at {ceiling} s since the mark (the ceiling of "
        f"step 7's waiter, {attempts} polls {delay} s apart): escalate.",
    )


def _waiter_expected() -> str:
    delay, attempts = waiter_bound("elbv2", "TargetInService")
    return (
        "`done at` and the time (UTC), also in `$STATE`: verification step 5 needs a canary run that "
        f"started after it. Run after step 6, it returns at its first poll; it gives up after {attempts} "
        f"polls {delay} s apart = {delay * attempts} s, a ceiling, not a deadline of this procedure."
    )


def group_replaces_first(facts: StackFacts) -> Step:
    """No refresh running, and the live group launches before it terminates as the template says: its
    instance maintenance policy, its ELB health check, and none of the processes a marking relies on
    suspended (a suspended process is not run: "Suspend and resume processes", Amazon EC2 Auto Scaling User
    Guide; process names from botocore's model documentation of SuspendProcesses)."""
    maintenance = facts.details["maintenance"]
    refresh = no_refresh_running(facts)
    expected_settings = (
        f"`<desired> <max> {facts.details['health_check_type']} {maintenance['MinHealthyPercentage']} "
        f"{maintenance['MaxHealthyPercentage']}` and nothing after them"
    )
    return Step(
        title="Make sure no instance refresh is running and the group launches before it terminates",
        command=(
            refresh.command + "\n"
            'aws autoscaling describe-auto-scaling-groups --auto-scaling-group-names "$ASG" \\\n'
            '  --query "AutoScalingGroups[0].[DesiredCapacity,MaxSize,HealthCheckType,'
            "InstanceMaintenancePolicy.MinHealthyPercentage,InstanceMaintenancePolicy.MaxHealthyPercentage,"
            "join(',',SuspendedProcesses[].ProcessName)]\" \\\n"
            "  --output text"
        ),
        expected=f"first {refresh.expected.rstrip('.')}; then {expected_settings} (the stack's health "
        "check type and instance maintenance policy; the last column lists suspended processes: none). "
        f"The desired capacity is below the maximum ({facts.max_size}): the replacement is an extra "
        "instance.",
        stop_if=f"{refresh.stop_if} Other percentages or health check type: the group was changed by hand "
        "since the last deployment and may terminate before it launches; escalate. Any process listed in "
        "the last column (`HealthCheck`, `ReplaceUnhealthy`, `Launch`, `Terminate`, ...): someone suspended "
        "it and marking the instance would do nothing or leave it half replaced; find out who and why "
        "before going on. The desired capacity equals the maximum: the documentation does not say the "
        "extra instance may exceed the maximum size, so do not count on launch before terminate; escalate "
        "(or wait for the group to scale in).",
    )


# The group often replaces an instance on its own (ELB health check) before the on-call arrives: step 6 then
# watches from a time before the page. Step 3 names the instance first: its checks (an `i-` id, this
# group's) keep a typo or another group's instance (in no group: step 6 would print GONE at once) out of the
# state file. GNU date takes -d '-30 min', BSD (macOS) date -v-30M. The evidence (step 4) first: the console
# output is gone once the instance is terminated.
ALREADY_REPLACING = (
    "the group is already replacing the instance you came for (a `Pending` instance beside it, or it "
    "`Terminating`: the load balancer's health check started it): do not mark it; run step 3 with its id "
    "(it checks the id is this group's and starts the state file: `in-group`), then "
    # Only in the shell where step 3 printed `in-group` (CHOSEN in the state file), and once (no MARKED_AT).
    '`test -n "${CHOSEN:-}" && test -z "${MARKED_AT:-}" && grep -qxF "INSTANCE=$CHOSEN" "$STATE" && '
    "MARKED_AT=$(date -u -d '-30 min' +%FT%T 2>/dev/null || date -u -v-30M +%FT%T) && "
    "MARKED_EPOCH=$(date +%s) && "
    "printf 'MARKED_AT=%s\\nMARKED_EPOCH=%s\\n' "
    '"$MARKED_AT" "$MARKED_EPOCH" >> "$STATE" && echo marked` (activities of the last 30 min, from before '
    "the page; seconds counted from now; nothing is written unless step 3 printed `in-group`), run step 4 "
    "(its console output and log, before the group terminates it), then go to step 6"
)


def replace_one(facts: StackFacts) -> Runbook:
    t = timings(facts)
    maintenance = facts.details["maintenance"]
    # How long the group takes to act on the load balancer's verdict by itself: a new instance's grace, then
    # the failed checks.
    acts_within = facts.boot_budget_seconds + facts.health_check.detection_seconds
    steps = (
        list_instances(
            facts,
            watch_step=6,
            zones_step=8,
            watch_bound=waiter_bound("elbv2", "TargetInService")[0]
            * waiter_bound("elbv2", "TargetInService")[1],
            already_replacing=ALREADY_REPLACING,
        ),
        group_replaces_first(facts),
        Step(
            title="Name the instance to replace (edit the first line: an id from step 1), make sure it is "
            "this group's and write it to the state file",
            # CHOSEN, not INSTANCE: the state file's INSTANCE (reloaded by the names block) stays to compare.
            # A re-run while a replacement is under way (MARKED_AT reloaded or set) keeps its state; another
            # instance than the state file's is refused.
            command=(
                'CHOSEN="<id from step 1>"\n'
                # Unedited (or no instance id), nothing is asked of AWS.
                'if test "${CHOSEN#i-}" = "$CHOSEN"; then\n'
                '  echo "set CHOSEN first: the first line, an instance id from step 1 (i-...)"\n'
                'elif test -n "${MARKED_AT:-}" && test "$CHOSEN" != "${INSTANCE:-}"; then\n'
                '  echo "ANOTHER INSTANCE UNDER WAY: ${INSTANCE:-?}, marked at $MARKED_AT"\n'
                'elif test -n "${MARKED_AT:-}"; then\n'
                '  echo "replacement of $INSTANCE already under way since $MARKED_AT: go to step 6"\n'
                "else\n"
                '  GROUP=$(aws autoscaling describe-auto-scaling-instances --instance-ids "$CHOSEN" \\\n'
                '    --query "AutoScalingInstances[0].AutoScalingGroupName" --output text)\n'
                '  if test "$GROUP" = "$ASG"; then\n'
                '    INSTANCE=$CHOSEN && DONE_AT= && echo "INSTANCE=$INSTANCE" > "$STATE" && echo in-group\n'
                "  else\n"
                '    echo "NOT IN GROUP: $GROUP"\n'
                "  fi\n"
                "fi"
            ),
            expected="`in-group`; `$STATE` now holds the instance id (a new procedure starts a new state "
            "file). `already under way since` a time: this procedure marked it already (or step 1 found the "
            "group replacing it); nothing was written: go to step 6.",
            # set-instance-health takes no group name: it acts on whichever group the instance is in.
            stop_if="`set CHOSEN first`: the first line still says `<id from step 1>` (or no `i-` id); edit "
            "it and run the block again. `NOT IN GROUP` and a name: the group the instance is in (`None`: in "
            "no group; another name: another stack's group in this account, which step 5 would replace "
            "instead); go back to step 1. `ANOTHER INSTANCE UNDER WAY`: the state file (written within the "
            "names block's bound) holds a replacement of another instance: watch it to its end (step 6), "
            "close it (the last verification step), then start again at step 1.",
        ),
        Step(
            title="Keep the evidence: save its console output and its last hour of log before the group "
            "terminates it",
            # --latest (the serial console now, not the buffer of the last state change) needs a Nitro
            # instance type ("GetConsoleOutput", Amazon EC2 API Reference: "This option is supported on
            # instance types that use the Nitro hypervisor"); the CLI decodes the base64 output itself
            # (botocore.handlers.decode_console_output).
            # One && chain: `saved` only when the output was read and written.
            command=(
                'CONSOLE=$(aws ec2 get-console-output --instance-id "$INSTANCE" --latest \\\n'
                "  --query Output --output text) && \\\n"
                '  printf \'%s\\n\' "$CONSOLE" > "$HOME/$INSTANCE-console.txt" && \\\n'
                '  echo "saved $HOME/$INSTANCE-console.txt"\n'
                # The CloudWatch agent ships the journal (via /var/log/messages) to the stack's log group,
                # one stream per instance id (stacks/boot.sh): the last hour of this one, one event a line.
                "SINCE=$(( ($(date +%s) - 3600) * 1000 ))\n"
                'LOG=$(aws logs filter-log-events --log-group-name "$LOG_GROUP" \\\n'
                '  --log-stream-names "$INSTANCE" --start-time "$SINCE" \\\n'
                '  --query "events[].[message]" --output text) && \\\n'
                '  printf \'%s\\n\' "$LOG" > "$HOME/$INSTANCE-log.txt" && \\\n'
                '  echo "saved $HOME/$INSTANCE-log.txt"'
            ),
            expected="`saved` and a file's name, twice: the instance's boot and kernel messages, then the "
            "last hour of its log (the service's journal). The log stays in the stack's log group "
            f"`$LOG_GROUP` ({facts.log_retention_days} days) after the instance is gone: the same command "
            "with another instance id (`--log-stream-names`) reads any instance's.",
            stop_if="a `saved` missing: the error above it says why. `UnauthorizedOperation` or "
            "`AccessDeniedException`: your role lacks `ec2:GetConsoleOutput` or `logs:FilterLogEvents` (the "
            "permissions above). Any other error of the console command naming `--latest` or the instance "
            "type: an older (Xen) instance type takes no `--latest`; run that command again without "
            "`--latest`. `ResourceNotFoundException` from the log command, or an empty log file: the "
            "instance shipped no log (it did not boot that far): the console output is the evidence. Go on "
            "without a file only "
            "if the replacement cannot wait.",
        ),
        Step(
            title="Mark it unhealthy (once: a re-run after it worked changes nothing): the group launches "
            "its replacement first, then drains and terminates it",
            # The guard makes a re-run after a lost shell safe: the names block reloaded MARKED_AT from the
            # state file, so the instance (gone by then: ValidationError) is not marked twice.
            # MARKED_AT, which step 6 compares with the servers' activity times, is a minute before the
            # mark: a laptop clock ahead of AWS's would otherwise hide our own activities. GNU date takes
            # -d @epoch, BSD (macOS) date -r epoch. MARKED_EPOCH is the mark on this clock, for step 6's
            # elapsed seconds.
            command=(
                "NOW=$(date +%s)\n"
                'if test -n "${MARKED_AT:-}"; then\n'
                '  echo "already marked at ${MARKED_AT:-}"\n'
                'elif aws autoscaling set-instance-health --instance-id "$INSTANCE" \\\n'
                "  --health-status Unhealthy --no-should-respect-grace-period; then\n"
                "  MARKED_EPOCH=$NOW\n"
                '  MARKED_AT=$(date -u -d "@$((NOW - 60))" +%FT%T 2>/dev/null || \\\n'
                '    date -u -r "$((NOW - 60))" +%FT%T)\n'
                '  printf \'MARKED_AT=%s\\nMARKED_EPOCH=%s\\n\' "$MARKED_AT" "$MARKED_EPOCH" >> "$STATE"\n'
                '  echo "marked; activities counted from $MARKED_AT UTC (a minute early, for clock skew)"\n'
                "else\n"
                '  echo "MARK FAILED: read the error above"\n'
                "fi"
            ),
            expected="`marked; activities counted from` and a time (UTC, a minute before the mark), now "
            "also in `$STATE` with the mark's own time: steps 6 and 7 count from them.",
            stop_if="`already marked at` a time: this step ran already for `$INSTANCE` then (the state "
            "file says so); do not mark it again, go on at step 6. `MARK FAILED`: the error above it says "
            "why. `AccessDenied` (`not authorized to perform: autoscaling:SetInstanceHealth`): nothing was "
            "changed; escalate. `ResourceContention` above it: "
            "the group is busy with another update (scaling); wait 30 s, run step 1 again, then this step. "
            "`ValidationError`: the id is not an instance of any group (or it is gone already); go back to "
            "step 3. The call names no group: only step 3 makes sure it is this one.",
        ),
        watch_replacement(facts),
        Step(
            title="Only when step 6 shows both activities `Successful` or printed `GONE`: wait until every "
            "registered target is healthy, then note the time",
            command=(
                'aws elbv2 wait target-in-service --target-group-arn "$TARGET_GROUP_ARN" && \\\n'
                '  DONE_AT=$(date -u +%FT%T) && echo "DONE_AT=$DONE_AT" >> "$STATE" && \\\n'
                '  echo "done at $DONE_AT"'
            ),
            expected=_waiter_expected(),
            stop_if="it exits with `Waiter TargetInService failed`: a target stayed unhealthy; see step 1 of "
            "the verification.",
        ),
        Step(
            title="Check the group once more: as many healthy instances in service as it wants, across its "
            "zones",
            # The group's own target, not step 1's count: a scaling activity in between changes both.
            command=(
                GROUP_INSTANCES + "\n"
                'aws autoscaling describe-auto-scaling-groups --auto-scaling-group-names "$ASG" \\\n'
                "  --query \"AutoScalingGroups[0].[DesiredCapacity,length(Instances[?LifecycleState=='"
                "InService' && HealthStatus=='Healthy'])]\" \\\n"
                "  --output text"
            ),
            expected="first one line per instance, each `InService` and `Healthy`, the old id gone; then two "
            "equal numbers: the desired capacity and the instances in service and healthy. The replacement "
            "may be in another zone than the instance it replaced; the group then balances its zones "
            f"({facts.per_zone} at the minimum size) with a launch and a termination of its own: step 6 "
            "lists them; let them finish.",
            stop_if="the second number is below the first once step 6 shows no activity under way, or "
            "launches in a zone fail (step 6: `Failed`, its message names the zone), or the AWS Health "
            "Dashboard (https://health.aws.amazon.com/health/home) shows an event for a zone of the group: "
            f"follow {runbook_path(facts, 'evacuate-zone')}.",
        ),
    )
    runbook = assemble(
        facts,
        "replace-one-instance",
        purpose="Take one instance out of service and put a fresh one from the same launch template in its "
        "place, without losing capacity or a request.",
        when=(
            "The load balancer or the group reports it unhealthy and it has not been replaced on its own. "
            "The group replaces an instance the load balancer finds unhealthy by itself: allow it "
            f"health-check grace {facts.boot_budget_seconds} s (an instance that just launched) + interval "
            f"{facts.health_check.interval_seconds} s x unhealthy threshold "
            f"{facts.health_check.unhealthy_threshold} = {acts_within} s after the instance turned "
            "unhealthy; step 1 shows whether it is replacing it already.",
            "It behaves oddly (latency, errors in its log) though its health check passes.",
            "EC2 scheduled it for retirement or maintenance (an EC2 scheduled event in the AWS Health "
            "Dashboard).",
        ),
        blast_radius=f"One instance of {facts.min_size}-{facts.max_size}: its in-flight requests finish "
        "during "
        f"the {facts.draining_seconds} s deregistration delay; sessions live in the cache, so no client "
        "loses one.",
        capacity=(
            f"The group keeps {facts.min_size}-{facts.max_size} instances in {len(facts.zones)} zone(s) "
            f"({facts.per_zone} at the minimum).",
            f"The instance maintenance policy keeps at least {maintenance['MinHealthyPercentage']} % of the "
            f"desired capacity healthy and allows up to {maintenance['MaxHealthyPercentage']} %: the "
            "replacement is launched and healthy before the old instance is terminated (step 2 checks the "
            "live group).",
            f"Capacity never falls below {facts.minimum_healthy} of {facts.min_size} at the minimum size (N "
            "of N at any desired capacity N) during this procedure; it peaks at N + 1. An instance that was "
            "already "
            "unhealthy was out of service before you started: N - 1 serve until its replacement is healthy.",
        ),
        durations=(t["detect"], warmed_replacement(facts), since_the_mark(facts)),
        preconditions=(
            "AWS CLI v2 configured for the stack's account (`aws sts get-caller-identity` names it), `jq` "
            "and `curl` installed. With named profiles: `export AWS_PROFILE=<your profile for that "
            "account>` before the names block (the project names no account or profile: the stack goes to "
            "whichever account it was deployed to).",
            "The permissions below (attach them to the role you assume for operations).",
            f"A home directory you can write to: `{STATE_FILE}` keeps this procedure's state (the "
            "instance and the times it was marked and done) for a re-run after a lost shell.",
        ),
        lookups=c.lookups(
            facts,
            "AutoScalingGroupName",
            extra=(
                c.resource(
                    facts,
                    "LOG_GROUP",
                    facts.details["service_log_group"],
                    "the service's log group, one stream per instance id",
                ),
            ),
        ),
        before_lookups=resume(facts),
        steps=steps,
        rollback=(
            Step(
                title="Nothing to undo: the old instance is gone and the new one comes from the same launch "
                "template. If the replacement itself fails its health check, the group replaces it again; "
                "when two replacements in a row fail, the launch template or the release is at fault: follow "
                f"{runbook_path(facts, 'roll-back-release')}."
            ),
        ),
        expected_targets=in_service_count(facts),
        # The service log without Session Manager: step 4's command reads any instance's stream.
        log_hint="(step 4's `aws logs filter-log-events` with that instance's id in `--log-stream-names`)",
        # Whoever helps needs the instance and when it was marked (the activities since then tell the rest).
        escalation_message=f"{c.FAILED_STEP}. Instance $INSTANCE, marked unhealthy at "
        "${MARKED_AT:-not yet} UTC; state in $STATE",
    )
    seconds, why = stale_after(facts)
    resumed = (
        " A `resumed from` line (with the time the state file was last written): the names block "
        "reloaded the state of a procedure under way (steps 3, 5 and 7 wrote it within the last "
        f"{seconds} s). `NOT RESUMED`: the state file was last written over {seconds} s ago ({why}): an "
        "earlier procedure left it; nothing of it was loaded. Close it (the last verification step: it "
        "archives the file), then start at step 1."
    )
    return dataclasses.replace(
        runbook,
        exports=(NO_PAGER, *runbook.exports),
        verification=(*runbook.verification, ARCHIVE),
        after_lookups_expected=runbook.after_lookups_expected + resumed,
    )


def replace_every(facts: StackFacts) -> Runbook:
    t = timings(facts)
    refresh = facts.details["refresh"]
    steps = (
        no_refresh_running(facts),
        Step(
            title="New image or release: deploy it. The stack's update policy runs this same refresh itself",
            command=f"cdk deploy {facts.stack} -c region={facts.region}",
            expected="the deployment waits for the instance refresh and ends `UPDATE_COMPLETE`; skip step 3.",
            stop_if="`UPDATE_ROLLBACK_IN_PROGRESS`: CloudFormation is putting the old launch template back; "
            f"follow {runbook_path(facts, 'roll-back-release')}.",
        ),
        Step(
            title="Same release, fresh instances (leaked credentials, suspected tampering): start the "
            "refresh with the stack's own preferences",
            command=(
                'aws autoscaling start-instance-refresh --auto-scaling-group-name "$ASG" --strategy Rolling '
                "\\\n"
                f'  --preferences "{refresh_preferences(refresh, desired_configuration=False)}"'
            ),
            expected="an `InstanceRefreshId`. A rollout alarm firing fails this refresh (it has no other "
            "configuration to roll back to); instances already replaced stay.",
            stop_if="`InstanceRefreshInProgress`: one is running already; watch it (step 4).",
        ),
        refresh_status(),
        Step(
            title="Pause: the refresh pauses by itself at each checkpoint for the checkpoint delay; to hold "
            "it longer, cancel it (step 6) and start it again later with the same command: instances already "
            "replaced are kept."
        ),
        Step(
            title="Cancel (stops replacing; instances already replaced stay)",
            command='aws autoscaling cancel-instance-refresh --auto-scaling-group-name "$ASG"',
            expected="an `InstanceRefreshId`; the status goes `Cancelling`, then `Cancelled`.",
        ),
    )
    return assemble(
        facts,
        "replace-every-instance",
        purpose="Replace every instance of the fleet with a fresh one, batch by batch, never below full "
        "capacity.",
        when=(
            "A new image or release (a `cdk deploy` that changes the launch template does this by itself).",
            "Credentials an instance could read may have leaked: new instances get fresh role sessions. "
            "Rotate the leaked secret itself as well (the cache AUTH token in Secrets Manager).",
        ),
        blast_radius="The whole fleet, in batches at the checkpoints "
        f"({', '.join(map(str, refresh['CheckpointPercentages']))} %); a rollout alarm firing rolls a "
        "deployment back and stops a refresh of the same release.",
        capacity=(
            f"Instance refresh keeps at least {refresh['MinHealthyPercentage']} % healthy and may run up to "
            f"{refresh['MaxHealthyPercentage']} % of the desired capacity.",
            f"At the minimum size {facts.min_size}: up to {facts.surge} extra instance(s) at a time; "
            "capacity never "
            f"falls below {facts.minimum_healthy} of {facts.min_size} during this procedure (N of N at any "
            "desired N).",
        ),
        durations=(t["replace"], refresh_duration(facts)),
        preconditions=(
            "AWS CLI v2 configured for the stack's account, `jq` and `curl`; for a new release, a checkout "
            "of this repository at that release with `make setup` done (for `cdk deploy`).",
            "The permissions below.",
        ),
        lookups=c.lookups(facts, "AutoScalingGroupName", extra=alarm_lookups(facts)),
        steps=steps,
        rollback=(
            Step(
                title="A deployment: cancel it; CloudFormation puts the previous launch template back and "
                "its instance refresh replaces the new instances",
                command=f"aws cloudformation cancel-update-stack --stack-name {facts.stack}",
                expected="no output; the status goes `UPDATE_ROLLBACK_IN_PROGRESS`, then "
                "`UPDATE_ROLLBACK_COMPLETE`.",
                stop_if="`CancelUpdateStack cannot be called from current stack status`: the deployment "
                f"finished; follow {runbook_path(facts, 'roll-back-release')}.",
            ),
            Step(
                title="A refresh of the same release: nothing to roll back (old and new instances are "
                "alike); cancelling (step 6) stops it."
            ),
        ),
        expected_targets=in_service_count(facts),
    )
