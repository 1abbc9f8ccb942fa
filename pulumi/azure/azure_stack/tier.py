"""What every Azure tier shares: the project's component base (refarch_pulumi.component)."""

from __future__ import annotations

from refarch_pulumi import component


class Tier(component.Tier):
    cloud = "azure"


class Root(component.Root):
    cloud = "azure"
