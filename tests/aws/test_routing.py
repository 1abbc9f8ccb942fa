"""The path a client calls is the path the service receives, through gateway, VPC link and load balancer.

API Gateway, "Private integrations for REST APIs": the request to the backend includes the stage portion
of the endpoint (`/v1/items/x`), while the service serves `/items/x`. The load balancer's rule strips it
(Elastic Load Balancing, "Transforms for listener rules": `url-rewrite`, regex with `$1` replacement; a
default rule cannot carry a transform)."""

from __future__ import annotations

import fnmatch
import ipaddress
import json
import re

import pytest
from aws_cdk import App, Environment, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from cfn_queries import of_type, only, ref_id
from service_facts import example_path, route_templates, serves

from refarch.spec import load_environment
from stacks.api_gateway import STAGE, PublicApi
from stacks.app_builder import DEFAULT_REGION, new_app
from stacks.service_stack import ServiceStack
from stacks.synthetic_check import ITEM_PATH


def _rules(resources: dict) -> list[dict]:
    found = [
        body["Properties"]
        for body in resources.values()
        if body["Type"] == "AWS::ElasticLoadBalancingV2::ListenerRule"
    ]
    return sorted(found, key=lambda rule: rule["Priority"])


def path_at_the_service(resources: dict, path: str) -> str:
    """What the fleet receives for `path` arriving at the load balancer: the first listener rule whose
    path pattern matches applies its url-rewrite; without a match the default action forwards unchanged."""
    for rule in _rules(resources):
        patterns = [
            value
            for condition in rule["Conditions"]
            if condition["Field"] == "path-pattern"
            for value in condition["PathPatternConfig"]["Values"]
        ]
        if not any(fnmatch.fnmatchcase(path, pattern) for pattern in patterns):
            continue
        for transform in rule.get("Transforms", []):
            if transform["Type"] == "url-rewrite":
                for rewrite in transform["UrlRewriteConfig"]["Rewrites"]:
                    replacement = re.sub(r"\$(\d)", r"\\g<\1>", rewrite["Replace"])
                    path = re.sub(rewrite["Regex"], replacement, path)
        return path
    return path


def _as_the_gateway_sends(client_path: str) -> str:
    return f"/{STAGE}{client_path}"


def test_every_route_the_service_serves_is_reached_through_the_stage(resources):
    routes = route_templates()
    assert len(routes) >= 5, routes
    for method, template in routes:
        client_path = example_path(template)
        received = path_at_the_service(resources, _as_the_gateway_sends(client_path))
        assert serves(method, received), f"{method} /{STAGE}{client_path} reaches the service as {received}"


def test_a_path_without_the_stage_still_reaches_its_route(resources):
    # Should the gateway ever stop adding the stage, nothing is rewritten by mistake.
    for method, template in route_templates():
        assert serves(method, path_at_the_service(resources, example_path(template)))


def test_the_stage_rule_forwards_to_the_fleet_like_the_default(resources):
    (rule,) = _rules(resources)
    listener = only(resources, "AWS::ElasticLoadBalancingV2::Listener")
    default_group = ref_id(listener["DefaultActions"][0]["TargetGroupArn"])
    assert [(a["Type"], ref_id(a["TargetGroupArn"])) for a in rule["Actions"]] == [("forward", default_group)]


def test_the_check_would_catch_a_missing_rewrite(synthesized):
    broken = json.loads(json.dumps(synthesized.templates["dev"]["Resources"]))
    for name in list(of_type(broken, "AWS::ElasticLoadBalancingV2::ListenerRule")):
        del broken[name]
    method, template = next((m, t) for m, t in route_templates() if t.startswith("/items"))
    assert not serves(method, path_at_the_service(broken, _as_the_gateway_sends(example_path(template))))


def test_the_synthetic_check_calls_routes_the_service_serves_through_the_stage(resources):
    canary = only(resources, "AWS::Synthetics::Canary")
    variables = canary["RunConfig"]["EnvironmentVariables"]
    assert variables["ITEM_PATH"] == ITEM_PATH
    # Its base URL is this API's stage URL.
    api_url = json.dumps(variables["API_URL"])
    rest_api = next(iter(of_type(resources, "AWS::ApiGateway::RestApi")))
    stage = next(iter(of_type(resources, "AWS::ApiGateway::Stage")))
    assert rest_api in api_url and stage in api_url, api_url
    received = path_at_the_service(resources, _as_the_gateway_sends("/" + ITEM_PATH))
    assert serves("PUT", received) and serves("GET", received)
    # It authenticates as a client of this pool with the invoke scope, like a real caller.
    assert {"CLIENT_ID", "CLIENT_SECRET_ID", "TOKEN_URL", "SCOPE"} <= set(variables)


def test_the_synthetic_check_alarms_when_it_fails_or_stops(resources):
    alarms = of_type(resources, "AWS::CloudWatch::Alarm")
    (check,) = [body["Properties"] for name, body in alarms.items() if "SyntheticCheck" in name]
    assert check["MetricName"] == "SuccessPercent" and check["Namespace"] == "CloudWatchSynthetics"
    assert check["ComparisonOperator"] == "LessThanThreshold" and check["Threshold"] == 100
    assert check["TreatMissingData"] == "breaching"
    canary = next(iter(of_type(resources, "AWS::Synthetics::Canary")))
    assert [(d["Name"], ref_id(d["Value"])) for d in check["Dimensions"]] == [("CanaryName", canary)]


def _deployment_id(load_balancer_arn: str) -> str:
    app = App()
    stack = Stack(app, "Api", env={"region": "eu-west-1", "account": "111111111111"})
    vpc = ec2.Vpc(stack, "Vpc", max_azs=2)
    alb = elbv2.ApplicationLoadBalancer.from_application_load_balancer_attributes(
        stack,
        "Alb",
        load_balancer_arn=load_balancer_arn,
        security_group_id="sg-12345678",
        load_balancer_dns_name="internal-alb.eu-west-1.elb.amazonaws.com",
    )
    PublicApi(
        stack,
        "Api",
        spec=load_environment("dev"),
        vpc=vpc,
        subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
        load_balancer=alb,
    )
    resources = app.synth().get_stack_by_name("Api").template["Resources"]
    (deployment,) = [
        name for name, body in resources.items() if body["Type"] == "AWS::ApiGateway::Deployment"
    ]
    return deployment


@pytest.mark.parametrize(
    "changed", ["arn:aws:elasticloadbalancing:eu-west-1:111111111111:loadbalancer/app/b/2"]
)
def test_a_new_integration_target_redeploys_the_stage(changed):
    # Same DNS name, other load balancer: only the L1 IntegrationTarget override differs.
    original = "arn:aws:elasticloadbalancing:eu-west-1:111111111111:loadbalancer/app/a/1"
    assert _deployment_id(original) != _deployment_id(changed)


def _service_deployment_id(overrides: dict) -> str:
    """The deployment's logical id in the real dev ServiceStack, built with spec overrides."""
    app = new_app(context={"region": DEFAULT_REGION})
    spec = load_environment("dev", overrides={f"dev.{key}": value for key, value in overrides.items()})
    stack = ServiceStack(app, spec=spec, env=Environment(region=DEFAULT_REGION))
    (deployment,) = of_type(
        app.synth().get_stack_by_name(stack.stack_name).template["Resources"], "AWS::ApiGateway::Deployment"
    )
    return deployment


def _other_private_cidr(cidr: str) -> str:
    network = ipaddress.IPv4Network(cidr)
    return str(
        next(
            n
            for n in ipaddress.IPv4Network("10.0.0.0/8").subnets(new_prefix=network.prefixlen)
            if n != network
        )
    )


def test_a_replaced_vpc_link_redeploys_the_stage():
    # A VPC link's SubnetIds and SecurityGroupIds require replacement (AWS::ApiGatewayV2::VpcLink, "Update
    # requires: Replacement"); a subnet's CidrBlock and AvailabilityZone replace it (AWS::EC2::Subnet).
    # The methods name the link by Ref, unchanged: only the deployment's hash can move the stage to it
    # (API Gateway, "Deploy a REST API": a stage serves the deployment it points at).
    spec = load_environment("dev")
    original = _service_deployment_id({})
    assert _service_deployment_id({"vpc_cidr": _other_private_cidr(spec.vpc_cidr)}) != original
    assert _service_deployment_id({"zones": spec.zones % 3 + 1, "aws.nat_gateways": 1}) != original
