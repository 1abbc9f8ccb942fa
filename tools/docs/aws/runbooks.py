"""The six service-replacement runbooks of one AWS stack, every figure from its StackFacts."""

from __future__ import annotations

import math

from stacks.item_store import SERVING_TABLE_CONTEXT
from tools.docs.aws import commands as c
from tools.docs.aws.iam import policy
from tools.docs.commands.aws_cli import session
from tools.docs.model import (
    DRILL_SCENARIOS,
    SCENARIO_TITLES,
    DrillReference,
    Duration,
    Lookup,
    Runbook,
    StackFacts,
    Step,
)

# Without a drill scenario of its own, each of these says why it cannot be rehearsed on 127.0.0.1.
NOT_REHEARSED = {
    "evacuate-zone": "zones exist only in a cloud region; the drill's instances all run on one host.",
    "restore-store": "point-in-time recovery is DynamoDB's; the drill's local store has no restore to "
    "rehearse.",
    "roll-back-release": "the drill runs one release; rolling back is a second replacement with the previous "
    "release, which the replace-every-instance scenario rehearses as far as the fleet is concerned.",
}


def drill(scenario: str) -> DrillReference:
    if scenario in DRILL_SCENARIOS:
        return DrillReference(scenario=DRILL_SCENARIOS[scenario])
    return DrillReference(scenario=None, note=NOT_REHEARSED[scenario])


def _waiter_bound(service: str, waiter: str) -> tuple[int, int]:
    """(delay, max attempts) of a botocore waiter: how long `aws ... wait` polls before it gives up."""
    config = session().get_waiter_model(service).get_waiter(waiter)
    return config.delay, config.max_attempts


def timings(facts: StackFacts) -> dict[str, Duration]:
    hc = facts.health_check
    detect = hc.interval_seconds * hc.unhealthy_threshold
    healthy = hc.interval_seconds * hc.healthy_threshold
    replace = facts.boot_budget_seconds + healthy + facts.draining_seconds
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
            f"= {replace} s (at most; a boot that waits for nothing is faster)",
            seconds=replace,
        ),
    }


def _common(facts: StackFacts, scenario: str, **fields) -> Runbook:
    """A runbook with its permissions derived from every command it contains."""
    draft = Runbook(
        cloud="aws",
        environment=facts.environment,
        scenario=scenario,
        title=SCENARIO_TITLES[scenario],
        permissions="",
        permissions_format="json",
        drill=drill(scenario),
        cli_version=c.CLI_VERSION,
        exports=c.exports(facts),
        verification=c.verification(facts, facts.details["scope"], fields.pop("expected_targets")),
        escalation=c.escalation(facts, f"{SCENARIO_TITLES[scenario].lower()} needs help"),
        **fields,
    )
    document = policy(draft.commands(), stack=facts.stack, region=facts.region)
    return Runbook(**{**draft.__dict__, "permissions": document})


def _in_service_count(facts: StackFacts) -> str:
    return f"one line per instance in service (the desired capacity: {facts.min_size} to {facts.max_size})"


def _list_instances() -> Step:
    return Step(
        title="List the fleet's instances, their zone, lifecycle state and health",
        command=(
            'aws autoscaling describe-auto-scaling-groups --auto-scaling-group-names "$ASG" \\\n'
            '  --query "AutoScalingGroups[0].Instances[].[InstanceId,AvailabilityZone,'
            'LifecycleState,HealthStatus]" \\\n'
            "  --output text"
        ),
        expected="one line per instance: `InService` and `Healthy` for all but the one you came for.",
        stop_if="the group shows instances `Pending` or `Terminating` already: a replacement is under way; "
        "wait for it (step 5) instead of starting another.",
    )


def _no_refresh_running() -> Step:
    return Step(
        title="Make sure no instance refresh is running",
        command=(
            'aws autoscaling describe-instance-refreshes --auto-scaling-group-name "$ASG" --max-records 1 '
            "\\\n"
            '  --query "InstanceRefreshes[0].[Status,PercentageComplete]" --output text'
        ),
        expected="`Successful`, `Cancelled`, `Failed`, `RollbackSuccessful` or `None` (no refresh ever ran).",
        stop_if="`Pending`, `InProgress`, `Baking`, `Cancelling` or `RollbackInProgress`: a refresh owns the "
        "fleet; follow replace-every-instance.md to watch or cancel it first.",
    )


def _activities(what: str) -> Step:
    return Step(
        title="Watch the group's activities until the replacement is done (repeat every 30 s)",
        command=(
            'aws autoscaling describe-scaling-activities --auto-scaling-group-name "$ASG" --max-items 4 \\\n'
            '  --query "Activities[].[StartTime,StatusCode,Description]" --output text'
        ),
        expected=what,
        stop_if="an activity ends `Failed` or `Cancelled`: its `StatusMessage` (same command, `--output "
        "json`) says why (capacity, launch template, permissions); escalate.",
    )


def _wait_in_service(facts: StackFacts) -> Step:
    delay, attempts = _waiter_bound("elbv2", "TargetInService")
    return Step(
        title="Wait until every registered target is healthy",
        command='aws elbv2 wait target-in-service --target-group-arn "$TARGET_GROUP_ARN"',
        expected=f"returns without output (it polls every {delay} s, at most {attempts} times = "
        f"{delay * attempts} s).",
        stop_if="it exits with `Waiter TargetInService failed`: a target stayed unhealthy; see step 1 of the "
        "verification.",
    )


def replace_one(facts: StackFacts) -> Runbook:
    t = timings(facts)
    refresh = facts.details["refresh"]
    steps = (
        _list_instances(),
        _no_refresh_running(),
        Step(
            title="Name the instance to replace (an id from step 1)",
            command="INSTANCE=i-0123456789abcdef0  # replace with the instance's id",
        ),
        Step(
            title="Mark it unhealthy: the group launches its replacement first, then drains and terminates "
            "it",
            command=(
                'aws autoscaling set-instance-health --instance-id "$INSTANCE" --health-status Unhealthy \\\n'
                "  --no-should-respect-grace-period"
            ),
            expected="no output.",
            stop_if="`ValidationError`: the id is not one of this group's instances; check step 1.",
        ),
        _activities(
            "`Launching a new EC2 instance` `Successful`, then `Terminating EC2 instance: <INSTANCE>` "
            "`Successful` (the termination waits for the replacement to pass its health check)."
        ),
        _wait_in_service(facts),
    )
    return _common(
        facts,
        "replace-one-instance",
        purpose="Take one instance out of service and put a fresh one from the same launch template in its "
        "place, without losing capacity or a request.",
        when=(
            "The load balancer or the group reports it unhealthy and it has not been replaced on its own.",
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
            f"The instance maintenance policy keeps at least {refresh['MinHealthyPercentage']} % of the "
            "desired "
            f"capacity healthy and allows up to {refresh['MaxHealthyPercentage']} %: the replacement is "
            "launched and healthy before the old instance is terminated.",
            f"Capacity never falls below {facts.minimum_healthy} of {facts.min_size} at the minimum size (N "
            "of N at any desired capacity N) during this procedure; it peaks at N + 1. An instance that was "
            "already "
            "unhealthy was out of service before you started: N - 1 serve until its replacement is healthy.",
        ),
        durations=(t["detect"], t["replace"]),
        preconditions=(
            "AWS CLI v2 configured for the stack's account (`aws sts get-caller-identity` names it), `jq` "
            "and `curl` installed.",
            "The permissions below (attach them to the role you assume for operations).",
        ),
        lookups=c.lookups(facts, "AutoScalingGroupName"),
        steps=steps,
        rollback=(
            Step(
                title="Nothing to undo: the old instance is gone and the new one comes from the same launch "
                "template. If the replacement itself fails its health check, the group replaces it again; "
                "when two replacements in a row fail, the launch template or the release is at fault: follow "
                "roll-back-release.md."
            ),
        ),
        expected_targets=_in_service_count(facts),
    )


def _refresh_preferences(refresh: dict) -> str:
    """The stack's own instance-refresh preferences, as CLI shorthand (alarms by the looked-up names)."""
    checkpoints = ",".join(str(p) for p in refresh["CheckpointPercentages"])
    return (
        f"MinHealthyPercentage={refresh['MinHealthyPercentage']},MaxHealthyPercentage={refresh['MaxHealthyPercentage']},"
        f"InstanceWarmup={refresh['InstanceWarmup']},CheckpointPercentages=[{checkpoints}],"
        f"CheckpointDelay={refresh['CheckpointDelay']},BakeTime={refresh['BakeTime']},"
        "SkipMatching=false,AutoRollback=true,AlarmSpecification={Alarms=[$ROLLOUT_ALARMS]}"
    )


def _alarm_lookups(facts: StackFacts) -> tuple[Lookup, ...]:
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


def _refresh_status() -> Step:
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


def replace_every(facts: StackFacts) -> Runbook:
    t = timings(facts)
    refresh = facts.details["refresh"]
    steps = (
        _no_refresh_running(),
        Step(
            title="New image or release: deploy it. The stack's update policy runs this same refresh itself",
            command=f"cdk deploy {facts.stack} -c region={facts.region}",
            expected="the deployment waits for the instance refresh and ends `UPDATE_COMPLETE`; skip step 3.",
            stop_if="`UPDATE_ROLLBACK_IN_PROGRESS`: CloudFormation is putting the old launch template back; "
            "follow roll-back-release.md.",
        ),
        Step(
            title="Same release, fresh instances (leaked credentials, suspected tampering): start the "
            "refresh with the stack's own preferences",
            command=(
                'aws autoscaling start-instance-refresh --auto-scaling-group-name "$ASG" --strategy Rolling '
                "\\\n"
                f'  --preferences "{_refresh_preferences(refresh)}"'
            ),
            expected="an `InstanceRefreshId`.",
            stop_if="`InstanceRefreshInProgress`: one is running already; watch it (step 4).",
        ),
        _refresh_status(),
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
    return _common(
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
        f"({', '.join(map(str, refresh['CheckpointPercentages']))} %); a rollout alarm firing rolls the "
        "refresh back.",
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
        lookups=c.lookups(facts, "AutoScalingGroupName", extra=_alarm_lookups(facts)),
        steps=steps,
        rollback=(
            Step(
                title="Put the previous configuration back on the instances already replaced",
                command='aws autoscaling rollback-instance-refresh --auto-scaling-group-name "$ASG"',
                expected="an `InstanceRefreshId`; the status goes `RollbackInProgress`, then "
                "`RollbackSuccessful`.",
                stop_if="`ValidationError` that rollback is not possible (the refresh finished, or it had no "
                "previous configuration): follow roll-back-release.md.",
            ),
        ),
        expected_targets=_in_service_count(facts),
    )


def evacuate_zone(facts: StackFacts) -> Runbook:
    t = timings(facts)
    zones = len(facts.zones)
    lost = math.ceil(facts.min_size / zones)
    subnet_filter = (
        f'--filters "Name=tag:aws:cloudformation:stack-name,Values=$STACK" '
        f'"Name=tag:aws-cdk:subnet-name,Values={facts.details["app_subnet_name"]}"'
    )
    steps = (
        Step(
            title="The fleet's subnets and their zones",
            command=f"aws ec2 describe-subnets {subnet_filter} \\\n"
            '  --query "Subnets[].[AvailabilityZone,SubnetId]" --output text',
            expected=f"{zones} lines, one subnet per zone.",
        ),
        Step(
            title="Name the impaired zone (as the AWS Health Dashboard names it)",
            command=f"IMPAIRED_ZONE={facts.region}a  # replace with the impaired zone",
        ),
        Step(
            title="The subnets of the other zones",
            command=f"KEEP=$(aws ec2 describe-subnets {subnet_filter} --query \"join(',', "
            "Subnets[?AvailabilityZone!='$IMPAIRED_ZONE'].SubnetId)\" --output text)",
            expected=f'{zones - 1} subnet ids, comma-separated (check with `echo "$KEEP"`).',
            stop_if="it is empty or still lists all subnets: the zone name is wrong.",
        ),
        Step(
            title="Move the fleet out of the zone: the group launches in the others first, then terminates "
            "there",
            command='aws autoscaling update-auto-scaling-group --auto-scaling-group-name "$ASG" '
            '--vpc-zone-identifier "$KEEP"',
            expected="no output.",
        ),
        _activities(
            "`Launching a new EC2 instance` in the remaining zones, then `Terminating` the instances "
            "in the impaired zone, each `Successful`."
        ),
        _wait_in_service(facts),
    )
    return _common(
        facts,
        "evacuate-zone",
        purpose="Stop running instances in one impaired Availability Zone, and return when it has recovered.",
        when=(
            "The AWS Health Dashboard reports an impairment of one zone of the region.",
            "Instances in one zone fail or slow down while the others are fine.",
        ),
        blast_radius=f"The instances in one of {zones} zone(s) ({facts.per_zone} at the minimum size). The "
        "load balancer already stops sending requests to targets that fail their health check; this moves "
        "capacity to where it can serve. "
        + (
            "The session cache fails over on its own when its primary is in that zone "
            "(see cache-primary-failure.md). "
            if facts.cache_failover
            else "The session cache has no replica: if its node is in that zone, every session is lost "
            "(see cache-primary-failure.md). "
        )
        + "A `cdk deploy` during the evacuation puts the zone back (the template lists every subnet): deploy "
        "only after returning.",
        capacity=(
            f"{facts.min_size} instance(s) at the minimum size over {zones} zone(s): losing a zone suddenly "
            f"takes up to {lost} of them away until the group replaces them elsewhere "
            f"({max(facts.min_size - lost, 0)} of {facts.min_size} serve meanwhile).",
            "Evacuating on purpose launches before it terminates: capacity never falls below "
            f"{facts.minimum_healthy} of {facts.min_size} during this procedure.",
        )
        + (
            ("With one zone left, the fleet no longer survives the loss of another one until you return.",)
            if zones <= 2
            else ()
        ),
        durations=(t["detect"], t["replace"]),
        preconditions=(
            "AWS CLI v2 configured for the stack's account, `jq` and `curl`.",
            "The permissions below.",
        ),
        lookups=c.lookups(facts, "AutoScalingGroupName"),
        steps=steps,
        rollback=(
            Step(
                title="Return to every zone once the impairment is over: all of the fleet's subnets again",
                command=f"ALL=$(aws ec2 describe-subnets {subnet_filter} --query \"join(',', "
                'Subnets[].SubnetId)" --output text)\n'
                'aws autoscaling update-auto-scaling-group --auto-scaling-group-name "$ASG" '
                '--vpc-zone-identifier "$ALL"',
                expected=f"no output; the group rebalances across all {zones} zones (launch first, then "
                "terminate).",
            ),
            _wait_in_service(facts),
        ),
        expected_targets=_in_service_count(facts),
    )


def cache_failure(facts: StackFacts) -> Runbook:
    delay, attempts = _waiter_bound("elasticache", "ReplicationGroupAvailable")
    service = facts.details["service"]
    ttl = service.get("SESSION_TTL_SECONDS", "?")
    timeout = service.get("CACHE_TIMEOUT_MS", "?")
    wait = Duration(
        name="the cache is available again (the CLI waiter's bound)",
        formula=f"poll every {delay} s x at most {attempts} times = {delay * attempts} s",
        seconds=delay * attempts,
    )
    calls = Duration(
        name="each session call while the primary is away fails within the service's cache timeout",
        formula=f"CACHE_TIMEOUT_MS {timeout} ms",
        seconds=max(1, int(timeout) // 1000) if str(timeout).isdigit() else 0,
    )
    describe = Step(
        title="The replication group's members, their role and zone",
        command=(
            'aws elasticache describe-replication-groups --replication-group-id "$CACHE_GROUP" \\\n'
            '  --query "ReplicationGroups[0].[Status,NodeGroups[0].NodeGroupId,'
            'NodeGroups[0].NodeGroupMembers[].[CacheClusterId,CurrentRole,PreferredAvailabilityZone]]" \\\n'
            "  --output text"
        ),
        expected=f"status `available`, one `primary` and {facts.cache_replicas} `replica` member(s)."
        if facts.cache_replicas
        else "status `available` and one member (no replica).",
        stop_if="status `modifying` or `snapshotting` for longer than the waiter's bound below: escalate.",
    )
    events = Step(
        title="What ElastiCache did in the last hour",
        command='aws elasticache describe-events --source-identifier "$CACHE_GROUP" --source-type '
        "replication-group --duration 60",
        expected="with a replica: `Failover from primary node ... to replica node ... complete` when it "
        "failed over; without one: the node's recovery or replacement.",
    )
    wait_step = Step(
        title="Wait until the group is available",
        command='aws elasticache wait replication-group-available --replication-group-id "$CACHE_GROUP"',
        expected="returns without output.",
        stop_if=f"`Waiter ReplicationGroupAvailable failed` after {delay * attempts} s: escalate.",
    )
    if facts.cache_replicas:
        steps = (
            describe,
            events,
            Step(
                title="Only when the primary is impaired and ElastiCache has not failed over on its own: "
                "promote a "
                "replica. AWS designed this call for testing failover and may block it during large-scale "
                "events; rehearse it on staging first",
                command=(
                    "NODE_GROUP=$(aws elasticache describe-replication-groups --replication-group-id "
                    '"$CACHE_GROUP" --query "ReplicationGroups[0].NodeGroups[0].NodeGroupId" --output text)\n'
                    'aws elasticache test-failover --replication-group-id "$CACHE_GROUP" --node-group-id '
                    '"$NODE_GROUP"'
                ),
                expected="the replication group as JSON, status `modifying`.",
                stop_if="`TestFailoverNotAvailableFault` or `APICallRateForCustomerExceeded`: wait for "
                "ElastiCache and escalate.",
            ),
            wait_step,
            describe,
        )
        purpose = (
            "The session cache's primary node failed: ElastiCache promotes one of its "
            f"{facts.cache_replicas} "
            "replica(s) and moves the primary endpoint to it; confirm it did, or make it happen."
        )
        blast = (
            "Every session call for the seconds of the failover: the service answers within its cache "
            "timeout "
            f"({timeout} ms) and clients retry. Sessions written in the last moment before the failure may "
            "be lost (replication is asynchronous); items in DynamoDB and files in S3 are unaffected."
        )
    else:
        steps = (describe, events, wait_step, describe)
        purpose = (
            "The session cache's only node failed. With no replica there is nothing to fail over to: "
            "ElastiCache recovers or replaces the node, empty."
        )
        blast = (
            f"Every session: all of them are lost (each would have lived up to SESSION_TTL_SECONDS {ttl} s). "
            "Clients recover by starting a new session: the service answers an unknown session token with "
            "404, and the client signs in again. Items in DynamoDB and files in S3 are unaffected."
        )
    return _common(
        facts,
        "cache-primary-failure",
        purpose=purpose,
        when=(
            "The cache alarms (CPU, memory) fire, or the service's session calls fail while items still "
            "work.",
            "An ElastiCache event names the primary node of this replication group.",
        ),
        blast_radius=blast,
        capacity=(
            f"The fleet keeps all {facts.min_size}-{facts.max_size} instances: the load balancer's health "
            "check is shallow and does not depend on the cache, so no instance is taken out of service.",
            f"Cache: {facts.details['cache_engine']}, {facts.cache_replicas} replica(s), automatic failover "
            f"{'on' if facts.cache_failover else 'off'}. Capacity never falls below {facts.min_size} of "
            f"{facts.min_size} instances during this procedure.",
        ),
        durations=(calls, wait),
        preconditions=(
            "AWS CLI v2 configured for the stack's account, `jq` and `curl`.",
            "The permissions below.",
        ),
        lookups=c.lookups(
            facts,
            "CacheEndpoint",
            extra=(c.resource(facts, "CACHE_GROUP", facts.details["cache_group"], "the session cache"),),
        ),
        steps=steps,
        rollback=(
            Step(
                title="Nothing to roll back: a failed-over group keeps serving with the promoted node as "
                "primary, "
                "and ElastiCache replaces the failed node as a new replica. Sessions lost are not restored; "
                "clients start new ones."
            ),
        ),
        expected_targets=_in_service_count(facts),
    )


def restore_store(facts: StackFacts) -> Runbook:
    details = facts.details
    key, ttl = details["partition_key"], details["ttl_attribute"]
    context = f"{SERVING_TABLE_CONTEXT}.{facts.environment}"
    delay, attempts = _waiter_bound("dynamodb", "TableExists")
    refresh = refresh_duration(facts)
    if not facts.store_pitr:
        steps = (
            Step(
                title="Point-in-time recovery is off for this table (the spec's "
                "store.point_in_time_recovery): "
                "there is no earlier state to restore. Restore from an on-demand backup if one exists",
                command='aws dynamodb list-backups --table-name "$TABLE" --query '
                '"BackupSummaries[].[BackupName,BackupCreationDateTime]" --output text',
                expected="the table's on-demand backups, if any.",
            ),
        )
    else:
        steps = (
            Step(
                title="The restore window",
                command=(
                    'aws dynamodb describe-continuous-backups --table-name "$TABLE" \\\n'
                    '  --query "ContinuousBackupsDescription.PointInTimeRecoveryDescription.'
                    '[PointInTimeRecoveryStatus,EarliestRestorableDateTime,LatestRestorableDateTime]" \\\n'
                    "  --output text"
                ),
                expected="`ENABLED` and the earliest and latest restorable times.",
                stop_if="`DISABLED`: there is nothing to restore from.",
            ),
            Step(
                title="Choose the moment to restore (UTC, inside the window, just before the damage) and the "
                "new table's name",
                command="RESTORE_TO=2026-01-01T03:00:00Z  # replace with the moment before the damage\n"
                'RESTORED="$TABLE-restored"',
            ),
            Step(
                title="Restore into a new table (the source keeps serving meanwhile)",
                command=(
                    'aws dynamodb restore-table-to-point-in-time --source-table-name "$TABLE" \\\n'
                    '  --target-table-name "$RESTORED" --restore-date-time "$RESTORE_TO"'
                ),
                expected="the new table's description, `TableStatus` `CREATING`.",
                stop_if="`TableAlreadyExistsException`: choose another name for RESTORED; "
                "`InvalidRestoreTimeException`: the moment is outside the window.",
            ),
            Step(
                title="Wait until it is active (repeat until it returns: large tables take longer)",
                command='aws dynamodb wait table-exists --table-name "$RESTORED"',
                expected=f"returns without output (it polls every {delay} s, at most {attempts} times).",
            ),
            Step(
                title="Give it what a restore does not copy: time to live, point-in-time recovery"
                + (", deletion protection" if details["deletion_protection"] else ""),
                command=(
                    f'aws dynamodb update-time-to-live --table-name "$RESTORED" '
                    f"--time-to-live-specification Enabled=true,AttributeName={ttl}\n"
                    'aws dynamodb update-continuous-backups --table-name "$RESTORED" '
                    "--point-in-time-recovery-specification PointInTimeRecoveryEnabled=true"
                    + (
                        '\naws dynamodb update-table --table-name "$RESTORED" --deletion-protection-enabled'
                        if details["deletion_protection"]
                        else ""
                    )
                ),
                expected="each prints the setting as now enabled.",
            ),
            Step(
                title="Verify the restored data: an item you know was right at that moment",
                command=(
                    'aws dynamodb get-item --table-name "$RESTORED" --key '
                    f'\'{{"{key}": {{"S": "synthetic-check"}}}}\'\n'
                    'aws dynamodb describe-table --table-name "$RESTORED" --query '
                    '"Table.[TableStatus,TableSizeBytes,ItemCount]" --output text'
                ),
                expected="the item as it was (the synthetic check's item is written every few minutes; use "
                "one of "
                "yours that the damage changed); `ACTIVE` and a size like the source's (the counts are "
                "refreshed about every six hours).",
                stop_if="the item is not as it was: restore again to another moment (new name) before "
                "switching.",
            ),
            Step(
                title="Switch the fleet to the restored table. This is a stack change: the table's name "
                "reaches the instances through the launch template's user data (ITEMS_TABLE in "
                "/etc/sample-service.env) "
                "and their role may use only that table; the deploy grants the new one, rewrites ITEMS_TABLE "
                "and replaces every instance through the stack's instance refresh",
                command=f'cdk deploy {facts.stack} -c region={facts.region} -c {context}="$RESTORED"',
                expected="`UPDATE_COMPLETE` after the instance refresh.",
                stop_if="`UPDATE_ROLLBACK_IN_PROGRESS`: a rollout alarm fired on the new table; the fleet "
                "stays on the old one; escalate.",
            ),
            Step(
                title="The fleet now uses the restored table",
                command=f"{facts.output('ItemsTableName').lookup}",
                expected="the restored table's name.",
            ),
            Step(
                title="Retire the old table: keep it, untouched, as the evidence of what went wrong, with an "
                "on-demand backup. It stays the stack's resource (its deletion policy keeps it); only a code "
                "change removes it from the stack. Keep passing the same -c to every later deploy of this "
                "environment (or put it in cdk.json's context) until then",
                command='aws dynamodb create-backup --table-name "$TABLE" --backup-name '
                '"$TABLE-before-restore"',
                expected="`BackupStatus` `CREATING`.",
            ),
        )
    return _common(
        facts,
        "restore-store",
        purpose="Bring the item store back to a moment before bad writes or deletes, in a new table, then "
        "move the fleet to it.",
        when=(
            "Items were corrupted or deleted by a faulty release, a bad script or a person.",
            "Not for a DynamoDB outage: DynamoDB replicates across the region's zones; wait for it.",
        ),
        blast_radius="Every item written after the restore moment is not in the restored table (the data "
        "loss is the time between the moment and the switch). Sessions and files are unaffected. The switch "
        "replaces every instance like a release.",
        capacity=(
            "Restoring does not touch the fleet. The switch is an instance refresh: capacity never falls "
            f"below {facts.minimum_healthy} of {facts.min_size} during this procedure.",
        ),
        durations=(
            Duration(
                name="the restore itself",
                formula="DynamoDB's, growing with the table's size: not in the stack; "
                f"the CLI waiter polls every {delay} s up to {attempts} times per call",
                seconds=delay * attempts,
            ),
            refresh,
        ),
        preconditions=(
            "AWS CLI v2 configured for the stack's account, `jq` and `curl`.",
            "A checkout of this repository at the deployed release with `make setup` done (for `cdk "
            "deploy`).",
            "The permissions below, and those `cdk deploy` needs (its bootstrap roles).",
            f"Point-in-time recovery: {facts.store_backup}.",
        ),
        lookups=c.lookups(facts, "ItemsTableName", "AutoScalingGroupName"),
        steps=steps,
        rollback=(
            Step(
                title="Put the fleet back on the stack's own table: deploy without the override",
                command=f"cdk deploy {facts.stack} -c region={facts.region}",
                expected="`UPDATE_COMPLETE`; the ItemsTableName output is the original table again.",
            ),
        ),
        expected_targets=_in_service_count(facts),
    )


def roll_back_release(facts: StackFacts) -> Runbook:
    steps = (
        Step(
            title="Is a deployment still running?",
            command=(
                f"aws cloudformation describe-stacks --stack-name {facts.stack} "
                '--query "Stacks[0].StackStatus" --output text'
            ),
            expected="`UPDATE_IN_PROGRESS` (go to step 2) or `UPDATE_COMPLETE` (go to step 3).",
        ),
        Step(
            title="Still deploying: cancel the update; CloudFormation puts the previous launch template back "
            "and its instance refresh replaces the new instances",
            command=f"aws cloudformation cancel-update-stack --stack-name {facts.stack}",
            expected="no output; the status goes `UPDATE_ROLLBACK_IN_PROGRESS`, then "
            "`UPDATE_ROLLBACK_COMPLETE`.",
        ),
        Step(
            title="Deployed already: the launch template's versions (the latest is the bad release)",
            command=(
                'aws ec2 describe-launch-template-versions --launch-template-id "$LAUNCH_TEMPLATE" '
                "--max-items 3 \\\n"
                '  --query "LaunchTemplateVersions[].[VersionNumber,CreateTime]" --output text'
            ),
            expected="the newest versions first.",
        ),
        Step(
            title="Fastest way back: refresh the fleet onto the previous version (the group drifts from the "
            "stack until step 6)",
            command=(
                "PREVIOUS=1  # replace with the previous version's number from step 3\n"
                'aws autoscaling start-instance-refresh --auto-scaling-group-name "$ASG" --strategy Rolling '
                "\\\n  --desired-configuration "
                '"LaunchTemplate={LaunchTemplateId=$LAUNCH_TEMPLATE,Version=$PREVIOUS}" \\\n'
                f'  --preferences "{_refresh_preferences(facts.details["refresh"])}"'
            ),
            expected="an `InstanceRefreshId`.",
        ),
        _refresh_status(),
        Step(
            title="Make the stack say so: deploy the previous release from its commit",
            command="PREVIOUS_RELEASE=v0.0.0  # replace with the previous release's tag\n"
            f'git checkout "$PREVIOUS_RELEASE"\ncdk deploy {facts.stack} -c region={facts.region}',
            expected="`UPDATE_COMPLETE`; the launch template gets a new version identical to the previous "
            "one.",
        ),
    )
    return _common(
        facts,
        "roll-back-release",
        purpose="Put the previous release back on every instance after a release misbehaves.",
        when=(
            "Errors, latency or the synthetic check got worse right after a deployment.",
            "A rollout alarm rolled a refresh back and the stack must follow.",
        ),
        blast_radius="The whole fleet, batch by batch, like a release; sessions and items stay (writes the "
        "bad release made stay too: if it corrupted items, follow restore-store.md as well).",
        capacity=(
            f"An instance refresh: capacity never falls below {facts.minimum_healthy} of {facts.min_size} "
            "during this procedure.",
        ),
        durations=(timings(facts)["replace"], refresh_duration(facts)),
        preconditions=(
            "AWS CLI v2 configured for the stack's account, `jq` and `curl`.",
            "A checkout of this repository with `make setup` done (for step 6), and the previous release's "
            "tag.",
            "The permissions below, and those `cdk deploy` needs (its bootstrap roles).",
        ),
        lookups=c.lookups(
            facts,
            "AutoScalingGroupName",
            extra=(
                c.resource(
                    facts, "LAUNCH_TEMPLATE", facts.details["launch_template"], "the fleet's launch template"
                ),
            ),
        ),
        steps=steps,
        rollback=(
            Step(
                title="If the previous release is no better, roll forward: refresh onto the latest version "
                "again",
                command='aws autoscaling rollback-instance-refresh --auto-scaling-group-name "$ASG"',
                expected="an `InstanceRefreshId` while the refresh of step 4 is still running; otherwise "
                "deploy the fixed release (replace-every-instance.md).",
            ),
        ),
        expected_targets=_in_service_count(facts),
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
