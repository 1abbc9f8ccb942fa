"""What cdk-nag, cfn-lint and checkov found in one synthesized template, for the reliability report.

The counts come from running the same scanners `make synth` runs (stacks/findings.py) on the same template
the documents are generated from, at generation time: with the scanners pinned (requirements.lock,
tools/checkov.lock) they are a function of the template, so the documents stay deterministic and the drift
test catches a stack change that changes them. Acknowledged findings are counted from the template's own
metadata, where each acknowledgment is recorded with its reason.
"""

from __future__ import annotations

import json
from collections import Counter
from functools import cache
from pathlib import Path
from typing import Any

from stacks.acknowledgments import METADATA_TYPE
from stacks.findings import NagFinding, checkov_findings, lint_findings, nag_findings
from stacks.service_stack import stack_name
from tools.docs.inputs import Inputs
from tools.docs.model import ScanCount


def _acknowledged(assembly: Path, stack: str, template: dict[str, Any]) -> tuple[int, int]:
    """(cdk-nag rules acknowledged, checkov checks skipped): the first from the construct metadata the
    acknowledgments record in the cloud assembly (stacks/acknowledgments.py), the second from the template."""
    metadata = json.loads((assembly / f"{stack}.metadata.json").read_text())
    nag = sum(
        1
        for entries in metadata.values()
        for entry in entries
        if entry["type"] == METADATA_TYPE and "tool" not in entry["data"]
    )
    checkov = sum(
        len(body.get("Metadata", {}).get("checkov", {}).get("skip", []))
        for body in template.get("Resources", {}).values()
    )
    return nag, checkov


@cache
def _scanned(assembly: Path, stacks: tuple[str, ...]) -> tuple[list[NagFinding], dict, dict]:
    """Each scanner run once over every stack's template (each run costs seconds)."""
    templates = [assembly / f"{stack}.template.json" for stack in stacks]
    return nag_findings(assembly), lint_findings(templates), checkov_findings(templates)


def scan_counts(environment: str, inputs: Inputs) -> tuple[ScanCount, ...]:
    if inputs.aws_assembly is None:
        raise ValueError("aws: the documents need the cloud assembly the templates were synthesized into")
    stack = stack_name(environment)
    stacks = tuple(sorted(stack_name(name) for name in inputs.models["aws"]))
    findings, linted, scanned = _scanned(Path(inputs.aws_assembly), stacks)
    nag = Counter((finding.severity, finding.stateless) for finding in findings if finding.stack == stack)
    lint = linted[stack]
    checkov = scanned[stack]
    nag_acknowledged, checkov_skipped = _acknowledged(
        Path(inputs.aws_assembly), stack, inputs.models["aws"][environment]
    )
    return (
        ScanCount(
            tool="cdk-nag (AwsSolutions)",
            summary=f"{nag[('error', False)]} errors, {nag[('warning', False)]} warnings; "
            f"{nag_acknowledged} acknowledged, each with its reason (stacks/acknowledgments.py)",
        ),
        ScanCount(
            tool="cdk-nag (statelessness pack)",
            summary=f"{nag[('error', True)]} errors, {nag[('warning', True)]} warnings",
        ),
        ScanCount(
            tool="cfn-lint",
            summary=f"{lint['error']} errors, {lint['warning']} warnings, {lint['informational']} "
            "informational",
        ),
        ScanCount(
            tool="checkov",
            summary=f"{len(checkov)} failed checks; {checkov_skipped} skipped with reasons in the template "
            "metadata",
        ),
    )
