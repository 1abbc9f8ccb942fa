"""A failed session-cache primary: confirm or make the failover; without a replica, what is lost."""

from __future__ import annotations

from tools.docs.aws import steps as c
from tools.docs.aws.runbooks.common import assemble, in_service_count, waiter_bound
from tools.docs.model import Duration, Runbook, StackFacts, Step


def cache_failure(facts: StackFacts) -> Runbook:
    delay, attempts = waiter_bound("elasticache", "ReplicationGroupAvailable")
    service = facts.details["service"]
    ttl = service["SESSION_TTL_SECONDS"]
    timeout = service["CACHE_TIMEOUT_MS"]
    wait = Duration(
        name="the cache is available again (the CLI waiter's bound)",
        formula=f"poll every {delay} s x at most {attempts} times = {delay * attempts} s",
        seconds=delay * attempts,
    )
    timeout_ms = int(timeout)
    calls = Duration(
        name="each session call while the primary is away fails within the service's cache timeout",
        formula=f"CACHE_TIMEOUT_MS {timeout_ms} ms = {timeout_ms / 1000:g} s",
        seconds=timeout_ms / 1000,
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
    return assemble(
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
        expected_targets=in_service_count(facts),
    )
