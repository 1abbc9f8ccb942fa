"""The real stacks the rules run on: each AWS environment synthesized and each Pulumi stack previewed once
per session, through the same helpers the cloud test directories use."""

from __future__ import annotations

import pytest

from refarch.inventory import Inventory
from refarch.spec import load_all
from refarch_pulumi.offline import project
from tests.aws.conftest import Synthesized, synthesize

SPECS = load_all()
ENVIRONMENTS = tuple(SPECS)
CLOUDS = ("aws", "azure", "gcp")


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synthesize(tmp_path_factory.mktemp("cdk.out"))


@pytest.fixture(scope="session")
def inventories() -> dict[str, dict[str, Inventory]]:
    return {
        cloud: {stack: project(cloud).preview(stack) for stack in ENVIRONMENTS} for cloud in ("azure", "gcp")
    }


@pytest.fixture(scope="session")
def models(synthesized: Synthesized, inventories) -> dict[str, dict[str, object]]:
    """Each cloud's model per environment: the template for AWS, the inventory for Azure and GCP."""
    return {"aws": dict(synthesized.templates), **inventories}


def pytest_configure(config: pytest.Config) -> None:
    # Loading pulumi_gcp.compute warns about the SDK's own deprecated aliases, which the program never uses.
    config.addinivalue_line("filterwarnings", r"ignore::DeprecationWarning:pulumi_gcp\..*")
