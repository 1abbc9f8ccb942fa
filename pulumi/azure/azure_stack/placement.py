"""Where every resource of one stack goes, and the names and IDs the tiers build from it."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi

from azure_stack.settings import AzureSettings
from refarch.spec import EnvironmentSpec


@dataclass(frozen=True)
class Placement:
    spec: EnvironmentSpec
    settings: AzureSettings
    location: str
    resource_group_name: pulumi.Input[str]
    # `/subscriptions/<id>/resourceGroups/<name>`: the base of the IDs a resource needs before it exists.
    resource_group_id: pulumi.Input[str]
    subscription_id: pulumi.Input[str]
    tenant_id: pulumi.Input[str]
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def zones(self) -> list[str]:
        """The spec's zones as Azure names them ("1", "2", "3")."""
        return [str(zone) for zone in range(1, self.spec.zones + 1)]

    def name(self, what: str) -> str:
        """A resource-group-scoped name: `refarch-dev-agw`."""
        return f"{self.settings.name_prefix}-{self.spec.name}-{what}"

    def child_id(self, provider_path: str) -> pulumi.Output[str]:
        """The ID of a resource or sub-resource in this group (`Microsoft.Network/applicationGateways/x`)."""
        return pulumi.Output.concat(self.resource_group_id, "/providers/", provider_path)
