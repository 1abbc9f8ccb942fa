"""What every GCP tier shares: the project's component base (refarch_pulumi.component), its labels."""

from __future__ import annotations

from refarch_pulumi import component


def environment_labels(environment: str) -> dict[str, str]:
    return {"environment": environment, "architecture": "stateless-reference"}


class Tier(component.Tier):
    cloud = "gcp"


class Root(component.Root):
    cloud = "gcp"
