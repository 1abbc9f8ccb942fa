"""How the CDK app takes its spec overrides and refuses what it cannot build (the region: test_cdk_cli.py)."""

from __future__ import annotations

import pytest

from refarch.errors import SpecError
from stacks.app_builder import build_app, new_app, spec_overrides


def test_spec_overrides_come_from_spec_prefixed_context_keys():
    context = {"region": "eu-west-1", "spec.prod.capacity.max": "20", "@aws-cdk/x": True}
    assert spec_overrides(context) == {"prod.capacity.max": "20"}


def test_an_invalid_override_fails_before_any_stack_is_built(tmp_path):
    app = new_app(outdir=str(tmp_path), context={"region": "eu-west-1"})
    with pytest.raises(SpecError, match=r"(?s)environment 'prod'.*cache.replicas"):
        build_app(app, overrides={"prod.cache.replicas": 0})
    assert app.node.children == []


def test_production_alarms_must_reach_someone(tmp_path):
    # cdk.json names prod's recipient; without it (or the spec's alarms.email) nothing is built.
    app = new_app(outdir=str(tmp_path), context={"region": "eu-west-1"})
    with pytest.raises(SpecError, match=r"(?s)environment 'prod'.*alarms.email.*must be set in production"):
        build_app(app, overrides={"prod.alarms.email": None})
    assert app.node.children == []


def test_the_shipped_production_recipient_comes_from_cdk_json(tmp_path):
    app = new_app(outdir=str(tmp_path), context={"region": "eu-west-1"})
    email = spec_overrides(app.node.get_all_context())["prod.alarms.email"]
    stack = next(
        s for s in build_app(app, nag=False).node.children if getattr(s, "spec", None) and s.spec.production
    )
    assert stack.spec.alarms.email == email


def test_the_aws_table_is_overridden_from_context_and_validated(tmp_path):
    # `cdk deploy -c spec.dev.aws.instance_type=...` reaches [dev.aws] like any other spec field.
    context = {"region": "eu-west-1", "spec.dev.aws.cache_node_type": "cache.r7g.large"}
    app = new_app(outdir=str(tmp_path), context=context)
    dev = next(
        s
        for s in build_app(app, nag=False).node.children
        if getattr(s, "spec", None) and s.spec.name == "dev"
    )
    assert dev.spec.aws.cache_node_type == "cache.r7g.large"
    bad = new_app(outdir=str(tmp_path / "bad"), context={**context, "spec.dev.aws.nat_gateways": "4"})
    with pytest.raises(SpecError, match=r"(?s)environment 'dev'.*aws.nat_gateways.*less than or equal to 3"):
        build_app(bad, nag=False)
    assert bad.node.children == []
