"""What every environment's stack guarantees, tier by tier."""

from __future__ import annotations

import itertools
import json

from aws_cdk.assertions import Match, Template
from cfn_queries import ingress_sources, of_type, only, ref_id

from refarch.spec import load_environment
from sample_service.dynamodb_layout import TTL_ATTRIBUTE
from sample_service.paths import HEALTH_PATH
from stacks.api_gateway import INVOKE_SCOPE, RESOURCE_SERVER
from stacks.load_balancer import listener_port
from stacks.session_cache import CACHE_PORT


def test_network_spans_the_spec_zones_with_flow_logs_and_gateway_endpoints(resources, environment):
    spec = load_environment(environment)
    subnets = of_type(resources, "AWS::EC2::Subnet")
    # edge, app and data subnets in each zone
    assert len(subnets) == 3 * spec.zones
    assert len(of_type(resources, "AWS::EC2::NatGateway")) == spec.aws.nat_gateways
    assert only(resources, "AWS::EC2::FlowLog")["TrafficType"] == "ALL"
    endpoints = of_type(resources, "AWS::EC2::VPCEndpoint").values()
    services = {json.dumps(body["Properties"]["ServiceName"]) for body in endpoints}
    assert any("s3" in name for name in services) and any("dynamodb" in name for name in services)
    assert all(body["Properties"]["VpcEndpointType"] == "Gateway" for body in endpoints)
    # Control Tower CT.EC2.PR.11: no subnet hands out public IPs (the NAT gateways have Elastic IPs).
    assert all(not body["Properties"].get("MapPublicIpOnLaunch", False) for body in subnets.values())


def test_instances_have_no_ssh_no_public_ip_imdsv2_and_encrypted_ephemeral_disks(resources):
    data = only(resources, "AWS::EC2::LaunchTemplate")["LaunchTemplateData"]
    assert "KeyName" not in data
    assert data["MetadataOptions"]["HttpTokens"] == "required"
    assert data["NetworkInterfaces"][0]["AssociatePublicIpAddress"] is False
    (disk,) = data["BlockDeviceMappings"]
    assert disk["Ebs"]["Encrypted"] is True and disk["Ebs"]["DeleteOnTermination"] is True
    assert "ssm" in json.dumps(data["ImageId"]).lower()


def test_fleet_follows_the_spec_and_replaces_without_losing_capacity(template: Template, environment):
    spec = load_environment(environment)
    template.has_resource(
        "AWS::AutoScaling::AutoScalingGroup",
        {
            "Properties": Match.object_like(
                {
                    "MinSize": str(spec.capacity.min),
                    "MaxSize": str(spec.capacity.max),
                    "HealthCheckType": "ELB",
                    "HealthCheckGracePeriod": spec.capacity.health_check_grace_seconds,
                    "InstanceMaintenancePolicy": {"MinHealthyPercentage": 100, "MaxHealthyPercentage": 200},
                }
            ),
            "UpdatePolicy": Match.object_like(
                {
                    "AutoScalingInstanceRefresh": {
                        "Strategy": "Rolling",
                        "Preferences": Match.object_like({"MinHealthyPercentage": 100}),
                    }
                }
            ),
        },
    )
    # A desired count in the template would reset a scaled-out fleet on every deployment.
    group = only(template.to_json()["Resources"], "AWS::AutoScaling::AutoScalingGroup")
    assert "DesiredCapacity" not in group
    template.has_resource_properties(
        "AWS::AutoScaling::ScalingPolicy",
        {
            "PolicyType": "TargetTrackingScaling",
            "TargetTrackingConfiguration": Match.object_like(
                {"TargetValue": spec.capacity.cpu_target_percent}
            ),
        },
    )


def test_fleet_spreads_over_one_private_subnet_per_zone(resources, environment):
    spec = load_environment(environment)
    group = only(resources, "AWS::AutoScaling::AutoScalingGroup")
    subnet_ids = [ref_id(subnet) for subnet in group["VPCZoneIdentifier"]]
    assert len(subnet_ids) == spec.zones
    assert all("app" in subnet for subnet in subnet_ids)


def test_load_balancer_is_internal_without_affinity_and_checks_shallow_health(resources, environment):
    spec = load_environment(environment)
    alb = only(resources, "AWS::ElasticLoadBalancingV2::LoadBalancer")
    assert alb["Scheme"] == "internal"
    attributes = {item["Key"]: item["Value"] for item in alb["LoadBalancerAttributes"]}
    assert attributes["access_logs.s3.enabled"] == "true"
    assert attributes["routing.http.drop_invalid_header_fields.enabled"] == "true"
    group = only(resources, "AWS::ElasticLoadBalancingV2::TargetGroup")
    assert group["HealthCheckPath"] == HEALTH_PATH
    target_attributes = {item["Key"]: item["Value"] for item in group["TargetGroupAttributes"]}
    assert target_attributes["stickiness.enabled"] == "false"
    # Draining lasts exactly as long as the service's own graceful shutdown.
    assert target_attributes["deregistration_delay.timeout_seconds"] == str(
        spec.service.shutdown_grace_seconds
    )


def test_security_groups_chain_gateway_to_load_balancer_to_fleet_to_cache(resources, environment):
    spec = load_environment(environment)
    groups = {name for name in of_type(resources, "AWS::EC2::SecurityGroup")}
    (link,) = [name for name in groups if name.startswith("ApiVpcLink")]
    (alb,) = [name for name in groups if name.startswith("LoadBalancer")]
    (fleet,) = [name for name in groups if name.startswith("Fleet")]
    (cache,) = [name for name in groups if name.startswith("SessionCache")]
    assert ingress_sources(resources, link) == set()
    assert ingress_sources(resources, alb) == {(link, listener_port(spec))}
    assert ingress_sources(resources, fleet) == {(alb, spec.service.port)}
    assert ingress_sources(resources, cache) == {(fleet, CACHE_PORT)}


def test_cache_requires_tls_auth_and_fails_over_where_the_spec_has_replicas(resources, environment):
    spec = load_environment(environment)
    group = only(resources, "AWS::ElastiCache::ReplicationGroup")
    assert group["TransitEncryptionEnabled"] is True and group["TransitEncryptionMode"] == "required"
    assert group["AtRestEncryptionEnabled"] is True
    assert "resolve:secretsmanager" in json.dumps(group["AuthToken"])
    assert (
        group["Engine"] == spec.aws.cache_engine and group["EngineVersion"] == spec.aws.cache_engine_version
    )
    assert group["ReplicasPerNodeGroup"] == spec.cache.replicas
    failover = spec.cache.replicas > 0
    assert group["AutomaticFailoverEnabled"] is failover and group["MultiAZEnabled"] is failover
    subnet_group = only(resources, "AWS::ElastiCache::SubnetGroup")
    subnets = [ref_id(subnet) for subnet in subnet_group["SubnetIds"]]
    # One data subnet per zone, and nothing else (an empty list must not pass).
    assert len(subnets) == spec.zones and all("data" in subnet for subnet in subnets)


def test_item_store_is_on_demand_encrypted_with_ttl_and_recovery(resources, environment):
    spec = load_environment(environment)
    table = only(resources, "AWS::DynamoDB::Table")
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["SSESpecification"]["SSEEnabled"] is True
    assert table["TimeToLiveSpecification"] == {"AttributeName": TTL_ATTRIBUTE, "Enabled": True}
    assert table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert table.get("DeletionProtectionEnabled", False) is spec.store.deletion_protection


def test_buckets_are_private_encrypted_and_tls_only(resources):
    buckets = of_type(resources, "AWS::S3::Bucket")
    assert len(buckets) == 2
    for body in buckets.values():
        props = body["Properties"]
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }
        assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        assert body["DeletionPolicy"] == "Retain"
    policies = json.dumps(of_type(resources, "AWS::S3::BucketPolicy"))
    assert policies.count('"aws:SecureTransport": "false"') == 2
    files = [body["Properties"] for name, body in buckets.items() if name.startswith("ObjectStorageFiles")]
    assert files[0]["VersioningConfiguration"] == {"Status": "Enabled"}
    assert "LoggingConfiguration" in files[0]


def test_api_is_the_authenticated_throttled_logged_and_firewalled_entry(resources, environment):
    spec = load_environment(environment)
    methods = of_type(resources, "AWS::ApiGateway::Method").values()
    assert len(methods) == 2
    for body in methods:
        props = body["Properties"]
        assert props["AuthorizationType"] == "COGNITO_USER_POOLS"
        assert props["AuthorizationScopes"] == [f"{RESOURCE_SERVER}/{INVOKE_SCOPE}"]
        integration = props["Integration"]
        assert integration["ConnectionType"] == "VPC_LINK" and integration["Type"] == "HTTP_PROXY"
        assert ref_id(integration["IntegrationTarget"]).startswith("LoadBalancerAlb")
    stage = only(resources, "AWS::ApiGateway::Stage")
    (settings,) = stage["MethodSettings"]
    assert settings["ThrottlingRateLimit"] == spec.api.throttle_rate_per_second
    assert settings["ThrottlingBurstLimit"] == spec.api.throttle_burst
    assert "AccessLogSetting" in stage
    association = only(resources, "AWS::WAFv2::WebACLAssociation")
    assert ref_id(association["WebACLArn"]).startswith("ApiFirewall")
    acl = only(resources, "AWS::WAFv2::WebACL")
    (rate,) = [rule for rule in acl["Rules"] if "RateBasedStatement" in rule["Statement"]]
    assert rate["Statement"]["RateBasedStatement"]["Limit"] == spec.api.waf_requests_per_ip_per_5_minutes
    pool = only(resources, "AWS::Cognito::UserPool")
    assert pool["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True


def test_instance_role_reaches_only_this_table_bucket_secret_bundle_and_log_group(resources):
    policies = [
        body["Properties"]["PolicyDocument"]["Statement"]
        for name, body in of_type(resources, "AWS::IAM::Policy").items()
        if name.startswith("FleetInstanceRole")
    ]
    (statements,) = policies
    for statement in statements:
        for resource in (
            statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        ):
            text = json.dumps(resource)
            if "cdk-" in text:  # the asset bucket: its one bundle object, read only (not grant_read's /*)
                assert statement["Action"] == "s3:GetObject" and ".zip" in text, (
                    f"instance role reaches {text}"
                )
            assert resource != "*" and any(
                owner in text
                for owner in (
                    "ItemStore",
                    "ObjectStorageFiles",
                    "SessionCacheAuthToken",
                    "cdk-",
                    "FleetServiceLogs",
                    "DataKey",
                )
            ), f"instance role reaches {text}"


def test_the_service_logs_leave_every_instance_for_a_retained_log_group(resources, environment):
    spec = load_environment(environment)
    groups = of_type(resources, "AWS::Logs::LogGroup")
    (name,) = [group for group in groups if group.startswith("FleetServiceLogs")]
    assert resources[name]["Properties"]["RetentionInDays"] == spec.retention.log_days
    policies = of_type(resources, "AWS::IAM::Policy")
    (policy,) = [body for key, body in policies.items() if key.startswith("FleetInstanceRole")]
    writes = [
        statement
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if name in json.dumps(statement["Resource"])
    ]
    assert writes and {action for s in writes for action in _list(s["Action"])} == {
        "logs:CreateLogStream",
        "logs:PutLogEvents",
    }
    user_data = only(resources, "AWS::EC2::LaunchTemplate")["LaunchTemplateData"]["UserData"]
    parts = user_data["Fn::Base64"]["Fn::Join"][1]
    # The CloudWatch agent's config names exactly this group.
    assert any(
        isinstance(part, str) and part.endswith('"log_group_name": "') and following == {"Ref": name}
        for part, following in itertools.pairwise(parts)
    )


def _list(value):
    return value if isinstance(value, list) else [value]


def test_alarms_cover_errors_health_latency_cache_and_store_and_notify_the_topic(resources, environment):
    spec = load_environment(environment)
    alarms = of_type(resources, "AWS::CloudWatch::Alarm")
    names = " ".join(alarms)
    for expected in (
        "Errors5xx",
        "UnhealthyHosts",
        "LatencyP99",
        "CacheCpu",
        "CacheMemory",
        "StoreThrottles",
    ):
        assert expected in names
    assert sum("CacheCpu" in name for name in alarms) == spec.cache.replicas + 1
    for body in alarms.values():
        assert [ref_id(action) for action in body["Properties"]["AlarmActions"]] == [
            next(iter(of_type(resources, "AWS::SNS::Topic")))
        ]
    latency = next(body for name, body in alarms.items() if "LatencyP99" in name)
    assert latency["Properties"]["Threshold"] == spec.alarms.p99_latency_ms / 1000
    assert only(resources, "AWS::SNS::Topic")["KmsMasterKeyId"]


def test_outputs_name_everything_an_operator_needs(synthesized, environment):
    outputs = synthesized.templates[environment]["Outputs"]
    for name in ("ApiUrl", "AutoScalingGroupName", "TargetGroupArn", "CacheEndpoint", "ItemsTableName"):
        assert name in outputs


def test_fleet_launches_the_spec_instance_types_in_order_across_explicit_zones(resources, environment):
    spec = load_environment(environment)
    group = only(resources, "AWS::AutoScaling::AutoScalingGroup")
    policy = group["MixedInstancesPolicy"]
    types = [override["InstanceType"] for override in policy["LaunchTemplate"]["Overrides"]]
    assert types == [spec.aws.instance_type, *spec.aws.more_instance_types]
    # On demand only, in the spec's order of preference.
    assert policy["InstancesDistribution"] == {
        "OnDemandAllocationStrategy": "prioritized",
        "OnDemandPercentageAboveBaseCapacity": 100,
    }
    assert len(group["AvailabilityZones"]) == len(group["VPCZoneIdentifier"]) == spec.zones
