"""StackFacts of one AWS environment, read from its synthesized CloudFormation template.

Everything comes from the template except what CloudFormation does not carry, each read from the spec
and said so where it is: the desired capacity (the stack leaves DesiredCapacity unset so a deploy never
resets what scaling chose; the spec's `capacity.desired` is what the group starts with).
"""

from __future__ import annotations

import math
import re
from dataclasses import replace
from typing import Any

from refarch.spec import EnvironmentSpec
from stacks.service_stack import ESCALATION_OUTPUT, stack_name
from tools.docs import prices
from tools.docs.aws import graph, state
from tools.docs.aws.costs import cost_lines
from tools.docs.aws.failures import failure_modes
from tools.docs.aws.service import service_environment, service_log_group
from tools.docs.aws.steps import invoke_scope
from tools.docs.aws.template import Template, TemplateError, ref_id
from tools.docs.model import HealthCheck, Output, ResourceFact, StackFacts

ASG = "AWS::AutoScaling::AutoScalingGroup"
TARGET_GROUP = "AWS::ElasticLoadBalancingV2::TargetGroup"
CACHE = "AWS::ElastiCache::ReplicationGroup"
TABLE = "AWS::DynamoDB::Table"
LAUNCH_TEMPLATE = "AWS::EC2::LaunchTemplate"
LOG_GROUP = "AWS::Logs::LogGroup"
ALARM = "AWS::CloudWatch::Alarm"
CANARY = "AWS::Synthetics::Canary"
TOPIC = "AWS::SNS::Topic"
ROLE = "AWS::IAM::Role"
INSTANCE_PROFILE = "AWS::IAM::InstanceProfile"
# The property that names a resource of each type, where the stack may set one.
NAME_PROPERTY = {
    ASG: "AutoScalingGroupName",
    TOPIC: "TopicName",
    LOG_GROUP: "LogGroupName",
    TABLE: "TableName",
    ROLE: "RoleName",
}
# A role's name has at most 64 characters (IAM User Guide, "IAM and AWS STS quotas"); CloudFormation cuts the
# stack name and logical id of a generated one that would not fit, so a pattern of the full
# "<stack>-<logical id>-" would miss it. The random suffix it appends is 12 or 13 characters (observed, not
# documented): a prefix that leaves it less room is refused, the stack must name the role.
ROLE_NAME_LIMIT, GENERATED_SUFFIX = 64, 13


def region_of(template: Template) -> str:
    """The region the stack was synthesized for, as its API URL output spells it."""
    parts = template.outputs.get("ApiUrl", {}).get("Value", {}).get("Fn::Join", [None, []])[1]
    for part in parts:
        if isinstance(part, str) and (match := re.search(r"\.execute-api\.([a-z0-9-]+)\.$", part)):
            return match.group(1)
    raise TemplateError(f"aws {template.environment}: the ApiUrl output names no region")


def output_lookup(stack: str, output: str) -> str:
    return (
        f"aws cloudformation describe-stacks --stack-name {stack} "
        f"--query \"Stacks[0].Outputs[?OutputKey=='{output}'].OutputValue\" --output text"
    )


def outputs(template: Template, stack: str) -> tuple[Output, ...]:
    """The stack's described outputs (CDK's own undescribed ones left out), each with its lookup."""
    return tuple(
        Output(name=name, description=body["Description"], lookup=output_lookup(stack, name))
        for name, body in template.outputs.items()
        if "Description" in body
    )


def per_zone(minimum: int, zones: int) -> str:
    low, extra = divmod(minimum, zones)
    if low == 0:
        others = "others" if zones - minimum > 1 else "other"
        return f"{minimum} instance(s) in {minimum} of {zones} zones, none in the {others}"
    if extra == 0:
        return f"{low} in each of {zones} zones"
    return f"{low + 1} in {extra} zone(s), {low} in the other {zones - extra}"


def facts(environment: str, model: dict[str, Any], spec: EnvironmentSpec) -> StackFacts:
    template = Template(environment, model)
    stack = stack_name(environment)
    region = region_of(template)
    minimum, maximum = int(template.prop(ASG, "MinSize")), int(template.prop(ASG, "MaxSize"))
    subnets = template.prop(ASG, "VPCZoneIdentifier")
    zones = tuple(state.zone_of(template, ref_id(subnet), region) for subnet in subnets)
    refresh = template.attribute(ASG, "UpdatePolicy.AutoScalingInstanceRefresh.Preferences")
    maintenance = template.prop(ASG, "InstanceMaintenancePolicy")
    # The fewest in service and the extra instances a replacement may add, at the group's minimum size.
    minimum_healthy = math.ceil(minimum * refresh["MinHealthyPercentage"] / 100)
    surge = math.floor(minimum * refresh["MaxHealthyPercentage"] / 100) - minimum
    attributes = {a["Key"]: a["Value"] for a in template.prop(TARGET_GROUP, "TargetGroupAttributes")}
    cache_replicas = int(template.prop(CACHE, "ReplicasPerNodeGroup"))
    pitr = template.prop(TABLE, "PointInTimeRecoverySpecification.PointInTimeRecoveryEnabled")
    extra = (
        ("instance refresh", _refresh_text(refresh)),
        (
            "instance maintenance policy",
            f"min healthy {maintenance['MinHealthyPercentage']} %, "
            f"max healthy {maintenance['MaxHealthyPercentage']} %",
        ),
        (
            "desired capacity (spec `capacity.desired`; the template leaves it to scaling)",
            str(spec.capacity.desired),
        ),
    )
    stack_facts = StackFacts(
        cloud="aws",
        environment=environment,
        stack=stack,
        region=region,
        zones=zones,
        min_size=minimum,
        desired=spec.capacity.desired,
        max_size=maximum,
        per_zone=per_zone(minimum, len(zones)),
        surge=surge,
        minimum_healthy=minimum_healthy,
        health_check=HealthCheck(
            path=template.prop(TARGET_GROUP, "HealthCheckPath"),
            interval_seconds=int(template.prop(TARGET_GROUP, "HealthCheckIntervalSeconds")),
            timeout_seconds=int(template.prop(TARGET_GROUP, "HealthCheckTimeoutSeconds")),
            healthy_threshold=int(template.prop(TARGET_GROUP, "HealthyThresholdCount")),
            unhealthy_threshold=int(template.prop(TARGET_GROUP, "UnhealthyThresholdCount")),
        ),
        draining_seconds=int(attributes["deregistration_delay.timeout_seconds"]),
        grace_seconds=int(template.prop(ASG, "HealthCheckGracePeriod")),
        # The boot budget is the grace: launch to in service (stacks/boot.py, refarch/boot_budget.py).
        boot_budget_seconds=int(template.prop(ASG, "HealthCheckGracePeriod")),
        warmup_seconds=int(template.prop(ASG, "DefaultInstanceWarmup")),
        cache_replicas=cache_replicas,
        cache_failover=bool(template.prop(CACHE, "AutomaticFailoverEnabled")),
        store_pitr=bool(pitr),
        store_backup=state.store_backup(template),
        log_retention_days=int(
            template.resources[service_log_group(template)]["Properties"]["RetentionInDays"]
        ),
        outputs=outputs(template, stack),
        resources=tuple(
            ResourceFact(type=body["Type"], name=name, properties=body.get("Properties", {}))
            for name, body in template.resources.items()
        ),
        graph=graph.build(template),
        state_places=state.places(template),
        extra=extra,
        escalation=template.outputs.get(ESCALATION_OUTPUT, {}).get("Value"),
        details=details(template, refresh),
    )
    return replace(
        stack_facts,
        failure_modes=failure_modes(stack_facts),
        cost_lines=cost_lines(template, prices.load(), minimum, region),
    )


def details(template: Template, refresh: dict[str, Any]) -> dict[str, Any]:
    """What the runbooks read besides the figures: logical ids to look up and the rollout preferences."""
    _, table = template.only(TABLE)
    asg_subnets = template.prop(ASG, "VPCZoneIdentifier")
    tags = {
        tag["Key"]: tag["Value"] for tag in template.resources[ref_id(asg_subnets[0])]["Properties"]["Tags"]
    }
    return {
        "refresh": refresh,
        "rollout_alarms": [ref_id(alarm) for alarm in refresh["AlarmSpecification"]["Alarms"]],
        "launch_template": template.only(LAUNCH_TEMPLATE)[0],
        "mixed_instances": mixed_instances(template),
        "cache_group": template.only(CACHE)[0],
        "table": template.only(TABLE)[0],
        "partition_key": next(key["AttributeName"] for key in table["KeySchema"] if key["KeyType"] == "HASH"),
        "ttl_attribute": table.get("TimeToLiveSpecification", {}).get("AttributeName"),
        "deletion_protection": bool(table.get("DeletionProtectionEnabled")),
        "data_key": table_key(template, table),
        "table_tags": tuple((tag["Key"], tag["Value"]) for tag in table.get("Tags", ())),
        "app_subnet_name": tags["aws-cdk:subnet-name"],
        "scope": invoke_scope(template),
        "service": service_environment(template),
        "cache_engine": f"{template.prop(CACHE, 'Engine')} {template.prop(CACHE, 'EngineVersion')}",
        "alarm_count": stack_alarms(template),
        "alarm_limits": alarm_limits(template),
        "canary_schedule_seconds": schedule_seconds(template.prop(CANARY, "Schedule.Expression")),
        # What replacing one instance relies on, checked on the live group before it starts.
        "maintenance": template.prop(ASG, "InstanceMaintenancePolicy"),
        "health_check_type": template.prop(ASG, "HealthCheckType"),
        "service_log_group": service_log_group(template),
        # Names (or name patterns) an operator's policy scopes its calls to.
        "names": {
            "group": physical_name(template, template.only(ASG)[0]),
            "topic": physical_name(template, template.only(TOPIC)[0]),
            "service_log_group": physical_name(template, service_log_group(template)),
            "table": physical_name(template, template.only(TABLE)[0]),
            "instance_role": physical_name(template, instance_role(template)),
        },
        # The resource types the launch template tags at launch (its TagSpecifications).
        "launch_tags": tuple(
            spec["ResourceType"]
            for spec in template.prop(LAUNCH_TEMPLATE, "LaunchTemplateData").get("TagSpecifications", ())
        ),
        "topic_key": topic_key(template),
        # Where a launch from the fleet's template goes: the group's subnets, the template's security groups.
        "app_subnets": app_subnets(template),
        "fleet_security_groups": launch_security_groups(template),
    }


def app_subnets(template: Template) -> tuple[str, ...]:
    """The logical ids of the group's subnets (VPCZoneIdentifier); one the stack does not own is refused."""
    subnets = template.prop(ASG, "VPCZoneIdentifier")
    ids = tuple(ref_id(subnet) for subnet in subnets)
    if None in ids or any(template.type_of(subnet) != "AWS::EC2::Subnet" for subnet in ids):
        raise TemplateError(
            f"aws {template.environment}: the group's subnets {subnets!r} are not all the stack's own"
        )
    return ids


def launch_security_groups(template: Template) -> tuple[str, ...]:
    """The logical ids of the security groups the launch template gives an instance (SecurityGroupIds, or
    its network interfaces' Groups); one the stack does not own (no Ref or GetAtt) is refused: only a stack
    resource's physical id can be looked up."""
    data = template.prop(LAUNCH_TEMPLATE, "LaunchTemplateData")
    groups = [
        *data.get("SecurityGroupIds", ()),
        *(group for interface in data.get("NetworkInterfaces", ()) for group in interface.get("Groups", ())),
    ]
    ids = tuple(dict.fromkeys(ref_id(group) for group in groups))
    if not ids or None in ids:
        raise TemplateError(
            f"aws {template.environment}: the launch template's security groups {groups!r} are not all "
            "the stack's own"
        )
    return ids


def instance_role(template: Template) -> str:
    """The role the launch template's instance profile carries: what launching from the template passes."""
    profile = ref_id(template.prop(LAUNCH_TEMPLATE, "LaunchTemplateData.IamInstanceProfile.Arn"))
    if template.type_of(profile) != INSTANCE_PROFILE:
        raise TemplateError(f"aws {template.environment}: {profile} is no {INSTANCE_PROFILE}")
    (role,) = template.resources[profile]["Properties"]["Roles"]
    return ref_id(role)


def physical_name(template: Template, logical_id: str) -> str:
    """A resource's name: the one the template gives it, else the pattern of the one CloudFormation generates,
    "<stack name>-<logical id>-<random suffix>" (as stack_alarms relies on), e.g. for the alarm topic,
    the service's log group and the group's own instances' aws:autoscaling:groupName tag."""
    body = template.resources[logical_id]
    name = body.get("Properties", {}).get(NAME_PROPERTY[body["Type"]])
    if name is None:
        prefix = f"{stack_name(template.environment)}-{logical_id}-"
        if body["Type"] == ROLE and len(prefix) + GENERATED_SUFFIX > ROLE_NAME_LIMIT:
            raise TemplateError(
                f"aws {template.environment}: {logical_id}'s generated name may be shortened past "
                f"{prefix}*; give it a RoleName"
            )
        return prefix + "*"
    if not isinstance(name, str):
        raise TemplateError(f"aws {template.environment}: {logical_id}'s name is no literal: {name!r}")
    return name


def topic_key(template: Template) -> str | None:
    """The logical id of the stack's own KMS key the alarm topic is encrypted with; None without one."""
    key = (
        ref_id(template.prop(TOPIC, "KmsMasterKeyId"))
        if "KmsMasterKeyId" in template.only(TOPIC)[1]
        else None
    )
    if key is not None and template.type_of(key) != "AWS::KMS::Key":
        raise TemplateError(f"aws {template.environment}: the alarm topic's key {key} is no AWS::KMS::Key")
    return key


def mixed_instances(template: Template) -> dict[str, Any] | None:
    """The group's instance-type overrides and instances distribution (None for a single-type group): what
    a refresh's desired configuration must repeat, or the group would adopt a single-type configuration."""
    _, group = template.only(ASG)
    policy = group.get("MixedInstancesPolicy")
    if policy is None:
        return None
    return {
        "Overrides": policy["LaunchTemplate"].get("Overrides", []),
        "InstancesDistribution": policy.get("InstancesDistribution", {}),
    }


def table_key(template: Template, table: dict[str, Any]) -> str | None:
    """The logical id of the stack's own KMS key the table is encrypted with; None for DynamoDB's keys."""
    sse = table.get("SSESpecification", {})
    key = ref_id(sse.get("KMSMasterKeyId"))
    if sse.get("SSEType") != "KMS" or key is None:
        return None
    if template.type_of(key) != "AWS::KMS::Key":
        raise TemplateError(f"aws {template.environment}: the table's key {key} is no AWS::KMS::Key")
    return key


def stack_alarms(template: Template) -> int:
    """The template's alarms whose name starts with "<stack>-": CloudFormation names an alarm without
    AlarmName "<stack name>-<logical id>-<random suffix>"; an explicit name counts when it has that prefix."""
    prefix = f"{stack_name(template.environment)}-"
    names = [body["Properties"].get("AlarmName") for body in template.of_type(ALARM).values()]
    return sum(1 for name in names if name is None or (isinstance(name, str) and name.startswith(prefix)))


# An alarm's comparison -> how a reader says the metric is all right.
ALL_RIGHT = {
    "GreaterThanOrEqualToThreshold": "below",
    "GreaterThanThreshold": "at most",
    "LessThanThreshold": "at least",
    "LessThanOrEqualToThreshold": "above",
}


def alarm_limits(template: Template) -> tuple[str, ...]:
    """What "usual" means on the dashboard: each single-metric alarm's metric on the right side of its
    threshold, e.g. "AWS/ApplicationELB HealthyHostCount (Minimum) at least 3" (one line per metric)."""
    limits = []
    for body in template.of_type(ALARM).values():
        props = body["Properties"]
        if "MetricName" not in props:
            continue
        statistic = props.get("Statistic") or props.get("ExtendedStatistic")
        limit = (
            f"{props['Namespace']} {props['MetricName']} ({statistic}) "
            f"{ALL_RIGHT[props['ComparisonOperator']]} {props['Threshold']:g}"
        )
        if limit not in limits:
            limits.append(limit)
    return tuple(limits)


def schedule_seconds(expression: str) -> int:
    """A canary's `rate(N minute(s)|hour(s))` schedule in seconds ("Schedule": "rate(number unit)", unit
    minute(s) or hour(s), https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/
    aws-properties-synthetics-canary-schedule.html)."""
    match = re.fullmatch(r"rate\((\d+) (minute|hour)s?\)", expression)
    if not match:
        raise TemplateError(f"canary schedule {expression!r}: expected rate(N minutes) or rate(N hours)")
    return int(match.group(1)) * (60 if match.group(2) == "minute" else 3600)


def _refresh_text(refresh: dict[str, Any]) -> str:
    return (
        f"min healthy {refresh['MinHealthyPercentage']} %, max healthy {refresh['MaxHealthyPercentage']} %, "
        f"warm-up {refresh['InstanceWarmup']} s, checkpoints at "
        f"{', '.join(map(str, refresh['CheckpointPercentages']))} % "
        f"with {refresh['CheckpointDelay']} s each, bake time {refresh['BakeTime']} s, rolls back when "
        f"{len(refresh['AlarmSpecification']['Alarms'])} alarm(s) fire"
    )
