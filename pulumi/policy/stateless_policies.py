"""The statelessness rule pack as Pulumi stack policies: one policy per catalogue rule, each calling the
catalogue's evaluation for the stack's cloud (Azure or Google Cloud) on the resources `pulumi preview`
would register. Errors are mandatory: a violation stops the update.

Config (`pulumi preview --policy-pack pulumi/policy --policy-pack-config policy-config.json`, a JSON object
keyed by policy name: https://www.pulumi.com/docs/using-pulumi/crossguard/configuration), per policy:
    production  bool, default true: apply the production-only checks
    catalogue   bool, default true: accept the findings refarch/rules/accepted.py accepts for the stack's
                cloud (each names one resource, property and value, with its reason)
    accepted    {resource name: reason}: also accept this policy's findings on these resources, with a reason
"""

from __future__ import annotations

import sys
from pathlib import Path

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    PolicyResource,
    ReportViolation,
    StackValidationArgs,
    StackValidationPolicy,
)

# The catalogue lives in the repository's core package, which imports no IaC SDK.
ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from refarch.inventory import Inventory, Resource  # noqa: E402
from refarch.rules import RULES, Context, Rule, evaluate  # noqa: E402
from refarch.rules.accepted import for_cloud  # noqa: E402

CLOUDS = {"azure-native:": "azure", "gcp:": "gcp"}
CONFIG = PolicyConfigSchema(
    properties={
        "production": {"type": "boolean", "default": True},
        "catalogue": {"type": "boolean", "default": True},
        "accepted": {
            "type": "object",
            "additionalProperties": {"type": "string", "minLength": 1},
            "default": {},
        },
    }
)


def inventory_of(resources: list[PolicyResource]) -> Inventory:
    """The policy SDK's resources as the inventory the catalogue's evaluations read."""
    return Inventory(
        [
            Resource(
                r.resource_type,
                r.name,
                r.parent.name if r.parent else None,
                dict(r.props),
                True,
                options=(
                    {"ignoreChanges": list(r.opts.ignore_changes)} if r.opts and r.opts.ignore_changes else {}
                ),
            )
            for r in resources
            if not r.resource_type.startswith("pulumi:")
        ]
    )


def cloud_of(resources: list[PolicyResource]) -> str | None:
    for resource in resources:
        for prefix, cloud in CLOUDS.items():
            if resource.resource_type.startswith(prefix):
                return cloud
    return None


def validator(rule: Rule):
    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        cloud = cloud_of(args.resources)
        if cloud is None:
            return
        config = args.get_config()
        accepted = config.get("accepted") or {}
        catalogued = for_cloud(cloud) if config.get("catalogue", True) else ()
        context = Context(production=config.get("production", True))
        # Names repeat across types (a component and the resource it holds): find the URN by both.
        urns = {(r.name, r.resource_type): r.urn for r in args.resources}
        (result,) = evaluate(cloud, inventory_of(args.resources), context, (rule,), accepted=catalogued)
        for check in result.violations:
            name = check.resource.split("/")[0]
            if name not in accepted:
                report_violation(f"{check.describe()}. {rule.remediation}", urns.get((name, check.type)))

    return validate


POLICIES = [
    StackValidationPolicy(
        name=rule.id,
        description=f"{rule.title} ({rule.practice})",
        validate=validator(rule),
        enforcement_level=EnforcementLevel.MANDATORY
        if rule.severity == "error"
        else EnforcementLevel.ADVISORY,
        config_schema=CONFIG,
        remediation_steps=rule.remediation,
    )
    for rule in RULES
]
