"""A first deploy and every release: instances boot only once what they need exists, a boot survives a grant
that is still propagating, `pulumi up` waits for the release to be healthy everywhere, and boot CPU does not
scale the group out.

Sources: RegionInstanceGroupManager wait_for_instances_status ("UPDATED": the version target reached and all
instances stable) and RegionAutoscaler cooldown_period (how long after a new instance starts the autoscaler
ignores its usage: the initialization period), both from the installed pulumi_gcp SDK's docstrings."""

from __future__ import annotations

import http.server
import math
import re
import subprocess
import threading

import pytest

GROUP = "gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager"
FLEET_GRANTS = (
    "gcp:projects/iAMMember:IAMMember",
    "gcp:storage/bucketIAMMember:BucketIAMMember",
    "gcp:secretmanager/secretIamMember:SecretIamMember",
)


def _script(inventory) -> str:
    return inventory.only("gcp:compute/instanceTemplate:InstanceTemplate").get("metadata.startup-script")


def test_the_group_waits_for_every_grant_to_its_instances_and_the_cache_secret(inventory):
    group = inventory.only(GROUP)
    fleet = inventory.named("fleet-account")
    grants = {
        grant.name
        for type_ in FLEET_GRANTS
        for grant in inventory.of_type(type_)
        if grant.get("member").endswith(f"{fleet.get('accountId')}@{grant.get('member').split('@')[1]}")
    }
    assert grants >= {
        "fleet-reads-releases",
        "fleet-reads-cache-auth",
        "fleet-uses-items",
    }
    missing = (grants | {"cache-auth-value"}) - set(group.depends_on)
    assert not missing, f"instances could boot before {sorted(missing)} exist"


def test_the_first_pulumi_up_waits_for_the_spec_minimum_then_leaves_the_size_to_the_autoscaler(inventory):
    """Without a target size the group is created empty (the provider's default is 0) and `pulumi up`
    waits for nothing; a size Pulumi kept applying would fight the autoscaler (the provider's target_size
    docs)."""
    group = inventory.only(GROUP)
    autoscaler = inventory.only("gcp:compute/regionAutoscaler:RegionAutoscaler")
    assert group.get("targetSize", None) == autoscaler.get("autoscalingPolicy.minReplicas")
    assert group.ignore_changes == ("targetSize",)


def test_pulumi_up_waits_until_the_release_is_healthy_everywhere(inventory, spec):
    group = inventory.only(GROUP)
    assert group.get("waitForInstances") is True
    assert group.get("waitForInstancesStatus") == "UPDATED"
    # The rollout arithmetic, from the group's own settings: waves of maxSurge instances, each booting within
    # the autohealing delay, passing the health check, and draining the old instances.
    health = inventory.only("gcp:compute/healthCheck:HealthCheck")
    backend = inventory.only("gcp:compute/backendService:BackendService")
    per_wave = (
        group.get("autoHealingPolicies.initialDelaySec")
        + health.get("healthyThreshold") * health.get("checkIntervalSec")
        + backend.get("connectionDrainingTimeoutSec")
    )
    waves = math.ceil(spec.capacity.max / group.get("updatePolicy.maxSurgeFixed"))
    for operation in ("create", "update"):
        timeout = group.custom_timeouts.get(operation, "")
        assert re.fullmatch(r"\d+s", timeout), f"{operation} timeout {timeout!r}"
        assert int(timeout[:-1]) >= waves * per_wave, f"{operation}: {timeout} is shorter than the rollout"


def test_the_autoscaler_ignores_a_new_instance_for_the_whole_boot_budget(inventory):
    autoscaler = inventory.only("gcp:compute/regionAutoscaler:RegionAutoscaler")
    group = inventory.only(GROUP)
    assert autoscaler.get("autoscalingPolicy.cooldownPeriod") == group.get(
        "autoHealingPolicies.initialDelaySec"
    )


def test_every_download_on_the_boot_path_retries_every_error_within_the_boot_budget(inventory):
    from gcp_stack.boot import BOOT_BUDGET

    script = _script(inventory)
    assert f"DOWNLOAD_DEADLINE=$((SECONDS + {BOOT_BUDGET.download_seconds}))" in script
    # "Access change propagation": typically 2 minutes, can take 7 minutes or longer (IAM docs).
    assert BOOT_BUDGET.download_seconds >= 7 * 60
    commands = script.replace("\\\n", " ").splitlines()
    downloads = [line for line in commands if re.search(r"\bfetch\s+['\"]", line)]
    assert len(downloads) == 2, downloads  # the token and the bundle
    assert all("retry $((DOWNLOAD_DEADLINE - SECONDS)) '" in line for line in downloads), downloads


class _FlakyGrant(http.server.BaseHTTPRequestHandler):
    """403 twice (a grant not yet propagated), then the object, to a request that carries the token."""

    answers = [403, 403, 200]

    def do_GET(self) -> None:
        status = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if self.headers["Authorization"] != "Bearer token":
            status = 401
        self.send_response(status)
        self.end_headers()
        self.wfile.write(b"bundle" if status == 200 else b"denied")

    def log_message(self, *args) -> None:
        pass


@pytest.mark.parametrize("environment", ["dev"], indirect=True)
def test_the_boot_retry_outlasts_a_403_while_a_grant_propagates(inventory, tmp_path):
    from refarch.boot import BOOT_FETCH, BOOT_RETRY, render_fragment

    script = _script(inventory)
    functions = [render_fragment(BOOT_RETRY), render_fragment(BOOT_FETCH)]
    assert all(function in script for function in functions), "the boot's own retry and fetch"
    server = http.server.HTTPServer(("127.0.0.1", 0), _FlakyGrant)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/bundle.zip"
        out = tmp_path / "bundle.zip"
        # A lone fetch stops at the first 403; the boot's retry outlasts it.
        for call, expected in ((f"fetch {url} {out}", 1), (f"retry 30 bundle fetch {url} {out}", 0)):
            _FlakyGrant.answers = [403, 403, 200]
            result = subprocess.run(
                ["bash", "-c", "set -euo pipefail\n" + "".join(functions) + f"export BEARER=token\n{call}"],
                capture_output=True,
                timeout=60,
            )
            assert result.returncode == expected, (call, result)
        assert out.read_bytes() == b"bundle"
    finally:
        server.shutdown()


def test_the_managed_service_is_enabled_only_once_the_api_config_exists(inventory):
    enabled = inventory.named("service-api")
    config = inventory.only("gcp:apigateway/apiConfig:ApiConfig")
    assert config.name in enabled.depends_on
    assert "service-api" in inventory.named("first-consumer").depends_on, "the key needs the service enabled"
