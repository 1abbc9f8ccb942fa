"""Previews every Azure stack once per test session, offline (Pulumi mocks, no CLI, no credentials)."""

from __future__ import annotations

import pytest

from refarch.inventory import Inventory
from refarch.offline import PulumiProject, project
from refarch.spec import EnvironmentSpec, load_environment

ENVIRONMENTS = tuple(project("azure").stacks())


@pytest.fixture(scope="session")
def azure() -> PulumiProject:
    return project("azure")


@pytest.fixture(scope="session")
def inventories(azure: PulumiProject) -> dict[str, Inventory]:
    return {stack: azure.preview(stack) for stack in ENVIRONMENTS}


@pytest.fixture(scope="session", params=ENVIRONMENTS)
def environment(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="session")
def inventory(inventories: dict[str, Inventory], environment: str) -> Inventory:
    return inventories[environment]


@pytest.fixture(scope="session")
def spec(environment: str) -> EnvironmentSpec:
    return load_environment(environment)
