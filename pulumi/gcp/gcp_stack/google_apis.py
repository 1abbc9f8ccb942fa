"""Google APIs over Private Google Access: inside the VPC, *.googleapis.com resolves to
restricted.googleapis.com, whose range is routed to Google without leaving its network. The restricted VIP
serves only the APIs VPC Service Controls supports (Storage, Secret Manager, Firestore, Logging, Monitoring:
the APIs this tier calls) and a few dependencies it lists (oauth2, openidconnect); www.googleapis.com is not
among them, yet the service fetches Google's token-signing keys from there (sample_service GatewayAuth
jwks_url). That one host resolves to private.googleapis.com instead, which serves most Google APIs, on a
range of its own, also routed inside Google's network.

Sources: cloud.google.com/vpc-service-controls/docs/private-connectivity (range 199.36.153.4/30, DNS
*.googleapis.com CNAME restricted.googleapis.com, a route to the range via default-internet-gateway);
cloud.google.com/vpc-service-controls/docs/restricted-vip-services (the services the restricted VIP serves);
cloud.google.com/vpc/docs/configure-private-google-access, "Domain options" (private.googleapis.com is
199.36.153.8/30 and serves most Google APIs whether or not VPC Service Controls supports them)."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

import pulumi
import pulumi_gcp.compute as compute
import pulumi_gcp.dns as dns

RESTRICTED_VIP = "199.36.153.4/30"
RESTRICTED_HOST = "restricted.googleapis.com."
PRIVATE_VIP = "199.36.153.8/30"
PRIVATE_HOST = "private.googleapis.com."
# googleapis.com hosts the instances call that the restricted VIP does not serve.
PRIVATE_VIP_HOSTS = ("www.googleapis.com.",)
# The guest agent's Agent Communication Service, VM Extension Manager's channel to the Ops Agent extension,
# is one host per zone and region ("About VM Extension Manager"); the restricted VIP's list does not name it,
# so each goes to the private VIP. A DNS wildcard is a whole label ("*-agentcommunication" is no wildcard,
# RFC 4592): one record per location of the stack.
AGENT_COMMUNICATION = "{location}-agentcommunication.googleapis.com."


def agent_communication_hosts(locations: Sequence[str]) -> list[str]:
    return [AGENT_COMMUNICATION.format(location=location) for location in locations]


DNS_TTL = 300


def _addresses(vip: str) -> list[str]:
    return [str(address) for address in ipaddress.IPv4Network(vip)]


def private_google_apis(
    environment: str, network: compute.Network, locations: Sequence[str], opts: pulumi.ResourceOptions
) -> list[compute.Route]:
    """`locations`: the region and zones whose agents call their Agent Communication Service."""
    zone = dns.ManagedZone(
        "googleapis",
        name=f"{environment}-googleapis",
        dns_name="googleapis.com.",
        visibility="private",
        description="Google APIs through Private Google Access (restricted VIP; private VIP where it must)",
        private_visibility_config=dns.ManagedZonePrivateVisibilityConfigArgs(
            networks=[dns.ManagedZonePrivateVisibilityConfigNetworkArgs(network_url=network.id)]
        ),
        opts=opts,
    )

    def record(name: str, dns_name: str, type_: str, rrdatas: list[str]) -> None:
        dns.RecordSet(
            name, managed_zone=zone.name, name=dns_name, type=type_, ttl=DNS_TTL, rrdatas=rrdatas, opts=opts
        )

    record("restricted-googleapis", RESTRICTED_HOST, "A", _addresses(RESTRICTED_VIP))
    record("private-googleapis", PRIVATE_HOST, "A", _addresses(PRIVATE_VIP))
    # A name of its own wins over the wildcard (DNS answers the closest match).
    record("all-googleapis", "*.googleapis.com.", "CNAME", [RESTRICTED_HOST])
    for host in [*PRIVATE_VIP_HOSTS, *agent_communication_hosts(locations)]:
        record(f"{host.split('.')[0]}-googleapis", host, "CNAME", [PRIVATE_HOST])
    return [
        compute.Route(
            name,
            network=network.id,
            dest_range=vip,
            next_hop_gateway="default-internet-gateway",
            description=f"The {kind} VIP stays on Google's network",
            opts=opts,
        )
        for name, kind, vip in (
            ("google-apis", "restricted", RESTRICTED_VIP),
            ("google-apis-private", "private", PRIVATE_VIP),
        )
    ]
