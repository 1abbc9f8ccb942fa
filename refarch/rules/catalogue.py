"""The statelessness rules: one catalogue, read by every enforcer (cdk-nag, the Pulumi policy pack, the
command line, `make synth`) and by the table in refarch/rules/README.md. Each cloud's evaluation lives in
that cloud's module (`aws.py`, `azure.py`, `gcp.py`), registered under the rule's id."""

from __future__ import annotations

from dataclasses import dataclass

# cdk-nag names a finding `<pack>-<suffix>`; every rule id starts with the pack's name so the id is the same
# in the nag report, the policy pack and the evidence.
PACK = "Stateless"


@dataclass(frozen=True)
class Rule:
    suffix: str
    title: str
    why: str
    practice: str
    remediation: str
    severity: str = "error"

    @property
    def id(self) -> str:
        return f"{PACK}-{self.suffix}"


RULES: tuple[Rule, ...] = (
    Rule(
        "NoAffinity",
        "No affinity on any load balancer or backend",
        "Stickiness pins a client to one instance, so that instance's memory becomes state: replacing or "
        "losing it loses the client's session, and load no longer spreads evenly.",
        "REL05-BP06",
        "Turn stickiness, cookie-based affinity and session affinity off; keep sessions in the cache.",
    ),
    Rule(
        "DisposableInstances",
        "Instances keep nothing beyond their life",
        "A disk that outlives its instance, a data disk or a mounted file share is state an instance "
        "carries; replacement then means migrating it instead of discarding the instance.",
        "REL05-BP06",
        "Delete disks with the instance, attach no data disks, mount no network file share on the fleet; "
        "put files in object storage.",
    ),
    Rule(
        "NoFixedIdentity",
        "No fixed identity: no public or elastic IPs, no SSH keys, SSH never admitted",
        "An address or a login that belongs to one instance invites clients and people to depend on that "
        "instance; hand-made changes over SSH make it unlike its replacements.",
        "REL05-BP06",
        "Reach instances only through the load balancer; use Session Manager or the serial console, not SSH.",
    ),
    Rule(
        "LoadBalancerHealth",
        "The fleet replaces what its load balancer finds unhealthy, on the shallow health path",
        "Automated healing needs the fleet to act on the signal that routes traffic, and that signal must "
        "not fail every instance at once when a dependency is down.",
        "REL11-BP03",
        "Use ELB health checks / automatic repairs with the application health extension / MIG autohealing, "
        "on the service's shallow health path.",
    ),
    Rule(
        "ReplaceAtFullCapacity",
        "Replacement never drops capacity",
        "New instances must be healthy before old ones go, or every deployment is a capacity loss.",
        "REL05-BP06, REL11-BP03",
        "Instance refresh and maintenance policy at 100 % minimum healthy; rolling upgrades with surge; MIG "
        "updates with surge of at least the zone count and zero unavailable.",
    ),
    Rule(
        "DrainBeforeStop",
        "Draining outlasts the service's shutdown grace, and the stop timeout outlasts both",
        "In-flight requests finish only if the load balancer keeps the connection long enough and the "
        "instance is not killed before the service exits.",
        "REL05-BP06",
        "Set connection draining to at least SHUTDOWN_GRACE_SECONDS and the unit's stop timeout above both.",
    ),
    Rule(
        "ExternalSessions",
        "Sessions live in the external cache with a TTL",
        "A session in process memory is lost when the instance goes and invisible to every other instance.",
        "REL05-BP06",
        "Point the fleet's environment at the cache (CACHE_HOST), keep SESSION_TTL_SECONDS positive, never "
        "SESSION_BACKEND=memory.",
    ),
    Rule(
        "DurableStateStores",
        "State stores are durable and, in production, available",
        "Once instances hold nothing, the stores hold everything: they must survive a zone and a mistake.",
        "REL09-BP01, REL10-BP01",
        "Object storage versioned and the store with point-in-time recovery everywhere; in production cache "
        "replicas with automatic failover across zones and deletion protection on the store.",
    ),
    Rule(
        "ZoneSpread",
        "Capacity spread: two zones at least, one instance per zone in production",
        "Interchangeable instances only help when a zone's loss leaves instances elsewhere.",
        "REL10-BP01",
        "Span at least two zones; in production make the minimum capacity at least the number of zones.",
    ),
    Rule(
        "IdenticalInstances",
        "Every instance boots the same image",
        "Interchangeable means identical: an image resolved at each launch lets one fleet mix builds, so a "
        "replacement can behave unlike the instance it replaced.",
        "REL05-BP06, REL08-BP04",
        "Resolve the image once per deployment (an AMI id or an SSM parameter of the template, a specific "
        "image version, a specific image rather than a family).",
    ),
    Rule(
        "ScalingOwnsCount",
        "Autoscaling owns the instance count",
        "A fixed count in the template resets the fleet on each deployment, undoing what autoscaling did.",
        "REL07-BP01, REL05-BP06",
        "Leave the desired count out of the template (or ignore its changes); attach an autoscaling policy.",
    ),
    Rule(
        "FleetOnlyCache",
        "Only the fleet reaches the cache, over TLS",
        "The cache holds every session: anything else that can reach it can read or change them, and "
        "plain text exposes session tokens on the network.",
        "REL05-BP06, SEC05-BP02",
        "Admit only the fleet to the cache's port, require TLS on the cache and in the fleet's environment.",
    ),
)

BY_ID = {rule.id: rule for rule in RULES}
