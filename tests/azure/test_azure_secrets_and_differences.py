"""Secrets stay masked, and what production adds over dev."""

from __future__ import annotations

import json

from refarch.inventory import MASK, masked_secrets


def test_the_only_secret_input_is_masked(inventory):
    assert masked_secrets(inventory) == [
        "azure-native:apimanagement:Logger api-logger credentials.instrumentationKey"
    ]
    # The mocked instrumentation key never appears in clear anywhere in the inventory.
    text = json.dumps(inventory.to_json())
    assert "22222222-2222-2222-2222-222222222222" not in text
    assert MASK in text


def _one(inventories, env, type_, path):
    return inventories[env].only(type_).get(path, None)


def test_production_is_zone_redundant_where_dev_is_not(inventories):
    checks = {
        ("azure-native:compute:VirtualMachineScaleSet", "zones"): (["1", "2"], ["1", "2", "3"]),
        ("azure-native:network:ApplicationGateway", "zones"): (["1", "2"], ["1", "2", "3"]),
        ("azure-native:apimanagement:ApiManagementService", "sku"): (
            {"name": "Developer", "capacity": 1},
            {"name": "Premium", "capacity": 3},
        ),
        ("azure-native:apimanagement:ApiManagementService", "zones"): (None, ["1", "2", "3"]),
        ("azure-native:redisenterprise:RedisEnterprise", "highAvailability"): ("Disabled", "Enabled"),
        ("azure-native:cosmosdb:DatabaseAccount", "locations.0.isZoneRedundant"): (False, True),
        ("azure-native:cosmosdb:DatabaseAccount", "backupPolicy.continuousModeProperties.tier"): (
            "Continuous7Days",
            "Continuous30Days",
        ),
        ("azure-native:keyvault:Vault", "properties.enablePurgeProtection"): (None, True),
        ("azure-native:keyvault:Vault", "properties.softDeleteRetentionInDays"): (7, 90),
        ("azure-native:operationalinsights:Workspace", "retentionInDays"): (30, 365),
    }
    for (type_, path), expected in checks.items():
        actual = (_one(inventories, "dev", type_, path), _one(inventories, "prod", type_, path))
        assert actual == expected, f"{type_} {path}"
    accounts = {
        env: {
            a.name: a.get("sku.name") for a in inventories[env].of_type("azure-native:storage:StorageAccount")
        }
        for env in ("dev", "prod")
    }
    assert accounts == {
        "dev": {"files": "Standard_LRS", "releases": "Standard_LRS"},
        "prod": {"files": "Standard_ZRS", "releases": "Standard_ZRS"},
    }


def test_production_locks_its_item_store(inventories):
    assert inventories["dev"].count("azure-native:authorization:ManagementLockByScope") == 0
    lock = inventories["prod"].only("azure-native:authorization:ManagementLockByScope")
    assert lock.get("level") == "CanNotDelete" and lock.get("scope").endswith("/DatabaseAccount/items")


def test_capacity_follows_each_spec(inventories):
    bounds = {
        env: inventories[env].only("azure-native:monitor:AutoscaleSetting").get("profiles.0.capacity")
        for env in ("dev", "prod")
    }
    assert bounds == {
        "dev": {"minimum": "1", "maximum": "3", "default": "1"},
        "prod": {"minimum": "3", "maximum": "12", "default": "3"},
    }


def test_spec_overrides_in_stack_config_size_the_stack(azure):
    config = azure.config("dev")
    del config["refarch-azure:alertEmail"]  # the stack's own recipient would take precedence
    config["refarch-azure:spec"] = json.dumps(
        {"capacity": {"max": 7}, "alarms": {"email": "on-call@example.com"}, "retention": {"log_days": 90}}
    )
    inventory = azure.preview("dev", config)
    assert inventory.only("azure-native:monitor:AutoscaleSetting").get("profiles.0.capacity.maximum") == "7"
    receivers = inventory.only("azure-native:monitor:ActionGroup").get("emailReceivers")
    assert [receiver["emailAddress"] for receiver in receivers] == ["on-call@example.com"]
    assert inventory.only("azure-native:operationalinsights:Workspace").get("retentionInDays") == 90
