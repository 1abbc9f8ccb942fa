"""The one component shape both Pulumi projects use: a root component for the environment and one tier
component per tier under it, each resource parented to its tier (so nothing is an orphan and the URNs say
which tier a resource belongs to)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import pulumi


def type_token(cloud: str, kind: str) -> str:
    """`refarch:<cloud>:<Kind>`: the component's type, in every child's URN (rename only with aliases)."""
    return f"refarch:{cloud}:{kind}"


class Tier(pulumi.ComponentResource):
    """A tier component. Each project subclasses it once to name its cloud; `child()` parents a resource
    to the tier."""

    cloud: ClassVar[str]

    def __init__(self, kind: str, name: str, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(type_token(self.cloud, kind), name, None, opts)

    def child(self, **options: Any) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, **options)


class Root(Tier):
    """The whole environment: every tier component is its child, and its outputs are the stack's."""

    KIND: ClassVar[str] = "StatelessService"

    def __init__(self, name: str, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(self.KIND, name, opts)

    def export(self, outputs: Mapping[str, pulumi.Input[Any]]) -> None:
        """Register the outputs on the component and export them as the stack's outputs."""
        self.register_outputs(dict(outputs))
        for key, value in outputs.items():
            pulumi.export(key, value)
