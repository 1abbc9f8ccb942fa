"""The spec's `alarms.escalation`: whom a runbook's Escalation pages, and how. One plain line (the runbooks
quote it in Markdown), required in production by each cloud where it requires the alarm e-mail (each tool's
overrides can set it, so the spec file alone does not decide), refused with every problem at once."""

from __future__ import annotations

import json

import pytest

from refarch.errors import SpecError
from refarch.spec import ESCALATION_MAX_LENGTH, load_all, parse_environment
from refarch_pulumi.offline import project
from stacks.app_builder import build_app, new_app, spec_overrides

FIELD = "alarms.escalation"


def _refusal(value) -> SpecError:
    with pytest.raises(SpecError) as caught:
        parse_environment("prod", {"alarms": {"escalation": value}})
    return caught.value


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        ("   ", "not be blank"),
        ("Rota: `oncall`", "(not '`')"),
        ("Rota\nthen the phone", "(not '\\n')"),
        ("Rota $(whoami)", "(not '$')"),
        ('Rota "platform"', "(not '\"')"),
        ("[Rota](https://example.com)", "(not '[' ']')"),
        ("Rota | phone", "(not '|')"),
        ("x" * (ESCALATION_MAX_LENGTH + 1), f"at most {ESCALATION_MAX_LENGTH} characters"),
        (5, "valid string"),
    ],
)
def test_a_bad_destination_names_environment_field_value_and_what_is_allowed(value, rule):
    error = _refusal(value)
    assert error.environment == "prod"
    (problem,) = error.problems
    assert (problem.field, problem.value) == (FIELD, value)
    assert rule in problem.rule
    assert f"environment 'prod' is invalid:\n  - field '{FIELD}' = {value!r}" in str(error)


def test_a_destination_is_one_line_stripped():
    spec = parse_environment("prod", {"alarms": {"escalation": "  Rota: https://oncall.example.com/p  "}})
    assert spec.alarms.escalation == "Rota: https://oncall.example.com/p"


def test_a_bad_destination_is_reported_beside_every_other_problem():
    with pytest.raises(SpecError) as caught:
        parse_environment("prod", {"alarms": {"escalation": "`x`", "email": "nobody"}, "zones": 9})
    assert sorted(p.field for p in caught.value.problems) == ["alarms.email", FIELD, "zones"]


def test_the_spec_file_leaves_it_to_each_tool():
    # The file sets none: cdk.json and the Pulumi stacks set production's, and dev/staging may go without.
    assert all(spec.alarms.escalation is None for spec in load_all().values())


# AWS: cdk.json's context sets production's; without it nothing is built.
def test_aws_production_refuses_to_build_without_a_destination(tmp_path):
    app = new_app(outdir=str(tmp_path), context={"region": "eu-west-1"})
    with pytest.raises(SpecError) as caught:
        build_app(app, overrides={"prod.alarms.escalation": None, "prod.alarms.email": None})
    assert app.node.children == []
    assert caught.value.environment == "prod"
    # Every problem at once: the missing e-mail beside the missing destination.
    problems = {p.field: p for p in caught.value.problems}
    assert set(problems) >= {"alarms.email", FIELD}
    assert problems[FIELD].value is None
    assert "must be set in production" in problems[FIELD].rule
    # cdk.json, not `-c`: the runbooks are built from cdk.json context only.
    assert "cdk.json context `spec.prod.alarms.escalation`" in problems[FIELD].rule
    assert "-c " not in problems[FIELD].rule


def test_aws_production_builds_with_the_shipped_destination(tmp_path):
    app = new_app(outdir=str(tmp_path), context={"region": "eu-west-1"})
    shipped = spec_overrides(app.node.get_all_context())[f"prod.{FIELD}"]
    stack = next(
        s for s in build_app(app, nag=False).node.children if getattr(s, "spec", None) and s.spec.production
    )
    assert stack.spec.alarms.escalation == shipped


# Azure and GCP: the stack's `spec` config object sets production's (Pulumi.prod.yaml).
def _without_destination(config: dict[str, str], namespace: str) -> dict[str, str]:
    tree = json.loads(config[f"{namespace}:spec"])
    del tree["alarms"]["escalation"]
    return config | {f"{namespace}:spec": json.dumps(tree)}


@pytest.mark.parametrize("cloud", ["azure", "gcp"])
def test_pulumi_production_refuses_to_preview_without_a_destination(cloud):
    pulumi_project = project(cloud)
    namespace = pulumi_project.name
    shipped = pulumi_project.config("prod")
    assert json.loads(shipped[f"{namespace}:spec"])["alarms"]["escalation"]
    config = _without_destination(shipped, namespace)
    # `refusal` also fails unless the refusal came before any resource was registered.
    refusal = pulumi_project.refusal(
        "prod", {k: v for k, v in config.items() if k != f"{namespace}:alertEmail"}
    )
    assert refusal.environment == "prod"
    problems = {p.field: p for p in refusal.problems}
    assert set(problems) == {f"{namespace}:alertEmail", FIELD}
    assert problems[FIELD].value is None
    assert "must be set in production" in problems[FIELD].rule
    assert "pulumi config set --path spec.alarms.escalation" in problems[FIELD].rule


@pytest.mark.parametrize("cloud", ["azure", "gcp"])
def test_pulumi_refuses_a_bad_destination_from_the_stack_config(cloud):
    pulumi_project = project(cloud)
    namespace = pulumi_project.name
    config = pulumi_project.config("dev") | {
        f"{namespace}:spec": json.dumps({"alarms": {"escalation": "`x`"}})
    }
    (problem,) = pulumi_project.refusal("dev", config).problems
    assert (problem.field, problem.value) == (FIELD, "`x`")
