"""The documents' inputs, built once per session from the same single synthesis and previews the other test
directories use: each AWS environment synthesized in-process, each Pulumi stack previewed offline."""

from __future__ import annotations

import pytest

from tests.aws.conftest import Synthesized, synthesize
from tools.docs import render
from tools.docs.inputs import Inputs, load


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synthesize(tmp_path_factory.mktemp("cdk.out"))


@pytest.fixture(scope="session")
def docs_inputs(synthesized: Synthesized) -> Inputs:
    return load(synthesized.directory, aws_templates=synthesized.templates)


@pytest.fixture(scope="session")
def generated(docs_inputs: Inputs) -> list[render.Stack]:
    """Each generated stack: its facts, six runbooks and rule results."""
    return render.stacks(docs_inputs)


@pytest.fixture(scope="session")
def documents(docs_inputs: Inputs, generated: list[render.Stack]) -> dict[str, str]:
    return render.documents(docs_inputs, generated)
