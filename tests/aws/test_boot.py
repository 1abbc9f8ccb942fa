"""The instances' boot script and the service bundle they install."""

from __future__ import annotations

import json

from cfn_queries import only

from refarch.boot import stop_timeout_seconds, written_environment
from refarch.service_contract import parse_service_environment
from refarch.service_settings import tuned_settings
from refarch.spec import load_environment
from tools import service_lock


def _user_data(resources) -> str:
    data = only(resources, "AWS::EC2::LaunchTemplate")["LaunchTemplateData"]["UserData"]
    # Fn::Base64 of Fn::Join: keep literal parts, mark tokens.
    parts = data["Fn::Base64"]["Fn::Join"][1] if "Fn::Join" in data["Fn::Base64"] else [data["Fn::Base64"]]
    return "".join(part if isinstance(part, str) else "<" + json.dumps(part) + ">" for part in parts)


def test_boot_is_strict_idempotent_and_pinned(resources):
    script = _user_data(resources)
    assert script.startswith("#!/bin/bash") and "set -euo pipefail" in script
    assert 'if [ ! -f "$DIR/.installed" ]' in script
    assert "requirements.lock" in script and 'pip" install' in script
    assert "@{" not in script, "an unsubstituted placeholder reached the instances"


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


def test_service_lock_matches_the_project_lock():
    committed = (service_lock.ROOT / "sample_service" / "requirements.lock").read_text()
    assert committed == service_lock.render(), "stale: run `make lock`"
