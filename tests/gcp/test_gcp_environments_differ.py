"""What production adds over dev: zones, capacity, a highly available cache, protection and backups."""

from __future__ import annotations

from refarch.spec import load_environment


def test_production_spreads_over_three_zones_and_dev_over_two(inventories):
    def zones(env):
        group = inventories[env].only("gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager")
        return len(group.get("distributionPolicyZones"))

    dev, prod = load_environment("dev"), load_environment("prod")
    assert (zones("dev"), zones("prod")) == (dev.zones, prod.zones)
    # The point of the test: production is wider than dev (a spec where they agree proves nothing here).
    assert zones("prod") > zones("dev")


def test_production_cache_fails_over_with_read_replicas_and_dev_is_basic(inventories):
    dev = inventories["dev"].only("gcp:redis/instance:Instance")
    prod = inventories["prod"].only("gcp:redis/instance:Instance")
    assert (dev.get("tier"), dev.get("replicaCount", None), dev.get("alternativeLocationId", None)) == (
        "BASIC",
        None,
        None,
    )
    replicas = load_environment("prod").cache.replicas
    assert replicas > 1, "production's spec has no read replicas: this test would not see the mode"
    assert (prod.get("tier"), prod.get("replicaCount"), prod.get("readReplicasMode")) == (
        "STANDARD_HA",
        replicas,
        "READ_REPLICAS_ENABLED",
    )
    assert prod.get("alternativeLocationId") != prod.get("locationId")
    assert (dev.get("deletionProtection"), prod.get("deletionProtection")) == (False, True)


def test_only_production_protects_and_backs_up_the_item_store(inventories):
    dev = inventories["dev"].only("gcp:firestore/database:Database")
    prod = inventories["prod"].only("gcp:firestore/database:Database")
    assert dev.get("deleteProtectionState") == "DELETE_PROTECTION_DISABLED"
    assert prod.get("deleteProtectionState") == "DELETE_PROTECTION_ENABLED"
    assert inventories["dev"].count("gcp:firestore/backupSchedule:BackupSchedule") == 0
    schedule = inventories["prod"].only("gcp:firestore/backupSchedule:BackupSchedule")
    assert schedule.get("database") == prod.get("name") and schedule.get("weeklyRecurrence.day") == "SUNDAY"


def test_production_scales_wider_and_defends_against_layer_7_floods(inventories):
    def policy(env):
        return inventories[env].only("gcp:compute/regionAutoscaler:RegionAutoscaler").get("autoscalingPolicy")

    for env in ("dev", "prod"):
        capacity = load_environment(env).capacity
        assert (policy(env)["minReplicas"], policy(env)["maxReplicas"]) == (capacity.min, capacity.max)
    assert policy("prod")["maxReplicas"] > policy("dev")["maxReplicas"]

    def adaptive(env):
        armor = inventories[env].only("gcp:compute/securityPolicy:SecurityPolicy")
        return armor.get("adaptiveProtectionConfig.layer7DdosDefenseConfig.enable")

    assert (adaptive("dev"), adaptive("prod")) == (False, True)


def test_production_keeps_its_secret_from_deletion(inventories):
    def secret(env):
        return inventories[env].only("gcp:secretmanager/secret:Secret").get("deletionProtection")

    assert (secret("dev"), secret("prod")) == (False, True)


def test_production_samples_its_request_logs_and_dev_keeps_every_one(inventories):
    def rate(env):
        return inventories[env].only("gcp:compute/backendService:BackendService").get("logConfig.sampleRate")

    assert rate("dev") == 1 and 0 < rate("prod") < 1
