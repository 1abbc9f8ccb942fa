"""The inputs every document is generated from, loaded once: each cloud's synthesized model per environment
(the CloudFormation template for AWS, the offline preview's inventory for Azure and GCP), the spec, the
rule pack's results on those same models, and the last replacement drill's result file."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from refarch import ROOT
from refarch.platforms import CLOUDS
from refarch.rules import Context, Result, evaluate
from refarch.rules.accepted import for_cloud
from refarch.spec import EnvironmentSpec, load_all
from tools.drill.result import RESULT_FILE

if TYPE_CHECKING:
    from aws_cdk import App

RUNBOOKS_DIR = ROOT / "runbooks"
DRILL_RESULT = RESULT_FILE  # where make drill writes it (tools/drill/result.py)


@dataclass
class Inputs:
    specs: Mapping[str, EnvironmentSpec]
    # cloud -> environment -> model (template dict for aws, refarch.inventory.Inventory otherwise)
    models: dict[str, dict[str, Any]]
    # The AWS cloud assembly the templates were synthesized into (cdk-nag's report lives there).
    aws_assembly: Path | None = None
    drill: dict[str, Any] | None = None
    _results: dict[tuple[str, str], list[Result]] = field(default_factory=dict)

    def results(self, cloud: str, environment: str) -> list[Result]:
        """The rule pack on this model, as `make synth` evaluates it (tools/stateless_evidence.py)."""
        key = (cloud, environment)
        if key not in self._results:
            context = Context(production=self.specs[environment].production)
            model = self.models[cloud][environment]
            self._results[key] = evaluate(cloud, model, context, accepted=for_cloud(cloud))
        return self._results[key]


def read_drill(path: Path = DRILL_RESULT) -> dict[str, Any] | None:
    """The drill's result file (written by `make drill`), or None when no drill has been recorded."""
    return json.loads(path.read_text()) if path.exists() else None


def synthesize_aws(directory: Path, **context: object) -> tuple[App, dict[str, dict]]:
    """The CDK app synthesized in-process into `directory` (cdk-nag runs as at `cdk synth`; `context` as
    `cdk -c key=value` gives it), and each environment's template. The test suites synthesize through it."""
    from stacks.app_builder import DEFAULT_REGION, build_app, new_app
    from stacks.service_stack import ServiceStack, stack_name

    app = build_app(new_app(outdir=str(directory), context={"region": DEFAULT_REGION, **context}))
    try:
        app.synth()
    except RuntimeError as error:
        # cdk-nag errors stop synthesis after the templates and its report are written; the documents
        # count them (the reliability report) rather than stopping here.
        if "ValidationFailed" not in str(error):
            raise
    names = [child.spec.name for child in app.node.children if isinstance(child, ServiceStack)]
    return app, {
        name: json.loads((directory / f"{stack_name(name)}.template.json").read_text()) for name in names
    }


def preview(cloud: str, environments: Iterable[str]) -> dict[str, Any]:
    from refarch_pulumi.offline import project

    pulumi_project = project(cloud)
    stacks = pulumi_project.stacks()
    return {stack: pulumi_project.preview(stack) for stack in environments if stack in stacks}


def load(assembly: Path, aws_templates: Mapping[str, dict] | None = None) -> Inputs:
    """Every cloud's models: the AWS templates synthesized into the directory `assembly` (or, given
    `aws_templates`, those already synthesized there), each Pulumi stack previewed offline."""
    specs = load_all()
    models: dict[str, dict[str, Any]] = {}
    for cloud in CLOUDS:
        if cloud != "aws":
            models[cloud] = preview(cloud, specs)
        elif aws_templates is not None:
            models[cloud] = dict(aws_templates)
        else:
            models[cloud] = synthesize_aws(assembly)[1]
    return Inputs(specs=specs, models=models, aws_assembly=assembly, drill=read_drill())
