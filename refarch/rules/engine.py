"""Run every rule of the catalogue on one cloud's model; write the evidence."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

from refarch.rules import aws, azure, gcp
from refarch.rules.accepted import Acceptance
from refarch.rules.catalogue import BY_ID, RULES, Rule
from refarch.rules.results import Check, Checker, Context, Result, errors, result_of

EVALUATIONS = {"aws": aws.EVALUATIONS, "azure": azure.EVALUATIONS, "gcp": gcp.EVALUATIONS}


def evaluate(
    cloud: str,
    model: Any,
    context: Context,
    rules: tuple[Rule, ...] = RULES,
    accepted: Iterable[Acceptance] = (),
) -> list[Result]:
    """Each rule's result on `model` (a CloudFormation template for aws, an Inventory otherwise); a failed
    check one of `accepted` covers is marked accepted, with its reason, instead of counting as a violation."""
    accepted = tuple(accepted)
    results = []
    for rule in rules:
        evaluation, looks_for = EVALUATIONS[cloud][rule.id]
        checker = Checker()
        evaluation(model, context, checker)
        checker.checks = [
            check if check.type else replace(check, type=_type_of(cloud, model, check.resource))
            for check in checker.checks
        ]
        checker.checks = [_accept(cloud, rule.id, check, accepted) for check in checker.checks]
        results.append(result_of(rule.id, rule.severity, checker, looks_for))
    return results


def _accept(cloud: str, rule: str, check: Check, accepted: tuple[Acceptance, ...]) -> Check:
    if check.ok:
        return check
    covering = next((acceptance for acceptance in accepted if acceptance.covers(cloud, rule, check)), None)
    return check if covering is None else replace(check, accepted=covering)


def _type_of(cloud: str, model: Any, resource: str) -> str | None:
    """Checks name a resource by logical id or name, sometimes with a part after it (`group.Ingress[0]`,
    `nsg/rule`); the type is the named resource's."""
    if cloud == "aws":
        return model.get("Resources", {}).get(resource.split(".")[0], {}).get("Type")
    name = resource.split("/")[0]
    # A component can share its name with a resource it holds (`fleet`): the cloud resource is meant.
    named = sorted((r for r in model if r.name == name), key=lambda r: not r.custom)
    return named[0].type if named else None


def evidence(cloud: str, environment: str, context: Context, results: list[Result]) -> dict[str, Any]:
    return {
        "cloud": cloud,
        "environment": environment,
        "production": context.production,
        "errors": len(errors(results)),
        "accepted": sum(len(result.accepted) for result in results),
        "results": [{**result.to_json(), "title": BY_ID[result.rule].title} for result in results],
    }


def write_evidence(path: Path, document: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, sort_keys=True, default=str) + "\n")
