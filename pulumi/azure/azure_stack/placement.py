"""Where every resource of one stack goes, and the names and IDs the tiers build from it."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi


def zone_names(zones: int) -> list[str]:
    """An environment's zones as Azure names them ("1", "2", "3")."""
    return [str(zone) for zone in range(1, zones + 1)]


@dataclass(frozen=True, kw_only=True)
class Placement:
    # `refarch-azure:namePrefix` and the environment's name: every resource-group-scoped name starts so.
    name_prefix: str
    environment: str
    location: str
    # The zones zonal resources spread over (`zone_names`).
    zones: list[str]
    resource_group_name: pulumi.Input[str]
    # `/subscriptions/<id>/resourceGroups/<name>`: the base of the IDs a resource needs before it exists.
    resource_group_id: pulumi.Input[str]
    subscription_id: pulumi.Input[str]
    tenant_id: pulumi.Input[str]
    tags: dict[str, str] = field(default_factory=dict)

    def name(self, what: str) -> str:
        """A resource-group-scoped name: `refarch-dev-agw`."""
        return f"{self.name_prefix}-{self.environment}-{what}"

    def child_id(self, provider_path: str) -> pulumi.Output[str]:
        """The ID of a resource or sub-resource in this group (`Microsoft.Network/applicationGateways/x`)."""
        return pulumi.Output.concat(self.resource_group_id, "/providers/", provider_path)
