"""The documents' inputs, built once per session from the same single synthesis and previews the other test
directories use: each AWS environment synthesized in-process, each Pulumi stack previewed offline."""

from __future__ import annotations

import pytest

from refarch.spec import load_all
from refarch_pulumi.offline import project
from tests.aws.conftest import Synthesized, synthesize
from tools.docs import registry, render
from tools.docs.inputs import Inputs, read_drill


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synthesize(tmp_path_factory.mktemp("cdk.out"))


@pytest.fixture(scope="session")
def docs_inputs(synthesized: Synthesized) -> Inputs:
    specs = load_all()
    models: dict[str, dict] = {}
    clouds = registry.ready()
    if "aws" in clouds:
        models["aws"] = dict(synthesized.templates)
    for cloud in clouds:
        if cloud != "aws":
            models[cloud] = {stack: project(cloud).preview(stack) for stack in specs}
    return Inputs(specs=specs, models=models, aws_assembly=synthesized.directory, drill=read_drill())


@pytest.fixture(scope="session")
def generated(docs_inputs: Inputs) -> list[render.Stack]:
    """Each generated stack: its facts, six runbooks and rule results."""
    return render.stacks(docs_inputs)


@pytest.fixture(scope="session")
def documents(docs_inputs: Inputs, generated: list[render.Stack]) -> dict[str, str]:
    return render.documents(docs_inputs, generated)
