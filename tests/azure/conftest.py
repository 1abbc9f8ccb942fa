"""Previews every Azure stack once per test session, offline (Pulumi mocks, no CLI, no credentials)."""

from __future__ import annotations

import pytest

from refarch.inventory import Inventory
from refarch.spec import EnvironmentSpec, load_environment
from refarch.spec_reads import Reads
from refarch_pulumi.offline import PulumiProject, project
from tests.pulumi_previews import preview_all

ENVIRONMENTS = tuple(project("azure").stacks())


@pytest.fixture(scope="session")
def azure() -> PulumiProject:
    return project("azure")


@pytest.fixture(scope="session")
def previewed(azure: PulumiProject) -> tuple[dict[str, Inventory], Reads]:
    return preview_all(azure)


@pytest.fixture(scope="session")
def inventories(previewed: tuple[dict[str, Inventory], Reads]) -> dict[str, Inventory]:
    return previewed[0]


@pytest.fixture(scope="session")
def spec_reads(previewed: tuple[dict[str, Inventory], Reads]) -> Reads:
    return previewed[1]


@pytest.fixture(scope="session", params=ENVIRONMENTS)
def environment(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="session")
def inventory(inventories: dict[str, Inventory], environment: str) -> Inventory:
    return inventories[environment]


@pytest.fixture(scope="session")
def spec(environment: str) -> EnvironmentSpec:
    return load_environment(environment)
