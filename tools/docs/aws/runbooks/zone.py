"""Evacuating an impaired Availability Zone, and returning."""

from __future__ import annotations

from tools.docs.aws import steps as c
from tools.docs.aws.runbooks.common import activities, assemble, in_service_count, timings, wait_in_service
from tools.docs.model import Runbook, StackFacts, Step


def evacuate_zone(facts: StackFacts) -> Runbook:
    t = timings(facts)
    zones = len(facts.zones)
    lost = facts.lost_per_zone
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
        activities(
            facts,
            "`Launching a new EC2 instance` in the remaining zones, then `Terminating` the instances "
            "in the impaired zone, each `Successful`.",
        ),
        wait_in_service(facts),
    )
    return assemble(
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
            wait_in_service(facts),
        ),
        expected_targets=in_service_count(facts),
    )
