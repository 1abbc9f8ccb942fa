"""A small CDK app (raw CloudFormation resources) that breaks every rule of the catalogue at once."""

from __future__ import annotations

import base64

from aws_cdk import App, CfnResource, Stack

# An image EC2 resolves at each launch (so a fleet can mix builds).
LAUNCH_TIME_IMAGE = "resolve:ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
BOOT = """#!/bin/bash
mount -t nfs4 fs-1234.efs.eu-west-1.amazonaws.com:/ /mnt/shared
cat > /etc/sample-service.env <<'ENV'
SESSION_BACKEND=memory
CACHE_TLS=false
SHUTDOWN_GRACE_SECONDS=30
ENV
"""


def violating_stack(app: App) -> Stack:
    stack = Stack(app, "Violating")

    def resource(logical_id: str, type_: str, properties: dict) -> CfnResource:
        node = CfnResource(stack, logical_id, type=type_, properties=properties)
        node.override_logical_id(logical_id)
        return node

    resource(
        "FleetSecurityGroup",
        "AWS::EC2::SecurityGroup",
        {
            "GroupDescription": "fleet",
            "SecurityGroupIngress": [
                {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "CidrIp": "0.0.0.0/0"}
            ],
        },
    )
    resource(
        "CacheSecurityGroup",
        "AWS::EC2::SecurityGroup",
        {
            "GroupDescription": "cache",
            "SecurityGroupIngress": [
                {"IpProtocol": "tcp", "FromPort": 6379, "ToPort": 6379, "CidrIp": "0.0.0.0/0"}
            ],
        },
    )
    resource(
        "TargetGroup",
        "AWS::ElasticLoadBalancingV2::TargetGroup",
        {
            "Port": 8080,
            "Protocol": "HTTP",
            "HealthCheckPath": "/ready",
            "TargetGroupAttributes": [
                {"Key": "stickiness.enabled", "Value": "true"},
                {"Key": "deregistration_delay.timeout_seconds", "Value": "5"},
            ],
        },
    )
    resource(
        "LaunchTemplate",
        "AWS::EC2::LaunchTemplate",
        {
            "LaunchTemplateData": {
                "ImageId": LAUNCH_TIME_IMAGE,
                "KeyName": "admin",
                "NetworkInterfaces": [
                    {
                        "DeviceIndex": 0,
                        "AssociatePublicIpAddress": True,
                        "Groups": [{"Fn::GetAtt": ["FleetSecurityGroup", "GroupId"]}],
                    }
                ],
                "BlockDeviceMappings": [
                    {"DeviceName": "/dev/xvda", "Ebs": {"DeleteOnTermination": False, "VolumeSize": 20}},
                    {"DeviceName": "/dev/xvdb", "Ebs": {"DeleteOnTermination": True, "VolumeSize": 100}},
                ],
                "UserData": base64.b64encode(BOOT.encode()).decode(),
            }
        },
    )
    resource(
        "Fleet",
        "AWS::AutoScaling::AutoScalingGroup",
        {
            "MinSize": "1",
            "MaxSize": "4",
            "DesiredCapacity": "2",
            "HealthCheckType": "EC2",
            "VPCZoneIdentifier": ["subnet-1"],
            "InstanceMaintenancePolicy": {"MinHealthyPercentage": 90, "MaxHealthyPercentage": 100},
            "TargetGroupARNs": [{"Ref": "TargetGroup"}],
            "LaunchTemplate": {"LaunchTemplateId": {"Ref": "LaunchTemplate"}, "Version": "1"},
        },
    )
    resource(
        "Cache",
        "AWS::ElastiCache::ReplicationGroup",
        {
            "ReplicationGroupDescription": "sessions",
            "CacheNodeType": "cache.t4g.micro",
            "Engine": "valkey",
            "TransitEncryptionEnabled": False,
            "AutomaticFailoverEnabled": False,
            "SecurityGroupIds": [{"Fn::GetAtt": ["CacheSecurityGroup", "GroupId"]}],
        },
    )
    resource(
        "Items",
        "AWS::DynamoDB::Table",
        {
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
            "BillingMode": "PAY_PER_REQUEST",
        },
    )
    resource("Files", "AWS::S3::Bucket", {})
    return stack
