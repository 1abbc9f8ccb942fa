"""The instances' boot script and the release bundle they install: the CDK asset is the self-contained
bundle for the group's platform, the image is that architecture's, and every download ends within the boot
budget's share."""

from __future__ import annotations

import json
from pathlib import Path

from cfn_queries import only

from refarch.boot import stop_timeout_seconds, written_environment
from refarch.platforms import IMAGES
from refarch.service_contract import parse_service_environment
from refarch.service_settings import tuned_settings
from refarch.spec import load_environment
from stacks.boot import boot_budget, fleet_bundle


def _user_data(resources) -> str:
    data = only(resources, "AWS::EC2::LaunchTemplate")["LaunchTemplateData"]["UserData"]
    # Fn::Base64 of Fn::Join: keep literal parts, mark tokens.
    parts = data["Fn::Base64"]["Fn::Join"][1] if "Fn::Join" in data["Fn::Base64"] else [data["Fn::Base64"]]
    return "".join(part if isinstance(part, str) else "<" + json.dumps(part) + ">" for part in parts)


def test_boot_is_strict_idempotent_and_pinned(resources):
    script = _user_data(resources)
    assert script.startswith("#!/bin/bash") and "set -euo pipefail" in script
    assert 'if [ ! -f "$DIR/.installed" ]' in script
    assert 'install_release "$DIR" python3.11' in script and "--require-hashes" in script
    assert "@{" not in script, "an unsubstituted placeholder reached the instances"


def test_every_download_ends_within_the_boot_budgets_share(resources, environment):
    budget = boot_budget(load_environment(environment))
    script = _user_data(resources)
    assert f"DOWNLOAD_DEADLINE=$((SECONDS + {budget.download_seconds}))" in script
    downloads = [line for line in script.splitlines() if " dnf " in line or "aws s3" in line]
    assert len(downloads) == 2
    assert all(line.strip().startswith("retry $((DOWNLOAD_DEADLINE - SECONDS)) ") for line in downloads)


def test_the_asset_is_the_release_bundle_and_the_image_is_its_architectures(synthesized, environment):
    spec = load_environment(environment)
    bundle = fleet_bundle(spec)
    fleet = synthesized.stacks[environment].fleet
    staged = synthesized.directory / fleet.bundle.asset_path

    def files(root: Path) -> set[str]:
        return {path.relative_to(root).as_posix() for path in root.rglob("*") if path.is_file()}

    # The whole bundle, as built: the service, a wheel for every pin and the hashed lock.
    assert files(staged) == files(bundle.path)
    assert {"requirements.lock", "sample_service/__main__.py"} <= files(staged)
    assert any(name.startswith("wheelhouse/boto3-") for name in files(staged))
    assert f"RELEASE='{bundle.id}'" in _user_data(synthesized.templates[environment]["Resources"])
    parameters = synthesized.templates[environment]["Parameters"]
    images = [p["Default"] for p in parameters.values() if "AWS::EC2::Image::Id" in p.get("Type", "")]
    assert images == [IMAGES["aws"].names[bundle.platform.arch]]


def test_the_group_is_judged_and_refreshed_past_only_after_the_boot_budget(resources, environment):
    budget = boot_budget(load_environment(environment))
    group = only(resources, "AWS::AutoScaling::AutoScalingGroup")
    assert int(group["HealthCheckGracePeriod"]) == budget.seconds
    assert int(group["DefaultInstanceWarmup"]) == budget.seconds


def test_the_service_accepts_the_environment_the_stack_writes(resources):
    variables = written_environment(_user_data(resources))
    # Deploy-time values (endpoints, names, ARNs) stand in as a plain name the service can parse.
    config, unread = parse_service_environment(
        {name: "resolved-at-deploy" if "<{" in value else value for name, value in variables.items()}
    )
    # A variable the service never reads (a renamed or misspelt one) would silently fall back to a default.
    assert unread == set()
    assert config.cache_tls is True and config.cache_auth_secret_id == "resolved-at-deploy"
    assert config.store_backend == "dynamodb" and config.items_table == "resolved-at-deploy"


def test_service_is_configured_from_the_spec_and_the_stack(resources, environment):
    spec = load_environment(environment)
    script = _user_data(resources)
    variables = written_environment(script)
    # Written explicitly, not left to the service's defaults (which equal an untuned spec's).
    assert tuned_settings(spec.service).items() <= variables.items()
    assert variables["CACHE_TLS"] == "true"
    assert "SessionCacheReplicationGroup" in variables["CACHE_HOST"]
    assert "ItemStore" in variables["ITEMS_TABLE"]
    assert "SessionCacheAuthToken" in variables["CACHE_AUTH_SECRET_ID"]
    assert f"TimeoutStopSec={stop_timeout_seconds(spec.service)}" in script
