"""Builds the CDK app from the spec: shared by app.py, the tests and the benchmark."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aws_cdk import App, Environment, Validations
from cdk_nag import AwsSolutionsChecks

from refarch.errors import Problem, SpecError
from refarch.spec import EnvironmentSpec, escalation_problems, load_all
from stacks.account import AccountSettingsStack
from stacks.boot import boot_problems
from stacks.item_store import table_context_problems
from stacks.region import REGION_CONTEXT_KEY, checked_region, default_region
from stacks.service_stack import ServiceStack
from stacks.stateless_checks import StatelessChecks

SPEC_OVERRIDE_PREFIX = "spec."
CDK_JSON = Path(__file__).resolve().parent.parent / "cdk.json"
# cdk.json's region: what `cdk synth`, `make synth`, `make bench` and the tests synthesize for by default.
DEFAULT_REGION = default_region(CDK_JSON)


def new_app(**kwargs: Any) -> App:
    """An App with cdk.json's context (feature flags), as the CLI would give it; for tests and benchmarks."""
    context = json.loads(CDK_JSON.read_text())["context"]
    return App(context={**context, **kwargs.pop("context", {})}, **kwargs)


def cli_context() -> dict[str, Any]:
    """Context the CDK CLI hands to the app (cdk.json, cdk.context.json and -c values, merged)."""
    raw = os.environ.get("CDK_CONTEXT_JSON")
    if raw is None and (path := os.environ.get("CONTEXT_OVERFLOW_LOCATION_ENV")):
        with open(path) as handle:
            raw = handle.read()
    return json.loads(raw) if raw else {}


def spec_overrides(context: Mapping[str, Any]) -> dict[str, Any]:
    """`-c spec.prod.capacity.max=20` (or the same key in cdk.json) overrides the spec file."""
    return {
        key.removeprefix(SPEC_OVERRIDE_PREFIX): value
        for key, value in context.items()
        if key.startswith(SPEC_OVERRIDE_PREFIX)
    }


def deployment_environment(app: App) -> Environment:
    """The region is required (load balancer log delivery differs per region); the account is optional."""
    account = app.node.try_get_context("account") or os.environ.get("CDK_DEFAULT_ACCOUNT")
    return Environment(account=account, region=checked_region(app.node.try_get_context(REGION_CONTEXT_KEY)))


def aws_problems(spec: EnvironmentSpec, context: Mapping[str, Any] | None = None) -> list[Problem]:
    """What AWS adds to the spec's own rules: every problem at once, before any stack is built."""
    problems = table_context_problems(spec.name, context or {})
    if spec.production and not spec.alarms.email:
        problems.append(
            Problem(
                "alarms.email",
                None,
                "must be set in production: alarms must reach someone (environments.toml, or "
                f"`-c {SPEC_OVERRIDE_PREFIX}{spec.name}.alarms.email=<address>` / cdk.json context)",
            )
        )
    problems += escalation_problems(
        spec,
        # Not `-c`: the runbooks (python -m tools.docs) are built from cdk.json's context, so a value given
        # only on the command line would reach the stack's output but never its runbooks.
        f"cdk.json context `{SPEC_OVERRIDE_PREFIX}{spec.name}.alarms.escalation`, or environments.toml",
    )
    # One architecture for the group, a boot budget that fits its downloads, and a release bundle for it.
    return problems + boot_problems(spec)


def build_app(app: App, *, overrides: Mapping[str, Any] | None = None, nag: bool = True) -> App:
    """One ServiceStack per environment, every spec validated before any stack is built.

    Spec overrides in the app's context (cdk.json, `-c`) apply first; `overrides` win over them."""
    context_overrides = spec_overrides(app.node.get_all_context())
    specs = load_all(overrides={**context_overrides, **(overrides or {})})
    env = deployment_environment(app)
    for spec in specs.values():
        if problems := aws_problems(spec, app.node.get_all_context()):
            raise SpecError(spec.name, problems)
    # Environments share the account-level settings of the account and region they deploy to.
    account = AccountSettingsStack(app, env=env)
    for spec in specs.values():
        ServiceStack(app, spec=spec, env=env).add_stack_dependency(
            account, "API Gateway logs through its role"
        )
    if nag:
        Validations.of(app).add_plugins(
            AwsSolutionsChecks(app),
            # The account stack holds no environment: only a ServiceStack can be a production one.
            StatelessChecks(
                app, production=lambda stack: isinstance(stack, ServiceStack) and stack.spec.production
            ),
        )
    return app
