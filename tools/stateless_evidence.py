"""`make synth`'s statelessness evidence: every rule's result per cloud and environment, written to
build/evidence/<cloud>-<environment>.json for the generated documents to read."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from refarch import ROOT
from refarch.inventory import Inventory
from refarch.rules import Context, Result, errors, evaluate, evidence, write_evidence
from refarch.rules.accepted import for_cloud
from refarch.rules.engine import EVALUATIONS
from refarch.spec import load_all

EVIDENCE_DIR = ROOT / "build" / "evidence"
STACK_PREFIX = "StatelessService-"


def evidence_path(cloud: str, environment: str, directory: Path = EVIDENCE_DIR) -> Path:
    return directory / f"{cloud}-{environment}.json"


def _record(cloud: str, environment: str, model: object, directory: Path) -> list[Result]:
    specs = load_all()
    context = Context(production=specs[environment].production if environment in specs else True)
    # The catalogue of accepted findings (refarch/rules/accepted.py) covers the Pulumi clouds; AWS accepts
    # findings through cdk-nag acknowledgments instead, and has no entries there.
    results = evaluate(cloud, model, context, accepted=for_cloud(cloud))
    write_evidence(
        evidence_path(cloud, environment, directory), evidence(cloud, environment, context, results)
    )
    return results


def write(template: Path, directory: Path = EVIDENCE_DIR) -> list[Result]:
    """The AWS evidence of one synthesized template (`StatelessService-<environment>.template.json`)."""
    environment = template.name.removesuffix(".template.json").removeprefix(STACK_PREFIX)
    return _record("aws", environment, json.loads(template.read_text()), directory)


def for_inventory(
    cloud: str, stack: str, inventory: Inventory, directory: Path = EVIDENCE_DIR
) -> tuple[int, int] | None:
    """Evidence of one Pulumi stack; prints each error with the rule id and resource; returns the number of
    errors and of accepted findings (None for a cloud the catalogue has no evaluations for)."""
    if cloud not in EVALUATIONS:
        return None
    results = _record(cloud, stack, inventory, directory)
    found = errors(results)
    for result in found:
        for check in result.violations:
            print(f"{cloud} {stack}: {result.rule} {check.describe()}", file=sys.stderr)
    return len(found), sum(len(result.accepted) for result in results)
