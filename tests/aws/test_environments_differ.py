"""What production adds over dev, read from the synthesized templates."""

from __future__ import annotations

from cfn_queries import of_type, only

from refarch.spec import load_environment


def _resources(synthesized, environment):
    return synthesized.templates[environment]["Resources"]


def test_prod_spans_more_zones_and_nat_gateways_than_dev(synthesized):
    dev, prod = load_environment("dev"), load_environment("prod")
    assert prod.zones > dev.zones and prod.aws.nat_gateways > dev.aws.nat_gateways
    for spec in (dev, prod):
        group = only(_resources(synthesized, spec.name), "AWS::AutoScaling::AutoScalingGroup")
        assert len(group["VPCZoneIdentifier"]) == spec.zones
        assert (
            len(of_type(_resources(synthesized, spec.name), "AWS::EC2::NatGateway")) == spec.aws.nat_gateways
        )


def test_prod_cache_fails_over_across_zones_and_dev_is_a_single_node(synthesized):
    prod = only(_resources(synthesized, "prod"), "AWS::ElastiCache::ReplicationGroup")
    dev = only(_resources(synthesized, "dev"), "AWS::ElastiCache::ReplicationGroup")
    assert prod["MultiAZEnabled"] is True and prod["ReplicasPerNodeGroup"] >= 1
    assert dev["MultiAZEnabled"] is False and dev["ReplicasPerNodeGroup"] == 0


def test_prod_protects_its_data_and_dev_can_be_torn_down(synthesized):
    prod_table = of_type(_resources(synthesized, "prod"), "AWS::DynamoDB::Table")
    dev_table = of_type(_resources(synthesized, "dev"), "AWS::DynamoDB::Table")
    (prod,) = prod_table.values()
    (dev,) = dev_table.values()
    assert prod["Properties"]["DeletionProtectionEnabled"] is True and prod["DeletionPolicy"] == "Retain"
    assert (
        dev["Properties"].get("DeletionProtectionEnabled", False) is False
        and dev["DeletionPolicy"] == "Delete"
    )
    prod_alb = only(_resources(synthesized, "prod"), "AWS::ElasticLoadBalancingV2::LoadBalancer")
    attributes = {item["Key"]: item["Value"] for item in prod_alb["LoadBalancerAttributes"]}
    assert attributes["deletion_protection.enabled"] == "true"


def test_prod_stack_has_termination_protection(synthesized):
    assert synthesized.stacks["prod"].termination_protection is True
    assert synthesized.stacks["dev"].termination_protection is False


def test_prod_keeps_logs_longer(synthesized):
    def retention(environment):
        groups = of_type(_resources(synthesized, environment), "AWS::Logs::LogGroup").values()
        return {body["Properties"]["RetentionInDays"] for body in groups}

    dev, prod = load_environment("dev"), load_environment("prod")
    assert prod.retention.log_days > dev.retention.log_days
    assert retention("prod") == {prod.retention.log_days}
    assert retention("dev") == {dev.retention.log_days}


def test_prod_encrypts_logs_table_and_secret_with_its_own_rotated_key(synthesized):
    dev, prod = load_environment("dev"), load_environment("prod")
    assert prod.encryption.customer_managed_keys and not dev.encryption.customer_managed_keys
    prod_resources, dev_resources = _resources(synthesized, "prod"), _resources(synthesized, "dev")
    (key_id,) = [name for name in of_type(prod_resources, "AWS::KMS::Key") if name.startswith("DataKey")]
    assert prod_resources[key_id]["Properties"]["EnableKeyRotation"] is True
    for group in of_type(prod_resources, "AWS::Logs::LogGroup").values():
        assert group["Properties"]["KmsKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    table = only(prod_resources, "AWS::DynamoDB::Table")
    assert table["SSESpecification"]["KMSMasterKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    for secret in of_type(prod_resources, "AWS::SecretsManager::Secret").values():
        assert secret["Properties"]["KmsKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    assert not [name for name in dev_resources if name.startswith("DataKey")]
    assert all(
        "KmsKeyId" not in g["Properties"] for g in of_type(dev_resources, "AWS::Logs::LogGroup").values()
    )
