"""The architecture graph of one AWS stack: nodes are its resources, edges the references the template
makes between them: security-group ingress rules, the API's integration through the VPC link, listener to
target group to fleet, the instance role's grants, alarm actions."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from tools.docs.aws.template import Template, ref_id, references
from tools.docs.model import Edge, Graph, Node

# Resource types drawn as nodes, with their tier and a short label.
NODES = {
    "AWS::WAFv2::WebACL": ("edge", "WAF web ACL"),
    "AWS::ApiGateway::RestApi": ("edge", "API Gateway REST API"),
    "AWS::Cognito::UserPool": ("identity", "Cognito user pool (API clients)"),
    "AWS::ApiGatewayV2::VpcLink": ("network", "VPC link"),
    "AWS::ElasticLoadBalancingV2::LoadBalancer": ("compute", "Application Load Balancer (internal)"),
    "AWS::ElasticLoadBalancingV2::TargetGroup": ("compute", "target group"),
    "AWS::AutoScaling::AutoScalingGroup": ("compute", "Auto Scaling group"),
    "AWS::ElastiCache::ReplicationGroup": ("state", "ElastiCache session cache"),
    "AWS::DynamoDB::Table": ("state", "DynamoDB item table"),
    "AWS::S3::Bucket": ("state", "S3 bucket"),
    "AWS::SecretsManager::Secret": ("identity", "Secrets Manager secret"),
    "AWS::KMS::Key": ("identity", "KMS key"),
    "AWS::IAM::Role": ("identity", "IAM role"),
    "AWS::Logs::LogGroup": ("monitoring", "log group"),
    "AWS::SNS::Topic": ("monitoring", "SNS alarm topic"),
    "AWS::CloudWatch::Dashboard": ("monitoring", "CloudWatch dashboard"),
    "AWS::Synthetics::Canary": ("monitoring", "Synthetics canary"),
    "AWS::EC2::NatGateway": ("network", "NAT gateway"),
}
ALARMS = "Alarms"


def _owners_of_groups(template: Template) -> dict[str, str]:
    """Security group -> the resource it protects (a launch template's group belongs to its fleet)."""
    fleet_of = {}
    for name, body in template.of_type("AWS::AutoScaling::AutoScalingGroup").items():
        for ref in references(body["Properties"].get("MixedInstancesPolicy", body["Properties"])):
            fleet_of[ref] = name
    owners = {}
    for name, body in template.resources.items():
        if body["Type"] in (
            "AWS::EC2::SecurityGroup",
            "AWS::EC2::SecurityGroupIngress",
            "AWS::EC2::SecurityGroupEgress",
        ):
            continue
        for ref in references(body.get("Properties", {})):
            if template.resources.get(ref, {}).get("Type") == "AWS::EC2::SecurityGroup":
                owners.setdefault(ref, fleet_of.get(name, name))
    return owners


def _port(rule: dict[str, Any]) -> str:
    low, high = rule.get("FromPort"), rule.get("ToPort")
    ports = str(low) if low == high else f"{low}-{high}"
    return f"{rule.get('IpProtocol')}/{ports}"


def _network_edges(template: Template) -> list[Edge]:
    owners = _owners_of_groups(template)
    edges = []
    rules: list[tuple[str, dict[str, Any]]] = [
        (ref_id(body["Properties"]["GroupId"]), body["Properties"])
        for body in template.of_type("AWS::EC2::SecurityGroupIngress").values()
    ]
    for name, body in template.of_type("AWS::EC2::SecurityGroup").items():
        rules += [(name, rule) for rule in body["Properties"].get("SecurityGroupIngress", [])]
    for group, rule in rules:
        source = ref_id(rule.get("SourceSecurityGroupId")) if "SourceSecurityGroupId" in rule else None
        source_node = owners.get(source, source) if source else f"cidr {rule.get('CidrIp')}"
        target = owners.get(group, group)
        edges.append(
            Edge(
                source=source_node,
                target=target,
                kind="network rule",
                label=f"{_port(rule)} (security group ingress)",
            )
        )
    return edges


def _integration_edges(template: Template) -> list[Edge]:
    edges = []
    seen = set()
    for body in template.of_type("AWS::ApiGateway::Method").values():
        props = body["Properties"]
        integration = props.get("Integration", {})
        api = ref_id(props["RestApiId"])
        link = ref_id(integration.get("ConnectionId"))
        target = ref_id(integration.get("IntegrationTarget"))
        key = (api, link, target)
        if key in seen or not link:
            continue
        seen.add(key)
        edges.append(
            Edge(
                source=api,
                target=link,
                kind="integration",
                label=f"{integration['Type']} via VPC link, timeout {integration['TimeoutInMillis']} ms",
            )
        )
        if target:
            edges.append(Edge(source=link, target=target, kind="integration", label="integration target"))
    for body in template.of_type("AWS::ApiGateway::Authorizer").values():
        for pool in body["Properties"].get("ProviderARNs", []):
            edges.append(
                Edge(
                    source=ref_id(body["Properties"]["RestApiId"]),
                    target=ref_id(pool),
                    kind="reference",
                    label=f"{body['Properties']['Type']} authorizer",
                )
            )
    for body in template.of_type("AWS::WAFv2::WebACLAssociation").values():
        acl = ref_id(body["Properties"]["WebACLArn"])
        stage = ref_id(body["Properties"]["ResourceArn"]) or _stage_in(
            template, body["Properties"]["ResourceArn"]
        )
        api = (
            ref_id(template.resources[stage]["Properties"]["RestApiId"])
            if stage in template.resources
            else stage
        )
        edges.append(Edge(source=acl, target=api, kind="reference", label="WAF web ACL association"))
    for body in template.of_type("AWS::ElasticLoadBalancingV2::Listener").values():
        props = body["Properties"]
        for action in props.get("DefaultActions", []):
            edges.append(
                Edge(
                    source=ref_id(props["LoadBalancerArn"]),
                    target=ref_id(action["TargetGroupArn"]),
                    kind="integration",
                    label=f"listener {props['Protocol']}:{props['Port']} forward",
                )
            )
    for name, body in template.of_type("AWS::AutoScaling::AutoScalingGroup").items():
        for group in body["Properties"].get("TargetGroupARNs", []):
            edges.append(
                Edge(source=ref_id(group), target=name, kind="integration", label="registered targets")
            )
    return edges


def _stage_in(template: Template, value: Any) -> str | None:
    found = [ref for ref in references(value) if template.type_of(ref) == "AWS::ApiGateway::Stage"]
    return found[0] if found else None


def _grant_edges(template: Template) -> list[Edge]:
    """Each role's policy statements, as role -> resource edges naming the actions."""
    edges = []
    policies = [
        (ref_id(role), body["Properties"]["PolicyDocument"])
        for body in template.of_type("AWS::IAM::Policy").values()
        for role in body["Properties"].get("Roles", [])
    ]
    for name, body in template.of_type("AWS::IAM::Role").items():
        policies += [(name, inline["PolicyDocument"]) for inline in body["Properties"].get("Policies", [])]
    for role, document in policies:
        for statement in document["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            by_target = defaultdict(list)
            for target in references(statement.get("Resource")):
                if template.type_of(target) in NODES:
                    by_target[target] += actions
            for target, granted in by_target.items():
                edges.append(
                    Edge(source=role, target=target, kind="role grant", label=", ".join(sorted(set(granted))))
                )
    # Who assumes which role: the fleet through its instance profile, the canary directly.
    for body in template.of_type("AWS::IAM::InstanceProfile").values():
        for role in body["Properties"]["Roles"]:
            for fleet in template.of_type("AWS::AutoScaling::AutoScalingGroup"):
                edges.append(
                    Edge(source=fleet, target=ref_id(role), kind="reference", label="instance profile")
                )
    for name, body in template.of_type("AWS::Synthetics::Canary").items():
        edges.append(
            Edge(
                source=name,
                target=ref_id(body["Properties"]["ExecutionRoleArn"]),
                kind="reference",
                label="execution role",
            )
        )
    return edges


def _alarm_edges(template: Template) -> list[Edge]:
    topics = defaultdict(int)
    for body in template.of_type("AWS::CloudWatch::Alarm").values():
        for action in body["Properties"].get("AlarmActions", []):
            topics[ref_id(action)] += 1
    return [
        Edge(source=ALARMS, target=topic, kind="reference", label=f"{count} alarm actions")
        for topic, count in topics.items()
    ]


def build(template: Template) -> Graph:
    edges = [
        *_network_edges(template),
        *_integration_edges(template),
        *_grant_edges(template),
        *_alarm_edges(template),
    ]
    ends = {edge.source for edge in edges} | {edge.target for edge in edges}
    nodes = []
    for name, body in template.resources.items():
        if body["Type"] in NODES:
            tier, label = NODES[body["Type"]]
            nodes.append(
                Node(id=name, label=f"{label}<br/>{name}", tier=tier, type=body["Type"], detail=_detail(body))
            )
    alarms = template.of_type("AWS::CloudWatch::Alarm")
    if alarms:
        nodes.append(
            Node(
                id=ALARMS,
                label=f"{len(alarms)} CloudWatch alarms",
                tier="monitoring",
                type="AWS::CloudWatch::Alarm",
            )
        )
    known = {node.id for node in nodes}
    for end in sorted(ends - known):
        nodes.append(Node(id=end, label=end, tier="outside", type=""))
    return Graph(nodes=tuple(nodes), edges=tuple(edges))


def _detail(body: dict[str, Any]) -> str:
    props = body.get("Properties", {})
    match body["Type"]:
        case "AWS::AutoScaling::AutoScalingGroup":
            return (
                f"{props['MinSize']}-{props['MaxSize']} instances in {len(props['VPCZoneIdentifier'])} zones"
            )
        case "AWS::ElastiCache::ReplicationGroup":
            return f"{props['CacheNodeType']}, {props.get('ReplicasPerNodeGroup', 0)} replica(s)" + (
                ", Multi-AZ" if props.get("MultiAZEnabled") else ""
            )
        case "AWS::DynamoDB::Table":
            pitr = props.get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled")
            return f"{props['BillingMode']}, PITR {'on' if pitr else 'off'}"
        case "AWS::ElasticLoadBalancingV2::TargetGroup":
            return f"{props['Protocol']}:{props['Port']} health {props['HealthCheckPath']}"
    return ""
