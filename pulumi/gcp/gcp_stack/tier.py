"""What every tier shares: its component base (children parented to it) and the labels it stamps."""

from __future__ import annotations

from typing import Any

import pulumi

from refarch.spec import EnvironmentSpec

TYPE_PREFIX = "refarch:gcp"


def labels(spec: EnvironmentSpec) -> dict[str, str]:
    return {"environment": spec.name, "architecture": "stateless-reference"}


class Tier(pulumi.ComponentResource):
    """A component whose `child()` options parent each resource to it, so nothing is an orphan."""

    def __init__(self, kind: str, name: str, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(f"{TYPE_PREFIX}:{kind}", name, None, opts)

    def child(self, **options: Any) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, **options)
