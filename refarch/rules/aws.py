"""The catalogue's rules over a synthesized CloudFormation template (any template, not only ours).

Resources are named by logical id; properties by their CloudFormation path. Intrinsics are followed only
as far as a reference to another resource in the same template.
"""

from __future__ import annotations

import base64
import contextlib
import json
from collections.abc import Iterator, Mapping
from typing import Any

from refarch.rules import boot_script
from refarch.rules.results import Checker, Context
from refarch.rules.service_facts import DEFAULT_SHUTDOWN_GRACE_SECONDS, MEMORY_SESSION_BACKEND

Template = Mapping[str, Any]
ASG = "AWS::AutoScaling::AutoScalingGroup"
TARGET_GROUP = "AWS::ElasticLoadBalancingV2::TargetGroup"
LISTENER = "AWS::ElasticLoadBalancingV2::Listener"
LISTENER_RULE = "AWS::ElasticLoadBalancingV2::ListenerRule"
REPLICATION_GROUP = "AWS::ElastiCache::ReplicationGroup"
# Defaults when a target group leaves the attribute out: deregistration_delay.timeout_seconds 300 and
# stickiness.enabled false (Elastic Load Balancing API Reference, TargetGroupAttribute:
# https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_TargetGroupAttribute.html).
DEFAULT_DEREGISTRATION_DELAY = 300


def of_type(template: Template, type_: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for logical_id, resource in template.get("Resources", {}).items():
        if resource.get("Type") == type_:
            yield logical_id, resource.get("Properties", {})


def resource(template: Template, logical_id: str) -> Mapping[str, Any]:
    return template.get("Resources", {}).get(logical_id, {})


def referenced(value: Any) -> str | None:
    """The logical id `{"Ref": id}` or `{"Fn::GetAtt": [id, attr]}` points at."""
    if isinstance(value, Mapping):
        if "Ref" in value:
            return value["Ref"]
        if "Fn::GetAtt" in value:
            target = value["Fn::GetAtt"]
            return target[0] if isinstance(target, list) else str(target).split(".")[0]
    return None


def text(value: Any) -> str:
    """A string property, its intrinsics written out as JSON (Fn::Join flattened, Fn::Base64 unwrapped)."""
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        if "Fn::Base64" in value:
            return text(value["Fn::Base64"])
        if "Fn::Join" in value:
            separator, parts = value["Fn::Join"]
            return separator.join(text(part) for part in parts)
    return json.dumps(value, sort_keys=True)


def attributes(props: Mapping[str, Any], key: str) -> dict[str, Any]:
    return {item.get("Key"): item.get("Value") for item in props.get(key, []) or []}


def fleets(template: Template) -> list[tuple[str, Mapping[str, Any]]]:
    return list(of_type(template, ASG))


def launch_data(template: Template, group: Mapping[str, Any]) -> tuple[str | None, Mapping[str, Any]]:
    """The launch template an Auto Scaling group launches from, and its LaunchTemplateData."""
    spec = group.get("LaunchTemplate") or (group.get("MixedInstancesPolicy") or {}).get(
        "LaunchTemplate", {}
    ).get("LaunchTemplateSpecification", {})
    logical_id = referenced((spec or {}).get("LaunchTemplateId"))
    data = (
        resource(template, logical_id).get("Properties", {}).get("LaunchTemplateData", {})
        if logical_id
        else {}
    )
    return logical_id, data


def user_data(template: Template) -> list[tuple[str, str]]:
    """Each fleet's boot script, with the launch template it comes from."""
    scripts = []
    for _, group in fleets(template):
        logical_id, data = launch_data(template, group)
        raw = data.get("UserData")
        if logical_id and raw is not None:
            script = text(raw)
            if isinstance(raw, str):  # a literal is base64 already
                with contextlib.suppress(ValueError):
                    script = base64.b64decode(raw).decode()
            scripts.append((logical_id, script))
    return scripts


def fleet_target_groups(template: Template) -> list[tuple[str, Mapping[str, Any]]]:
    found = []
    for _, group in fleets(template):
        for arn in group.get("TargetGroupARNs", []) or []:
            if (logical_id := referenced(arn)) and resource(template, logical_id).get("Type") == TARGET_GROUP:
                found.append((logical_id, resource(template, logical_id)["Properties"]))
    return found


def fleet_security_groups(template: Template) -> set[str]:
    groups: set[str] = set()
    for _, group in fleets(template):
        _, data = launch_data(template, group)
        for interface in data.get("NetworkInterfaces", []) or []:
            groups |= {g for g in map(referenced, interface.get("Groups", []) or []) if g}
        groups |= {g for g in map(referenced, data.get("SecurityGroupIds", []) or []) if g}
    return groups


def ingress_rules(template: Template, group: str) -> list[tuple[str, Mapping[str, Any]]]:
    """Every ingress rule of a security group: inline ones and AWS::EC2::SecurityGroupIngress resources."""
    rules = [
        (f"{group}.SecurityGroupIngress[{i}]", rule)
        for i, rule in enumerate(
            resource(template, group).get("Properties", {}).get("SecurityGroupIngress", [])
        )
    ]
    rules += [
        (logical_id, props)
        for logical_id, props in of_type(template, "AWS::EC2::SecurityGroupIngress")
        if referenced(props.get("GroupId")) == group
    ]
    return rules


def admits_port(rule: Mapping[str, Any], port: int) -> bool:
    if str(rule.get("IpProtocol")) in ("-1", "all"):
        return True
    low, high = rule.get("FromPort"), rule.get("ToPort")
    try:
        return int(low) <= port <= int(high)
    except (TypeError, ValueError):
        return False


# --- the rules ------------------------------------------------------------------------------------------


def no_affinity(template: Template, context: Context, check: Checker) -> None:
    for logical_id, props in of_type(template, TARGET_GROUP):
        value = attributes(props, "TargetGroupAttributes").get("stickiness.enabled", "false (default)")
        check.expect(
            logical_id,
            "TargetGroupAttributes.stickiness.enabled",
            value,
            str(value).split()[0] != "true",
            "false",
        )
    for type_ in (LISTENER, LISTENER_RULE):
        for logical_id, props in of_type(template, type_):
            for i, action in enumerate(props.get("DefaultActions", props.get("Actions", [])) or []):
                sticky = ((action.get("ForwardConfig") or {}).get("TargetGroupStickinessConfig") or {}).get(
                    "Enabled"
                )
                if sticky is not None:
                    path = f"Actions[{i}].ForwardConfig.TargetGroupStickinessConfig.Enabled"
                    check.expect(logical_id, path, sticky, sticky is not True and sticky != "true", "false")


def disposable_instances(template: Template, context: Context, check: Checker) -> None:
    for _, group in fleets(template):
        logical_id, data = launch_data(template, group)
        if not logical_id:
            continue
        mappings = [m for m in data.get("BlockDeviceMappings", []) or [] if "Ebs" in m]
        check.expect(
            logical_id,
            "LaunchTemplateData.BlockDeviceMappings (EBS volumes)",
            len(mappings),
            len(mappings) <= 1,
            "the root volume only, no data volumes",
        )
        for mapping in mappings:
            value = mapping["Ebs"].get("DeleteOnTermination")
            check.expect(
                logical_id,
                f"BlockDeviceMappings[{mapping.get('DeviceName')}].Ebs.DeleteOnTermination",
                value,
                value is True or value == "true",
                "true",
            )
    for type_ in ("AWS::EFS::MountTarget", "AWS::EC2::VolumeAttachment"):
        for logical_id, _ in of_type(template, type_):
            check.expect(logical_id, "Type", type_, False, "no file system or volume attached to instances")
    for logical_id, script in user_data(template):
        mounts = boot_script.network_mounts(script)
        check.expect(logical_id, "LaunchTemplateData.UserData (network mounts)", mounts, not mounts, "none")


def no_fixed_identity(template: Template, context: Context, check: Checker) -> None:
    fleet_groups = fleet_security_groups(template)
    for _, group in fleets(template):
        logical_id, data = launch_data(template, group)
        if not logical_id:
            continue
        check.expect(
            logical_id,
            "LaunchTemplateData.KeyName",
            data.get("KeyName"),
            data.get("KeyName") is None,
            "absent",
        )
        for i, interface in enumerate(data.get("NetworkInterfaces", []) or []):
            value = interface.get("AssociatePublicIpAddress")
            check.expect(
                logical_id,
                f"NetworkInterfaces[{i}].AssociatePublicIpAddress",
                value,
                value is not True and value != "true",
                "false or absent",
            )
    for type_ in ("AWS::EC2::EIP", "AWS::EC2::EIPAssociation"):
        for logical_id, props in of_type(template, type_):
            if "InstanceId" in props or "NetworkInterfaceId" in props:
                check.expect(
                    logical_id, "InstanceId", props.get("InstanceId"), False, "no elastic IP on an instance"
                )
    for group in sorted(fleet_groups):
        for rule_id, rule in ingress_rules(template, group):
            check.expect(
                rule_id, "port 22 admitted", admits_port(rule, 22), not admits_port(rule, 22), "false"
            )


def load_balancer_health(template: Template, context: Context, check: Checker) -> None:
    for group_id, group in fleets(template):
        check.expect(
            group_id,
            "HealthCheckType",
            group.get("HealthCheckType", "EC2 (default)"),
            group.get("HealthCheckType") == "ELB",
            "ELB",
        )
        arns = group.get("TargetGroupARNs") or []
        check.expect(group_id, "TargetGroupARNs", len(arns), bool(arns), "at least one target group")
    for logical_id, props in fleet_target_groups(template):
        path = props.get("HealthCheckPath", "/ (default)")
        check.expect(logical_id, "HealthCheckPath", path, path == context.health_path, context.health_path)


def replace_at_full_capacity(template: Template, context: Context, check: Checker) -> None:
    for group_id, group in fleets(template):
        policy = group.get("InstanceMaintenancePolicy") or {}
        value = policy.get("MinHealthyPercentage")
        check.expect(
            group_id, "InstanceMaintenancePolicy.MinHealthyPercentage", value, _at_least(value, 100), ">= 100"
        )
        update = resource(template, group_id).get("UpdatePolicy", {}) or {}
        rolling = update.get("AutoScalingRollingUpdate")
        if rolling is not None:
            value = rolling.get("MinInstancesInService", 0)
            check.expect(
                group_id,
                "UpdatePolicy.AutoScalingRollingUpdate.MinInstancesInService",
                value,
                _at_least(value, max(int(group.get("MinSize", 1)), 1)),
                ">= MinSize and >= 1",
            )
        refresh = (update.get("AutoScalingInstanceRefresh") or {}).get("Preferences")
        if refresh is not None:
            value = refresh.get("MinHealthyPercentage")
            check.expect(
                group_id,
                "UpdatePolicy.AutoScalingInstanceRefresh.Preferences.MinHealthyPercentage",
                value,
                _at_least(value, 100),
                ">= 100",
            )


def drain_before_stop(template: Template, context: Context, check: Checker) -> None:
    scripts = user_data(template)
    for logical_id, script in scripts:
        grace = int(
            boot_script.variables(script).get("SHUTDOWN_GRACE_SECONDS", DEFAULT_SHUTDOWN_GRACE_SECONDS)
        )
        drains = []
        for tg_id, props in fleet_target_groups(template):
            delay = int(
                attributes(props, "TargetGroupAttributes").get(
                    "deregistration_delay.timeout_seconds", DEFAULT_DEREGISTRATION_DELAY
                )
            )
            drains.append(delay)
            check.expect(
                tg_id,
                "deregistration_delay.timeout_seconds",
                delay,
                delay >= grace,
                f">= SHUTDOWN_GRACE_SECONDS ({grace})",
            )
        stop = boot_script.stop_timeout(script)
        longest = max([grace, *drains])
        check.expect(
            logical_id,
            "UserData TimeoutStopSec",
            stop,
            stop is not None and stop > grace and stop >= longest,
            f"> SHUTDOWN_GRACE_SECONDS ({grace}) and >= draining ({longest})",
        )


def external_sessions(template: Template, context: Context, check: Checker) -> None:
    caches = {logical_id for logical_id, _ in of_type(template, REPLICATION_GROUP)}
    caches |= {logical_id for logical_id, _ in of_type(template, "AWS::ElastiCache::ServerlessCache")}
    for logical_id, script in user_data(template):
        env = boot_script.variables(script)
        backend = env.get("SESSION_BACKEND", "redis (default)")
        check.expect(
            logical_id, "UserData SESSION_BACKEND", backend, backend != MEMORY_SESSION_BACKEND, "not memory"
        )
        host = env.get("CACHE_HOST")
        points_at_cache = host is not None and any(cache in host for cache in caches)
        check.expect(
            logical_id,
            "UserData CACHE_HOST",
            host,
            points_at_cache,
            f"a reference to the cache ({', '.join(sorted(caches)) or 'none in the template'})",
        )
        ttl = env.get("SESSION_TTL_SECONDS")
        check.expect(
            logical_id,
            "UserData SESSION_TTL_SECONDS",
            ttl,
            ttl is not None and ttl.isdigit() and int(ttl) > 0,
            "a positive number of seconds",
        )


def durable_state_stores(template: Template, context: Context, check: Checker) -> None:
    for logical_id, props in of_type(template, "AWS::DynamoDB::Table"):
        pitr = (props.get("PointInTimeRecoverySpecification") or {}).get("PointInTimeRecoveryEnabled")
        check.expect(
            logical_id,
            "PointInTimeRecoverySpecification.PointInTimeRecoveryEnabled",
            pitr,
            pitr is True or pitr == "true",
            "true",
        )
        if context.production:
            value = props.get("DeletionProtectionEnabled")
            check.expect(
                logical_id,
                "DeletionProtectionEnabled",
                value,
                value is True or value == "true",
                "true in production",
            )
    log_sinks = _log_buckets(template)
    for logical_id, props in of_type(template, "AWS::S3::Bucket"):
        if logical_id in log_sinks:
            continue  # a log sink keeps logs, not the service's state
        status = (props.get("VersioningConfiguration") or {}).get("Status")
        check.expect(logical_id, "VersioningConfiguration.Status", status, status == "Enabled", "Enabled")
    if context.production:
        for logical_id, props in of_type(template, REPLICATION_GROUP):
            failover = props.get("AutomaticFailoverEnabled")
            check.expect(
                logical_id,
                "AutomaticFailoverEnabled",
                failover,
                failover is True or failover == "true",
                "true in production",
            )
            multi_az = props.get("MultiAZEnabled")
            check.expect(
                logical_id,
                "MultiAZEnabled",
                multi_az,
                multi_az is True or multi_az == "true",
                "true in production",
            )
            replicas = props.get(
                "ReplicasPerNodeGroup",
                props.get("NumCacheClusters", 1) - 1 if isinstance(props.get("NumCacheClusters"), int) else 0,
            )
            check.expect(
                logical_id, "ReplicasPerNodeGroup", replicas, _at_least(replicas, 1), ">= 1 in production"
            )


def zone_spread(template: Template, context: Context, check: Checker) -> None:
    for group_id, group in fleets(template):
        subnets = group.get("VPCZoneIdentifier") or []
        zones = group.get("AvailabilityZones") or []
        # With both set, instances launch only where the two agree: the smaller list bounds the spread.
        spread = min(len(subnets), len(zones)) if subnets and zones else len(subnets or zones)
        check.expect(
            group_id, "VPCZoneIdentifier / AvailabilityZones", spread, spread >= 2, "at least two zones"
        )
        if context.production:
            minimum = group.get("MinSize")
            check.expect(
                group_id,
                "MinSize",
                minimum,
                _at_least(minimum, spread),
                f">= the number of zones ({spread}) in production",
            )


# EC2 resolves a launch template's `resolve:ssm:` image at every launch, not once per deployment ("The
# Systems Manager parameter will resolve to the ID of the AMI at instance launch": EC2 API reference,
# ResponseLaunchTemplateData.ImageId; CDK's ResolveSsmParameterAtLaunchImage writes that form).
LAUNCH_TIME_IMAGE = "resolve:ssm:"
IMAGE_PARAMETER = "AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>"


def identical_instances(template: Template, context: Context, check: Checker) -> None:
    parameters = template.get("Parameters", {})
    for _, group in fleets(template):
        logical_id, data = launch_data(template, group)
        if not logical_id:
            continue
        image = data.get("ImageId")
        parameter = referenced(image) if isinstance(image, Mapping) else None
        if parameter is not None:
            kind = parameters.get(parameter, {}).get("Type")
            ok = kind == IMAGE_PARAMETER or parameter not in parameters
            check.expect(
                logical_id,
                "LaunchTemplateData.ImageId",
                {"Ref": parameter, "Type": kind},
                ok,
                "resolved once per deployment",
            )
        else:
            ok = isinstance(image, str) and not image.startswith(LAUNCH_TIME_IMAGE)
            check.expect(
                logical_id,
                "LaunchTemplateData.ImageId",
                image,
                ok,
                "an AMI id (not resolve:ssm:, which resolves at each launch)",
            )


def scaling_owns_count(template: Template, context: Context, check: Checker) -> None:
    policies = [props for _, props in of_type(template, "AWS::AutoScaling::ScalingPolicy")]
    for group_id, group in fleets(template):
        desired = group.get("DesiredCapacity")
        check.expect(group_id, "DesiredCapacity", desired, desired is None, "absent (autoscaling sets it)")
        scaled = [p for p in policies if referenced(p.get("AutoScalingGroupName")) == group_id]
        check.expect(
            group_id,
            "AWS::AutoScaling::ScalingPolicy on the group",
            len(scaled),
            bool(scaled),
            "at least one",
        )


def fleet_only_cache(template: Template, context: Context, check: Checker) -> None:
    fleet_groups = fleet_security_groups(template)
    for logical_id, props in of_type(template, REPLICATION_GROUP):
        tls = props.get("TransitEncryptionEnabled")
        check.expect(logical_id, "TransitEncryptionEnabled", tls, tls is True or tls == "true", "true")
        mode = props.get("TransitEncryptionMode", "required (default)")
        check.expect(logical_id, "TransitEncryptionMode", mode, str(mode).startswith("required"), "required")
        for group in filter(None, map(referenced, props.get("SecurityGroupIds", []) or [])):
            for rule_id, rule in ingress_rules(template, group):
                source = (
                    referenced(rule.get("SourceSecurityGroupId"))
                    or rule.get("CidrIp")
                    or rule.get("CidrIpv6")
                )
                check.expect(
                    rule_id,
                    "source",
                    source,
                    source in fleet_groups,
                    f"the fleet's security group ({', '.join(sorted(fleet_groups))})",
                )
    for logical_id, script in user_data(template):
        value = boot_script.variables(script).get("CACHE_TLS", "true (default)")
        check.expect(logical_id, "UserData CACHE_TLS", value, value.split()[0] == "true", "true")


def _at_least(value: Any, bound: Any) -> bool:
    try:
        return int(value) >= int(bound)
    except (TypeError, ValueError):
        return False


def _log_buckets(template: Template) -> set[str]:
    sinks = {
        referenced((props.get("LoggingConfiguration") or {}).get("DestinationBucketName"))
        for _, props in of_type(template, "AWS::S3::Bucket")
    }
    for _, props in of_type(template, "AWS::ElasticLoadBalancingV2::LoadBalancer"):
        sinks.add(referenced(attributes(props, "LoadBalancerAttributes").get("access_logs.s3.bucket")))
    return {sink for sink in sinks if sink}


EVALUATIONS = {
    "Stateless-NoAffinity": (no_affinity, "target groups or listeners"),
    "Stateless-DisposableInstances": (disposable_instances, "Auto Scaling groups with a launch template"),
    "Stateless-NoFixedIdentity": (no_fixed_identity, "Auto Scaling groups with a launch template"),
    "Stateless-LoadBalancerHealth": (load_balancer_health, "Auto Scaling groups"),
    "Stateless-ReplaceAtFullCapacity": (replace_at_full_capacity, "Auto Scaling groups"),
    "Stateless-DrainBeforeStop": (drain_before_stop, "Auto Scaling groups with user data"),
    "Stateless-ExternalSessions": (external_sessions, "Auto Scaling groups with user data"),
    "Stateless-DurableStateStores": (
        durable_state_stores,
        "DynamoDB tables, S3 buckets or cache replication groups",
    ),
    "Stateless-ZoneSpread": (zone_spread, "Auto Scaling groups"),
    "Stateless-IdenticalInstances": (identical_instances, "Auto Scaling groups with a launch template"),
    "Stateless-ScalingOwnsCount": (scaling_owns_count, "Auto Scaling groups"),
    "Stateless-FleetOnlyCache": (fleet_only_cache, "ElastiCache replication groups or fleet user data"),
}
