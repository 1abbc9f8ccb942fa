"""Network tier: a custom-mode VPC with one regional subnet, Cloud NAT for egress and firewall rules that
admit only Google's load balancer and health checkers to the instances and only the instances to the cache."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import pulumi
import pulumi_gcp.compute as compute

from gcp_stack.tier import Tier
from refarch.spec import EnvironmentSpec

# Google Front Ends and health checkers reach backends from these ranges (external Application LB).
GOOGLE_FRONT_END_RANGES = ("35.191.0.0/16", "130.211.0.0/22")
ANYWHERE = "0.0.0.0/0"
# The default-deny egress rule sits just above GCP's implied rules; every allow rule beats it.
DENY_PRIORITY = 65000


def address_plan(vpc_cidr: str) -> tuple[str, str]:
    """(instance subnet, cache range): the first half of the spec's network and its last /28, disjoint."""
    network = ipaddress.IPv4Network(vpc_cidr)
    instances = next(network.subnets(prefixlen_diff=1))
    cache = list(network.subnets(new_prefix=28))[-1]
    return str(instances), str(cache)


@dataclass(frozen=True)
class NetworkArgs:
    spec: EnvironmentSpec
    region: str
    fleet_service_account: pulumi.Input[str]
    service_port: int
    cache_port: int


class ServiceNetwork(Tier):
    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ServiceNetwork", name, opts)
        spec = args.spec
        instance_range, self.cache_range = address_plan(spec.vpc_cidr)
        self.vpc = compute.Network(
            "vpc",
            auto_create_subnetworks=False,
            routing_mode="REGIONAL",
            description=f"Stateless service network ({spec.name})",
            opts=self.child(),
        )
        self.subnet = compute.Subnetwork(
            "instances",
            network=self.vpc.id,
            region=args.region,
            ip_cidr_range=instance_range,
            # Google APIs (Firestore, Secret Manager, Storage) without leaving Google's network.
            private_ip_google_access=True,
            log_config=compute.SubnetworkLogConfigArgs(
                aggregation_interval="INTERVAL_5_SEC",
                flow_sampling=1.0 if spec.production else 0.5,
                metadata="INCLUDE_ALL_METADATA",
            ),
            opts=self.child(),
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
            "fleet-to-web",
            "EGRESS",
            # 443: Google APIs and PyPI; 80: the signed Debian package mirrors the boot installs from.
            allows=["443", "80"],
            destination_ranges=[ANYWHERE],
            target_service_accounts=fleet,
            description="Instances to HTTPS (Google APIs, PyPI) and the Debian mirrors",
        )
        self._rule(
            "deny-egress",
            "EGRESS",
            denies=True,
            destination_ranges=[ANYWHERE],
            priority=DENY_PRIORITY,
            description="Everything else out is closed, for every instance in the network",
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
        **kwargs,
    ) -> compute.Firewall:
        return compute.Firewall(
            name,
            network=self.vpc.id,
            direction=direction,
            priority=priority,
            allows=[compute.FirewallAllowArgs(protocol="tcp", ports=allows)] if allows else None,
            denies=[compute.FirewallDenyArgs(protocol="all")] if denies else None,
            log_config=compute.FirewallLogConfigArgs(metadata="INCLUDE_ALL_METADATA"),
            opts=self.child(),
            **kwargs,
        )
