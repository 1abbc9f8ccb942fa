"""Private endpoints: how the fleet reaches each data service, whose public network access is off."""

from __future__ import annotations

import pulumi
import pulumi_azure_native.network as network

from azure_stack.names import endpoint_name
from azure_stack.placement import Placement


def private_endpoint(
    name: str,
    *,
    placement: Placement,
    resource_id: pulumi.Input[str],
    group_id: str,
    subnet_id: pulumi.Input[str],
    dns_zone_id: pulumi.Input[str],
    parent: pulumi.Resource,
    security_group_id: pulumi.Input[str] | None = None,
) -> network.PrivateEndpoint:
    child = pulumi.ResourceOptions(parent=parent)
    endpoint = network.PrivateEndpoint(
        endpoint_name(name),
        resource_group_name=placement.resource_group_name,
        location=placement.location,
        subnet={"id": subnet_id},
        private_link_service_connections=[
            {"name": name, "private_link_service_id": resource_id, "group_ids": [group_id]}
        ],
        # An application security group lets NSG rules name this endpoint rather than the whole subnet.
        application_security_groups=[{"id": security_group_id}] if security_group_id is not None else None,
        tags=placement.tags,
        opts=child,
    )
    # The zone group keeps the service's private DNS record pointing at the endpoint's address.
    network.PrivateDnsZoneGroup(
        f"{name}-dns",
        resource_group_name=placement.resource_group_name,
        private_endpoint_name=endpoint.name,
        private_dns_zone_configs=[{"name": group_id, "private_dns_zone_id": dns_zone_id}],
        opts=child,
    )
    return endpoint
