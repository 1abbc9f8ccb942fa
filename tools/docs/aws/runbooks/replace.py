"""Replacing instances: one, or every one through an instance refresh."""

from __future__ import annotations

from tools.docs.aws import steps as c
from tools.docs.aws.runbooks.common import (
    activities,
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
    wait_in_service,
)
from tools.docs.model import Runbook, StackFacts, Step


def replace_one(facts: StackFacts) -> Runbook:
    t = timings(facts)
    refresh = facts.details["refresh"]
    steps = (
        list_instances(watch_step=5),
        no_refresh_running(facts),
        Step(
            title="Name the instance to replace (an id from step 1) and make sure it is this group's",
            command=(
                'INSTANCE="<id from step 1>"\n'
                'GROUP=$(aws autoscaling describe-auto-scaling-instances --instance-ids "$INSTANCE" \\\n'
                '  --query "AutoScalingInstances[0].AutoScalingGroupName" --output text)\n'
                'test "$GROUP" = "$ASG" && echo in-group'
            ),
            expected="`in-group`.",
            # set-instance-health takes no group name: it acts on whichever group the instance is in.
            stop_if="anything else: `$GROUP` names the group the instance is in (`None`: in no group; "
            "another name: another stack's group in this account, which step 4 would replace instead); "
            "go back to step 1.",
        ),
        Step(
            title="Mark it unhealthy: the group launches its replacement first, then drains and terminates "
            "it",
            command=(
                'aws autoscaling set-instance-health --instance-id "$INSTANCE" --health-status Unhealthy \\\n'
                "  --no-should-respect-grace-period"
            ),
            expected="no output.",
            stop_if="`ValidationError`: the id is not an instance of any group; go back to step 3. The call "
            "names no group: only step 3 makes sure it is this one.",
        ),
        activities(
            facts,
            "`Launching a new EC2 instance` `Successful`, then `Terminating EC2 instance: <INSTANCE>` "
            "`Successful` (the termination waits for the replacement to pass its health check).",
            since="step 4",
        ),
        wait_in_service(facts),
    )
    return assemble(
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
                f"{runbook_path(facts, 'roll-back-release')}."
            ),
        ),
        expected_targets=in_service_count(facts),
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
