"""The CDK path a newcomer takes: cdk.json as `cdk init` would write it for the pinned CLI, one documented
region for `make synth` and a plain `cdk synth`, and `app.py` refusing bad input in plain words."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from refarch import ROOT
from refarch.errors import SpecError
from stacks.app_builder import CDK_JSON, DEFAULT_REGION, build_app, deployment_environment, new_app
from stacks.feature_flags import DEVIATIONS
from stacks.item_store import DRAINING_TABLE_CONTEXT, SERVING_TABLE_CONTEXT
from stacks.region import RegionError, known_regions

CDK_CLI = ROOT / "node_modules" / "aws-cdk"
# The flags `cdk init` writes into a new project's cdk.json (aws-cdk CLI, lib/init-templates).
RECOMMENDED_FLAGS = CDK_CLI / "lib" / "init-templates" / ".recommended-feature-flags.json"
# What the CLI prints on a synth when cdk.json is not what it expects (seen on this project before).
CLI_WARNINGS = ("Unknown option", "reserved context key", "feature flags are not configured")


def cdk_json() -> dict:
    return json.loads(CDK_JSON.read_text())


def test_every_flag_cdk_init_sets_is_set_to_its_recommendation_or_a_reasoned_deviation():
    recommended = json.loads(RECOMMENDED_FLAGS.read_text())
    assert recommended, "the CLI's recommended flags are empty: this test would prove nothing"
    context = cdk_json()["context"]
    expected = {flag: DEVIATIONS.get(flag, (value, None))[0] for flag, value in recommended.items()}
    assert {flag: context.get(flag, "(unset)") for flag in recommended} == expected
    # A deviation names a flag the CLI recommends, really deviates and says why.
    for flag, (value, reason) in DEVIATIONS.items():
        assert flag in recommended and value != recommended[flag] and len(reason) > 40


def test_version_reporting_is_the_top_level_setting_not_a_reserved_context_key():
    settings = cdk_json()
    assert settings["versionReporting"] is False
    assert not [key for key in settings["context"] if key.startswith("aws:")]


def test_the_documented_region_is_cdk_json_s_and_an_aws_region(monkeypatch):
    assert cdk_json()["context"]["region"] == DEFAULT_REGION
    assert DEFAULT_REGION in known_regions()
    # The CLI's CDK_DEFAULT_REGION (us-east-1 when no profile names one) does not change it; -c does.
    monkeypatch.setenv("CDK_DEFAULT_REGION", "us-east-2")
    assert deployment_environment(new_app()).region == DEFAULT_REGION
    assert deployment_environment(new_app(context={"region": "eu-central-1"})).region == "eu-central-1"


def test_known_regions_come_from_botocore_s_endpoint_data():
    regions = known_regions()
    # One per partition at least, commercial, China and GovCloud among them.
    assert {"aws", "aws-cn", "aws-us-gov"} <= set(regions.values())
    assert regions[DEFAULT_REGION] == "aws"


@pytest.mark.parametrize(
    ("region", "message"),
    [
        ("", r"no AWS region: set the `region` context in cdk.json or pass `-c region=<region>`"),
        ("eu-wset-1", r"context 'region' = 'eu-wset-1': must be an AWS region known to botocore .*eu-west-1"),
        ("mars-north-1", r"context 'region' = 'mars-north-1': must be an AWS region"),
    ],
)
def test_a_missing_or_unknown_region_is_refused_before_anything_is_built(region, message, tmp_path):
    app = new_app(outdir=str(tmp_path), context={"region": region})
    with pytest.raises(RegionError, match=message):
        build_app(app, nag=False)
    assert app.node.children == []


# Each way the CDK path refuses input: the spec's rules, an override that is not a path, an unknown
# environment, what AWS adds to the spec (alarm recipient, boot budget), and the region.
REFUSALS = {
    "spec rule": {"spec.prod.capacity.max": 0},
    "override path": {"spec.prod": 1},
    "unknown environment": {"spec.nope.capacity.max": 1},
    "aws rule": {"spec.prod.alarms.email": None},
    "boot budget": {"spec.dev.capacity.health_check_grace_seconds": 120},
    "no region": {"region": ""},
    "unknown region": {"region": "eu-wset-1"},
    "restored table name": {f"{SERVING_TABLE_CONTEXT}.prod": "items/restored"},
}


def test_a_table_name_dynamodb_would_refuse_is_named_before_anything_is_built(tmp_path):
    # DynamoDB table names: 3-255 of a-z, A-Z, 0-9, _ - . ("Supported data types and naming rules in Amazon
    # DynamoDB": https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.NamingRulesDataTypes.html)
    context = {f"{SERVING_TABLE_CONTEXT}.prod": "ab", f"{DRAINING_TABLE_CONTEXT}.prod": "items restored"}
    app = new_app(outdir=str(tmp_path), context=context)
    with pytest.raises(SpecError) as refused:
        build_app(app, nag=False)
    assert refused.value.environment == "prod"
    assert [(problem.field, problem.value) for problem in refused.value.problems] == list(context.items())
    assert "must be a DynamoDB table name: 3 to 255 of" in str(refused.value)
    assert app.node.children == []


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_app_py_prints_the_refusal_s_own_message_and_exits_1(case, tmp_path):
    context = {**cdk_json()["context"], **REFUSALS[case]}
    with pytest.raises((SpecError, RegionError)) as refused:
        build_app(new_app(outdir=str(tmp_path), context=REFUSALS[case]), nag=False)
    # As the CLI runs the app: cdk.json's context and the -c values, merged, in CDK_CONTEXT_JSON.
    env = {**os.environ, "CDK_CONTEXT_JSON": json.dumps(context), "CDK_OUTDIR": str(tmp_path / "out")}
    result = subprocess.run(
        [sys.executable, "app.py"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 1
    assert result.stderr == f"{refused.value}\n"


@pytest.fixture(scope="module")
def cli_synth(tmp_path_factory) -> tuple[subprocess.CompletedProcess[str], Path]:
    """A plain `cdk synth`, as a newcomer types it, with an AWS_REGION that must not matter."""
    out = tmp_path_factory.mktemp("cdk-out")
    cdk = shutil.which("cdk", path=str(ROOT / "node_modules" / ".bin")) or "cdk"
    env = {**os.environ, "AWS_REGION": "us-east-2", "AWS_DEFAULT_REGION": "us-east-2"}
    result = subprocess.run(
        [cdk, "synth", "--quiet", "--output", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return result, out


def test_a_plain_cdk_synth_prints_none_of_the_cli_s_warnings(cli_synth):
    result, _ = cli_synth
    assert result.returncode == 0, result.stderr
    output = result.stdout + result.stderr
    assert "Successfully synthesized" in output
    assert [warning for warning in CLI_WARNINGS if warning.lower() in output.lower()] == []


def test_a_plain_cdk_synth_uses_the_documented_region(cli_synth):
    _, out = cli_synth
    manifest = json.loads((out / "manifest.json").read_text())
    regions = {
        artifact["environment"].rsplit("/", 1)[1]
        for artifact in manifest["artifacts"].values()
        if artifact["type"] == "aws:cloudformation:stack"
    }
    assert regions == {DEFAULT_REGION}
