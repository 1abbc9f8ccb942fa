"""Bad stack config or spec values stop the program with a clear message before anything is registered."""

from __future__ import annotations

import json

import pytest

NS = "refarch-gcp"


@pytest.mark.parametrize(
    ("key", "value", "rule"),
    [
        ("gcp:project", "Not_A_Project", "should match pattern"),
        ("gcp:region", "europe_west1", "should match pattern"),
        ("gcp:region", "southamerica-east1", "a region API Gateway runs in"),
        (f"{NS}:zones", ["europe-west1-b", "europe-west1-b"], "must not repeat a zone"),
        (f"{NS}:zones", ["europe-west1"], "must be zone names"),
        (f"{NS}:zones", ["us-east1-b", "us-east1-c"], "must all be in gcp:region (europe-west1)"),
        (f"{NS}:zones", ["europe-west1-b"], "at least the spec's zones (2)"),
        # Sizes are the spec's now: one set where it used to live is refused, not silently ignored.
        (f"{NS}:machineType", "e2-small", "pulumi config set --path spec.gcp.machine_type"),
        (f"{NS}:backendDomain", "not a domain", "should match pattern"),
        (f"{NS}:alertEmail", "nobody", "should match pattern"),
        (f"{NS}:alertChannels", ["#slack"], "projects/my-project/notificationChannels/123"),
        (f"{NS}:apiCallers", ["bob"], "serviceAccount:caller@"),
        (f"{NS}:runbookBaseUrl", "http://github.com/example/refarch", "should match pattern"),
        (f"{NS}:runbookBaseUrl", "https://github.com/a b", "should match pattern"),
    ],
)
def test_bad_stack_config_is_refused_naming_key_and_value(gcp, key, value, rule):
    refusal = gcp.refusal(
        "dev", {**gcp.config("dev"), key: value if isinstance(value, str) else json.dumps(value)}
    )
    assert refusal.environment == "dev"
    # A region change also puts the zones outside it: that is reported too, after this one or before.
    named = [p for p in refusal.problems if p.field == key]
    assert [(p.value) for p in named] == [value] and rule in named[0].rule
    assert len(refusal.problems) == (2 if key == "gcp:region" and "-" in value else 1)


def _spec_override(gcp, stack: str, **table: object) -> dict[str, str]:
    """The stack's config with the spec's [<env>.gcp] table overridden (`pulumi config set --path`)."""
    return {**gcp.config(stack), f"{NS}:spec": json.dumps({"gcp": table})}


@pytest.mark.parametrize(
    ("field", "value", "rule"),
    [
        ("machine_type", "huge", "should match pattern"),
        ("cache_memory_gb", 0, "greater than or equal to 1"),
        ("cache_memory_gb", "lots", "valid integer"),
        ("redis_version", "REDIS_5_0", "'REDIS_6_X', 'REDIS_7_0' or 'REDIS_7_2'"),
    ],
)
def test_bad_spec_sizes_are_refused_naming_field_and_value(gcp, field, value, rule):
    refusal = gcp.refusal("dev", _spec_override(gcp, "dev", **{field: value}))
    assert [(p.field, p.value) for p in refusal.problems] == [(f"gcp.{field}", value)]
    assert rule in refusal.problems[0].rule


@pytest.mark.parametrize("key", ["gcp:project", "gcp:region", f"{NS}:zones", f"{NS}:backendDomain"])
def test_required_config_is_refused_when_missing(gcp, key):
    config = {k: v for k, v in gcp.config("dev").items() if k != key}
    refusal = gcp.refusal("dev", config)
    assert [(p.field, p.rule) for p in refusal.problems] == [(key, "is required")]


def test_production_needs_somewhere_to_send_alerts(gcp):
    config = {k: v for k, v in gcp.config("prod").items() if k != f"{NS}:alertEmail"}
    refusal = gcp.refusal("prod", config)
    assert [p.field for p in refusal.problems] == [f"{NS}:alertEmail"]
    assert "must be set in production" in refusal.problems[0].rule


def test_read_replicas_need_the_memory_memorystore_requires(gcp):
    refusal = gcp.refusal("prod", _spec_override(gcp, "prod", cache_memory_gb=4))
    assert [(p.field, p.value) for p in refusal.problems] == [("gcp.cache_memory_gb", 4)]
    assert "cache.replicas (2)" in refusal.problems[0].rule


def test_every_problem_is_reported_at_once(gcp):
    config = {**gcp.config("dev"), "gcp:project": "X", f"{NS}:backendDomain": "huge"}
    assert [p.field for p in gcp.refusal("dev", config).problems] == ["gcp:project", f"{NS}:backendDomain"]
    # A rule across spec and config (production alerts) is reported beside an invalid `gcp:` namespace.
    config = {k: v for k, v in gcp.config("prod").items() if k != f"{NS}:alertEmail"} | {"gcp:project": "X"}
    assert [p.field for p in gcp.refusal("prod", config).problems] == ["gcp:project", f"{NS}:alertEmail"]
    spec_config = _spec_override(gcp, "dev", machine_type="huge", cache_memory_gb=0)
    fields = [p.field for p in gcp.refusal("dev", spec_config).problems]
    assert fields == ["gcp.machine_type", "gcp.cache_memory_gb"]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"capacity": {"max": 0}}, "capacity.max"),
        ({"capacity": {"min": 5}}, "capacity.min"),
        ({"zones": 4}, "zones"),
        ({"cache": {"nodes": 3}}, "cache.nodes"),
    ],
)
def test_bad_spec_overrides_are_refused(gcp, overrides, field):
    refusal = gcp.refusal("dev", {**gcp.config("dev"), f"{NS}:spec": json.dumps(overrides)})
    assert field in [p.field for p in refusal.problems]


def test_spec_overrides_from_the_stack_reach_the_program(gcp):
    overrides = {"capacity": {"max": 7}, "gcp": {"machine_type": "n2-standard-4", "cache_memory_gb": 3}}
    inventory = gcp.preview("dev", {**gcp.config("dev"), f"{NS}:spec": json.dumps(overrides)})
    autoscaler = inventory.only("gcp:compute/regionAutoscaler:RegionAutoscaler")
    assert autoscaler.get("autoscalingPolicy.maxReplicas") == 7
    # The per-cloud table is overridden the same way (`pulumi config set --path spec.gcp.machine_type`).
    template = inventory.only("gcp:compute/instanceTemplate:InstanceTemplate")
    assert template.get("machineType") == "n2-standard-4"
    assert inventory.only("gcp:redis/instance:Instance").get("memorySizeGb") == 3


def test_an_unknown_environment_is_refused(gcp):
    refusal = gcp.refusal("dev", {**gcp.config("dev"), f"{NS}:environment": "qa"})
    assert [(p.field, p.value) for p in refusal.problems] == [("(environment)", "qa")]


def test_a_misspelt_config_key_is_refused_not_ignored(gcp):
    # Without this, `machinetype` would be ignored and the stack built with the default machine type.
    refusal = gcp.refusal("prod", {**gcp.config("prod"), f"{NS}:machinetype": "n2-standard-8"})
    assert [(p.field, p.value) for p in refusal.problems] == [(f"{NS}:machinetype", "n2-standard-8")]
