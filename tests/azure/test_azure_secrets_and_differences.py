"""Secrets stay masked, and what production adds over dev."""

from __future__ import annotations

import json

from refarch.inventory import MASK, masked_secrets
from refarch.spec import load_environment


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


def _zones(environment: str) -> list[str]:
    return [str(zone) for zone in range(1, load_environment(environment).zones + 1)]


def test_production_is_zone_redundant_where_dev_is_not(inventories):
    dev_zones, prod_zones = _zones("dev"), _zones("prod")
    assert dev_zones != prod_zones
    checks = {
        ("azure-native:compute:VirtualMachineScaleSet", "zones"): (dev_zones, prod_zones),
        ("azure-native:network:ApplicationGateway", "zones"): (dev_zones, prod_zones),
        ("azure-native:apimanagement:ApiManagementService", "sku"): (
            {"name": "Developer", "capacity": 1},
            {"name": "Premium", "capacity": 3},
        ),
        ("azure-native:apimanagement:ApiManagementService", "zones"): (None, prod_zones),
        ("azure-native:redisenterprise:RedisEnterprise", "highAvailability"): ("Disabled", "Enabled"),
        ("azure-native:cosmosdb:DatabaseAccount", "locations.0.isZoneRedundant"): (False, True),
        ("azure-native:cosmosdb:DatabaseAccount", "backupPolicy.continuousModeProperties.tier"): (
            "Continuous7Days",
            "Continuous30Days",
        ),
        ("azure-native:keyvault:Vault", "properties.enablePurgeProtection"): (None, True),
        ("azure-native:keyvault:Vault", "properties.softDeleteRetentionInDays"): (7, 90),
        # Dev's 14 days is below the Log Analytics minimum of 30; prod keeps what its spec says.
        ("azure-native:operationalinsights:Workspace", "retentionInDays"): (
            30,
            load_environment("prod").retention.log_days,
        ),
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


def test_spec_overrides_in_stack_config_size_the_stack(azure):
    config = azure.config("dev")
    del config["refarch-azure:alertEmail"]  # the stack's own recipient would take precedence
    config["refarch-azure:spec"] = json.dumps(
        {
            "capacity": {"max": 7},
            "alarms": {"email": "on-call@example.com"},
            "retention": {"log_days": 90},
            "azure": {"vm_size": "Standard_D8s_v5", "cache_sku": "Balanced_B3"},
        }
    )
    inventory = azure.preview("dev", config)
    assert inventory.only("azure-native:monitor:AutoscaleSetting").get("profiles.0.capacity.maximum") == "7"
    receivers = inventory.only("azure-native:monitor:ActionGroup").get("emailReceivers")
    assert [receiver["emailAddress"] for receiver in receivers] == ["on-call@example.com"]
    assert inventory.only("azure-native:operationalinsights:Workspace").get("retentionInDays") == 90
    # The spec's per-cloud table is overridden the same way (`pulumi config set --path spec.azure.vm_size`).
    assert inventory.only("azure-native:compute:VirtualMachineScaleSet").get("sku.name") == "Standard_D8s_v5"
    assert inventory.only("azure-native:redisenterprise:RedisEnterprise").get("sku.name") == "Balanced_B3"
