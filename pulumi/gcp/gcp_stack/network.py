"""Network tier: a custom-mode VPC with one regional subnet, Google's APIs on Private Google Access, Cloud NAT
for what boot still fetches from the internet, and firewall rules that admit only Google's load balancer and
health checkers to the instances and only the instances to the cache."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_gcp.compute as compute

from gcp_stack.google_apis import PRIVATE_VIP, RESTRICTED_VIP, private_google_apis
from gcp_stack.tier import Tier

# Google Front Ends and health checkers reach backends from these ranges (external Application LB).
GOOGLE_FRONT_END_RANGES = ("35.191.0.0/16", "130.211.0.0/22")
ANYWHERE = "0.0.0.0/0"
# The default-deny egress rule sits just above GCP's implied rules; every allow rule beats it.
DENY_PRIORITY = 65000
# Flow logs: a quarter of the flows, aggregated per five minutes, without GCE metadata (instances are cattle:
# their names say nothing an address does not). Enough to see who talks to whom; a fraction of the volume.
FLOW_LOGS = {
    "aggregation_interval": "INTERVAL_5_MIN",
    "flow_sampling": 0.25,
    "metadata": "EXCLUDE_ALL_METADATA",
}


def address_plan(vpc_cidr: str) -> tuple[str, str]:
    """(instance subnet, cache range): the first half of the spec's network and its last /28, disjoint."""
    network = ipaddress.IPv4Network(vpc_cidr)
    instances = next(network.subnets(prefixlen_diff=1))
    cache = list(network.subnets(new_prefix=28))[-1]
    return str(instances), str(cache)


@dataclass(frozen=True, kw_only=True)
class NetworkArgs:
    environment: str
    # The spec's network range: the instances' subnet and the cache's range are carved from it.
    vpc_cidr: str
    region: str
    fleet_service_account: pulumi.Input[str]
    service_port: int
    cache_port: int
    # The zones the fleet runs in (their guest agents call per-zone Google hosts).
    zones: Sequence[str]


class ServiceNetwork(Tier):
    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ServiceNetwork", name, opts)
        instance_range, self.cache_range = address_plan(args.vpc_cidr)
        self.vpc = compute.Network(
            "vpc",
            auto_create_subnetworks=False,
            routing_mode="REGIONAL",
            description=f"Stateless service network ({args.environment})",
            opts=self.child(),
        )
        self.subnet = compute.Subnetwork(
            "instances",
            network=self.vpc.id,
            region=args.region,
            ip_cidr_range=instance_range,
            # Google APIs (Firestore, Secret Manager, Storage) without leaving Google's network.
            private_ip_google_access=True,
            log_config=compute.SubnetworkLogConfigArgs(**FLOW_LOGS),
            opts=self.child(),
        )
        self.google_apis = private_google_apis(
            args.environment, self.vpc, [args.region, *args.zones], self.child()
        )
        router = compute.Router("router", network=self.vpc.id, region=args.region, opts=self.child())
        self.nat = compute.RouterNat(
            "nat",
            router=router.name,
            region=args.region,
            nat_ip_allocate_option="AUTO_ONLY",
            source_subnetwork_ip_ranges_to_nat="LIST_OF_SUBNETWORKS",
            subnetworks=[
                compute.RouterNatSubnetworkArgs(
                    name=self.subnet.id, source_ip_ranges_to_nats=["ALL_IP_RANGES"]
                )
            ],
            log_config=compute.RouterNatLogConfigArgs(enable=True, filter="ERRORS_ONLY"),
            opts=self.child(),
        )
        fleet = [args.fleet_service_account]
        self._rule(
            "lb-to-fleet",
            "INGRESS",
            allows=[str(args.service_port)],
            source_ranges=list(GOOGLE_FRONT_END_RANGES),
            target_service_accounts=fleet,
            description="Load balancer proxies and health checks to the service port only",
        )
        self._rule(
            "fleet-to-cache",
            "EGRESS",
            allows=[str(args.cache_port)],
            destination_ranges=[self.cache_range],
            target_service_accounts=fleet,
            description="Instances to the session cache (TLS port) only",
        )
        self._rule(
            "fleet-to-google-apis",
            "EGRESS",
            allows=["443"],
            destination_ranges=[RESTRICTED_VIP],
            target_service_accounts=fleet,
            description="Instances to Google's APIs on the restricted VIP only",
        )
        self._rule(
            "fleet-to-private-google-apis",
            "EGRESS",
            allows=["443"],
            destination_ranges=[PRIVATE_VIP],
            target_service_accounts=fleet,
            description="Instances to Google hosts the restricted VIP does not serve (token-signing keys)",
        )
        self._rule(
            "deny-egress",
            "EGRESS",
            denies=True,
            destination_ranges=[ANYWHERE],
            priority=DENY_PRIORITY,
            description="Everything else out is closed, for every instance in the network",
            logged=True,
        )
        self.register_outputs(
            {"network": self.vpc.id, "subnet": self.subnet.id, "cacheRange": self.cache_range}
        )

    def _rule(
        self,
        name: str,
        direction: str,
        *,
        allows: list[str] | None = None,
        denies: bool = False,
        priority: int = 1000,
        logged: bool = False,
        **kwargs,
    ) -> compute.Firewall:
        return compute.Firewall(
            name,
            network=self.vpc.id,
            direction=direction,
            priority=priority,
            allows=[compute.FirewallAllowArgs(protocol="tcp", ports=allows)] if allows else None,
            denies=[compute.FirewallDenyArgs(protocol="all")] if denies else None,
            # Only the rules worth reading are logged: what leaves for the internet and what was refused. The
            # load balancer's and the cache's traffic would be every request again.
            log_config=compute.FirewallLogConfigArgs(metadata="EXCLUDE_ALL_METADATA") if logged else None,
            opts=self.child(),
            **kwargs,
        )
