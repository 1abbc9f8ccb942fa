"""Run every rule of the catalogue on one cloud's model; write the evidence."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from refarch.rules import aws, azure, gcp
from refarch.rules.catalogue import RULES, Rule
from refarch.rules.results import Checker, Context, Result, errors, result_of

EVALUATIONS = {"aws": aws.EVALUATIONS, "azure": azure.EVALUATIONS, "gcp": gcp.EVALUATIONS}


def evaluate(cloud: str, model: Any, context: Context, rules: tuple[Rule, ...] = RULES) -> list[Result]:
    """Each rule's result on `model` (a CloudFormation template for aws, an Inventory otherwise)."""
    results = []
    for rule in rules:
        evaluation, looks_for = EVALUATIONS[cloud][rule.id]
        checker = Checker()
        evaluation(model, context, checker)
        results.append(result_of(rule.id, rule.severity, checker, looks_for))
    return results


def evidence(cloud: str, environment: str, context: Context, results: list[Result]) -> dict[str, Any]:
    return {
        "cloud": cloud,
        "environment": environment,
        "production": context.production,
        "errors": len(errors(results)),
        "results": [result.to_json() for result in results],
    }


def write_evidence(path: Path, document: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, sort_keys=True, default=str) + "\n")
