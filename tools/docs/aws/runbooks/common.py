"""What the six AWS runbooks share: timings from the stack's values, the drill each names, the steps
several of them use, and assembling a runbook with the IAM policy its own commands need."""

from __future__ import annotations

from tools.docs.aws import steps as c
from tools.docs.aws.iam import (
    DATA_KEY_OUTPUT,
    DATA_KEY_SID,
    LAUNCH_NOTE,
    LAUNCH_SIDS,
    TOPIC_KEY_OUTPUT,
    TOPIC_KEY_SID,
    USER_POOL_OUTPUT,
    FleetLaunch,
    policy,
    stack_resource,
    stack_resources,
    stack_scopes,
)
from tools.docs.commands.aws_cli import session
from tools.docs.model import (
    REHEARSALS,
    SCENARIO_TITLES,
    Duration,
    Lookup,
    Runbook,
    StackFacts,
    Step,
)


def waiter_bound(service: str, waiter: str) -> tuple[int, int]:
    """(delay, max attempts) of a botocore waiter: how long `aws ... wait` polls before it gives up."""
    config = session().get_waiter_model(service).get_waiter(waiter)
    return config.delay, config.max_attempts


# What a replacement's figure leaves out, so it is no upper bound: the health-check grace and the warm-up run
# from the moment the new instance enters InService ("waits before checking the health status of an EC2
# instance that has come into service", HealthCheckGracePeriod, Amazon EC2 Auto Scaling API Reference;
# "Set the health check grace period", https://docs.aws.amazon.com/autoscaling/ec2/userguide/
# health-check-grace-period.html), not from launch; and the old instance is terminated after its drain.
NOT_COUNTED = (
    "from InService; not counted: the launch before it (`Pending`) and the old instance's termination after "
    "the drain"
)


def timings(facts: StackFacts) -> dict[str, Duration]:
    hc = facts.health_check
    detect, replace = hc.detection_seconds, facts.replacement_seconds
    return {
        "detect": Duration(
            name="the load balancer finds an instance unhealthy",
            formula=f"interval {hc.interval_seconds} s x unhealthy threshold {hc.unhealthy_threshold} = "
            f"{detect} s",
            seconds=detect,
        ),
        "replace": Duration(
            name="one replacement: launch and boot, pass the health check, drain the old one",
            formula=f"boot budget (health-check grace) {facts.boot_budget_seconds} s + interval "
            f"{hc.interval_seconds} s "
            f"x healthy threshold {hc.healthy_threshold} + deregistration delay {facts.draining_seconds} s "
            f"= {replace} s ({NOT_COUNTED})",
            seconds=replace,
        ),
    }


def warmed_replacement(facts: StackFacts) -> Duration:
    """One instance replaced by the group under its instance maintenance policy: a new instance counts as
    healthy only once it passed its health check and finished its warm-up, and only then is the old one
    terminated and drained ("Instance maintenance policy for Auto Scaling group", Instance warmup, Amazon EC2
    Auto Scaling User Guide). The warm-up runs from the moment the instance enters InService
    (DefaultInstanceWarmup: "until a new instance is considered to have finished initializing ... after it
    enters the InService state", CreateAutoScalingGroup, Amazon EC2 Auto Scaling API Reference), as the
    health-check grace does: the two overlap, the longer one counts. Neither starts at launch
    (NOT_COUNTED)."""
    hc = facts.health_check
    booted = facts.boot_budget_seconds + hc.healthy_seconds
    boot = (
        f"boot budget (health-check grace) {facts.boot_budget_seconds} s + interval {hc.interval_seconds} "
        f"s x healthy threshold {hc.healthy_threshold} = {booted} s"
    )
    warmup = f"default instance warm-up {facts.warmup_seconds} s"
    # Whichever is longer leads; the other, running alongside from InService, stays an aside.
    ready, waits = (
        (boot, f"longer than the {warmup}")
        if booted >= facts.warmup_seconds
        else (
            warmup,
            f"longer than the {boot.replace(' (health-check grace)', '')}",
        )
    )
    total = max(booted, facts.warmup_seconds) + facts.draining_seconds
    return Duration(
        name="one replacement: launch and boot, pass the health check and warm up, drain the old one",
        formula=f"{ready} ({waits}, both from InService) + deregistration delay {facts.draining_seconds} s = "
        f"{total} s ({NOT_COUNTED})",
        seconds=total,
    )


def assemble(facts: StackFacts, scenario: str, **fields) -> Runbook:
    """A runbook with its permissions derived from every command it contains."""
    check, check_expected = c.lookup_check(facts, fields["lookups"])
    draft = Runbook(
        cloud="aws",
        environment=facts.environment,
        scenario=scenario,
        title=SCENARIO_TITLES[scenario],
        permissions="",
        permissions_format="json",
        drill=REHEARSALS[scenario],
        cli_version=c.CLI_VERSION,
        exports=c.exports(facts),
        after_lookups=(check,),
        after_lookups_expected=check_expected,
        verification=c.verification(
            facts,
            facts.details["scope"],
            fields.pop("expected_targets"),
            log_hint=fields.pop("log_hint", c.SERVICE_LOG),
        ),
        escalation=c.escalation(
            facts,
            f"{SCENARIO_TITLES[scenario].lower()} needs help",
            message=fields.pop("escalation_message", c.FAILED_STEP),
        ),
        **fields,
    )
    document = policy(
        draft.commands(),
        stack=facts.stack,
        region=facts.region,
        data_key=facts.details["data_key"],
        topic_key=facts.details["topic_key"],
        scopes=stack_scopes(
            facts.details["names"], region=facts.region, cache_group=facts.details["cache_group"]
        ),
        launch=FleetLaunch(
            template=facts.details["launch_template"],
            role=facts.details["names"]["instance_role"],
            tagged=facts.details["launch_tags"],
            subnets=facts.details["app_subnets"],
            security_groups=facts.details["fleet_security_groups"],
        ),
    )
    # Only a deployment knows these: each placeholder names the stack output that prints it.
    placeholders = (
        (DATA_KEY_SID, DATA_KEY_OUTPUT, "the ARN of its customer managed key"),
        (TOPIC_KEY_SID, TOPIC_KEY_OUTPUT, "the ARN of its alarm topic's customer managed key"),
        ("CognitoIdpUserPool", USER_POOL_OUTPUT, "the id of its user pool (in the Resource's ARN)"),
    )
    note = " ".join(
        f"{sid}'s Resource: the stack's {output} output, {what}: `{facts.output(output).lookup}`."
        for sid, output, what in placeholders
        if f"<the stack's {output} output" in document
    )
    # Ids CloudFormation generates and the stack does not output: each placeholder names the stack resource.
    # What launching from the fleet's template allows comes first: whoever grants the policy reads it.
    parts = [
        LAUNCH_NOTE if LAUNCH_SIDS[0] in document else "",
        note,
        *(
            f"`{stack_resource(logical_id)}`: `{c.resource(facts, 'ID', logical_id, '').command}`."
            for logical_id in stack_resources(document)
        ),
    ]
    note = " ".join(part for part in parts if part)
    return Runbook(**{**draft.__dict__, "permissions": document, "permissions_note": note})


def runbook_path(facts: StackFacts, scenario: str) -> str:
    """Another runbook of the same stack, by its path in this repository."""
    return f"runbooks/{facts.cloud}/{facts.environment}/{scenario}.md"


def in_service_count(facts: StackFacts) -> str:
    return f"one line per instance in service (the desired capacity: {facts.min_size} to {facts.max_size})"


# The group's instances, one line each: id, zone, lifecycle state, health.
GROUP_INSTANCES = (
    'aws autoscaling describe-auto-scaling-groups --auto-scaling-group-names "$ASG" \\\n'
    '  --query "AutoScalingGroups[0].Instances[].[InstanceId,AvailabilityZone,LifecycleState,'
    'HealthStatus]" \\\n'
    "  --output text"
)


# Lifecycle states (the SDK's LifecycleState enum) the group leaves by itself: a launch, a termination, a root
# volume replacement, a warm pool's own moves, each with its activity in step 6's watch, and a detachment
# someone started (DetachInstances: Detaching ends in Detached by itself, "Amazon EC2 Auto Scaling instance
# lifecycle", Amazon EC2 Auto Scaling User Guide). Any other state but InService is held until someone
# acts: Standby until exit-standby, Detached (out of the group, until someone attaches it again), a
# `:Wait` lifecycle hook (the stack defines none; it holds the instance until its action completes or its
# heartbeat timeout, an hour by default: "How lifecycle hooks work", Amazon EC2 Auto Scaling User Guide), a
# `:Retained` instance (kept after a failed termination until someone terminates it), a warm pool's resting
# states (the stack defines no warm pool), Quarantined ("not used", LifecycleState, API Reference), and any
# state a later SDK adds.
SELF_FINISHING = (
    "Pending",
    "Pending:Proceed",
    "Terminating",
    "Terminating:Proceed",
    "Terminated",
    "EnteringStandby",
    "Detaching",
    "ReplacingRootVolume",
    "ReplacingRootVolume:Proceed",
    "RootVolumeReplaced",
    "Warmed:Pending",
    "Warmed:Pending:Proceed",
    "Warmed:Terminating",
    "Warmed:Terminating:Proceed",
    "Warmed:Terminated",
)


def lifecycle_states() -> tuple[list[str], list[str]]:
    """(self-finishing, held) from the SDK's enum, InService left out; a name here the SDK lacks raises."""
    states = session().get_service_model("autoscaling").shape_for("LifecycleState").enum
    unknown = set(SELF_FINISHING) - set(states)
    if unknown:
        raise ValueError(f"LifecycleState has no {sorted(unknown)}: known {states}")
    others = [state for state in states if state != "InService"]
    return [s for s in others if s in SELF_FINISHING], [s for s in others if s not in SELF_FINISHING]


def list_instances(
    facts: StackFacts, *, watch_step: int, zones_step: int, watch_bound: int, already_replacing: str = ""
) -> Step:
    """The group's instances that are not in service and healthy, and the targets the load balancer does not
    find healthy: when the load balancer reports an instance unhealthy the group may still call it `Healthy`
    (its ELB check waits for the unhealthy threshold), so the group's listing alone may not show the one to
    replace. Only the exceptions print, each outcome with its own action. `already_replacing`: what to do
    when the change under way is the group replacing the instance you came for ("" when the runbook has
    nothing else to do); `watch_bound`: the seconds step `watch_step` escalates at."""
    finishing, held = lifecycle_states()
    quoted = ", ".join
    # Step 1's items are indented by "1. " (3): a nested list stays inside the step.
    outcomes = [
        "any other lifecycle state of those the group leaves by itself "
        f"({quoted(f'`{s}`' for s in finishing)}), no instance of yours in it: another change is under "
        f"way; watch it end (step {watch_step}, `Successful` within its {watch_bound} s), then start "
        "again at step 1",
        f"a state someone holds ({quoted(f'`{s}`' for s in held)}): it does not end by itself and step "
        f"{watch_step} has nothing to watch; find who holds it (the group's activities, your team) or "
        "escalate; do not replace another instance meanwhile",
        "more than one target not `healthy`: not one instance's fault (a release, the cache, a zone); "
        "replacing one will not help: escalate",
        "the AWS Health Dashboard shows an event for a zone of the group: follow "
        f"{runbook_path(facts, 'evacuate-zone')}",
    ]
    if already_replacing:
        outcomes.insert(0, already_replacing)
    return Step(
        title="List the fleet's instances that are not in service and healthy, and the targets the load "
        "balancer does not find healthy",
        command=(
            'aws autoscaling describe-auto-scaling-groups --auto-scaling-group-names "$ASG" \\\n'
            "  --query \"AutoScalingGroups[0].Instances[?LifecycleState!='InService' || "
            "HealthStatus!='Healthy'].[InstanceId,AvailabilityZone,LifecycleState,HealthStatus]\" \\\n"
            "  --output text\n"
            'aws elbv2 describe-target-health --target-group-arn "$TARGET_GROUP_ARN" \\\n'
            "  --query \"TargetHealthDescriptions[?TargetHealth.State!='healthy'].[Target.Id,"
            'TargetHealth.State,TargetHealth.Reason]" \\\n'
            "  --output text"
        ),
        expected="nothing, or only the instance you came for: first the group's instances not `InService` "
        "and `Healthy` (id, zone, lifecycle state, health), then the targets that are not `healthy`. The "
        "instance to replace is the one either command lists, or the one the alert or the EC2 scheduled "
        f"event names. Step {zones_step} lists every instance with its zone.",
        stop_if="by what the commands show, the instance you came for apart:\n\n"
        + "\n".join(f"   - {outcome}." for outcome in outcomes),
    )


# Instance-refresh statuses (the SDK's InstanceRefreshStatus enum) after which no refresh owns the fleet. A
# cancelled or failed refresh keeps the instances it already replaced ("Canceling an instance refresh does
# not roll back any instances that were already replaced", cancel-instance-refresh.html; "If the rolling
# update process fails, any instances that were already replaced are not rolled back", StartInstanceRefresh
# Strategy, Amazon EC2 Auto Scaling API Reference): the fleet may run two configurations (PARTLY_REPLACED).
# A failed rollback leaves it part old, part new with no refresh to finish it: a person decides. Any other
# status, including one a later SDK adds, is a refresh under way.
REFRESH_ENDED = ("Successful", "Cancelled", "Failed", "RollbackSuccessful")
REFRESH_ESCALATE = ("RollbackFailed",)
PARTLY_REPLACED = ("Cancelled", "Failed")


def refresh_statuses() -> tuple[list[str], list[str], list[str]]:
    """(ended, escalate, under way) from the SDK's enum; a status named here that the SDK lacks raises."""
    statuses = session().get_service_model("autoscaling").shape_for("InstanceRefreshStatus").enum
    unknown = set(REFRESH_ENDED + REFRESH_ESCALATE) - set(statuses)
    if unknown:
        raise ValueError(f"InstanceRefreshStatus has no {sorted(unknown)}: known {statuses}")
    return (
        [s for s in statuses if s in REFRESH_ENDED],
        [s for s in statuses if s in REFRESH_ESCALATE],
        [s for s in statuses if s not in REFRESH_ENDED + REFRESH_ESCALATE],
    )


def _either(statuses: list[str]) -> str:
    quoted = [f"`{status}`" for status in statuses]
    return ", ".join(quoted[:-1]) + " or " + quoted[-1] if len(quoted) > 1 else quoted[0]


def no_refresh_running(facts: StackFacts) -> Step:
    ended, escalate, under_way = refresh_statuses()
    return Step(
        title="Make sure no instance refresh is running",
        command=(
            'aws autoscaling describe-instance-refreshes --auto-scaling-group-name "$ASG" --max-records 1 '
            "\\\n"
            '  --query "InstanceRefreshes[0].[Status,PercentageComplete]" --output text'
        ),
        expected=f"{_either([*ended, 'None'])} (`None`: no refresh ever ran). After "
        f"{_either(list(PARTLY_REPLACED))} the instances that refresh already replaced stay: the fleet may "
        "run two launch template versions until the next refresh or deploy replaces them.",
        stop_if=f"{_either(under_way)}: a refresh owns the "
        f"fleet; follow {runbook_path(facts, 'replace-every-instance')} to watch or cancel it first. "
        f"{_either(escalate)}: a rollback failed and the fleet may be part old, part new configuration; "
        "escalate.",
    )


def activities(facts: StackFacts, what: str, *, since: str = "") -> Step:
    """The group's recent activities with their status message. With `since` (the step that started one
    replacement): not ended within one replacement's duration (launch, boot, health check, drain) is a
    stall."""
    limit = timings(facts)["replace"].seconds
    codes = session().get_service_model("autoscaling").shape_for("ScalingActivityStatusCode").enum
    ending = ("Successful", "Failed", "Cancelled")
    under_way = ", ".join(f"`{code}`" for code in codes if code not in ending)
    return Step(
        title="Watch the group's activities until the replacement is done (repeat every 30 s)",
        command=(
            'aws autoscaling describe-scaling-activities --auto-scaling-group-name "$ASG" --max-items 4 \\\n'
            '  --query "Activities[].[StartTime,StatusCode,Description,StatusMessage]" --output text'
        ),
        expected=f"{what} While one is under way its status is one of {under_way}.",
        stop_if="an activity ends `Failed` or `Cancelled`: its last column (`StatusMessage`) says why "
        "(capacity, launch template, permissions); escalate."
        + (
            f" Not done {limit} s after {since} (one replacement, the duration table): check the targets "
            "(verification step 1), then escalate."
            if since
            else ""
        ),
    )


def wait_in_service(facts: StackFacts) -> Step:
    delay, attempts = waiter_bound("elbv2", "TargetInService")
    return Step(
        title="Wait until every registered target is healthy",
        command='aws elbv2 wait target-in-service --target-group-arn "$TARGET_GROUP_ARN"',
        expected=f"returns without output (it polls every {delay} s, at most {attempts} times = "
        f"{delay * attempts} s).",
        stop_if="it exits with `Waiter TargetInService failed`: a target stayed unhealthy; see step 1 of the "
        "verification.",
    )


def refresh_preferences(refresh: dict, *, desired_configuration: bool) -> str:
    """The stack's own instance-refresh preferences as CLI shorthand (alarms by the looked-up names).
    AutoRollback only with a desired configuration: the API refuses it without one ("The AutoRollback
    parameter cannot be set to true when the DesiredConfiguration parameter is empty",
    https://github.com/hashicorp/terraform-provider-aws/issues/29830); without it a firing alarm fails the
    refresh instead of rolling it back."""
    checkpoints = ",".join(str(p) for p in refresh["CheckpointPercentages"])
    return (
        f"MinHealthyPercentage={refresh['MinHealthyPercentage']},"
        f"MaxHealthyPercentage={refresh['MaxHealthyPercentage']},"
        f"InstanceWarmup={refresh['InstanceWarmup']},CheckpointPercentages=[{checkpoints}],"
        f"CheckpointDelay={refresh['CheckpointDelay']},BakeTime={refresh['BakeTime']},"
        f"SkipMatching=false,AutoRollback={str(desired_configuration).lower()},"
        "AlarmSpecification={Alarms=[$ROLLOUT_ALARMS]}"
    )


def alarm_lookups(facts: StackFacts) -> tuple[Lookup, ...]:
    ids = facts.details["rollout_alarms"]
    found = tuple(
        c.resource(facts, f"ALARM_{index}", logical_id, "an alarm that rolls a refresh back")
        for index, logical_id in enumerate(ids, start=1)
    )
    joined = ",".join(f"$ALARM_{index}" for index in range(1, len(ids) + 1))
    return (
        *found,
        Lookup(variable="ROLLOUT_ALARMS", command=f'echo "{joined}"', source="the alarms above, joined"),
    )


def refresh_duration(facts: StackFacts) -> Duration:
    refresh = facts.details["refresh"]
    replace = timings(facts)["replace"].seconds
    batches = len(refresh["CheckpointPercentages"])
    pauses = batches - 1
    total = batches * replace + pauses * refresh["CheckpointDelay"] + refresh["BakeTime"]
    return Duration(
        name="the whole refresh",
        formula=f"{batches} checkpoint batches ({', '.join(map(str, refresh['CheckpointPercentages']))} %) x "
        f"one replacement {replace} s + {pauses} checkpoint pause(s) x {refresh['CheckpointDelay']} s + bake "
        f"time {refresh['BakeTime']} s = {total} s",
        seconds=total,
    )


def refresh_status() -> Step:
    return Step(
        title="Watch it (repeat every minute)",
        command=(
            'aws autoscaling describe-instance-refreshes --auto-scaling-group-name "$ASG" --max-records 1 '
            "\\\n"
            '  --query "InstanceRefreshes[0].[InstanceRefreshId,Status,PercentageComplete,'
            'InstancesToUpdate,StatusReason]" \\\n'
            "  --output text"
        ),
        expected="`InProgress` with a rising percentage, pausing at each checkpoint, then `Baking`, then "
        "`Successful`.",
        stop_if="`RollbackInProgress` or `RollbackSuccessful`: a rollout alarm fired and the group is going "
        "back to the previous configuration; find out why (alarms, service log) before trying again.",
    )
