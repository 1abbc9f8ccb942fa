"""One component shape on both Pulumi projects (issue 13): every component is a tier on the shared base
(refarch_pulumi.component) and every tier's Args is keyword-only. That one root holds every tier is checked
on each cloud's inventories (tests/<cloud>/test_*_component_shape.py)."""

from __future__ import annotations

import dataclasses
import inspect
import re
import sys
from types import ModuleType

import pulumi
import pytest

from refarch.spec import EnvironmentSpec
from refarch_pulumi.component import Root, Tier
from refarch_pulumi.offline import project

CLOUDS = ("azure", "gcp")


def modules(cloud: str) -> list[ModuleType]:
    """Every module of the project's package that its program loads."""
    pulumi_project = project(cloud)
    pulumi_project.module("program")
    prefix = f"{pulumi_project.package}."
    return [module for name, module in sorted(sys.modules.items()) if name.startswith(prefix)]


def defined_in(module: ModuleType, predicate) -> list[type]:
    return [
        cls
        for _, cls in inspect.getmembers(module, inspect.isclass)
        if cls.__module__ == module.__name__ and predicate(cls)
    ]


def components(cloud: str) -> list[type]:
    return [
        cls
        for module in modules(cloud)
        for cls in defined_in(module, lambda cls: issubclass(cls, pulumi.ComponentResource))
    ]


def args_classes(cloud: str) -> list[type]:
    return [
        cls
        for module in modules(cloud)
        for cls in defined_in(
            module, lambda cls: cls.__name__.endswith("Args") and dataclasses.is_dataclass(cls)
        )
    ]


@pytest.mark.parametrize("cloud", CLOUDS)
def test_every_component_is_a_tier_on_the_shared_base(cloud):
    found = components(cloud)
    assert len(found) >= 10  # the tiers, the root and the project's two bases
    assert [cls.__name__ for cls in found if not issubclass(cls, Tier)] == []
    roots = [cls for cls in found if issubclass(cls, Root) and cls.__module__.endswith(".program")]
    assert [cls.__name__ for cls in roots] == ["StatelessService"]


@pytest.mark.parametrize("cloud", CLOUDS)
def test_every_args_class_is_keyword_only(cloud):
    found = args_classes(cloud)
    assert len(found) >= 9
    positional = {
        f"{cls.__name__}.{field.name}"
        for cls in found
        for field in dataclasses.fields(cls)
        if not field.kw_only
    }
    assert positional == set()
    assert all(cls.__dataclass_params__.frozen for cls in found)


# Args that still take the whole spec (directly, or through Azure's Placement, which carries it): each is to
# declare the values its tier needs instead (issue 13). The list may only shrink.
NOT_YET_NARROW = {
    "azure": {
        "ItemStoreArgs",
        "ObjectStorageArgs",
        "PublicApiArgs",
        "ServiceAlertsArgs",
        "ServiceIdentityArgs",
        "ServiceLoadBalancerArgs",
        "ServiceNetworkArgs",
        "ServiceTelemetryArgs",
        "SessionCacheArgs",
        "StatelessFleetArgs",
    },
    "gcp": {
        "ApiArgs",
        "FleetArgs",
        "LoadBalancerArgs",
        "MonitoringArgs",
        "SessionCacheArgs",
    },
}


def carries_whole_spec(cls: type, seen: frozenset = frozenset()) -> bool:
    """Whether a field of `cls` is the spec, or a dataclass that holds it (annotations are strings here)."""
    names = vars(sys.modules[cls.__module__])
    for field in dataclasses.fields(cls):
        for word in re.findall(r"\w+", str(field.type)):
            named = names.get(word)
            if named is EnvironmentSpec:
                return True
            if (
                dataclasses.is_dataclass(named)
                and named not in seen
                and carries_whole_spec(named, seen | {cls})
            ):
                return True
    return False


@pytest.mark.parametrize("cloud", CLOUDS)
def test_args_declare_what_their_tier_needs_not_the_whole_spec(cloud):
    wide = {cls.__name__ for cls in args_classes(cloud) if carries_whole_spec(cls)}
    assert wide <= NOT_YET_NARROW[cloud], (
        f"new Args taking the whole spec: {sorted(wide - NOT_YET_NARROW[cloud])}"
    )
    assert wide == NOT_YET_NARROW[cloud], (
        f"narrowed, drop from NOT_YET_NARROW: {sorted(NOT_YET_NARROW[cloud] - wide)}"
    )
