"""What the AWS boot refuses before synthesis, as a spec error naming environment, field and values (no
traceback from app.py): instance types of two architectures in one group, a boot budget that leaves its
downloads less than the IAM propagation estimate, and an instance type some locked package has no wheel for.
An Arm group gets the Arm bundle and the arm64 Amazon Linux 2023 image."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from refarch.platforms import AARCH64, IMAGES, platform_for
from refarch.spec import load_environment
from stacks.app_builder import aws_problems
from stacks.boot import IAM_PROPAGATION_SECONDS, boot_budget, boot_problems, fleet_bundle, image_parameter

ROOT = Path(__file__).resolve().parents[2]


def _spec(**capacity):
    """dev with `capacity` fields changed; instance types are the spec's [dev.aws] table's."""
    spec = load_environment("dev")
    aws = {key: capacity.pop(key) for key in ("instance_type", "more_instance_types") if key in capacity}
    return spec.model_copy(
        update={
            "capacity": spec.capacity.model_copy(update=capacity),
            "aws": spec.aws.model_copy(update=aws),
        }
    )


def test_a_group_of_two_architectures_is_refused_naming_every_type():
    spec = _spec(instance_type="t3.small", more_instance_types=["t4g.small", "t3a.small"])
    (problem,) = boot_problems(spec)
    assert (problem.field, problem.value) == ("aws.more_instance_types", ["t4g.small", "t3a.small"])
    assert "t4g.small runs aarch64" in problem.rule and "t3.small runs x86_64" in problem.rule


def test_an_arm_group_boots_the_arm_bundle_on_the_arm64_image():
    spec = _spec(instance_type="t4g.small", more_instance_types=["m7g.large"])
    assert boot_problems(spec) == []
    bundle = fleet_bundle(spec)
    assert bundle.platform == platform_for("aws", "t4g.small") and bundle.platform.arch == AARCH64
    assert image_parameter(bundle) == IMAGES["aws"].names[AARCH64]
    assert image_parameter(bundle).endswith("al2023-ami-kernel-default-arm64")


def test_a_budget_without_time_for_iam_is_refused_and_the_shipped_ones_fit():
    for name in ("dev", "staging", "prod"):
        assert boot_budget(load_environment(name)).download_seconds >= IAM_PROPAGATION_SECONDS
    least = boot_budget(load_environment("dev")).seconds - (
        boot_budget(load_environment("dev")).download_seconds - IAM_PROPAGATION_SECONDS
    )
    assert boot_problems(_spec(health_check_grace_seconds=least)) == []
    (problem,) = boot_problems(_spec(health_check_grace_seconds=least - 1))
    assert (problem.field, problem.value) == ("capacity.health_check_grace_seconds", least - 1)
    assert f"must be at least {least}" in problem.rule


def test_an_instance_type_without_wheels_is_refused_naming_package_and_platform(monkeypatch, tmp_path):
    from tests.core.test_wheel_refusal import PACKAGE, lock_without

    fleet_bundle(_spec(instance_type="t4g.small", more_instance_types=[]))  # both wheels in the store
    monkeypatch.setattr("refarch.bundle.lock_path", lambda _cloud: lock_without("aws", AARCH64, tmp_path))
    (problem,) = aws_problems(_spec(instance_type="t4g.small", more_instance_types=[]))
    assert (problem.field, problem.value) == ("aws.instance_type", "t4g.small")
    assert f"{PACKAGE}==" in problem.rule and str(platform_for("aws", "t4g.small")) in problem.rule


def test_app_py_prints_the_spec_error_without_a_traceback(tmp_path):
    context = {
        "region": "eu-west-1",
        "spec.dev.aws.instance_type": "t3.small",
        "spec.dev.aws.more_instance_types": ["t4g.small"],
    }
    env = {**os.environ, "CDK_CONTEXT_JSON": json.dumps(context), "CDK_OUTDIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "app.py"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 1
    assert "environment 'dev' is invalid:" in result.stderr
    assert "field 'aws.more_instance_types' = ['t4g.small']" in result.stderr
    assert "Traceback" not in result.stderr
