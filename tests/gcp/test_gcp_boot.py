"""The instances' startup script, the release it installs, and the environment the service reads."""

from __future__ import annotations

import re

from gcp_queries import service_environment

from refarch.boot import stop_timeout_seconds
from refarch.service_contract import parse_service_environment


def _script(inventory) -> str:
    return inventory.only("gcp:compute/instanceTemplate:InstanceTemplate").get("metadata.startup-script")


def test_boot_is_strict_idempotent_pinned_and_complete(inventory):
    script = _script(inventory)
    assert script.startswith("#!/bin/bash") and "set -euo pipefail" in script
    assert 'if [ ! -f "$DIR/.installed" ]' in script
    assert 'install_release "$DIR" python3' in script and "--require-hashes" in script
    assert not re.search(r"@\{\w+\}", script), "an unsubstituted placeholder reached the instances"
    # The token reaches the download in the environment (BEARER), never on a command line.
    assert "export BEARER=$TOKEN" in script and "unset TOKEN BEARER" in script
    assert not re.search(r"fetch[^\n]*\$TOKEN", script)


def test_boot_installs_the_release_from_the_private_bucket(inventory, gcp):
    from refarch.bundle import build_bundle

    script = _script(inventory)
    machine_type = inventory.only("gcp:compute/instanceTemplate:InstanceTemplate").get("machineType")
    release_bundle = build_bundle("gcp", machine_type)
    release = release_bundle.id
    bundle = inventory.only("gcp:storage/bucketObject:BucketObject")
    bucket = inventory.named("releases")
    assert bundle.get("bucket").startswith("releases-") and bucket.parent == bundle.parent == "fleet"
    assert bundle.get("name") == f"releases/{release}/sample_service.zip"
    assert f"RELEASE='{release}'" in script
    url = f"https://storage.googleapis.com/storage/v1/b/{bundle.get('bucket')}/o/releases%2F{release}%2Fsample_service.zip?alt=media"
    assert url in script
    # The self-contained bundle (service, wheelhouse, lock), not the bare service.
    assert bundle.get("source") == {"archive": str(release_bundle.path)}
    names = {path.relative_to(release_bundle.path).as_posix() for path in release_bundle.path.rglob("*")}
    assert {"requirements.lock", "sample_service/__main__.py", "sample_service/stores/firestore.py"} <= names
    assert any(name.startswith("wheelhouse/google_cloud_firestore-") for name in names)
    assert not [name for name in names if "__pycache__" in name or name.endswith(".pyc")]


def test_no_secret_reaches_the_instance_metadata(inventory, gcp):
    script = _script(inventory)
    assert gcp.module("offline").MOCK_AUTH_STRING not in script and "[secret]" not in script
    assert "PASSWORD" not in script


def test_the_service_accepts_and_reads_every_variable_the_stack_writes(inventory, spec, stack_config, gcp):
    config, unread = parse_service_environment(service_environment(inventory))
    assert unread == set()
    assert config.service_port == spec.service.port
    assert config.session_ttl_seconds == spec.service.session_ttl_seconds
    assert config.cache_timeout_ms == spec.service.cache_timeout_ms
    assert config.store_timeout_ms == spec.service.store_timeout_ms
    assert config.shutdown_grace_seconds == spec.service.shutdown_grace_seconds
    assert config.cache_tls is True and config.cache_port == gcp.module("session_cache").CACHE_TLS_PORT
    assert config.store_backend == "firestore" and config.aws_region is None
    # Memorystore's certificate names its IP in the CN only: verified against the instance's own CA, without a
    # host name check (tests/service/test_cache_tls.py connects to a server with such a certificate).
    assert config.cache_tls_ca_file and config.cache_tls_check_hostname is False
    assert config.gateway_auth is not None


def test_service_settings_point_at_this_stacks_cache_store_secret_and_gateway(inventory, stack_config, gcp):
    variables = service_environment(inventory)
    offline = gcp.module("offline")
    assert variables["CACHE_HOST"] == offline.MOCK_CACHE_HOST  # the Memorystore instance's host output
    secret = inventory.only("gcp:secretmanager/secret:Secret")
    project = stack_config["gcp:project"]
    assert (
        variables["CACHE_AUTH_SECRET_ID"]
        == f"projects/{project}/secrets/{secret.get('secretId')}/versions/latest"
    )
    database = inventory.only("gcp:firestore/database:Database")
    assert variables["FIRESTORE_DATABASE"] == database.get("name")
    assert variables["GOOGLE_CLOUD_PROJECT"] == project
    gateway = inventory.named("gateway-account")
    assert variables["GATEWAY_JWT_SUBJECT"] == offline.unique_id(gateway.get("accountId"))
    assert variables["GATEWAY_JWT_AUDIENCE"] == f"https://{stack_config['refarch-gcp:backendDomain']}"
    script = _script(inventory)
    assert f"cat > '{variables['CACHE_TLS_CA_FILE']}' <<'PEM'\n{offline.MOCK_CA}\nPEM" in script


def test_systemd_waits_out_the_shutdown_grace(inventory, spec):
    assert f"TimeoutStopSec={stop_timeout_seconds(spec.service)}" in _script(inventory)


def test_the_service_journal_reaches_cloud_logging_through_the_ops_agent_extension(inventory, gcp):
    """VM Extension Manager installs the Ops Agent (a zonal policy per zone of the group, selecting exactly
    the group's instances by label), configured to read the journal: the startup script installs nothing."""
    from gcp_stack.fleet import OPS_AGENT_EXTENSION

    script = _script(inventory)
    assert "ops-agent" not in script and "google-cloud-ops-agent" not in script
    template = inventory.only("gcp:compute/instanceTemplate:InstanceTemplate")
    group = inventory.only("gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager")
    policies = inventory.of_type("gcp:compute/zoneVmExtensionPolicy:ZoneVmExtensionPolicy")
    assert sorted(policy.get("zone") for policy in policies) == sorted(group.get("distributionPolicyZones"))
    for policy in policies:
        (extension,) = policy.get("extensionPolicies")
        assert extension["extensionName"] == OPS_AGENT_EXTENSION
        assert "type: systemd_journald" in extension["stringConfig"]
        (selector,) = policy.get("instanceSelectors")
        assert selector["labelSelector"]["inclusionLabels"] == template.get("labels")


def test_the_startup_script_is_rendered_in_the_boot_module_alone(gcp):
    """Generators have one recognisable home (issue 13): boot.py renders the script (as Azure's boot.py and
    AWS's stacks/boot.py do), the fleet only wires it into the instance template."""
    from refarch import boot

    modules = [path.stem for path in (gcp.directory / gcp.package).glob("*.py")]
    renderers = [name for name in modules if vars(gcp.module(name)).get("render_boot") is boot.render_boot]
    assert "fleet" in modules and renderers == ["boot"]


def test_the_image_matches_the_bundles_architecture():
    from gcp_stack.fleet import image

    from refarch.platforms import AARCH64, X86_64

    assert image(X86_64) == ("debian-cloud", "debian-12")
    assert image(AARCH64) == ("debian-cloud", "debian-12-arm64")


def test_instances_boot_one_image_resolved_at_deployment(inventory):
    from gcp_stack.offline import MOCK_IMAGE

    template = inventory.only("gcp:compute/instanceTemplate:InstanceTemplate")
    # A specific build, not a family that each new instance would resolve again on its own.
    assert template.get("disks.0.sourceImage") == MOCK_IMAGE
