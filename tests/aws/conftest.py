"""Synthesizes every environment once per test session, with and without the nag acknowledgments."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from aws_cdk import Stack
from aws_cdk.assertions import Template

from refarch.spec import EnvironmentSpec, load_all
from refarch.spec_reads import Reads, recording
from stacks.app_builder import DEFAULT_REGION
from stacks.findings import NagFinding, nag_findings
from stacks.service_stack import ServiceStack
from tools.docs.inputs import synthesize_aws

REGION = DEFAULT_REGION
ENVIRONMENTS = tuple(load_all())


@dataclass
class Synthesized:
    directory: Path
    stacks: dict[str, ServiceStack]
    templates: dict[str, dict]
    nag: list[NagFinding]
    # Every stack of the app: the environments' and the account stack.
    all_stacks: list[Stack]
    # The spec fields the synthesis read (refarch/parity.py holds them to the parity table).
    spec_reads: Reads

    def template(self, environment: str) -> Template:
        return Template.from_json(self.templates[environment])


def synthesize(directory: Path, **context) -> Synthesized:
    with recording(EnvironmentSpec) as spec_reads:
        app, templates = synthesize_aws(directory, **context)
    stacks = {child.spec.name: child for child in app.node.children if isinstance(child, ServiceStack)}
    all_stacks = [child for child in app.node.children if isinstance(child, Stack)]
    return Synthesized(directory, stacks, templates, nag_findings(directory), all_stacks, spec_reads)


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synthesize(tmp_path_factory.mktemp("cdk.out"))


@pytest.fixture(scope="session")
def synthesized_unacknowledged(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synthesize(tmp_path_factory.mktemp("cdk.out-unacknowledged"), **{"refarch:acknowledge": False})


@pytest.fixture(scope="session", params=ENVIRONMENTS)
def environment(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="session")
def template(synthesized: Synthesized, environment: str) -> Template:
    return synthesized.template(environment)


@pytest.fixture(scope="session")
def resources(synthesized: Synthesized, environment: str) -> dict[str, dict]:
    return synthesized.templates[environment]["Resources"]
