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


def _spec(**azure: object) -> dict[str, object]:
    """Changes that override the spec's [<env>.azure] table for this stack (`pulumi config set --path`)."""
    return {"spec": {"azure": azure}}


@pytest.mark.parametrize(
    ("changes", "field", "value"),
    [
        ({"azure-native:location": "West Europe"}, "azure-native:location", "West Europe"),
        ({"azure-native:location": None}, "azure-native:location", "(unset)"),
        ({"namePrefix": "Ref-Arch"}, f"{NS}:namePrefix", "Ref-Arch"),
        (_spec(vm_size="t3.small"), "azure.vm_size", "t3.small"),
        (_spec(encryption_at_host="maybe"), "azure.encryption_at_host", "maybe"),
        (_spec(gateway_max_capacity=200), "azure.gateway_max_capacity", 200),
        (_spec(gateway_min_capacity=5, gateway_max_capacity=4), "azure.gateway_min_capacity", 5),
        (_spec(waf_mode="Off"), "azure.waf_mode", "Off"),
        (_spec(apim_sku="Consumption"), "azure.apim_sku", "Consumption"),
        (_spec(apim_capacity=0), "azure.apim_capacity", 0),
        ({"publisherEmail": "nobody"}, f"{NS}:publisherEmail", "nobody"),
        ({"publisherEmail": None}, f"{NS}:publisherEmail", "(unset)"),
        (_spec(insights_sampling_percent=0), "azure.insights_sampling_percent", 0),
        (_spec(insights_sampling_percent=150), "azure.insights_sampling_percent", 150),
        (_spec(cache_sku="cache.t4g.micro"), "azure.cache_sku", "cache.t4g.micro"),
        (_spec(cosmos_max_throughput=1500), "azure.cosmos_max_throughput", 1500),
        # A size set where it used to live is refused, not silently ignored: sizes are the spec's now.
        ({"vmSize": "Standard_D2s_v5"}, f"{NS}:vmSize", "Standard_D2s_v5"),
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
        (_spec(apim_sku="Developer"), "azure.apim_sku", "Developer", "must be Premium in production"),
        (_spec(apim_capacity=2), "azure.apim_capacity", 2, "must be a multiple of zones (3)"),
        (_spec(gateway_min_capacity=1), "azure.gateway_min_capacity", 1, "must be at least zones (3)"),
        (_spec(waf_mode="Detection"), "azure.waf_mode", "Detection", "must be Prevention in production"),
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
    config = _with(azure, "prod", **{"azure-native:location": None, "vmSise": "x"})
    refusal = azure.refusal("prod", config)
    assert sorted(p.field for p in refusal.problems) == ["azure-native:location", f"{NS}:vmSise"]
    # A rule across spec and config (production alerts) is reported beside an invalid provider namespace.
    config = _with(azure, "prod", **{"azure-native:location": None, "alertEmail": None})
    refusal = azure.refusal("prod", config)
    assert sorted(p.field for p in refusal.problems) == ["azure-native:location", f"{NS}:alertEmail"]
    spec_refusal = azure.refusal("prod", _with(azure, "prod", **_spec(apim_sku="Developer", vm_size="x")))
    assert sorted(p.field for p in spec_refusal.problems) == ["azure.apim_sku", "azure.vm_size"]


def test_a_size_set_in_stack_config_says_where_it_lives_now(azure):
    (problem,) = azure.refusal("dev", _with(azure, "dev", cacheSku="Balanced_B1")).problems
    assert (problem.field, problem.value) == (f"{NS}:cacheSku", "Balanced_B1")
    assert "pulumi config set --path spec.azure.cache_sku" in problem.rule


def test_production_alerts_must_reach_someone(azure):
    config = {key: value for key, value in azure.config("prod").items() if key != f"{NS}:alertEmail"}
    refusal = azure.refusal("prod", config)
    assert [(p.field, p.value) for p in refusal.problems] == [(f"{NS}:alertEmail", None)]
    assert "alerts must reach someone" in refusal.problems[0].rule
