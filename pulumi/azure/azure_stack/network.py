"""Network tier: one VNet, a subnet per tier, NSGs that admit only the next tier in the chain
(API gateway -> load balancer -> instances -> data endpoints), a NAT gateway for the instances' egress,
and the private DNS zones that resolve the data services to their private endpoints."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import pulumi
import pulumi_azure_native.network as network
import pulumi_azure_native.privatedns as privatedns

from azure_stack.diagnostics import send_diagnostics
from azure_stack.placement import Placement
from azure_stack.tier import Tier

# Where each tier's subnet sits in the spec's VNet CIDR: (tier, prefix length, index at that length).
# The /22 for instances holds max capacity and surge with room; the others need a /24 at most.
SUBNETS = {"app": (22, 0), "gateway": (24, 4), "apim": (24, 5), "data": (24, 6)}
GATEWAY_LISTENER_PORT = 80
CACHE_PORT = 10000
HTTPS = 443
# API Management units synchronise rate-limit counters over UDP 4290 inside the VNet.
APIM_COUNTER_SYNC_PORT = "4290"
# Private DNS zone of each private-link group the data tier uses.
PRIVATE_DNS_ZONES = {
    "redisEnterprise": "privatelink.redis.azure.net",
    "Sql": "privatelink.documents.azure.com",
    "blob": "privatelink.blob.core.windows.net",
    "vault": "privatelink.vaultcore.azure.net",
}


def subnet_cidrs(vnet_cidr: str) -> dict[str, str]:
    vnet = ipaddress.IPv4Network(vnet_cidr)
    return {
        tier: str(list(vnet.subnets(new_prefix=prefix))[index]) for tier, (prefix, index) in SUBNETS.items()
    }


def gateway_private_ip(vnet_cidr: str) -> str:
    """A fixed address for the load balancer's private frontend (Azure keeps the first four)."""
    return str(ipaddress.IPv4Network(subnet_cidrs(vnet_cidr)["gateway"])[10])


def _allow(
    name: str,
    priority: int,
    source: str,
    ports: list[str] | str,
    protocol: str = "Tcp",
    destination: pulumi.Input[str] | None = None,
) -> dict:
    """An inbound Allow rule; `destination` is an application security group's ID (default: any address)."""
    ports = [ports] if isinstance(ports, str) else ports
    target = (
        {"destination_application_security_groups": [{"id": destination}]}
        if destination is not None
        else {"destination_address_prefix": "*"}
    )
    return {
        "name": name,
        "priority": priority,
        "direction": "Inbound",
        "access": "Allow",
        "protocol": protocol,
        "source_address_prefix": source,
        "source_port_range": "*",
        **target,
        "destination_port_ranges": ports,
    }


# Replaces the default rule that admits the whole VNet: anything not allowed above is refused.
DENY_REST = {
    "name": "deny-all-inbound",
    "priority": 4096,
    "direction": "Inbound",
    "access": "Deny",
    "protocol": "*",
    "source_address_prefix": "*",
    "source_port_range": "*",
    "destination_address_prefix": "*",
    "destination_port_range": "*",
}


def inbound_rules(
    spec_port: int, cidrs: dict[str, str], vault_endpoints: pulumi.Input[str]
) -> dict[str, list[dict]]:
    return {
        # Application Gateway v2 needs its infrastructure ports from GatewayManager and probes from
        # AzureLoadBalancer; clients only from the API gateway's subnet.
        "gateway": [
            _allow("gateway-manager", 100, "GatewayManager", "65200-65535"),
            _allow("azure-load-balancer", 110, "AzureLoadBalancer", "*", "*"),
            _allow("from-api-gateway", 120, cidrs["apim"], str(GATEWAY_LISTENER_PORT)),
        ],
        # API Management in external VNet mode: clients on 443, its control plane and load balancer, and its
        # units' rate-limit counter sync (without it each unit counts alone: N units allow N times the limit).
        "apim": [
            _allow("clients-https", 100, "Internet", str(HTTPS)),
            _allow("apim-management", 110, "ApiManagement", "3443"),
            _allow("azure-load-balancer", 120, "AzureLoadBalancer", "6390"),
            _allow("rate-limit-sync", 130, "VirtualNetwork", APIM_COUNTER_SYNC_PORT, "Udp"),
        ],
        "app": [_allow("from-load-balancer", 100, cidrs["gateway"], str(spec_port))],
        "data": [
            _allow("from-instances", 100, cidrs["app"], [str(HTTPS), str(CACHE_PORT)]),
            # API Management reads its custom-domain certificate and named values from the Key Vault only.
            _allow("api-to-vault", 110, cidrs["apim"], str(HTTPS), destination=vault_endpoints),
        ],
    }


@dataclass(frozen=True, kw_only=True)
class ServiceNetworkArgs:
    placement: Placement
    workspace_id: pulumi.Input[str]
    # The spec's VNet range (`vpc_cidr`), which the tiers' subnets divide (SUBNETS).
    vnet_cidr: str
    # The port the service listens on (`service.port`): the only one the app subnet admits.
    service_port: int


class ServiceNetwork(Tier):
    def __init__(
        self, name: str, args: ServiceNetworkArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ServiceNetwork", name, opts)
        placement = args.placement
        child = self.child()
        common = {"resource_group_name": placement.resource_group_name, "location": placement.location}
        cidrs = subnet_cidrs(args.vnet_cidr)

        egress_ip = network.PublicIPAddress(
            "nat-ip",
            **common,
            sku={"name": "Standard", "tier": "Regional"},
            public_ip_allocation_method="Static",
            tags=placement.tags,
            opts=child,
        )
        # One NAT gateway per subnet is all Azure allows. A Standard NAT gateway without zones is placed in
        # one zone Azure picks: losing that zone stops new instances' boot downloads (pulumi/azure/README.md,
        # "What differs from the others", NAT).
        self.nat_gateway = network.NatGateway(
            "nat",
            **common,
            sku={"name": "Standard"},
            public_ip_addresses=[{"id": egress_ip.id}],
            idle_timeout_in_minutes=4,
            tags=placement.tags,
            opts=child,
        )
        # The Key Vault's private endpoint joins this group, so an NSG rule can name it among the data
        # tier's endpoints (which share one subnet).
        self.vault_endpoints = network.ApplicationSecurityGroup(
            "vault-endpoints", **common, tags=placement.tags, opts=child
        )
        self.security_groups: dict[str, network.NetworkSecurityGroup] = {}
        for tier, rules in inbound_rules(args.service_port, cidrs, self.vault_endpoints.id).items():
            group = network.NetworkSecurityGroup(
                f"{tier}-nsg", **common, security_rules=[*rules, DENY_REST], tags=placement.tags, opts=child
            )
            send_diagnostics(
                f"{tier}-nsg",
                resource_id=group.id,
                workspace_id=args.workspace_id,
                parent=self,
                metrics=None,
            )
            self.security_groups[tier] = group

        vnet_name = placement.name("vnet")
        subnets = []
        for tier, cidr in cidrs.items():
            subnet = {
                "name": tier,
                "address_prefix": cidr,
                "network_security_group": {"id": self.security_groups[tier].id},
                # No implicit outbound access: egress only through the NAT gateway (or not at all).
                "default_outbound_access": False,
            }
            if tier == "app":
                subnet["nat_gateway"] = {"id": self.nat_gateway.id}
                # The release storage account admits the instances' subnet through this service endpoint.
                subnet["service_endpoints"] = [{"service": "Microsoft.Storage"}]
            if tier == "data":
                # NSG rules apply to private endpoints only with this on.
                subnet["private_endpoint_network_policies"] = "Enabled"
            if tier == "apim":
                # API Management (stv2) brings its own public IP and needs outbound to its dependencies.
                subnet["default_outbound_access"] = True
            subnets.append(subnet)
        # Subnets inline, so the VNet and its subnets are one resource that never drifts apart.
        self.vnet = network.VirtualNetwork(
            "vnet",
            **common,
            virtual_network_name=vnet_name,
            address_space={"address_prefixes": [args.vnet_cidr]},
            subnets=subnets,
            tags=placement.tags,
            opts=child,
        )
        self.subnet_ids = {tier: pulumi.Output.concat(self.vnet.id, "/subnets/", tier) for tier in cidrs}
        self.dns_zone_ids: dict[str, pulumi.Output[str]] = {}
        for group_id, zone_name in PRIVATE_DNS_ZONES.items():
            zone = privatedns.PrivateZone(
                f"{group_id.lower()}-zone",
                resource_group_name=placement.resource_group_name,
                location="global",
                private_zone_name=zone_name,
                tags=placement.tags,
                opts=child,
            )
            privatedns.VirtualNetworkLink(
                f"{group_id.lower()}-zone-link",
                resource_group_name=placement.resource_group_name,
                location="global",
                private_zone_name=zone.name,
                virtual_network={"id": self.vnet.id},
                registration_enabled=False,
                tags=placement.tags,
                opts=child,
            )
            self.dns_zone_ids[group_id] = zone.id
        self.register_outputs({"vnetId": self.vnet.id, "subnetIds": self.subnet_ids})
