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


# What no tier's Args may hold: the whole spec, or a whole stack's configuration (each tier declares
# the values it reads; program.py wires them).
WHOLE = {
    "azure": ("AzureSettings", "ProviderSettings"),
    "gcp": ("StackSettings", "GcpSettings", "Provider"),
}


def whole_types(cloud: str) -> set[type]:
    settings = project(cloud).module("settings")
    return {EnvironmentSpec, *(getattr(settings, name) for name in WHOLE[cloud])}


def carries_whole(cls: type, whole: set[type], seen: frozenset = frozenset()) -> bool:
    """Whether a field of `cls` is one of `whole`, or a dataclass holding one (annotations are strings)."""
    names = vars(sys.modules[cls.__module__])
    for field in dataclasses.fields(cls):
        for word in re.findall(r"\w+", str(field.type)):
            named = names.get(word)
            if named in whole:
                return True
            if (
                dataclasses.is_dataclass(named)
                and named not in seen
                and carries_whole(named, whole, seen | {cls})
            ):
                return True
    return False


@pytest.mark.parametrize("cloud", CLOUDS)
def test_args_declare_what_their_tier_needs_not_the_whole_spec(cloud):
    whole = whole_types(cloud)
    assert [cls.__name__ for cls in args_classes(cloud) if carries_whole(cls, whole)] == []


def dataclass_in(module: ModuleType, name: str, field_type: str) -> type:
    cls = dataclasses.make_dataclass(name, [("value", field_type)])
    cls.__module__ = module.__name__
    setattr(module, name, cls)
    return cls


@pytest.mark.parametrize("cloud", CLOUDS)
def test_the_whole_spec_check_sees_a_wide_args(cloud, monkeypatch):
    """The guard above on mutated Args: each whole type held directly, and through a nested dataclass."""
    whole = whole_types(cloud)
    for held in whole:
        module = ModuleType(f"mutated_{held.__name__}")
        monkeypatch.setitem(sys.modules, module.__name__, module)
        setattr(module, held.__name__, held)
        dataclass_in(module, "Held", held.__name__)
        assert carries_whole(dataclass_in(module, "DirectArgs", held.__name__), whole), held.__name__
        assert carries_whole(dataclass_in(module, "NestedArgs", "Held"), whole), held.__name__
        assert not carries_whole(dataclass_in(module, "NarrowArgs", "int"), whole)
