"""The instances' custom data: a strict, idempotent, pinned boot of exactly this release, configured with
variables the service reads, and no secret anywhere in it."""

from __future__ import annotations

from azure_queries import boot_script, service_variables

from refarch.boot import stop_timeout_seconds
from refarch.inventory import Inventory
from refarch.service_contract import parse_service_environment


def test_boot_is_strict_idempotent_pinned_and_fully_rendered(inventory: Inventory, spec):
    script = boot_script(inventory)
    assert script.startswith("#!/bin/bash") and "set -euo pipefail" in script
    assert 'if [ ! -f "$DIR/.installed" ]' in script
    assert "requirements.lock" in script and 'pip" install' in script
    assert f"TimeoutStopSec={stop_timeout_seconds(spec.service)}" in script
    assert "systemctl disable --now ssh.service" in script
    assert "@{" not in script, "an unsubstituted placeholder reached the instances"


def test_boot_installs_this_release_from_the_private_bundle_with_the_identity(inventory: Inventory):
    from azure_stack.offline import mock_guid

    from refarch.release import release_id

    script = boot_script(inventory)
    release = release_id()
    assert f"RELEASE='{release}'" in script
    bundle = inventory.only("azure-native:storage:Blob")
    assert bundle.get("blobName") == f"sample-service/{release}.zip"
    assert f"'https://releases.blob.core.windows.net/releases/sample-service/{release}.zip'" in script
    identity = inventory.only("azure-native:managedidentity:UserAssignedIdentity")
    assert f"client_id={mock_guid(f'{identity.name}/client')}'" in script
    assert "resource=https%3A%2F%2Fstorage.azure.com%2F" in script


def test_the_service_accepts_every_variable_the_stack_writes(inventory: Inventory, spec):
    variables = service_variables(boot_script(inventory))
    config, unread = parse_service_environment(variables)
    # A variable the service never reads (renamed or misspelt) would silently fall back to a default.
    assert unread == set()
    assert config.service_port == spec.service.port
    assert config.session_ttl_seconds == spec.service.session_ttl_seconds
    assert config.cache_timeout_ms == spec.service.cache_timeout_ms
    assert config.store_timeout_ms == spec.service.store_timeout_ms
    assert config.shutdown_grace_seconds == spec.service.shutdown_grace_seconds
    assert config.cache_tls is True and config.cache_auth == "entra-id"
    assert config.store_backend == "cosmos"


def test_service_settings_point_at_this_cache_store_and_identity(inventory: Inventory):
    from azure_stack.offline import mock_guid

    variables = service_variables(boot_script(inventory))
    identity = inventory.only("azure-native:managedidentity:UserAssignedIdentity")
    cache = inventory.only("azure-native:redisenterprise:RedisEnterprise")
    database = inventory.only("azure-native:redisenterprise:Database")
    store = inventory.only("azure-native:cosmosdb:DatabaseAccount")
    container = inventory.only("azure-native:cosmosdb:SqlResourceSqlContainer")
    assert variables["CACHE_HOST"] == f"{cache.name}.westeurope.redis.azure.net"
    assert variables["CACHE_PORT"] == str(database.get("port"))
    assert variables["COSMOS_ENDPOINT"] == f"https://{store.name}.documents.azure.com:443/"
    assert variables["COSMOS_DATABASE"] == container.get("databaseName")
    assert variables["COSMOS_CONTAINER"] == container.get("containerName")
    assert variables["AZURE_CLIENT_ID"] == mock_guid(f"{identity.name}/client")
    # The cache admits exactly the identity the service logs in as.
    login = inventory.only("azure-native:redisenterprise:AccessPolicyAssignment").get("user.objectId")
    assert variables["CACHE_USERNAME"] == login
    assert inventory.only("azure-native:cosmosdb:SqlResourceSqlRoleAssignment").get("principalId") == login


def test_no_credential_reaches_the_instances(inventory: Inventory):
    variables = service_variables(boot_script(inventory))
    assert not {"CACHE_PASSWORD", "CACHE_AUTH_SECRET_ID"} & set(variables)
    assert not any("KEY" in name or "SECRET" in name for name in variables)


def test_boot_forwards_the_journal_to_the_syslog_the_monitor_agent_collects(inventory: Inventory):
    script = boot_script(inventory)
    assert "rsyslog" in script.split("apt-get install", 1)[1].split("\n", 1)[0]
    assert "ForwardToSyslog=yes" in script
