"""The six service-replacement runbooks for one Azure stack, from its StackFacts.

Every name comes from the stack's outputs (`pulumi stack output`) or from a query over its resource group;
every number from the facts; every command is parsed by azure-cli's own parser in the tests.
"""

from __future__ import annotations

import json
import math
import shlex
from dataclasses import replace

from refarch_pulumi.stack import spec_set_command
from tools.docs.azure import inventory as inv
from tools.docs.azure import permissions, state
from tools.docs.azure.backend_health import DOWN, DRAINING, LEGEND, UNKNOWN, UP
from tools.docs.azure.facts import PROJECT
from tools.docs.commands import azure_cli
from tools.docs.model import (
    REHEARSALS,
    Duration,
    Lookup,
    Runbook,
    StackFacts,
    Step,
    escalation_contact,
    guard,
)

RESOURCE_GROUP = "azure-native:resources:ResourceGroup"


def cli_version() -> str:
    return f"Azure CLI {azure_cli.version()} (`az version`), Pulumi CLI 3 for the stack outputs"


def _lookups(facts: StackFacts, *extra: Lookup) -> tuple[Lookup, ...]:
    def output(variable: str, name: str) -> Lookup:
        return Lookup(
            variable=variable,
            command=facts.output(name).lookup,
            source=f"stack output `{name}`: {facts.output(name).description}",
        )

    return (
        Lookup(
            variable="SUBSCRIPTION",
            command="az account show --query name -o tsv",
            source="the subscription az uses: the stack's "
            "(if not, `az account set --subscription <id>` first)",
        ),
        output("RG", "resourceGroup"),
        output("VMSS", "scaleSet"),
        output("API_URL", "apiUrl"),
        Lookup(
            variable="AGW",
            command='az network application-gateway list -g "$RG" --query "[0].name" -o tsv',
            source="the resource group's Application Gateway (the stack has one)",
        ),
        *extra,
    )


def _autoscale_lookup(facts: StackFacts) -> Lookup:
    """The stack's autoscale setting (Pulumi auto-names it), found by the scale set it targets."""
    setting = next(r for r in facts.resources if r.type == inv.AUTOSCALE)
    return Lookup(
        variable="AUTOSCALE",
        command='az monitor autoscale list -g "$RG" '
        "--query \"[?ends_with(targetResourceUri, '/$VMSS')].name\" -o tsv",
        source=f"the autoscale setting `{setting.name}` (Pulumi name; Azure adds a suffix) of the scale set",
    )


def _hold_minimum(facts: StackFacts, extra: int, why: str) -> Step:
    """Raise the autoscale minimum (and default) to the capacity the procedure needs, so autoscale can
    neither scale in an instance it relies on nor undo the extra ones; `_restore_minimum` puts it back.
    The instances are listed first: once the minimum is raised autoscale may add the new one itself."""
    return Step(
        title=f"Hold the autoscale minimum at the current capacity + {extra} for the duration ({why})",
        command='BEFORE=$(az vmss list-instances -g "$RG" -n "$VMSS" --query "[].name" -o tsv)\n'
        'CAP=$(az vmss show -g "$RG" -n "$VMSS" --query sku.capacity -o tsv)\n'
        'MIN=$(az monitor autoscale show -g "$RG" -n "$AUTOSCALE" --query '
        '"profiles[0].capacity.minimum" -o tsv)\n'
        'DEFAULT=$(az monitor autoscale show -g "$RG" -n "$AUTOSCALE" --query '
        '"profiles[0].capacity.default" -o tsv)\n'
        f"TARGET=$((${{CAP:-0}} + {extra}))\n"
        'echo "BEFORE=$(echo $BEFORE) CAP=$CAP MIN=$MIN DEFAULT=$DEFAULT TARGET=$TARGET"\n'
        # A pasted block runs every line even after a failed guard: the change itself runs only when every
        # value read is sane, so a failed read can never lower the minimum and scale the fleet in.
        'test -n "$BEFORE" && test -n "$MIN" && test -n "$DEFAULT" '
        f'&& test "${{CAP:-0}}" -ge {facts.min_size} && test "$TARGET" -le {facts.max_size} \\\n'
        '  && az monitor autoscale update -g "$RG" -n "$AUTOSCALE" --min-count "$TARGET" --count "$TARGET" '
        '--query "profiles[0].capacity.minimum" -o tsv \\\n'
        '  || echo "STOP: nothing changed (a value above is empty or out of range)"',
        expected=(
            f"the echo shows every value set, CAP {facts.min_size} or more (autoscale may have scaled out), "
            "TARGET = CAP + the instances this procedure adds; then the update prints $TARGET"
        ),
        stop_if=(
            "it prints STOP: a read failed (empty value), CAP is below the minimum "
            f"{facts.min_size}, or TARGET is above the autoscale maximum {facts.max_size}; nothing was "
            "changed: go to Escalation"
        ),
    )


def _restore_minimum(title: str) -> Step:
    return Step(
        title=title,
        command='az monitor autoscale update -g "$RG" -n "$AUTOSCALE" --min-count "$MIN" --count "$DEFAULT" '
        '\\\n  --query "profiles[0].capacity.minimum" -o tsv',
        expected="$MIN, as before the procedure; autoscale scales any extra instance in by its own rules",
    )


def _detection(facts: StackFacts) -> Duration:
    check = facts.health_check
    seconds = state.detection_seconds(check)
    return Duration(
        name="gateway stops routing to a failing instance",
        formula=f"probe interval {check.interval_seconds} s x unhealthy threshold "
        f"{check.unhealthy_threshold} "
        f"+ timeout {check.timeout_seconds} s = {seconds} s",
        seconds=seconds,
    )


def _boot(facts: StackFacts) -> Duration:
    return Duration(
        name="a new instance boots and passes its health check (at most)",
        formula=f"boot budget = automatic repair grace {facts.grace_seconds} s",
        seconds=facts.grace_seconds,
    )


def _leave(facts: StackFacts) -> Duration:
    detection = _detection(facts).seconds
    return Duration(
        name="an instance leaves (terminate_watch: SIGUSR1, gateway notices, drain, stop)",
        formula=f"detection {detection} s + connection draining {facts.draining_seconds} s "
        f"= {detection + facts.draining_seconds} s",
        seconds=detection + facts.draining_seconds,
    )


NOT_ALL_HEALTHY = (
    f"any line is not `{UP}`: that instance is not serving (wait out the boot budget for a new one); "
    f"none `{UP}`: the service is down, go to Escalation ({LEGEND})"
)


def _backend_health(expected: str, stop_if: str = NOT_ALL_HEALTHY) -> Step:
    return Step(
        title="Check the gateway's view of every instance",
        command='az network application-gateway show-backend-health -g "$RG" -n "$AGW" \\\n'
        '  --query "backendAddressPools[0].backendHttpSettingsCollection[0].servers[].[address, '
        'health]" -o tsv',
        expected=expected,
        stop_if=stop_if,
    )


def _request() -> Step:
    return Step(
        title="A real request through API Management (subscription key of your API consumer in $API_KEY)",
        command=(
            'curl -sS -o /dev/null -w "%{http_code}\\n" -X POST -H "Ocp-Apim-Subscription-Key: '
            '$API_KEY" "$API_URL/sessions"'
        ),
        expected="`201` (a session was created in the cache)",
        stop_if=(
            "5xx: check the alerts and the backend health above; 401: $API_KEY is not a valid "
            "subscription key"
        ),
    )


def _alerts() -> Step:
    return Step(
        title="The stack's metric alerts are enabled (fired alerts reach the action group `on-call`)",
        command='az monitor metrics alert list -g "$RG" --query "[].[name, enabled]" -o tsv',
        expected="every alert `True`; none has fired in the portal's Alerts view since the procedure ended",
    )


def _verification(facts: StackFacts) -> tuple[Step, ...]:
    return (
        _backend_health(f"{facts.min_size} or more lines, each `{UP}`"),
        _request(),
        _alerts(),
        Step(
            title=(
                "Watch the Application Insights and gateway dashboards: failed requests back to zero, "
                "p99 latency back to normal"
            )
        ),
    )


def _escalation(facts: StackFacts) -> tuple[Step, ...]:
    page = escalation_contact(
        facts.escalation,
        f"stack output `{inv.ESCALATION_OUTPUT}`",
        f"`{spec_set_command('alarms.escalation')} --stack {facts.environment} "
        f"--cwd {PROJECT}`, or environments.toml `[{facts.environment}.alarms]`",
    )
    return (
        page,
        Step(
            title="Who the stack's alerts e-mail (its action group, stack output `actionGroup`): tell them "
            "too",
            command=f"ACTION_GROUP=$({facts.output('actionGroup').lookup})\n"
            'az monitor action-group show --ids "$ACTION_GROUP" \\\n'
            '  --query "emailReceivers[].emailAddress" -o tsv',
            expected="the on-call address(es) the alerts e-mail",
        ),
        Step(
            title=(
                "Open an Azure support request (Severity A for production) with the scale set name, "
                "region and the time the procedure started"
            )
        ),
    )


# Every runbook's verification sends a request through API Management, which wants a subscription key.
API_KEY = (
    "`API_KEY` holds a subscription key of the API (API Management, Subscriptions) for the "
    "verification request"
)


def _runbook(facts: StackFacts, scenario: str, title: str, **fields) -> Runbook:
    """A runbook with the role its own commands need (every one `Runbook.commands()` returns)."""
    # A runbook that reads the key in its Names block (no echo, not in the shell history) exports none.
    reads_key = any(
        step.command.startswith("API_KEY=") for group in ("steps", "verification") for step in fields[group]
    )
    if not reads_key:
        fields["preconditions"] = (*fields["preconditions"], API_KEY)
    # What the scenario runs after the lookups (showing them, reloading a state file), then the guard.
    after_lookups = (*fields.pop("after_lookups", ()), guard(lookup.variable for lookup in fields["lookups"]))
    resource_group = next(r for r in facts.resources if r.type == RESOURCE_GROUP).properties[
        "resourceGroupName"
    ]
    draft = Runbook(
        cloud="azure",
        environment=facts.environment,
        scenario=scenario,
        title=title,
        permissions="",
        permissions_format="json",
        cli_version=cli_version(),
        drill=REHEARSALS[scenario],
        after_lookups=after_lookups,
        exports=()
        if reads_key
        else (("API_KEY", '"<a subscription key of the API: API Management, Subscriptions>"'),),
        **fields,
    )
    # The commands a stop-if tells the reader to run (a remedy) need their actions as much as the steps'.
    commands = [*draft.commands(), *draft.quoted_commands("az")]
    draft = replace(draft, preconditions=(*draft.preconditions, *_polling_check(draft, commands)))
    role = permissions.role(
        facts.environment, resource_group, commands, scenario, facts.details["scale_set_links"]
    )
    note = permissions.locations_note(facts.environment, commands, scenario, resource_group)
    return replace(draft, permissions=role, permissions_note=note)


def _polling_check(draft: Runbook, commands: list[str]) -> tuple[str, ...]:
    """The dev check that the role lets az wait on the runbook's long-running commands (a role without a
    status read fails them after Azure took the change: permissions.LONG_RUNNING); none when the runbook
    has none. Restore-store's own check of its second role's status reads stays: this one lists them all."""
    waiting = permissions.long_running(commands)
    if not waiting:
        return ()
    return (
        "the role lets az wait: these commands are long-running and az polls their status "
        f"({'; '.join(f'az {name}' for name in waiting)}). Confirm it once in dev: run them there with "
        "az's `--debug` flag and check that every polled status URL (`Azure-AsyncOperation`, `Location` "
        "headers) answers 200, or 202 while the operation still runs, and never 403 (a 403 there fails the "
        "command after Azure made the change)",
    )


# How often a reader's wait loop re-checks a booting instance (a gateway backend-health call takes seconds).
POLL_SECONDS = 30
# How long step 5 waits after a failed scale before it re-reads the capacity (autoscale may be adding it).
SCALE_RECHECK_SECONDS = 60
# Where scenario 1 keeps what it read before changing anything, so a lost shell resumes with those values
# (re-reading after step 4 would take the raised minimum for the original one).
REPLACE_STATE = "$HOME/replace-$VMSS.env"
# A subscription key of the API, read without echo so it is neither shown nor in the shell history; a
# one-line block of its own, so the prompt cannot swallow the next pasted line.
_KEY_STEP = Step(
    title="Type a subscription key of the API at the prompt (portal: the stack's API Management instance, "
    "APIs > Subscriptions, `...` > Show/hide keys); it is not echoed and not kept in the shell history",
    command='API_KEY=$(read -rsp "API key: " key && echo "$key")',
    expected="the prompt, then nothing (an empty key makes the next step answer 401)",
)


def _replace_lookups(facts: StackFacts) -> tuple[Lookup, ...]:
    # az is pointed at the stack's own subscription (the one in its action group's id) before any lookup.
    subscription = (
        Lookup(
            variable="SUB_ID",
            command=f"{facts.output('actionGroup').lookup} | grep -oE '^/subscriptions/[^/]+'",
            source="the stack's subscription: the start of stack output `actionGroup` (/subscriptions/<id>)",
        ),
        Lookup(
            variable="SUBSCRIPTION",
            command='az account set --subscription "${SUB_ID#/subscriptions/}" '
            "&& az account show --query name -o tsv",
            source="az set to that subscription, and its name (empty: your login cannot see it, `az login` "
            "with the account that can)",
        ),
    )
    common = _lookups(
        facts,
        _autoscale_lookup(facts),
        Lookup(
            variable="RG_ID",
            command='az group show -n "$RG" --query id -o tsv',
            source="the resource group in the stack's subscription; empty (ResourceGroupNotFound): the "
            "stack's outputs and its subscription disagree, go to Escalation",
        ),
        Lookup(
            variable="PROFILES",
            command='az monitor autoscale show -g "$RG" -n "$AUTOSCALE" --query "length(profiles)" -o tsv',
            source="how many profiles the autoscale setting has (steps 4, 5 and 9 read the first)",
        ),
        Lookup(
            variable="STATE",
            command=f'echo "{REPLACE_STATE}"',
            source="the state file step 4 writes (what it read before changing anything); this block reloads "
            "it after a lost shell",
        ),
    )
    return (*subscription, *(lookup for lookup in common if lookup.variable != "SUBSCRIPTION"))


def _autoscale_profiles(facts: StackFacts) -> int:
    """How many profiles the stack's autoscale setting has: the steps read and hold `profiles[0]` only, and
    `az monitor autoscale update --min-count/--count` changes every profile that has no schedule (azure-cli
    monitor operations/latest/monitor/autoscale/_update.py: "There may be multiple 'default' profiles. All
    need to updated.", skipping those with fixedDate or recurrence), so a second profile is not this runbook's
    case."""
    setting = next(r for r in facts.resources if r.type == inv.AUTOSCALE)
    profiles = len(setting.properties["profiles"])
    if profiles != 1:
        raise ValueError(
            f"azure {facts.environment}: the autoscale setting `{setting.name}` has {profiles} profiles; "
            "replace-one-instance holds the minimum of exactly 1"
        )
    return profiles


def _replace_after_lookups(facts: StackFacts) -> tuple[str, ...]:
    """Run after the lookups: show what was found, refuse an autoscale setting with other profiles than the
    stack's, finish a step 4 cut off between its update and saving $STATE, reload a run in progress, and say
    when the last run finished."""
    profiles = _autoscale_profiles(facts)
    held = 'az monitor autoscale show -g "$RG" -n "$AUTOSCALE" --query "profiles[0].capacity.minimum" -o tsv'
    return (
        'echo "SUBSCRIPTION=$SUBSCRIPTION RG_ID=$RG_ID VMSS=$VMSS AGW=$AGW AUTOSCALE=$AUTOSCALE '
        'PROFILES=$PROFILES STATE=$STATE"',
        f'test "$PROFILES" = {profiles} || echo "STOP: the autoscale setting has ${{PROFILES:-?}} profiles, '
        f'the stack makes {profiles}: steps 4, 5 and 9 would hold the wrong minimum; go to Escalation"',
        # Step 4 writes $STATE.tmp, raises the minimum, then renames it: a shell lost between the two leaves
        # the values only in $STATE.tmp. The live minimum tells whether the update took (step 4's rename is
        # then all that is left) or not (step 4 runs again and rewrites $STATE.tmp).
        # The minimum is read once: a failed (empty) read is said to be one, not taken for "did not take".
        'if test -f "$STATE.tmp" && test ! -e "$STATE"; then\n'
        f"  HELD=$({held})\n"
        '  echo "step 4 was cut off: $STATE.tmp holds $(grep -oxE \'TARGET=[0-9]+\' "$STATE.tmp"), the '
        'autoscale minimum is ${HELD:-?}"\n'
        '  if test -z "$HELD"; then\n'
        '    echo "STOP: the minimum read failed (the error above): run the Names block again"\n'
        '  elif grep -qxF "TARGET=$HELD" "$STATE.tmp"; then\n'
        '    mv "$STATE.tmp" "$STATE" && echo "FINISHED step 4: its update took; $STATE saved"\n'
        "  else\n"
        '    echo "step 4\'s update did not take: run step 4 again"\n'
        "  fi\n"
        "fi",
        # What the state file holds is set only when it exists (`:-`: empty otherwise).
        'test -f "$STATE" && source "$STATE" && echo "RESUMING from $STATE: VM=${VM:-} CAP=${CAP:-} '
        'MIN=${MIN:-} OLD_IP=${OLD_IP:-} DEFAULT=${DEFAULT:-} TARGET=${TARGET:-} NEW_VM=${NEW_VM:-}"',
        # Step 9 (or Rollback 2) renames $STATE when the run is over: a re-run after it has nothing to load.
        'test ! -e "$STATE" && test -f "$STATE.done" && echo "the last run finished ($STATE.done): step 9 is '
        'done; a new run starts at step 1"',
    )


def _replace_hold(facts: StackFacts) -> Step:
    """Step 4: read the capacity and the autoscale limits, save them, then raise the minimum; refused when a
    run is already in progress (its state file exists) or the minimum is not the stack's own."""
    return Step(
        title="Save what the procedure restores, then hold the autoscale minimum at the current capacity + 1 "
        "for the duration (autoscale must not scale in the replacement or a healthy instance)",
        command='BEFORE=$(az vmss list-instances -g "$RG" -n "$VMSS" --query "[].name" -o tsv)\n'
        'CAP=$(az vmss show -g "$RG" -n "$VMSS" --query sku.capacity -o tsv)\n'
        'MIN=$(az monitor autoscale show -g "$RG" -n "$AUTOSCALE" --query '
        '"profiles[0].capacity.minimum" -o tsv)\n'
        'DEFAULT=$(az monitor autoscale show -g "$RG" -n "$AUTOSCALE" --query '
        '"profiles[0].capacity.default" -o tsv)\n'
        "TARGET=$((${CAP:-0} + 1))\n"
        # Step 8 counts the Up gateway servers other than this address before it deletes $VM.
        'OLD_IP=$(az vm list-ip-addresses -g "$RG" -n "$VM" '
        '--query "[0].virtualMachine.network.privateIpAddresses[0]" -o tsv)\n'
        'echo "VM=$VM OLD_IP=$OLD_IP BEFORE=$(echo $BEFORE) CAP=$CAP MIN=$MIN DEFAULT=$DEFAULT '
        'TARGET=$TARGET"\n'
        # A pasted block runs every line even after a failed guard: the state file and the change happen
        # only when every value read is sane and no earlier run is in progress.
        # $VM must be one of the scale set's instances (step 2's address list shows every VM of the group).
        # PROFILES (Names block): the stack's one profile, the only one `--min-count` may change.
        f'test ! -e "$STATE" && test "$PROFILES" = {_autoscale_profiles(facts)} && test -n "$VM" '
        '&& test -n "$OLD_IP" '
        f'&& printf \'%s\\n\' "$BEFORE" | grep -qxF "$VM" '
        f'&& test "$MIN" = {facts.min_size} && test -n "$DEFAULT" \\\n'
        f'  && test "${{CAP:-0}}" -ge {facts.min_size} && test "$TARGET" -le {facts.max_size} \\\n'
        "  && printf 'VM=%q\\nOLD_IP=%q\\nBEFORE=%q\\nCAP=%q\\nMIN=%q\\nDEFAULT=%q\\nTARGET=%q\\n' "
        '"$VM" "$OLD_IP" "$BEFORE" "$CAP" "$MIN" "$DEFAULT" "$TARGET" >"$STATE.tmp" \\\n'
        '  && az monitor autoscale update -g "$RG" -n "$AUTOSCALE" --min-count "$TARGET" --count "$TARGET" '
        '--query "profiles[0].capacity.minimum" -o tsv \\\n'
        # In place only once the minimum is raised: a failed update leaves no run in progress behind.
        '  && mv "$STATE.tmp" "$STATE" \\\n'
        '  || echo "STOP: nothing changed (a run is in progress, the autoscale setting has ${PROFILES:-?} '
        'profiles, $VM is not an instance of the scale set, or a value above is empty or out of range)"\n'
        # A refused re-run must not leave the values it just re-read (the raised minimum) in the shell.
        'test -f "$STATE" && source "$STATE"',
        expected=(
            f"the echo shows every value set, MIN {facts.min_size} (the stack's minimum), CAP "
            f"{facts.min_size} or more (autoscale may have scaled out), TARGET = CAP + 1; then the update "
            "prints $TARGET. $STATE now holds VM, OLD_IP (its address), BEFORE, CAP, MIN, DEFAULT and TARGET"
        ),
        stop_if=(
            "it prints STOP and $STATE existed before: a run is in progress; do not start another: continue "
            "it (Preconditions, Lost shell) or finish it with Rollback. It prints STOP, $STATE does not "
            "exist but $STATE.tmp does: a shell lost before step 4 saved it; run the Names block, which "
            "finishes it or says to run step 4 again. It prints STOP otherwise: "
            "nothing was changed; the setting has another number of profiles than the stack's "
            f"{_autoscale_profiles(facts)} (PROFILES empty: run the Names block; otherwise Escalation); "
            "$VM is not an instance of the scale set (set VM again from step 2's first "
            "list), a read failed (empty value; OLD_IP empty: $VM has no address, go to Escalation), CAP "
            "is below the minimum "
            f"{facts.min_size}, TARGET is above the autoscale maximum {facts.max_size}, or MIN is not the "
            f"stack's minimum {facts.min_size} (a previous run left it raised, or someone changed it): go to "
            "Escalation"
        ),
    )


def _replace_restore(facts: StackFacts, title: str) -> Step:
    """Give autoscale the minimum and default step 4 saved and resume it (step 8 or Rollback paused it), then
    retire the state file (the run is over). Run again once it is over ($STATE renamed, nothing to reload),
    it shows the setting as it is instead of nothing."""
    live = (
        'az monitor autoscale show -g "$RG" -n "$AUTOSCALE" '
        '--query "[profiles[0].capacity.minimum, enabled]" -o tsv'
    )
    return Step(
        title=title,
        command='if test -n "$MIN" && test -n "$DEFAULT"; then\n'
        '  az monitor autoscale update -g "$RG" -n "$AUTOSCALE" --min-count "$MIN" --count "$DEFAULT" '
        '--enabled true \\\n    --query "[profiles[0].capacity.minimum, enabled]" -o tsv'
        ' \\\n    && mv "$STATE" "$STATE.done"\n'
        'elif test ! -e "$STATE" && test -f "$STATE.done"; then\n'
        '  echo "the last run finished ($STATE.done); autoscale now:"\n'
        f"  {live}\n"
        "else\n"
        '  echo "STOP: MIN or DEFAULT is empty"\n'
        "fi",
        # tsv prints each element of a top-level list as its own row and a bare boolean row lower-case
        # (knack output.py, format_tsv / _TsvOutput._dump_row): `3` then `true` on two lines.
        expected="two lines: $MIN, then `true` (the minimum as before the procedure, autoscale running); "
        "autoscale "
        "scales any extra instance in by its own rules; $STATE is renamed $STATE.done (the run is over). "
        "Run again in the same shell: the two lines again and `mv: cannot stat`: it was over already. Run "
        "again after a lost shell once it had run: `the last run finished`, then "
        f"{facts.min_size} and `true`: the minimum and autoscale are back, the run is over",
        stop_if="`STOP: MIN or DEFAULT is empty`: lost shell, run the Names block (it reloads $STATE), then "
        "this step again. `the last run finished` with another minimum than "
        f"{facts.min_size} or `false`: someone changed the setting since: go to Escalation",
    )


def _replace_durations(facts: StackFacts) -> tuple[Duration, ...]:
    detection, boot, leave = _detection(facts), _boot(facts), _leave(facts)
    notice = facts.details["terminate_notice_seconds"]
    return (
        boot,
        leave,
        Duration(
            name="an instance whose watcher never approves leaves (the delete waits out the terminate "
            "notice)",
            formula=f"terminate notice timeout = notBeforeTimeout {notice} s",
            seconds=notice,
        ),
        detection,
        Duration(
            name="whole procedure",
            formula=f"boot {boot.seconds} s + leave {leave.seconds} s = {boot.seconds + leave.seconds} s",
            seconds=boot.seconds + leave.seconds,
        ),
        Duration(
            name="whole procedure, at most (the old instance never approves)",
            formula=f"boot {boot.seconds} s + terminate notice {notice} s = {boot.seconds + notice} s",
            seconds=boot.seconds + notice,
        ),
    )


def replace_one(facts: StackFacts) -> Runbook:
    n = facts.min_size
    boot, leave = _boot(facts), _leave(facts)
    notice = facts.details["terminate_notice_seconds"]
    gateway_view = (
        'az network application-gateway show-backend-health -g "$RG" -n "$AGW" \\\n'
        '  --query "backendAddressPools[0].backendHttpSettingsCollection[0].servers[].[address, health]" '
        "-o tsv"
    )
    new_health = (
        'az network application-gateway show-backend-health -g "$RG" -n "$AGW" '
        "--query \"backendAddressPools[0].backendHttpSettingsCollection[0].servers[?address=='$NEW_IP']"
        '.health" -o tsv'
    )
    # JMESPath raw string literals ('...'): a backtick literal inside the double-quoted argument would be
    # bash command substitution.
    others_healthy = (
        'az network application-gateway show-backend-health -g "$RG" -n "$AGW" '
        '--query "length(backendAddressPools[0].backendHttpSettingsCollection[0].servers'
        f"[?health=='{UP}' && address!='$OLD_IP'])\" -o tsv"
    )
    return _runbook(
        facts,
        "replace-one-instance",
        "Replace one instance",
        purpose="Take one instance out of service and replace it, with no failed request: add its "
        "replacement first, "
        "then delete it; the instance's terminate watcher leaves the gateway and drains before it stops.",
        when=(
            "an instance is unhealthy and automatic repair has not replaced it within its grace "
            f"({facts.grace_seconds} s)",
            "an instance is suspect (odd errors, latency, a security finding)",
            "Azure scheduled the VM for retirement or maintenance (Scheduled Events / Service Health)",
        ),
        blast_radius="One instance. The service keeps serving from the others; sessions and items are in the "
        "cache "
        "and the store, so no user notices.",
        capacity=(
            f"zones {', '.join(facts.zones) or 'none'}; autoscale minimum {facts.min_size}, "
            f"maximum {facts.max_size}; "
            f"{facts.per_zone}",
            "the fleet runs at its current capacity N (at least the minimum): step 4 holds the "
            "autoscale minimum at N + 1, step 5 adds one instance (N -> N + 1), step 8 pauses autoscale "
            "(with the minimum still N + 1 it can neither scale in a healthy instance during the delete nor "
            "add the deleted one back) and deletes the bad one (N + 1 -> N), step 9 gives autoscale its own "
            f"minimum back and resumes it (paused from step 8 to step 9, the delete taking at most the "
            f"terminate notice, {notice} s: no scale-out for load meanwhile)",
            f"capacity never falls below {n} of {n} during this procedure (the instance being "
            "replaced counts "
            "only while it is healthy)",
        ),
        durations=_replace_durations(facts),
        preconditions=(
            "a shell at the root of your fork of this repository (the lookups run `pulumi` with "
            f"`--cwd {PROJECT}`)",
            "`pulumi login` to the backend your team keeps the stack in (`pulumi whoami -v` names it); "
            "if the stack's secrets provider is a passphrase, `export PULUMI_CONFIG_PASSPHRASE` first: "
            "`pulumi stack output` asks for it even for plain outputs",
            "`az login`, `az account set --subscription <the stack's subscription id>` (the id is in stack "
            "output `actionGroup`: /subscriptions/<id>/...; the Names block sets it), and the role below on "
            "the stack's resource group",
            "the role below has been exercised: it is derived from these commands and not yet run against "
            "Azure (see Rehearsal), so run this runbook once in staging with exactly this role before "
            "relying on it in prod",
            f"the autoscale maximum ({facts.max_size}) leaves room for one more instance",
            "a subscription key of the API (verification step 2 asks for it): portal, the stack's API "
            "Management instance, APIs > Subscriptions",
            "Lost shell: open a new one at the same place, run the Names block (it reloads $STATE, which "
            "step 4 writes and step 6 extends; finishes a step 4 cut off before it saved $STATE; says when "
            "the last run finished), then continue from the step after the last one whose "
            "Expected you saw",
        ),
        lookups=_replace_lookups(facts),
        after_lookups=_replace_after_lookups(facts),
        steps=(
            Step(
                title="No rolling upgrade is in progress (it would replace instances under you)",
                command='az vmss rolling-upgrade get-latest -g "$RG" -n "$VMSS" '
                "--query runningStatus.code -o tsv",
                expected="`Completed` or `Cancelled`; `Faulted`: the last upgrade failed, proceed and tell "
                "the stack's owner; nothing on stdout and a `NotFound` error: no upgrade ever ran, proceed",
                stop_if="`RollingForward`: wait for it (the `replace-every-instance` runbook watches it); "
                "`AuthorizationFailed` (403): the role in Preconditions is missing on the resource group, "
                "escalate; any other error (throttling, a timeout): run it again, Escalation if it fails "
                "again (it changes nothing)",
            ),
            Step(
                title="List the instances with their zones and addresses, and the gateway's view of each "
                "address",
                command=(
                    'az vmss list-instances -g "$RG" -n "$VMSS" --query "[].[name, zones[0], '
                    'provisioningState]" -o tsv\n'
                    'az vm list-ip-addresses -g "$RG" '
                    '--query "[].virtualMachine.[name, network.privateIpAddresses[0]]" -o tsv\n'
                    + gateway_view
                ),
                expected=f"{n} or more lines `<name> <zone> Succeeded`; then each name with its address; "
                f"then each address with `{UP}` (the one you came for may show `{DOWN}`); {LEGEND}",
                stop_if=(
                    "the list is empty: wrong subscription ($SUBSCRIPTION); `Creating`, `Updating` or "
                    "`Deleting` (automatic repair at work): wait a minute and re-run. `Failed` on the "
                    "instance you came to replace: proceed (that is why you replace it)"
                ),
            ),
            Step(
                title="Pick the instance to replace and check its health as the health extension reports it",
                command='VM="<name from step 2>"\n'
                'az vm get-instance-view -g "$RG" -n "$VM" \\\n'
                '  --query "instanceView.vmHealth.status.code" -o tsv',
                expected=(
                    "`HealthState/unhealthy` for a broken instance (`HealthState/healthy` for a suspect one)"
                ),
                stop_if=(
                    "`ResourceNotFound`: the name is not one of step 2's, set VM again. No output or "
                    "`HealthState/unknown`: the extension cannot report (the app or the VM does not "
                    f"answer): replace it if step 2 shows the gateway reports its address `{DOWN}`, "
                    "otherwise escalate. `HealthState/healthy` and nothing suspect about it: do not "
                    "replace it"
                ),
            ),
            _replace_hold(facts),
            Step(
                title="Add one instance first, only if autoscale has not already added it for the new "
                "minimum (a scale set's capacity is absolute: setting it below the current one removes "
                "instances)",
                # One branch per outcome, so a failed read or a refused scale never prints the benign
                # `not scaling`; the live minimum proves step 4's update took effect.
                command='CUR=$(az vmss show -g "$RG" -n "$VMSS" --query sku.capacity -o tsv)\n'
                'HELD=$(az monitor autoscale show -g "$RG" -n "$AUTOSCALE" '
                '--query "profiles[0].capacity.minimum" -o tsv)\n'
                'if test -z "$CUR" || test -z "$HELD" || test -z "$TARGET"; then\n'
                '  echo "STOP: a read failed (capacity ${CUR:-?}, minimum ${HELD:-?}, target ${TARGET:-?})"\n'
                'elif test "$HELD" != "$TARGET"; then\n'
                '  echo "STOP: the autoscale minimum is $HELD, not $TARGET: step 4\'s update did not take"\n'
                'elif test "$CUR" -ge "$TARGET"; then\n'
                '  echo "not scaling: capacity is $CUR, target $TARGET"\n'
                # A failed scale is not always quota: autoscale (its minimum now raised) may be adding the
                # instance itself, and the scale then fails with a conflict; the capacity re-read tells.
                # (The reader reads the error: the command checker takes no redirection to capture it.)
                'elif ! az vmss scale -g "$RG" -n "$VMSS" --new-capacity "$TARGET" -o none; then\n'
                f"  sleep {SCALE_RECHECK_SECONDS}\n"
                '  NOW=$(az vmss show -g "$RG" -n "$VMSS" --query sku.capacity -o tsv)\n'
                '  if test "${NOW:-0}" -ge "$TARGET"; then\n'
                '    echo "autoscale added it: capacity is $NOW"\n'
                "  else\n"
                '    echo "STOP: the scale failed, capacity ${NOW:-?}: read the error above"\n'
                "  fi\n"
                "fi\n"
                'az vmss show -g "$RG" -n "$VMSS" --query sku.capacity -o tsv',
                expected="the scale blocks until the instance is created (minutes; it prints nothing): do "
                "not interrupt it; then $TARGET or more (`not scaling` when autoscale already added the "
                f"instance or scaled out for load; `autoscale added it` when the scale failed, for example "
                f"with a conflict, and the capacity read {SCALE_RECHECK_SECONDS} s later reached $TARGET)",
                stop_if=(
                    "`STOP: a read failed`: run the step again (lost shell: the Names block first). "
                    "`STOP: the autoscale minimum is ...`: nothing was scaled; if $STATE does not exist, "
                    "step "
                    "4's update "
                    "failed: run step 4 again; if it does, go to Escalation. The final capacity below "
                    "$TARGET without a STOP: the scale set is still adding it, wait a minute and run the "
                    "step again. `STOP: the scale failed`: an error above that names a quota (`... exceeding "
                    "approved ... Cores quota`: cores in the region): Rollback, then Escalation; do not "
                    "delete first. Any other error (`Conflict`: another operation on the scale set, or a "
                    "transient one): run the step again (it re-reads the capacity first), Escalation if it "
                    "fails again. `LinkedAuthorizationFailed` (403): the role lacks "
                    "the action the error names (on the subnet, gateway pool or identity the instances use): "
                    "Rollback, then escalate"
                ),
            ),
            Step(
                title="Name the new instance, its address and its zone; save them to $STATE",
                # A pasted block does not stop at a failed `${NAME:?}`: each outcome is a branch that says
                # what it found, and only exactly one new name is saved.
                command='NEW_VM=$(az vmss list-instances -g "$RG" -n "$VMSS" --query "[].name" -o tsv '
                '| grep -vxF "$BEFORE")\n'
                "COUNT=$(printf '%s' \"$NEW_VM\" | grep -c .)\n"
                'NEW_IP=$(test "$COUNT" = 1 && az vm list-ip-addresses -g "$RG" -n "$NEW_VM" \\\n'
                '  --query "[0].virtualMachine.network.privateIpAddresses[0]" -o tsv)\n'
                # Empty once step 8 deleted $VM (a re-run after it): then there is no old zone to count.
                'OLD_ZONE=$(az vm show -g "$RG" -n "$VM" --query "zones[0]" -o tsv)\n'
                'LEFT=$(test -n "$OLD_ZONE" && az vmss list-instances -g "$RG" -n "$VMSS" '
                "--query \"length([?zones[0]=='$OLD_ZONE' && name!='$VM'])\" -o tsv)\n"
                'if test "$COUNT" != 1; then\n'
                '  echo "STOP: $COUNT new instances, not 1: $(echo $NEW_VM)"\n'
                'elif test -z "$NEW_IP"; then\n'
                f'  echo "STOP: $NEW_VM has no address yet: wait {POLL_SECONDS} s, run this step again"\n'
                "else\n"
                '  printf \'NEW_VM=%q\\nNEW_IP=%q\\n\' "$NEW_VM" "$NEW_IP" >>"$STATE"\n'
                '  echo "$NEW_VM $NEW_IP zone $(az vm show -g "$RG" -n "$NEW_VM" --query "zones[0]" -o tsv);'
                ' old zone ${OLD_ZONE:-? ($VM is gone)} keeps ${LEFT:-?} other instance(s)"\n'
                "fi\n"
                'test -n "$OLD_ZONE" && test "$LEFT" = 0 \\\n'
                "  && echo \"WARNING: zone $OLD_ZONE is left with no instance: tell the stack's owner "
                "after the "
                'procedure"',
                expected="one name (not $VM, not in step 4's $BEFORE), its private address, its zone and "
                "how many other instances (the new one included) stay in the old instance's zone. Another "
                "zone than the old "
                "instance's is acceptable: zone balance is best effort (at the "
                f"minimum: {facts.per_zone}) and the service keeps no state on an instance. The count is of "
                f"instances, not of serving ones: one that step 2 showed `{DOWN}` counts as none. Run again "
                "after step 8: `old zone ? ($VM is gone)` and no WARNING",
                stop_if=(
                    "`STOP: 0 new instances`: step 5 did not scale out, run it again. `STOP: 2 new "
                    "instances` (or more): autoscale scaled out for load or automatic repair replaced one "
                    "meanwhile; the one step 7 should wait for is ambiguous: go to Escalation (or, if you "
                    "know which is yours, `NEW_VM=<it>` and run the step from the COUNT line). `no address "
                    "yet`: wait a minute and run it again. `WARNING` (or every other instance of the old "
                    f"zone `{DOWN}` in step 2): proceed (the service keeps serving from the other zones), "
                    "and tell the stack's owner"
                ),
            ),
            Step(
                title=(
                    f"Wait until the gateway reports the new instance `{UP}` (checks every "
                    f"{POLL_SECONDS} s, gives up after the boot budget {boot.seconds} s)"
                ),
                # Each pass prints the time and the state, so a quiet shell is never mistaken for a hung one.
                # An address absent from the pool whose VM is gone (autoscale scaled it in: the capacity was
                # above $TARGET) ends the wait at once, with az's ResourceNotFound error.
                command=f"DEADLINE=$((SECONDS + {boot.seconds}))\n"
                "H=\n"
                "GONE=\n"
                f'until test "$H" = {UP} || test -n "$GONE" || test "$SECONDS" -ge "$DEADLINE"; do\n'
                f"  H=$({new_health})\n"
                '  echo "$(date +%T) ${H:-absent from the pool}"\n'
                # Only a deleted VM ends the wait: a throttled or timed-out read (429, 5xx) keeps waiting.
                '  if test -z "$H" && az vm show -g "$RG" -n "$NEW_VM" -o none 2>&1 >/dev/null '
                "| grep -q ResourceNotFound; then GONE=yes; fi\n"
                f'  test "$H" = {UP} || test -n "$GONE" || sleep {POLL_SECONDS}; done\n'
                'echo "gateway: $H"',
                # The backend health operation is long-running (202 Accepted, then polled: "Application
                # Gateways - Backend Health", learn.microsoft.com/rest/api/application-gateway/
                # application-gateways/backend-health).
                expected=f"a line every {POLL_SECONDS} s or more with the time and the new address's state "
                "(each check of the gateway can itself take tens of seconds: do not interrupt it), then "
                f"`gateway: {UP}`. While it boots: `{DOWN}`, or `{UNKNOWN}` (not determined yet): keep "
                "waiting",
                stop_if=(
                    "`gateway: ` with nothing after it and a `ResourceNotFound` error above: autoscale "
                    "removed $NEW_VM (a scale-in: the capacity was above $TARGET): run step 5 again, then "
                    "steps 6 and 7. `gateway: ` with nothing after it and an az error above the last "
                    "line (AuthorizationFailed, TooManyRequests, a timeout): the read failed, not the "
                    "instance: fix the cause (the role's polling reads, see Preconditions) and run this step "
                    "again; do not roll back for it. `gateway: ` with nothing after it and no error: the new "
                    "address is not in the gateway's pool (the instance's network interface did not join "
                    "it); any other state "
                    f"(`{DOWN}`, `{UNKNOWN}`, `{DRAINING}`: being removed): it did not pass its health check "
                    "within the boot budget. Either way: follow Rollback (delete "
                    "$NEW_VM with autoscale paused, then give the minimum back and resume it) and escalate"
                ),
            ),
            Step(
                title=f"Check the new instance is still `{UP}`, pause autoscale (the minimum stays raised, "
                "so no instance can be scaled in meanwhile), then delete the instance: "
                "Azure raises a Terminate scheduled event; its terminate watcher sends the service SIGUSR1 "
                "(health path fails, the gateway stops routing), waits out the detection, stops the "
                "service and approves",
                # Lowering the minimum before the delete would leave CAP + 1 instances at a minimum of CAP:
                # a scale-in during the delete would take a second, healthy instance. Paused, autoscale
                # neither scales in nor adds the deleted one back; step 9 resumes it.
                command=f"H=$({new_health})\n"
                # Every serving instance but the one deleted, in one read of the gateway: the delete must
                # leave at least the stack's minimum Up.
                f"OTHERS=$({others_healthy})\n"
                'echo "new instance ${NEW_VM:-unset} (${NEW_IP:-unset}): ${H:-absent from the pool}; '
                f'{UP} other than $VM (${{OLD_IP:-unset}}): ${{OTHERS:-?}}, at least {n} needed"\n'
                # One branch per outcome, each saying what to do: only the last deletes.
                'if test -z "$VM" || test -z "$OLD_IP" || test -z "$NEW_IP"; then\n'
                '  echo "STOP: nothing changed: unset (lost shell)"\n'
                f'elif test "$H" != {UP}; then\n'
                f'  echo "STOP: nothing changed: the new instance is not {UP}"\n'
                f'elif test "${{OTHERS:-0}}" -lt {n}; then\n'
                f'  echo "STOP: nothing changed: another instance is not {UP}; '
                'do not delete $VM, do not roll back"\n'
                'elif az monitor autoscale update -g "$RG" -n "$AUTOSCALE" --enabled false --query enabled '
                "-o tsv; then\n"
                '  az vmss delete-instances -g "$RG" -n "$VMSS" --instance-ids "$VM" \\\n'
                # A re-run while the first delete still runs fails with other errors than NotFound.
                '    || echo "the delete failed; $VM is now: '
                '$(az vm show -g "$RG" -n "$VM" --query provisioningState -o tsv)"\n'
                "fi\n"
                'az vmss show -g "$RG" -n "$VMSS" --query sku.capacity -o tsv',
                expected=(
                    f"`new instance ... {UP}; {UP} other than ...: N, at least {n} needed` with N "
                    f"= $CAP or more ({n} or more); `false` (autoscale paused); then the delete returns in "
                    "about "
                    f"{leave.seconds} s if the instance's watcher "
                    "approves, otherwise when the terminate notice runs out (notBeforeTimeout "
                    f"{notice} s): do not interrupt it; then $CAP. A `NotFound` error (a second run, or "
                    "automatic repair replaced $VM meanwhile): the delete is done. `the delete failed; $VM "
                    "is now: Deleting` (a re-run while the first delete still runs): wait, re-running only "
                    'the `az vm show -g "$RG" -n "$VM" --query provisioningState -o tsv` until it fails with '
                    "`ResourceNotFound`, then step 9; `now: ` with nothing after it: $VM is gone, step 9"
                ),
                stop_if=(
                    "`STOP: nothing changed: unset`: run the Names block, then this step again. "
                    f"`STOP: nothing changed: the new instance is not {UP}`: run step 7 again (it waits); if "
                    "step 7 gives up, Rollback, unless $VM is already gone (a re-run after this step's "
                    "delete: "
                    '`az vm show -g "$RG" -n "$VM" -o none` fails with `ResourceNotFound`): then do not '
                    "delete $NEW_VM, run step 9 and escalate (Rollback 1 checks this itself). "
                    f"`STOP: nothing changed: another instance is not {UP}` (the new one is {UP}, but "
                    f"deleting $VM would leave fewer than {n} serving): do not delete $VM and do not roll "
                    "back (the new instance is serving); leave autoscale held at $TARGET as it is and go to "
                    "Escalation with step 2's output. `the delete failed; $VM is now: "
                    "Succeeded` or `Failed`: the delete was refused (the error above): run step 9, then "
                    "escalate. Errors rise on the alerts or "
                    "dashboards: run step 9 (autoscale must not stay paused), then escalate"
                ),
            ),
            _replace_restore(facts, "Give the autoscale setting back its minimum and default, and resume it"),
        ),
        verification=(_verification(facts)[0], _KEY_STEP, *_verification(facts)[1:]),
        rollback=(
            # As in step 8: paused with the minimum still raised, autoscale can neither scale in a healthy
            # instance during the delete nor add the deleted one back; Rollback 2 resumes it.
            Step(
                title=(
                    "If step 6 named a new instance, pause autoscale and remove it, keeping the old one "
                    "(the fleet is as before)"
                ),
                # The old instance must still exist: after step 8 deleted it (a lost shell, a re-run, a
                # new instance briefly not Up), deleting the new one would leave the fleet one short with
                # autoscale paused. Any other failure to read it deletes nothing either.
                command='if test -z "$NEW_VM"; then\n'
                '  echo "no new instance named (stopped before step 6): nothing to delete"\n'
                'elif az vm show -g "$RG" -n "$VM" -o none 2>&1 >/dev/null | grep -q ResourceNotFound; then\n'
                '  echo "STOP: $VM is gone (step 8 deleted it): do not delete $NEW_VM, the replacement"\n'
                'elif ! az vm show -g "$RG" -n "$VM" -o none; then\n'
                '  echo "STOP: could not read $VM (the error above): nothing deleted, run this step again"\n'
                'elif az monitor autoscale update -g "$RG" -n "$AUTOSCALE" --enabled false --query enabled '
                "-o tsv; then\n"
                '  az vmss delete-instances -g "$RG" -n "$VMSS" --instance-ids "$NEW_VM"\n'
                "fi",
                expected=f"`false`, then the delete returns within the terminate notice ({notice} s); or "
                "`nothing to delete`",
                stop_if="`STOP: $VM is gone`: the old instance was deleted (step 8 ran), so $NEW_VM is the "
                "fleet's replacement: nothing was deleted; run step 9 (minimum back, autoscale resumed), "
                "then escalate with step 7's output. `STOP: could not read $VM`: run this step again, "
                "Escalation if it fails again. "
                "The delete fails other than `NotFound`: still run Rollback 2 (autoscale must not "
                "stay paused), then escalate",
            ),
            _replace_restore(
                facts,
                "Give the autoscale setting back its minimum and default (step 4 raised it), and resume it",
            ),
        ),
        escalation=_escalation(facts),
    )


def cache_metrics(facts: StackFacts) -> list[str]:
    """The cache metrics the stack's own alerts watch (their criteria in the inventory)."""
    names = [
        criterion["metricName"]
        for resource in facts.resources
        if resource.type == "azure-native:monitor:MetricAlert"
        for criterion in resource.properties.get("criteria", {}).get("allOf", [])
        if criterion.get("metricNamespace") == "Microsoft.Cache/redisEnterprise"
    ]
    if not names:
        raise ValueError(f"azure {facts.environment}: no alert watches the cache")
    return names


def _batches(facts: StackFacts) -> int:
    return math.ceil(facts.desired / max(facts.surge, 1))


def replace_every(facts: StackFacts) -> Runbook:
    batches = _batches(facts)
    boot, pause = _boot(facts), facts.warmup_seconds
    per_batch = boot.seconds + pause
    return _runbook(
        facts,
        "replace-every-instance",
        "Replace every instance",
        purpose="Roll every instance onto the scale set's current model (a new image version, a new "
        "release already "
        "deployed with `pulumi up`, or fresh instances after leaked credentials): the rolling "
        "upgrade adds each "
        "batch's replacements before it removes the old instances (max surge).",
        when=(
            "a new release was deployed and its rollout did not finish, or must be repeated",
            "the image (Debian 12 `latest`) has security fixes: instances are patched by replacement",
            "credentials on the instances may have leaked (the managed identity's tokens expire; "
            "rotate secrets in Key Vault first)",
        ),
        blast_radius="Every instance, one batch at a time. The rolling upgrade stops by itself when too many "
        "instances "
        "are unhealthy and rolls failed ones back.",
        capacity=(
            f"{facts.desired} instances (autoscale default), batch of {max(facts.surge, 1)} added "
            "first (max surge)",
            f"{batches} batch(es); old instances leave only once their replacements are healthy",
            f"capacity never falls below {facts.minimum_healthy} of {facts.desired} during this procedure",
        ),
        durations=(
            Duration(
                name="one batch",
                formula=f"boot {boot.seconds} s (at most) + pause between batches {pause} s = {per_batch} s",
                seconds=per_batch,
            ),
            Duration(
                name="every instance (at most)",
                formula=f"{batches} batch(es) x {per_batch} s = {batches * per_batch} s",
                seconds=batches * per_batch,
            ),
        ),
        preconditions=(
            "`az login` with the role below; `pulumi login`",
            "the deployment you want on the instances is the stack's current one (`pulumi up` finished)",
        ),
        lookups=_lookups(facts),
        steps=(
            Step(
                title="Start the rolling upgrade",
                command='az vmss rolling-upgrade start -g "$RG" -n "$VMSS" --no-wait',
                expected="returns at once",
                stop_if="`Conflict`: an upgrade is already running; watch it (step 2) instead",
            ),
            Step(
                title="Watch it, every minute",
                command='az vmss rolling-upgrade get-latest -g "$RG" -n "$VMSS" \\\n'
                '  --query "[runningStatus.code, progress.successfulInstanceCount, '
                'progress.failedInstanceCount, progress.pendingInstanceCount]" -o tsv',
                expected=f"`RollingForward`, then `Completed` with {facts.desired} successful and 0 failed",
                stop_if="failedInstanceCount rises or the dashboard shows errors: cancel (step 3)",
            ),
            Step(
                title=(
                    "Pause or stop: cancel the upgrade (instances already replaced stay; the rest "
                    "keep the old model)"
                ),
                command='az vmss rolling-upgrade cancel -g "$RG" -n "$VMSS"',
                expected="`get-latest` says `Cancelled`",
            ),
            _backend_health(f"{facts.desired} or more lines, each `{UP}`"),
        ),
        verification=_verification(facts),
        rollback=(
            Step(
                title="The upgrade rolls failed instances back by itself "
                "(rollbackFailedInstancesOnPolicyBreach); to return "
                "every instance to the previous release, follow the `roll-back-release` runbook"
            ),
        ),
        escalation=_escalation(facts),
    )


def evacuate_zone(facts: StackFacts) -> Runbook:
    zones = len(facts.zones)
    lost = facts.lost_per_zone
    survivors = facts.min_size - lost
    target = facts.min_size + lost
    single = zones < 2 or survivors == 0
    return _runbook(
        facts,
        "evacuate-zone",
        "Evacuate a zone and return",
        purpose="Move the service's capacity out of an impaired availability zone and back once it "
        "recovers. A Flexible "
        "scale set cannot exclude a zone, so: add capacity first, delete the instances in the "
        "impaired zone, and "
        "let the gateway's probes keep traffic off anything left there.",
        when=(
            "Azure Service Health reports an availability-zone impairment in the region",
            "instances in one zone fail health checks while the others are fine",
        ),
        blast_radius=(
            f"The instances in one of {zones} zones."
            if not single
            else f"This stack spans {zones} zone(s) at a minimum of {facts.min_size}: losing a zone may "
            "take every instance; "
            "the service is down until capacity comes back."
        ),
        capacity=(
            f"zones {', '.join(facts.zones) or 'none'}; {facts.per_zone}",
            f"a zone holds at most {lost} of the {facts.min_size} minimum instances; step 3 holds the "
            f"autoscale minimum at the current capacity N + {lost} and step 4 scales to it "
            f"(at the minimum: {facts.min_size} + {lost} = {target})",
            f"capacity never falls below {survivors} of {facts.min_size} during this procedure "
            "(what the other zones hold when the zone fails)",
        ),
        durations=(
            _detection(facts),
            _boot(facts),
            Duration(
                name="evacuation",
                formula=f"boot {facts.grace_seconds} s + leave {_leave(facts).seconds} s "
                f"= {facts.grace_seconds + _leave(facts).seconds} s",
                seconds=facts.grace_seconds + _leave(facts).seconds,
            ),
        ),
        preconditions=(
            "`az login` with the role below; `pulumi login`",
            f"quota for {target} instances of the scale set's VM size in the region",
        ),
        lookups=_lookups(
            facts,
            _autoscale_lookup(facts),
            Lookup(
                variable="ZONE",
                command=f'echo "<impaired zone: {" or ".join(facts.zones)}>"',
                source="Azure Service Health (the zone number)",
            ),
            Lookup(
                variable="EVACUEES",
                command=(
                    'az vmss list-instances -g "$RG" -n "$VMSS" --query "[?zones[0]==\'$ZONE\'].name" -o tsv'
                ),
                source="the scale set's instances in zone $ZONE",
            ),
        ),
        steps=(
            Step(
                title="Instances in the impaired zone (looked up above)",
                command='echo "$EVACUEES"',
                expected=f"at most {lost} name(s)",
            ),
            _backend_health(
                f"the instances of the impaired zone `{DOWN}` or slow, the others `{UP}`",
                f"none `{UP}`: the service is down, go to Escalation (and carry on: capacity comes first)",
            ),
            _hold_minimum(facts, lost, "autoscale must not scale the added capacity back in"),
            Step(
                title="Add capacity for what the zone held (new instances go to zones that can allocate)",
                command='az vmss scale -g "$RG" -n "$VMSS" --new-capacity "$TARGET"\n'
                'az vmss show -g "$RG" -n "$VMSS" --query sku.capacity -o tsv',
                expected=f"$TARGET ($CAP + {lost})",
                stop_if="allocation fails in every zone: escalate",
            ),
            Step(
                title=(
                    "Delete the instances of the impaired zone (their terminate watchers drain them "
                    "if they still run)"
                ),
                command='az vmss delete-instances -g "$RG" -n "$VMSS" --instance-ids $EVACUEES',
                expected="the instances are gone; autoscale refills to the held minimum in the other zones",
                stop_if=f"the remaining instances are not `{UP}` at the gateway",
            ),
            _restore_minimum("Give the autoscale setting back its minimum and default (step 3 raised it)"),
            Step(
                title="Return: once Service Health reports the zone recovered, leave the count to the "
                "autoscale setting "
                "(it scales in on low CPU); replace instances to rebalance zones with the "
                "`replace-every-instance` runbook"
            ),
        ),
        verification=_verification(facts),
        rollback=(
            Step(
                title=(
                    "Nothing to undo: the instances deleted were in the impaired zone; the extra "
                    "capacity scales in by itself once the minimum is restored"
                )
            ),
            _restore_minimum("If you stopped after step 3, give the autoscale setting back its minimum"),
        ),
        escalation=_escalation(facts),
    )


def cache_failure(facts: StackFacts) -> Runbook:
    ha = facts.cache_failover
    return _runbook(
        facts,
        "cache-primary-failure",
        "Cache primary failure",
        purpose=(
            "Azure Managed Redis with high availability promotes the replica shard by itself when "
            "the primary's node "
            "fails; this runbook confirms the promotion, watches the fleet reconnect and what the "
            "sessions lost."
            if ha
            else "This environment's Azure Managed Redis has high availability off (no replica): a "
            "primary failure loses every "
            "session until the platform replaces the node; users sign in again and the service "
            "recreates sessions."
        ),
        when=(
            "the cache alerts fire (server load, memory, CPU) or the service logs cache connection errors",
            "Azure Service Health reports an Azure Managed Redis incident in the region",
        ),
        blast_radius=(
            "Sessions written in the moment before the failover may be lost; requests fail while "
            "clients reconnect."
            if ha
            else "Every session: users are signed out. Items and files are untouched."
        ),
        capacity=(
            f"instances are not replaced: capacity stays at {facts.desired} of {facts.desired}",
            f"cache replicas: {facts.cache_replicas}",
            f"capacity never falls below {facts.desired} of {facts.desired} during this procedure",
        ),
        durations=(
            Duration(
                name="promotion (platform)",
                formula="platform-managed: no value of the stack bounds it (0 = not estimated)",
                seconds=0,
            ),
            _detection(facts),
        ),
        preconditions=(
            "`az login` with the role below; `pulumi login`",
            "azure-cli's `redisenterprise` commands are an extension; this runbook uses core `az "
            "resource` and "
            "`az monitor` commands only, and there is no command to force a failover of Azure Managed Redis",
        ),
        lookups=_lookups(
            facts,
            Lookup(
                variable="CACHE_ID",
                command=(
                    'az resource list -g "$RG" --resource-type Microsoft.Cache/redisEnterprise '
                    '--query "[0].id" -o tsv'
                ),
                source="the resource group's Azure Managed Redis cluster (host in stack output `cacheHost`)",
            ),
        ),
        steps=(
            Step(
                title="The cluster's state",
                command=(
                    'az resource show --ids "$CACHE_ID" --query "[properties.provisioningState, '
                    'properties.resourceState]" -o tsv'
                ),
                expected=(
                    "`Succeeded Running` once the promotion is over (`Updating` while the platform works)"
                ),
                stop_if="`Failed` or `Disabled`: escalate",
            ),
            Step(
                title="The cache's alerted metrics, minute by minute: a spike at the failure, then back",
                command=(
                    'az monitor metrics list --resource "$CACHE_ID" \\\n'
                    f"  --metric {' '.join(cache_metrics(facts))} --interval PT1M --aggregation Maximum"
                ),
                expected="values back to where they were before the failure",
            ),
            _backend_health(
                f"{facts.desired} lines `{UP}`: the shallow health path does not depend on the cache"
            ),
        ),
        verification=_verification(facts),
        rollback=(Step(title="Nothing to roll back: the platform chose the new primary"),),
        escalation=_escalation(facts),
    )


# Where the restore keeps the accounts it moves between (RESTORED; PREVIOUS: the `itemsAccount` it found,
# empty for the own account): a lost shell and the Rollback use the values read before any change.
RESTORE_STATE = "$HOME/restore-$RG.env"
# How long a new data-plane role assignment may take before the fleet's identity is allowed: Azure documents
# "up to 10 minutes" for role assignment changes ("Troubleshoot Azure RBAC", Symptom - Role assignment
# changes are not being detected, learn.microsoft.com/azure/role-based-access-control/troubleshooting); the
# Cosmos DB data-plane RBAC page (how-to-setup-rbac) gives no figure of its own. The private endpoint's DNS
# record exists when `pulumi up` returns (its zone group is created in the update) and no instance has looked
# the new account's name up before, so no cached answer has to expire.
PROPAGATION_SECONDS = 600
# The latest rolling upgrade's start time, read from Azure before an update that changes the scale set's
# model: the upgrade that update starts is the one with another start time (both times are Azure's, so the
# operator's clock plays no part).
_LAST_UPGRADE = (
    'LAST_UPGRADE=$(az vmss rolling-upgrade get-latest -g "$RG" -n "$VMSS" '
    "--query runningStatus.startTime -o tsv)"
)


def _progress(stage: str) -> str:
    """Record, before a switch's config change, which step started (STAGE) and the latest upgrade's start
    time (LAST_UPGRADE) in $STATE: the config alone reads the same before a switch's update and during its
    rolling upgrade, and a lost shell must not lose the start time the wait compares against."""
    return f'printf \'STAGE={stage}\\nLAST_UPGRADE=%q\\n\' "$LAST_UPGRADE" >>"$STATE"'


def _restored_name_rule() -> tuple[int, str]:
    """The longest account name the stack accepts for `itemsAccount` and the form it takes (pulumi/azure
    settings.py: OTHER_ACCOUNT_MAX, OTHER_ACCOUNT_PATTERN, a POSIX extended regular expression)."""
    from refarch_pulumi.offline import project

    settings = project("azure").module("settings")
    return settings.OTHER_ACCOUNT_MAX, settings.OTHER_ACCOUNT_PATTERN


# The resource group's locks on Cosmos DB accounts: a lock's id is its resource's id followed by
# /providers/Microsoft.Authorization/locks/<name>. `--resource-type` alone is refused by azure-cli
# ("--resource-type is ignored if --resource is not given.", resource/_validators.py
# internal_validate_lock_parameters), so the accounts' locks are picked by id. Quoted in prose:
# tests/docs/test_commands.py parses the commands quoted in prose too.
LOCK_LIST = (
    'az lock list -g "$RG" --query "[?contains(id, \'/Microsoft.DocumentDB/databaseAccounts/\')].id" -o tsv'
)


def _interrupted(stack: str) -> str:
    """What to do when a `pulumi up` is interrupted: its creates stay pending in the state and the next
    update creates them again (pulumi/pulumi#11599); the role assignment's fixed id is then refused as
    existing (pulumi-azure-native#1123) and the auto-named lock is made twice. `pulumi refresh` resolves
    pending creates only when run interactively ("Recovering from an interrupted update",
    https://www.pulumi.com/docs/support/troubleshooting/common-issues/interrupted-updates)."""
    return (
        "; the update was interrupted (lost shell, Ctrl-C): run `pulumi refresh "
        + stack
        + "` first, without `--yes` (it asks, for each pending create, to import what Azure created or to "
        f"clear it), then `{LOCK_LIST}` shows at most one lock per account (a second one is orphaned and "
        "would block deletes: escalate), then run only its `pulumi up` again"
    )


def _upgrade_wait(why: str, stop_if: str) -> Step:
    """Wait for the rolling upgrade a switch's `pulumi up` started: `Completed` alone could be an earlier
    upgrade's, so its start time is compared with the one read before the update ($LAST_UPGRADE)."""
    return Step(
        title="Wait for the rolling upgrade, every minute: `pulumi up` returns before it finishes, and "
        + why,
        command='az vmss rolling-upgrade get-latest -g "$RG" -n "$VMSS" '
        '--query "[runningStatus.code, runningStatus.startTime]" -o tsv\n'
        'echo "$LAST_UPGRADE"',
        expected="`RollingForward`, then `Completed`, with a start time other than the one on the "
        "second line "
        "(the latest upgrade before the update; empty if the scale set had none). Both times are Azure's",
        stop_if=stop_if + "; still the start time of the second line after five minutes: no upgrade has "
        "started for this change: escalate",
    )


def _propagation_wait(account: str) -> Step:
    minutes = PROPAGATION_SECONDS // 60
    return Step(
        title=f"Wait until the fleet's data role on {account} has taken effect: Azure documents up to "
        f"{minutes} minutes for a role assignment (Troubleshoot Azure RBAC); the private endpoint's "
        "DNS record "
        "already exists",
        command=f'az cosmosdb sql role assignment list -g "$RG" -a "{account}" --query "[].scope" -o tsv\n'
        f"sleep {PROPAGATION_SECONDS}",
        expected=f"one scope ending in `/dbs/service/colls/items`, then the prompt after {minutes} minutes",
        stop_if="no scope: the update did not grant the role: run its `pulumi up` again",
    )


def _committed(facts: StackFacts, message: str) -> str:
    """Commit the stack's config right after changing it: a later deployment from the repository must not
    bring back the setting this change replaced (https://www.pulumi.com/docs/iac/concepts/config/: `pulumi
    config set/rm` write Pulumi.<stack>.yaml); `git diff --exit-code` proves nothing of it stayed out."""
    config = f"{PROJECT}/Pulumi.{facts.environment}.yaml"
    return f'git commit -m "{facts.environment}: {message}" {config} && git diff --exit-code {config}'


def _restored_account_checks(facts: StackFacts) -> tuple[str, str, str]:
    """What the restored account must have like the stack's own (read from the inventory): a restore sends
    none of these but public access and local auth (azure-cli 2.91.0 `cli_cosmosdb_restore`), so step 4 sets
    them, and the stack's tags. Returns the `az cosmosdb update` commands, the show query's fields and their
    expected values.

    The backup tier goes in an update of its own, first: the provider refuses a change of the continuous
    backup mode sent with any other property ("Cannot update continuous backup mode and other properties at
    the same time": Azure/bicep#12403, Azure/bicep-types-az#1940), and azure-cli's `cli_cosmosdb_update`
    sends only the properties given. A restored account gets Continuous30Days whatever the source's tier
    ("Resource model for point in time restore": with no tier given, Continuous30Days applies;
    https://learn.microsoft.com/azure/cosmos-db/continuous-backup-restore-resource-model), so the tier
    update changes it wherever the stack's own account has Continuous7Days."""
    store = next(r for r in facts.resources if r.type == inv.STORE).properties
    consistency, tls = facts.details["store_consistency"], store["minimalTlsVersion"]
    metadata = str(bool(store["disableKeyBasedMetadataWriteAccess"])).lower()
    tags = sorted(store.get("tags", {}).items())
    update = 'az cosmosdb update -g "$RG" -n "$RESTORED" '
    commands = (
        f"{update}--default-consistency-level {consistency} "
        f"--disable-key-based-metadata-write-access {metadata} \\\n  --minimal-tls-version {tls}"
        + (f" --tags {' '.join(shlex.quote(f'{key}={value}') for key, value in tags)}" if tags else "")
    )
    fields = (
        "consistencyPolicy.defaultConsistencyLevel, disableKeyBasedMetadataWriteAccess, minimalTlsVersion"
    )
    # az's tsv prints each item of a flat list on a line of its own, a boolean as `true`/`false` and a map
    # as one line of its values in the order of their keys (knack output.py, _TsvOutput._dump_row).
    expected = [consistency, metadata, tls]
    if facts.store_pitr:
        # The restore point of a later incident: the restored account keeps the original's backup window.
        tier = store["backupPolicy"]["continuousModeProperties"]["tier"]
        commands = f"{update}--backup-policy-type Continuous --continuous-tier {tier}\n" + commands
        fields += ", backupPolicy.type, backupPolicy.continuousModeProperties.tier"
        expected += ["Continuous", tier]
    lines = "one value per line: " + ", ".join(f"`{value}`" for value in expected)
    if tags:
        fields += ", tags"
        lines += (
            f", then the tags' values on one line, tab-separated, by name ({', '.join(k for k, _ in tags)}): "
            f"`{' '.join(value for _, value in tags)}`"
        )
    return commands, f"[{fields}]", lines


def _restored_container(facts: StackFacts) -> str:
    """The az arguments naming the service's container (the inventory's) in the restored account."""
    container = next(r for r in facts.resources if r.type == inv.CONTAINER).properties
    return f'-g "$RG" -a "$RESTORED" -d {container["databaseName"]} -n {container["containerName"]}'


def _restored_container_settings(facts: StackFacts) -> tuple[str, str]:
    """The container settings the stack gives its own account's container and never the restored one's
    (while `itemsAccount` is set the spec reaches only the stack's own account: pulumi/azure/README.md, known
    limits): the autoscale ceiling (azure.cosmos_max_throughput), the default TTL and the indexing policy,
    read from the inventory. Returns the commands that set them (each prints what it set) and what they
    print."""
    container = next(r for r in facts.resources if r.type == inv.CONTAINER).properties
    name = _restored_container(facts)
    ceiling = container["options"]["autoscaleSettings"]["maxThroughput"]
    ttl, indexing = container["resource"]["defaultTtl"], container["resource"]["indexingPolicy"]
    commands = (
        f"az cosmosdb sql container throughput update {name} --max-throughput {ceiling} \\\n"
        '  --query "resource.autoscaleSettings.maxThroughput" -o tsv\n'
        f"az cosmosdb sql container update {name} --ttl={ttl} \\\n"
        f"  --idx '{json.dumps(indexing, separators=(',', ':'), sort_keys=True)}' \\\n"
        '  --query "[resource.defaultTtl, resource.indexingPolicy.indexingMode]" -o tsv'
    )
    return commands, f"`{ceiling}`, then `{ttl}` and `{indexing['indexingMode']}`"


# Whether a restore az stopped waiting for has finished (the account's provisioningState), quoted in prose.
RESTORED_STATE = 'az cosmosdb show -g "$RG" -n "$RESTORED" --query provisioningState -o tsv'


def restore_store(facts: StackFacts) -> Runbook:
    stack = f"--stack {facts.environment} --cwd {PROJECT}"
    locked = facts.details.get("store_locked", False)
    consistency = facts.details["store_consistency"]
    zone_redundant = facts.details["store_zone_redundant"]
    replace = replace_every(facts)
    updates, query, matching = _restored_account_checks(facts)
    container_commands, container_expected = _restored_container_settings(facts)
    migrate = f"az cosmosdb sql container throughput migrate {_restored_container(facts)} -t autoscale"
    lock_and = " lock and" if locked else ""
    interrupted = _interrupted(stack)
    name_max, name_pattern = _restored_name_rule()
    config = f"{PROJECT}/Pulumi.{facts.environment}.yaml"
    own_role = permissions.role_name(facts.environment, "restore-store")
    locations_role = permissions.locations_role_name(facts.environment, "restore-store")
    return _runbook(
        facts,
        "restore-store",
        "Restore the store to a point in time",
        purpose=(
            "Restore the Cosmos DB account the fleet uses to a point in time before the damage, into a new "
            "account, verify it, grant the fleet access to it, switch the fleet to it with the stack's "
            "`itemsAccount` setting, then stop reaching the account it used before. "
        )
        + facts.store_backup
        + ".",
        when=(
            "items were corrupted or deleted by a bad release or an operator",
            "not for a Cosmos DB outage: the platform recovers the account; wait for it",
        ),
        blast_radius="Writes after the restore point are not in the restored account (the data lost is the "
        "time between the restore point and the switch). Sessions and files are unaffected. The switch "
        "changes the instances' custom data (COSMOS_ENDPOINT), so the scale set's rolling upgrade replaces "
        "every instance, as a release does. `pulumi up` returns before that upgrade finishes: instances not "
        "yet replaced keep writing to the old account until they are replaced, and those writes are not in "
        "the restored account either (the fleet keeps its grant on both accounts, so none is refused). "
        + (
            "The restored account is not zone-redundant, unlike the stack's own: `az cosmosdb restore` "
            "(azure-cli 2.91.0) sends its one region without zone redundancy and has no flag for it, and a "
            "restore does not carry the source's regions over (Continuous backup with point-in-time restore, "
            "What isn't restored); a zone outage can stop it while the fleet is served from it "
            "(pulumi/azure/README.md, known limits)."
            if zone_redundant
            else ""
        ),
        capacity=(
            f"the restore does not touch the fleet: {facts.desired} of {facts.desired}",
            *replace.capacity,
        ),
        durations=(
            Duration(
                name="restore",
                formula="proportional to the account's data; Azure gives no bound (0 = not estimated)",
                seconds=0,
            ),
            Duration(
                name="a new data-plane role takes effect (at most)",
                formula=f"documented role assignment delay = {PROPAGATION_SECONDS} s",
                seconds=PROPAGATION_SECONDS,
            ),
            *replace.durations,
        ),
        preconditions=(
            f"`az login`, with the two roles below assigned: `{own_role}` on the resource group (every "
            f"change, on this stack's accounts only) and `{locations_role}` on the subscription (their "
            "AssignableScopes): azure-cli reads the restorable accounts and restores under the subscription, "
            "and waits for each Cosmos DB change (steps 2 and 4, Rollback) by reading its status there "
            "(`Microsoft.DocumentDB/locations/operationsStatus`). Confirm the roles once in dev: run steps 2 "
            "and 4 there with az's `--debug` flag and check that every polled status URL "
            "(`Azure-AsyncOperation`, `Location` headers) answers 200, or 202 while the operation still "
            "runs, and never 403",
            "the restore point is within the continuous backup window"
            if facts.store_pitr
            else (
                "continuous backup is OFF for this account: point-in-time restore is not possible; "
                "open a support request"
            ),
            "`pulumi login` and deployer rights on the stack (the deployment identity, not the roles below), "
            "in a checkout of this repository at the deployed release, on the branch its deployments are "
            "made from: every config change below is committed there (push it as your team ships changes)",
            "Lost shell: open a new one at the same place and run the Names block: it reloads $STATE "
            "(RESTORED, PREVIOUS, ACCOUNT; from step 7 also STAGE and LAST_UPGRADE) once step 5 has "
            "written it; before step 5, set RESTORED again",
        ),
        lookups=_lookups(
            facts,
            Lookup(
                variable="ACCOUNT",
                command=facts.output("cosmosAccount").lookup,
                source=f"stack output `cosmosAccount`: {facts.output('cosmosAccount').description}",
            ),
            Lookup(
                variable="RESTORE_TIME",
                command='echo "<time before the damage, e.g. 2026-11-30T02:00:00+00:00>"',
                source="your incident timeline",
            ),
            Lookup(
                variable="STATE",
                command=f'echo "{RESTORE_STATE}"',
                source="the state file step 5 writes (RESTORED, PREVIOUS, ACCOUNT) and each switch adds to "
                "(STAGE: the switch that started, LAST_UPGRADE); this block reloads it after a lost shell",
            ),
        ),
        after_lookups=(
            # After the switch `cosmosAccount` names RESTORED: the saved ACCOUNT is the one used before.
            'test -f "$STATE" && source "$STATE" && echo "RESUMING from $STATE: RESTORED=${RESTORED:-} '
            'PREVIOUS=${PREVIOUS:-} ACCOUNT=${ACCOUNT:-} STAGE=${STAGE:-} LAST_UPGRADE=${LAST_UPGRADE:-}"',
        ),
        steps=(
            Step(
                title="The account's restorable instance (its id and the earliest restore time)",
                command=(
                    'az cosmosdb restorable-database-account list --account-name "$ACCOUNT" '
                    f"--location {facts.region} -o table"
                ),
                expected="one line with `creationTime` earlier than $RESTORE_TIME",
            ),
            Step(
                title=(
                    "Restore into a new account of the resource group, private and Entra ID only like the "
                    "original (the source keeps serving meanwhile)"
                ),
                command='RESTORED="$ACCOUNT-restored"\n'
                f'test "${{#RESTORED}}" -le {name_max} \\\n'
                f"  && printf '%s' \"$RESTORED\" | grep -Eqx '{name_pattern}' \\\n"
                '  && az cosmosdb restore -g "$RG" --account-name "$ACCOUNT" '
                '--target-database-account-name "$RESTORED" \\\n'
                f"  --location {facts.region} --public-network-access Disabled --disable-local-auth true "
                '--restore-timestamp "$RESTORE_TIME"',
                expected="returns when the new account exists (`provisioningState` Succeeded)",
                stop_if="nothing runs: RESTORED is a name the stack refuses for `itemsAccount` (step 5 would "
                f"fail after the restore): longer than {name_max} characters (the stack names the account's "
                "private endpoint after it; each restore of a restored account adds 9) or not runs of "
                "lower-case letters and digits joined by single hyphens "
                f"(`{name_pattern}`, the whole name): set RESTORED to such a name; "
                "`restore timestamp` refused: pick a time inside the window of step 1; AuthorizationFailed "
                "on an `operationsStatus/read` or `operationResults/read` action: the restore was sent and "
                "goes on, az only could not wait for it: do not restore again (a second restore, into "
                "another name); fix the role (Preconditions), then run "
                f"`{RESTORED_STATE}` every few minutes until it prints `Succeeded`, and go to step 3; "
                "the name is taken by an account of an earlier incident (not this run's restore: see "
                "AuthorizationFailed): set RESTORED to another name (at most "
                f"{name_max} characters, `{name_pattern}`) and run the lines from `test` again",
            ),
            Step(
                title="Verify the restored account: private, no keys, restored to the moment you chose, "
                "continuous backup kept, with the service's container",
                command=(
                    'az cosmosdb show -g "$RG" -n "$RESTORED" \\\n'
                    '  --query "[provisioningState, publicNetworkAccess, disableLocalAuth, '
                    "restoreParameters.restoreTimestampInUtc, backupPolicy.type, "
                    'locations[0].isZoneRedundant]" -o tsv\n'
                    'az cosmosdb sql container show -g "$RG" -a "$RESTORED" -d service -n '
                    'items --query "resource.id" -o tsv'
                ),
                # One line per value, booleans in lower case (knack output.py, _TsvOutput._dump_row).
                expected="one value per line: `Succeeded`, `Disabled`, `true`, the moment of $RESTORE_TIME "
                "(in UTC), `Continuous` and `false` (the restore sets no zone redundancy"
                + (": the stack's own account has it, see Blast radius" if zone_redundant else "")
                + "); then `items`",
                stop_if="public access `Enabled` or local auth not disabled: delete it (Rollback step 7) and "
                "restore again with the flags above; backup not `Continuous`: the restored account cannot be "
                "restored to a point in time itself: escalate before switching to it",
            ),
            Step(
                title=(
                    f"Give the restored account the original's settings: consistency {consistency} (any "
                    "instance may serve a client's next request, so a read must see every earlier write), "
                    "no key-based metadata writes, its minimum TLS version, its continuous backup tier (sent "
                    "alone: the provider refuses it with other settings) and its tags (a restore sends "
                    "none of them); and its container the spec's autoscale "
                    "ceiling, TTL and indexing (`pulumi up` never sets them on a restored account)"
                ),
                command=(
                    f"{updates}\n"
                    f'az cosmosdb show -g "$RG" -n "$RESTORED" --query "{query}" -o tsv\n'
                    + container_commands
                ),
                expected=f"{matching}; then {container_expected}",
                stop_if="`Cannot update continuous backup mode and other properties at the same time`: "
                "the backup tier was sent with another setting (the provider takes it only alone): run "
                "each `az cosmosdb update` line on its own, as written, the tier first; "
                f"the throughput update is refused as not autoscale: run `{migrate}`, then this step "
                "again; "
                "AuthorizationFailed on an `operationsStatus/read` or `operationResults/read` action: the "
                "change was sent but az could not wait for it: the roles lack that action, or "
                f"`{locations_role}` is not assigned on the subscription (Preconditions): fix that, then run "
                "this step again",
            ),
            Step(
                title=(
                    "Grant first: save RESTORED, the account the fleet uses now (ACCOUNT) and its setting "
                    "(PREVIOUS: `itemsAccount`, empty for the stack's own account) to $STATE, then name the "
                    "restored account as draining: `pulumi up` gives it a private endpoint in the "
                    "data subnet "
                    "with its DNS record and the fleet's data role (defined on that account) on its "
                    "container (a restore copies neither), and nothing else: no instance uses it yet. The "
                    f"setting is written to Pulumi.{facts.environment}.yaml and committed"
                ),
                command=(
                    f"PREVIOUS=$(pulumi config get itemsAccount {stack} || true)\n"
                    f"DRAINING=$(pulumi config get itemsAccountDraining {stack} || true)\n"
                    'echo "RESTORED=$RESTORED ACCOUNT=$ACCOUNT PREVIOUS=$PREVIOUS DRAINING=$DRAINING"\n'
                    # The stack's own account is named at its first deployment (pulumi/azure/README.md, known
                    # limits): the program cannot refuse it, so the command does.
                    'test ! -e "$STATE" && test -z "$DRAINING" && test -n "$RESTORED" '
                    '&& test "$RESTORED" != "$ACCOUNT" \\\n'
                    "  && printf 'RESTORED=%q\\nPREVIOUS=%q\\nACCOUNT=%q\\n' "
                    '"$RESTORED" "$PREVIOUS" "$ACCOUNT" >"$STATE" \\\n'
                    f'  && pulumi config set itemsAccountDraining "$RESTORED" {stack} \\\n'
                    f"  && {_committed(facts, 'grant the restored account $RESTORED')} \\\n"
                    f"  && pulumi up {stack} --yes \\\n"
                    '  || echo "STOP: see Stop if"\n'
                    'test -f "$STATE" && source "$STATE"'
                ),
                expected="the echo shows RESTORED, ACCOUNT (the account served now) and PREVIOUS (empty, or "
                "ACCOUNT's name); the update completes: the restored account's endpoint, DNS zone group and "
                "role assignment created, nothing else (the scale set's model does not change)",
                stop_if="STOP before anything changed: DRAINING set: an earlier switch is not finished "
                "(finish it first: its forward step 9 or Rollback step 6); $STATE existed, RESTORED empty or "
                "equal to ACCOUNT: a run is in progress (continue it after the Names block) or RESTORED is "
                "wrong: set it to the restored account's name. STOP after the commit: the update failed "
                "with the setting committed and the fleet untouched (it is not served from RESTORED yet); "
                "the preview fails to read the account: RESTORED is misspelt or the restore has not "
                f"finished; fix the cause and run `pulumi up {stack} --yes` again, or go to Rollback "
                "(step 1)" + interrupted,
            ),
            _propagation_wait("$RESTORED"),
            Step(
                title=(
                    "Switch: serve the restored account and keep PREVIOUS reachable as draining "
                    "(instances not "
                    "yet replaced still use it); for the stack's own account (PREVIOUS empty) the draining "
                    "setting is removed: its grant and endpoint always stay. `pulumi up` gives the restored "
                    "account its diagnostics, the throttling alert"
                    + (" and a CanNotDelete lock" if locked else "")
                    + ", takes PREVIOUS's"
                    + lock_and
                    + " diagnostics away when it is a restored account, and changes the scale set's "
                    "model; its rolling upgrade then replaces every instance. Committed like every config "
                    "change"
                ),
                command=(
                    _LAST_UPGRADE + "\n"
                    f'test -n "$RESTORED" && {_progress("switching")} \\\n'
                    f'  && pulumi config set itemsAccount "$RESTORED" {stack} \\\n'
                    f'  && if test -n "$PREVIOUS"; then pulumi config set itemsAccountDraining "$PREVIOUS" '
                    f"{stack}; \\\n"
                    f"     else pulumi config rm itemsAccountDraining {stack}; fi \\\n"
                    f"  && {_committed(facts, 'serve the restored account $RESTORED')} \\\n"
                    f"  && pulumi up {stack} --yes"
                ),
                expected="the update completes: the restored account's diagnostics"
                + (" and lock" if locked else "")
                + " created, the throttling alert's scope moved to it, its endpoint, DNS zone group and role "
                "assignment unchanged, the stack's own account's role assignment kept, the scale set "
                "updated; when PREVIOUS is a restored account (a second restore) also PREVIOUS's "
                + ("lock and " if locked else "")
                + "diagnostics deleted, its endpoint, DNS zone group and role assignment unchanged",
                stop_if="nothing runs: RESTORED is empty (lost shell: run the Names block); the update "
                "fails: the settings are committed; whichever account an instance uses stays reachable (the "
                "restored account and PREVIOUS keep their endpoint and role, the stack's own account keeps "
                f"its own): fix the cause and run `pulumi up {stack} --yes` again (only it: the whole "
                "command would record another LAST_UPGRADE), or go to Rollback (step 1)" + interrupted,
            ),
            _upgrade_wait(
                "until then instances not yet replaced still use PREVIOUS (or the stack's own account)",
                "`Faulted` or `Cancelled`: Rollback (step 1), then escalate",
            ),
            Step(
                title="Only once that upgrade has completed, and only when PREVIOUS is a restored "
                "account: stop "
                "reaching it (no instance uses it any more). Nothing runs when PREVIOUS is empty: the "
                "switch removed the draining setting, and the fleet keeps its grant on the stack's "
                "own account",
                command=(
                    f'test -n "$PREVIOUS" && pulumi config rm itemsAccountDraining {stack} \\\n'
                    f"  && {_committed(facts, 'stop reaching $PREVIOUS')} \\\n"
                    f"  && pulumi up {stack} --yes"
                ),
                expected="PREVIOUS empty: nothing runs (exit status 1). Otherwise the update completes: "
                "PREVIOUS's endpoint, DNS zone group and role assignment deleted, nothing else (the scale "
                "set's model does not change); the account itself stays",
                stop_if="the update fails: the setting is committed and no instance uses PREVIOUS any more: "
                f"fix the cause and run `pulumi up {stack} --yes` again" + interrupted,
            ),
            Step(
                title="The fleet now uses the restored account",
                command=f"pulumi stack output cosmosAccount {stack}",
                expected="the restored account's name ($RESTORED)",
            ),
            Step(
                title="The fleet's data role is on the restored account's container; on the account it used "
                "before only when that is the stack's own (its grant stays, under its lock)",
                command=(
                    'az cosmosdb sql role assignment list -g "$RG" -a "$RESTORED" --query "[].scope" -o tsv\n'
                    'az cosmosdb sql role assignment list -g "$RG" -a "$ACCOUNT" --query "length(@)" -o tsv'
                ),
                expected="one scope ending in `/dbs/service/colls/items`; then `1` when PREVIOUS is empty "
                "($ACCOUNT is the stack's own account), `0` when it is not (step 9 removed the grant)",
            ),
            Step(
                title=(
                    "Retire the old account: keep it, untouched, as the evidence of what went wrong. The "
                    "stack's own account stays the stack's resource, with its backup "
                    f"({facts.store_backup})"
                    + (
                        " and its CanNotDelete lock (deletion protection from the spec)"
                        if locked
                        else " (this environment's spec asks no deletion protection, so no lock guards it)"
                    )
                    + "; only a code change removes it from the stack. The fleet keeps its data role and a "
                    "private endpoint on it for as long as it exists (its lock covers them; "
                    "pulumi/azure/README.md, known limits). A restored account the fleet used before "
                    "(PREVIOUS) is reached no more: delete it (`az cosmosdb delete`) once it is not needed. "
                    "Keep `itemsAccount` set; then close the run: $STATE becomes $STATE.done"
                ),
                command=(
                    'az lock list -g "$RG" --resource-name "$ACCOUNT" '
                    '--resource-type Microsoft.DocumentDB/databaseAccounts --query "[].level" -o tsv\n'
                    'mv "$STATE" "$STATE.done"'
                ),
                expected=(
                    "`CanNotDelete` when $ACCOUNT is the stack's own account, nothing for a restored one"
                    if locked
                    else "no output"
                ),
            ),
        ),
        verification=_verification(facts),
        rollback=(
            Step(
                title="Where the forward path stopped: the settings in the stack's config (run the "
                "Names block "
                "first: RESTORED and PREVIOUS come from $STATE)",
                command=(
                    # The shell that ran a switch holds no STAGE: only $STATE has it.
                    'test -f "$STATE" && source "$STATE"\n'
                    f"git diff --exit-code {config}\n"
                    f"SERVED=$(pulumi config get itemsAccount {stack} || true)\n"
                    f"DRAINING=$(pulumi config get itemsAccountDraining {stack} || true)\n"
                    'echo "STAGE=${STAGE:-} SERVED=$SERVED DRAINING=$DRAINING RESTORED=$RESTORED '
                    'PREVIOUS=$PREVIOUS"'
                ),
                # STAGE first: after Rollback step 4 the config reads as before the forward switch, but
                # instances not yet replaced still use RESTORED.
                expected="no diff; then, by STAGE first. STAGE = switching-back (Rollback step 4 started): "
                "DRAINING empty: step 7 (step 6 done); SERVED = PREVIOUS: its update may have run and "
                f"instances not yet replaced may still use RESTORED: run `pulumi up {stack} --yes` again "
                "(nothing changes if it completed), then step 5; otherwise step 4. STAGE = granting-back "
                "(Rollback step 2 started): DRAINING = PREVIOUS: run that `pulumi up` again, then step 3; "
                "otherwise step 2. STAGE empty or `switching`: SERVED = PREVIOUS: the fleet was not "
                "switched: step 6 if DRAINING = RESTORED, else step 7. SERVED = DRAINING = RESTORED "
                "(forward step 7 interrupted between its two config commands; the stack refuses a `pulumi "
                "up` with both the same): step 4 (it sets both), or run forward step 7's config commands "
                "and commit again. SERVED = RESTORED and DRAINING = "
                "PREVIOUS (both empty for the stack's own account): step 4. SERVED = RESTORED, DRAINING "
                "empty, PREVIOUS not empty (forward step 9 ran): step 2",
                stop_if=f"a diff of {config}: a step was interrupted between its config change and its "
                "commit: commit the file with that step's message, then read this step again; RESTORED "
                "empty: $STATE was not reloaded: run the Names block (after forward step "
                '12, `mv "$STATE.done" "$STATE"` first); no $STATE at all: forward step 5 never ran, no '
                'instance reached RESTORED: only delete it when it exists (`az cosmosdb delete -g "$RG" '
                '-n "<restored account>" --yes`, step 7 without its `mv`)',
            ),
            Step(
                title="Only when forward step 9 ran: grant PREVIOUS first again (draining), committed",
                command=(
                    f'test -n "$PREVIOUS" && printf \'STAGE=granting-back\\n\' >>"$STATE" \\\n'
                    f'  && pulumi config set itemsAccountDraining "$PREVIOUS" {stack} \\\n'
                    f"  && {_committed(facts, 'grant $PREVIOUS again')} \\\n"
                    f"  && pulumi up {stack} --yes"
                ),
                expected="the update completes: PREVIOUS's endpoint, DNS zone group and role assignment "
                "created, nothing else",
                stop_if="the update fails: the fleet is still served from RESTORED, which keeps its reach: "
                f"fix the cause and run `pulumi up {stack} --yes` again, or escalate" + interrupted,
            ),
            _propagation_wait("$PREVIOUS"),
            Step(
                title="Switch back: serve PREVIOUS again (remove `itemsAccount` for the stack's own account) "
                "and keep the restored account reachable as draining: instances not yet replaced still use "
                "it. Its"
                + lock_and
                + " diagnostics go; its endpoint, DNS zone group and role assignment stay, unchanged",
                command=(
                    _LAST_UPGRADE + "\n"
                    f'test -n "$RESTORED" && {_progress("switching-back")} \\\n'
                    f'  && pulumi config set itemsAccountDraining "$RESTORED" {stack} \\\n'
                    f'  && if test -n "$PREVIOUS"; then pulumi config set itemsAccount "$PREVIOUS" {stack}; '
                    "\\\n"
                    f"     else pulumi config rm itemsAccount {stack}; fi \\\n"
                    f"  && {_committed(facts, 'serve $PREVIOUS again, drain $RESTORED')} \\\n"
                    f"  && pulumi up {stack} --yes"
                ),
                expected="the update completes; `cosmosAccount` names PREVIOUS (or the stack's own account) "
                "again; the restored account's "
                + ("lock and " if locked else "")
                + "diagnostics deleted, its endpoint, DNS zone group and role assignment unchanged; the "
                "scale set updated",
                stop_if="nothing runs: RESTORED is empty (run the Names block); the update fails: the "
                "settings are committed and whichever account an instance uses stays reachable: fix the "
                f"cause and run `pulumi up {stack} --yes` again (only it), or escalate" + interrupted,
            ),
            _upgrade_wait(
                "until then instances not yet replaced still use the restored account",
                "`Faulted` or `Cancelled`: keep `itemsAccountDraining` set (the restored account stays "
                "reachable) and escalate. Step 4's update showed no change to the scale set (forward step "
                "7's update had failed before updating it, so the model is already PREVIOUS's): no upgrade "
                "is due, no instance uses the restored account: go to step 6",
            ),
            Step(
                title="Only once that upgrade has completed (or when the fleet was never switched): stop "
                "reaching the restored account, committed",
                command=(
                    f'test -n "$RESTORED" && pulumi config rm itemsAccountDraining {stack} \\\n'
                    f"  && {_committed(facts, 'stop reaching $RESTORED')} \\\n"
                    f"  && pulumi up {stack} --yes"
                ),
                expected="the update completes: the restored account's endpoint, DNS zone group and role "
                "assignment deleted, nothing else (the scale set's model does not change, no instance is "
                "replaced); the account itself stays",
                stop_if="the update fails: the setting is committed and no instance uses the "
                "restored account "
                f"any more: fix the cause and run `pulumi up {stack} --yes` again" + interrupted,
            ),
            Step(
                title="Delete the restored account once it is no longer needed (after step 6, or when the "
                "stack never reached it), then close the run",
                command='az cosmosdb delete -g "$RG" -n "$RESTORED" --yes && mv "$STATE" "$STATE.done"',
            ),
        ),
        escalation=_escalation(facts),
    )


def roll_back(facts: StackFacts) -> Runbook:
    replace = replace_every(facts)
    return _runbook(
        facts,
        "roll-back-release",
        "Roll back a release",
        purpose="Put the previous release back on every instance: deploy the previous commit with `pulumi "
        "up`; the scale "
        "set's model changes and its rolling upgrade (max surge) replaces the instances.",
        when=(
            "a release raised errors or latency",
            "the rolling upgrade of a release stopped on unhealthy instances",
        ),
        blast_radius="Every instance, batch by batch, as in `replace-every-instance`.",
        capacity=replace.capacity,
        durations=replace.durations,
        preconditions=(
            "`pulumi login` and deployer rights on the stack (the deployment identity, not the role below)",
            "`az login` with the role below to watch and cancel",
        ),
        lookups=_lookups(facts),
        steps=(
            Step(
                title="Find the previous good deployment",
                command=f"pulumi stack history --stack {facts.environment} --cwd {PROJECT}",
                expected="the last update before the bad release, with its commit in the message",
            ),
            Step(title="Check out that commit", command='git checkout "<previous release commit>"'),
            Step(
                title="Deploy it",
                command=f"pulumi up --stack {facts.environment} --cwd {PROJECT} --yes",
                expected="the scale set is updated; other resources unchanged",
            ),
            *replace.steps[1:],
        ),
        verification=_verification(facts),
        rollback=(Step(title="To undo the rollback, deploy the newer commit again the same way"),),
        escalation=_escalation(facts),
    )


def runbooks(facts: StackFacts) -> list[Runbook]:
    return [
        replace_one(facts),
        replace_every(facts),
        evacuate_zone(facts),
        cache_failure(facts),
        restore_store(facts),
        roll_back(facts),
    ]
