"""The failure modes of one AWS stack for its reliability report: what happens, the recovery time and
data loss the stack's own values give, and the runbook that handles each."""

from __future__ import annotations

from tools.docs.model import FailureMode, StackFacts


def failure_modes(facts: StackFacts) -> tuple[FailureMode, ...]:
    hc = facts.health_check
    detect, healthy, recover = hc.detection_seconds, hc.healthy_seconds, facts.recovery_seconds
    zones = len(facts.zones)
    lost = facts.lost_per_zone
    ttl = facts.details["service"]["SESSION_TTL_SECONDS"]
    recovery = (
        f"detect {hc.interval_seconds} s x {hc.unhealthy_threshold} = {detect} s + boot budget "
        f"{facts.boot_budget_seconds} s + healthy {hc.interval_seconds} s x {hc.healthy_threshold} = "
        f"{healthy} s: at most {recover} s"
    )
    return (
        FailureMode(
            mode="instance",
            what_happens="The load balancer stops routing to it after its health checks fail; the group (ELB "
            "health checks) launches a replacement, and its instance maintenance policy keeps the others in "
            "service.",
            recovery_time=recovery,
            data_loss="none: requests in flight on the failed instance fail and clients retry; sessions are "
            "in the cache, items in DynamoDB",
            runbook="replace-one-instance",
        ),
        FailureMode(
            mode="zone",
            what_happens=f"Up to {lost} of {facts.min_size} instances (at the minimum size, "
            f"{facts.per_zone}) go; "
            "the load balancer routes to the healthy zones and the group launches replacements there."
            + (" With 2 zones, a second failure leaves none." if zones <= 2 else ""),
            recovery_time=recovery + "; evacuate the zone to stop launches into it",
            data_loss="none for items and files (DynamoDB and S3 span the region's zones); sessions only if "
            "the cache primary was there"
            + (
                " and a replica took over (asynchronous replication)"
                if facts.cache_replicas
                else " (no replica: every session)"
            ),
            runbook="evacuate-zone",
        ),
        FailureMode(
            mode="cache primary",
            what_happens=(
                f"ElastiCache promotes one of {facts.cache_replicas} replica(s) (Multi-AZ automatic "
                "failover); "
                "session calls fail within the service's cache timeout meanwhile, items keep working."
                if facts.cache_replicas
                else "No replica: ElastiCache recovers or replaces the node, empty; session calls fail until "
                "then."
            ),
            recovery_time="ElastiCache's failover time (not a stack value): rehearse it with test-failover "
            "on staging"
            if facts.cache_replicas
            else "ElastiCache's node recovery time (not a stack value)",
            data_loss="sessions written in the moment before the failover (asynchronous replication)"
            if facts.cache_replicas
            else f"every session (each lives up to SESSION_TTL_SECONDS {ttl} s); clients sign in again",
            runbook="cache-primary-failure",
        ),
        FailureMode(
            mode="store corruption",
            what_happens="Bad writes or deletes (a faulty release, a script): restore the table to a moment "
            "before them, in a new table, and switch the fleet to it.",
            recovery_time="the restore (grows with the table's size) + one instance refresh of the fleet",
            data_loss=f"writes after the chosen moment; {facts.store_backup}",
            runbook="restore-store",
        ),
        FailureMode(
            mode="region",
            what_happens="Everything in the region stops: the stack is single-region. Recovery is a "
            "deployment "
            "of the stack in another region (`cdk deploy -c region=...`) with a new, empty table and cache.",
            recovery_time="a first deployment in another region; not rehearsed",
            data_loss="every item and file, unless copied out of the region beforehand (the stack does not "
            "replicate them)",
            runbook=None,
        ),
    )
