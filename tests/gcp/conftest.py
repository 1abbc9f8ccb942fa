"""Previews every GCP stack once per test session, offline under mocks, and hands tests its inventory."""

from __future__ import annotations

import json

import pytest

from refarch.inventory import Inventory
from refarch.spec import EnvironmentSpec, load_environment
from refarch.spec_reads import Reads
from refarch_pulumi.offline import PulumiProject, project
from tests.pulumi_previews import preview_all

ENVIRONMENTS = tuple(project("gcp").stacks())


def pytest_configure(config: pytest.Config) -> None:
    # Loading pulumi_gcp.compute warns about the SDK's own deprecated aliases, which this program never uses.
    config.addinivalue_line("filterwarnings", r"ignore::DeprecationWarning:pulumi_gcp\..*")


@pytest.fixture(scope="session")
def gcp() -> PulumiProject:
    return project("gcp")


@pytest.fixture(scope="session")
def previewed(gcp: PulumiProject) -> tuple[dict[str, Inventory], Reads]:
    return preview_all(gcp)


@pytest.fixture(scope="session")
def inventories(previewed: tuple[dict[str, Inventory], Reads]) -> dict[str, Inventory]:
    return previewed[0]


@pytest.fixture(scope="session")
def spec_reads(previewed: tuple[dict[str, Inventory], Reads]) -> Reads:
    return previewed[1]


@pytest.fixture(params=ENVIRONMENTS)
def environment(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def inventory(inventories: dict[str, Inventory], environment: str) -> Inventory:
    return inventories[environment]


@pytest.fixture
def spec(environment: str) -> EnvironmentSpec:
    return load_environment(environment)


@pytest.fixture
def stack_config(gcp: PulumiProject, environment: str) -> dict[str, object]:
    """The stack's config as the program sees it, values parsed from the CLI's string form."""

    def parse(value: str) -> object:
        try:
            return json.loads(value)
        except ValueError:
            return value

    return {key: parse(value) for key, value in gcp.config(environment).items()}
