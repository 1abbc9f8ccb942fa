"""The architecture diagram's edges are the template's references: a security-group rule removed from the
template is an edge gone from the diagram."""

from __future__ import annotations

import copy

from tools.docs.aws import graph
from tools.docs.aws.template import Template


def test_edges_follow_security_group_rules(docs_inputs):
    template = docs_inputs.models["aws"]["prod"]
    edges = graph.build(Template("prod", template)).edges
    rules = [e for e in edges if e.kind == "network rule"]
    ingress = {
        name
        for name, body in template["Resources"].items()
        if body["Type"] == "AWS::EC2::SecurityGroupIngress"
    }
    assert len(rules) == len(ingress) and rules
    mutated = copy.deepcopy(template)
    mutated["Resources"].pop(sorted(ingress)[0])
    assert (
        len([e for e in graph.build(Template("prod", mutated)).edges if e.kind == "network rule"])
        == len(rules) - 1
    )


def test_the_api_reaches_the_fleet_through_the_vpc_link_and_the_load_balancer(docs_inputs):
    template = Template("prod", docs_inputs.models["aws"]["prod"])
    edges = {(e.source, e.target, e.kind) for e in graph.build(template).edges}
    api, _ = template.only("AWS::ApiGateway::RestApi")
    link, _ = template.only("AWS::ApiGatewayV2::VpcLink")
    alb, _ = template.only("AWS::ElasticLoadBalancingV2::LoadBalancer")
    fleet, _ = template.only("AWS::AutoScaling::AutoScalingGroup")
    assert {
        (api, link, "integration"),
        (link, alb, "integration"),
        (link, alb, "network rule"),
        (alb, fleet, "network rule"),
    } <= edges
