"""The statelessness rule pack as a cdk-nag v3 pack: the catalogue's AWS evaluations at `cdk synth`.

    Validations.of(app).add_plugins(StatelessChecks(app))

Findings appear in the same policy validation report as AwsSolutionsChecks' and are acknowledged the same
way (`Validations.of(scope).acknowledge(...)`, here through stacks/acknowledgments.py). The rules read each
stack's synthesized template, so a finding can name a property another resource holds (the fleet's target
group, the cache's security group rules); cdk-nag reports it on the resource that holds the property.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import jsii
from aws_cdk import CfnResource, Stack, Stage
from aws_cdk.assertions import Template
from cdk_nag import IApplyRule, NagMessageLevel, NagPack, NagRuleCompliance
from constructs import IConstruct

from refarch.rules import BY_ID, PACK, Context, Result, evaluate


@jsii.implements(IApplyRule)
class _Finding:
    """One rule's verdict on one resource, in the shape cdk-nag's applyRule takes."""

    def __init__(self, result: Result, node: CfnResource) -> None:
        rule = BY_ID[result.rule]
        self._node = node
        self._suffix = rule.suffix
        # cdk-nag shows one description per rule for every resource it names, so it stays general; the
        # property values are in each resource's evidence (build/evidence/, `python -m refarch.rules`).
        self._info = f"{rule.title}. {rule.remediation}"
        self._explanation = f"{rule.why} ({rule.practice}) Remediation: {rule.remediation}"
        self._level = NagMessageLevel.ERROR if result.severity == "error" else NagMessageLevel.WARN

    @property
    def info(self) -> str:
        return self._info

    @property
    def explanation(self) -> str:
        return self._explanation

    @property
    def level(self) -> NagMessageLevel:
        return self._level

    @property
    def node(self) -> CfnResource:
        return self._node

    @property
    def rule_suffix_override(self) -> str:
        return self._suffix

    def rule(self, node: CfnResource) -> NagRuleCompliance:
        return NagRuleCompliance.NON_COMPLIANT


class StatelessChecks(NagPack):
    """`production` says which stacks get the production-only rules: a bool for all, or a function of the
    stack. The default is the strictest."""

    def __init__(
        self,
        scope: IConstruct | None = None,
        *,
        production: bool | Callable[[Stack], bool] = True,
        verbose: bool | None = None,
    ) -> None:
        super().__init__(scope, verbose=verbose)
        self._pack_name = PACK
        self._production = production
        self._results: dict[str, list[Result]] = {}

    @property
    def name(self) -> str:
        return PACK

    def _stack_results(self, stack: Stack) -> list[Result]:
        key = stack.node.path
        if key not in self._results:
            production = self._production(stack) if callable(self._production) else self._production
            self._results[key] = evaluate("aws", _template(stack), Context(production=production))
        return self._results[key]

    def _check_resource(self, node: CfnResource) -> None:
        stack = Stack.of(node)
        logical_id = stack.resolve(node.logical_id)
        for result in self._stack_results(stack):
            # Inline rules are named `<resource>.<property>[i]`: the finding belongs to the resource.
            checks = [check for check in result.violations if check.resource.split(".")[0] == logical_id]
            if checks:
                self._apply_rule(_Finding(result, node))


def _template(stack: Stack) -> dict:
    """The stack's template as synthesized (validation runs after the assembly is written)."""
    path = Path(Stage.of(stack).outdir) / stack.template_file
    if path.exists():
        return json.loads(path.read_text())
    return Template.from_stack(stack).to_json()
