"""The monthly cost lines of one AWS stack: one line per resource type of the template, priced from
tools/docs/prices.toml (quantities from the template, at the fleet's minimum size), or marked not priced
with the table's reason."""

from __future__ import annotations

import re
from collections import Counter

from tools.docs.aws.template import Template
from tools.docs.model import CostLine
from tools.docs.prices import HOURS_PER_MONTH, PriceTable

MINUTES_PER_MONTH = HOURS_PER_MONTH * 60


def _line(
    table: PriceTable, resource: str, type_: str, item: str, quantity: float, *, hours: bool
) -> CostLine:
    similar = next((p for p in table.prices if (p.cloud, p.type) == ("aws", type_)), None)
    missing = f"{item}: not verified offline on {table.date}; see {similar.source}" if similar else ""
    return table.line(
        "aws",
        type_,
        item,
        resource=resource,
        quantity=quantity,
        missing=missing or f"no price for {item or type_} in the table",
        hourly=hours,
    )


def _alarm_metrics(body: dict) -> int:
    metrics = body["Properties"].get("Metrics")
    return sum(1 for metric in metrics if "MetricStat" in metric) if metrics else 1


def _canary_runs(body: dict) -> float:
    expression = body["Properties"]["Schedule"]["Expression"]
    match = re.fullmatch(r"rate\((\d+) minutes?\)", expression)
    return MINUTES_PER_MONTH / int(match.group(1)) if match else 0


def cost_lines(template: Template, table: PriceTable, minimum: int, region: str) -> tuple[CostLine, ...]:
    table = table.in_region(region)
    lines: list[CostLine] = []
    counted = Counter(body["Type"] for body in template.resources.values())
    handled = set()

    def add(line: CostLine) -> None:
        lines.append(line)
        handled.add(line.type)

    _, launch = template.only("AWS::EC2::LaunchTemplate")
    instance_type = launch["LaunchTemplateData"]["InstanceType"]
    add(
        _line(
            table,
            f"fleet instances at the minimum size ({instance_type})",
            "AWS::EC2::LaunchTemplate",
            instance_type,
            minimum,
            hours=True,
        )
    )
    for type_, resource in (
        ("AWS::EC2::NatGateway", "NAT gateways"),
        ("AWS::EC2::EIP", "public IPv4 addresses (the NAT gateways')"),
    ):
        if counted[type_]:
            add(_line(table, resource, type_, "", counted[type_], hours=True))
    add(
        _line(
            table,
            "Application Load Balancer",
            "AWS::ElasticLoadBalancingV2::LoadBalancer",
            "application",
            counted["AWS::ElasticLoadBalancingV2::LoadBalancer"],
            hours=True,
        )
    )
    for type_, resource in (
        ("AWS::KMS::Key", "KMS keys"),
        ("AWS::SecretsManager::Secret", "secrets"),
        ("AWS::CloudWatch::Dashboard", "dashboards"),
        ("AWS::WAFv2::WebACL", "WAF web ACLs"),
    ):
        if counted[type_]:
            add(_line(table, resource, type_, "", counted[type_], hours=False))
    alarms = template.of_type("AWS::CloudWatch::Alarm")
    if alarms:
        add(
            _line(
                table,
                f"{len(alarms)} alarms' metrics",
                "AWS::CloudWatch::Alarm",
                "",
                sum(_alarm_metrics(body) for body in alarms.values()),
                hours=False,
            )
        )
    rules = sum(
        len(body["Properties"].get("Rules", [])) for body in template.of_type("AWS::WAFv2::WebACL").values()
    )
    if rules:
        add(_line(table, "WAF rules", "AWS::WAFv2::WebACL", "rule", rules, hours=False))
    canaries = template.of_type("AWS::Synthetics::Canary")
    if canaries:
        add(
            _line(
                table,
                "synthetic check runs",
                "AWS::Synthetics::Canary",
                "",
                round(sum(_canary_runs(body) for body in canaries.values())),
                hours=False,
            )
        )
    for type_ in sorted(set(counted) - handled):
        add(
            _line(
                table, f"{counted[type_]} x {type_.split('::')[-1]}", type_, "", counted[type_], hours=False
            )
        )
    return tuple(lines)
