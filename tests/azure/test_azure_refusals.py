"""Bad stack config or spec values fail with a message naming the field, before anything is registered."""

from __future__ import annotations

import json

import pytest

NS = "refarch-azure"


def _with(azure, stack: str, **changes: object) -> dict[str, str]:
    config = azure.config(stack)
    for key, value in changes.items():
        full = key if ":" in key else f"{NS}:{key}"
        if value is None:
            config.pop(full, None)
        else:
            config[full] = value if isinstance(value, str) else json.dumps(value)
    return config


@pytest.mark.parametrize(
    ("changes", "field", "value"),
    [
        ({"azure-native:location": "West Europe"}, "azure-native:location", "West Europe"),
        ({"azure-native:location": None}, "azure-native:location", "(unset)"),
        ({"namePrefix": "Ref-Arch"}, f"{NS}:namePrefix", "Ref-Arch"),
        ({"vmSize": "t3.small"}, f"{NS}:vmSize", "t3.small"),
        ({"encryptionAtHost": "maybe"}, f"{NS}:encryptionAtHost", "maybe"),
        ({"gatewayMaxCapacity": 200}, f"{NS}:gatewayMaxCapacity", 200),
        ({"gatewayMinCapacity": 5, "gatewayMaxCapacity": 4}, f"{NS}:gatewayMinCapacity", 5),
        ({"wafMode": "Off"}, f"{NS}:wafMode", "Off"),
        ({"apimSku": "Consumption"}, f"{NS}:apimSku", "Consumption"),
        ({"apimCapacity": 0}, f"{NS}:apimCapacity", 0),
        ({"publisherEmail": "nobody"}, f"{NS}:publisherEmail", "nobody"),
        ({"publisherEmail": None}, f"{NS}:publisherEmail", "(unset)"),
        ({"insightsSamplingPercent": 0}, f"{NS}:insightsSamplingPercent", 0),
        ({"insightsSamplingPercent": 150}, f"{NS}:insightsSamplingPercent", 150),
        ({"cacheSku": "cache.t4g.micro"}, f"{NS}:cacheSku", "cache.t4g.micro"),
        ({"cosmosMaxThroughput": 1500}, f"{NS}:cosmosMaxThroughput", 1500),
        ({"deployerIpRanges": ["10.0.0.0/8"]}, f"{NS}:deployerIpRanges", ["10.0.0.0/8"]),
        ({"deployerIpRanges": ["203.0.113.7/32"]}, f"{NS}:deployerIpRanges", ["203.0.113.7/32"]),
        ({"deployerIpRanges": []}, f"{NS}:deployerIpRanges", []),
        ({"vmSise": "Standard_D2s_v5"}, f"{NS}:vmSise", "Standard_D2s_v5"),
        ({"spec": {"capacity": {"max": 0}}}, "capacity.max", 0),
        ({"spec": {"vpc_cidr": "8.8.0.0/16"}}, "vpc_cidr", "8.8.0.0/16"),
    ],
)
def test_bad_dev_config_is_refused_before_registration(azure, changes, field, value):
    refusal = azure.refusal("dev", _with(azure, "dev", **changes))
    assert refusal.environment == "dev"
    assert [(p.field, p.value) for p in refusal.problems] == [(field, value)]


@pytest.mark.parametrize(
    ("changes", "field", "value", "rule"),
    [
        ({"apimSku": "Developer"}, f"{NS}:apimSku", "Developer", "must be Premium in production"),
        ({"apimCapacity": 2}, f"{NS}:apimCapacity", 2, "must be a multiple of zones (3)"),
        ({"gatewayMinCapacity": 1}, f"{NS}:gatewayMinCapacity", 1, "must be at least zones (3)"),
        ({"wafMode": "Detection"}, f"{NS}:wafMode", "Detection", "must be Prevention in production"),
        ({"spec": {"cache": {"replicas": 0}}}, "cache.replicas", 0, "must be at least 1 in production"),
    ],
)
def test_production_rules_are_refused_before_registration(azure, changes, field, value, rule):
    refusal = azure.refusal("prod", _with(azure, "prod", **changes))
    assert [(p.field, p.value) for p in refusal.problems] == [(field, value)]
    assert rule in refusal.problems[0].rule


def test_the_project_has_a_stack_per_environment_in_spec_order(azure):
    assert azure.stacks() == ["dev", "staging", "prod"]


def test_every_problem_is_reported_at_once(azure):
    config = _with(azure, "prod", **{"azure-native:location": None, "vmSise": "x", "apimSku": "Developer"})
    refusal = azure.refusal("prod", config)
    assert sorted(p.field for p in refusal.problems) == [
        "azure-native:location",
        f"{NS}:apimSku",
        f"{NS}:vmSise",
    ]


def test_production_alerts_must_reach_someone(azure):
    config = {key: value for key, value in azure.config("prod").items() if key != f"{NS}:alertEmail"}
    refusal = azure.refusal("prod", config)
    assert [(p.field, p.value) for p in refusal.problems] == [(f"{NS}:alertEmail", None)]
    assert "alerts must reach someone" in refusal.problems[0].rule
