"""Google APIs over Private Google Access on the restricted VIP: inside the VPC, *.googleapis.com resolves to
restricted.googleapis.com, whose range is routed to Google without leaving its network and is the only place
the instances may send HTTPS to for Google's APIs. The restricted VIP serves only APIs VPC Service Controls
supports (Storage, Secret Manager, Firestore, Logging, Monitoring: all this tier uses).

Source: cloud.google.com/vpc-service-controls/docs/private-connectivity (range 199.36.153.4/30, DNS
*.googleapis.com CNAME restricted.googleapis.com, a route to the range via default-internet-gateway)."""

from __future__ import annotations

import ipaddress

import pulumi
import pulumi_gcp.compute as compute
import pulumi_gcp.dns as dns

RESTRICTED_VIP = "199.36.153.4/30"
RESTRICTED_HOST = "restricted.googleapis.com."
DNS_TTL = 300


def private_google_apis(
    environment: str, network: compute.Network, opts: pulumi.ResourceOptions
) -> compute.Route:
    zone = dns.ManagedZone(
        "googleapis",
        name=f"{environment}-googleapis",
        dns_name="googleapis.com.",
        visibility="private",
        description="Google APIs through the restricted VIP (Private Google Access)",
        private_visibility_config=dns.ManagedZonePrivateVisibilityConfigArgs(
            networks=[dns.ManagedZonePrivateVisibilityConfigNetworkArgs(network_url=network.id)]
        ),
        opts=opts,
    )
    dns.RecordSet(
        "restricted-googleapis",
        managed_zone=zone.name,
        name=RESTRICTED_HOST,
        type="A",
        ttl=DNS_TTL,
        rrdatas=[str(address) for address in ipaddress.IPv4Network(RESTRICTED_VIP)],
        opts=opts,
    )
    dns.RecordSet(
        "all-googleapis",
        managed_zone=zone.name,
        name="*.googleapis.com.",
        type="CNAME",
        ttl=DNS_TTL,
        rrdatas=[RESTRICTED_HOST],
        opts=opts,
    )
    return compute.Route(
        "google-apis",
        network=network.id,
        dest_range=RESTRICTED_VIP,
        next_hop_gateway="default-internet-gateway",
        description="The restricted VIP stays on Google's network",
        opts=opts,
    )
