"""The environment spec: what ships is valid, and each kind of bad input fails with a precise message."""

from __future__ import annotations

import pytest

from refarch.errors import SpecError
from refarch.spec import SPEC_FILE, load_all, load_environment, parse_environment, read_raw


def test_shipped_environments_are_valid_and_prod_is_zone_redundant():
    specs = load_all()
    assert list(specs) == ["dev", "staging", "prod"]
    prod = specs["prod"]
    assert prod.production and prod.zones == 3 and prod.cache.replicas >= 1
    assert prod.capacity.min >= prod.zones and prod.store.deletion_protection


def _error(environment: str, **overrides) -> SpecError:
    dotted = {f"{environment}.{key.replace('__', '.')}": value for key, value in overrides.items()}
    with pytest.raises(SpecError) as caught:
        load_environment(environment, overrides=dotted)
    return caught.value


@pytest.mark.parametrize(
    ("environment", "overrides", "field", "value", "rule"),
    [
        ("dev", {"capacity__min": 5, "capacity__desired": 5}, "capacity.min", 5, "at most capacity.max (3)"),
        ("dev", {"zones": 4}, "zones", 4, "less than or equal to 3"),
        ("dev", {"zones": 0}, "zones", 0, "greater than or equal to 1"),
        (
            "prod",
            {"zones": 1, "aws__nat_gateways": 1, "capacity__min": 1, "capacity__desired": 1},
            "zones",
            1,
            "2 or 3 in production",
        ),
        (
            "staging",
            {"api__throttle_rate_per_second": -5},
            "api.throttle_rate_per_second",
            -5,
            "greater than 0",
        ),
        ("staging", {"api__throttle_burst": -1}, "api.throttle_burst", -1, "greater than 0"),
        ("prod", {"cache__replicas": 0}, "cache.replicas", 0, "at least 1 in production"),
        ("dev", {"capacity__max": "three"}, "capacity.max", "three", "valid integer"),
        ("dev", {"aws__instance_type": "huge"}, "aws.instance_type", "huge", "match pattern"),
        ("dev", {"retention__log_days": 10}, "retention.log_days", 10, "one of 1, 3, 5"),
        (
            "dev",
            {"aws__cache_engine_version": "9.9"},
            "aws.cache_engine_version",
            "9.9",
            "one of 7.2, 8.0, 8.1",
        ),
        ("dev", {"vpc_cidr": "8.8.0.0/16"}, "vpc_cidr", "8.8.0.0/16", "private IPv4 network"),
        ("dev", {"capacity__desired": 7}, "capacity.desired", 7, "between capacity.min (1) and max (3)"),
        (
            "prod",
            {"store__deletion_protection": False},
            "store.deletion_protection",
            False,
            "true in production",
        ),
        ("dev", {"capacty__min": 1}, "capacty", {"min": 1}, "no such field"),
    ],
)
def test_invalid_values_name_environment_field_value_and_what_is_allowed(
    environment, overrides, field, value, rule
):
    error = _error(environment, **overrides)
    assert error.environment == environment
    problem = next(problem for problem in error.problems if problem.field == field)
    assert problem.value == value
    assert rule in problem.rule
    message = str(error)
    assert f"environment '{environment}'" in message and f"'{field}'" in message and repr(value) in message


def test_unknown_environment_lists_the_defined_ones():
    with pytest.raises(SpecError, match=r"'qa'.*one of the defined environments: dev, staging, prod"):
        load_environment("qa")


def test_override_of_an_unknown_environment_is_refused():
    with pytest.raises(SpecError, match="'qa'"):
        load_all(overrides={"qa.zones": 2})


def test_every_problem_is_reported_at_once():
    error = _error("dev", zones=9, api__throttle_burst=0, capacity__min="x")
    assert {problem.field for problem in error.problems} == {"zones", "api.throttle_burst", "capacity.min"}


def test_overrides_arrive_as_strings_from_the_cdk_cli_and_are_coerced():
    spec = load_environment("prod", overrides={"prod.capacity.max": "20"})
    assert spec.capacity.max == 20


def test_malformed_environment_names_and_tables_are_refused():
    with pytest.raises(SpecError, match="lower-case"):
        parse_environment("Prod_1", {})
    with pytest.raises(SpecError, match="a table of fields"):
        parse_environment("dev", 3)  # type: ignore[arg-type]


def test_malformed_spec_file_is_refused(tmp_path):
    broken = tmp_path / "environments.toml"
    broken.write_text(SPEC_FILE.read_text() + "\n[dev.capacity\n")
    with pytest.raises(SpecError, match="valid TOML"):
        read_raw(broken)


def test_waf_per_ip_limit_defaults_to_a_share_of_the_stage_rate():
    from refarch.spec import WAF_SHARE_OF_STAGE_RATE_PER_IP, WAF_WINDOW_SECONDS

    for spec in load_all().values():
        budget = spec.api.throttle_rate_per_second * WAF_WINDOW_SECONDS
        assert spec.api.waf_requests_per_ip_per_5_minutes == round(budget * WAF_SHARE_OF_STAGE_RATE_PER_IP)
    # Far above the 2000 per 5 minutes (6.7 req/s) a NAT shared by machine clients used to hit.
    assert load_environment("prod").api.waf_requests_per_ip_per_5_minutes > 2000


def test_waf_per_ip_limit_follows_an_override_and_stays_within_what_waf_accepts():
    explicit = load_environment("dev", overrides={"dev.api.waf_requests_per_ip_per_5_minutes": "500"})
    assert explicit.api.waf_requests_per_ip_per_5_minutes == 500
    tiny = load_environment("dev", overrides={"dev.api.throttle_rate_per_second": "0.01"})
    assert tiny.api.waf_requests_per_ip_per_5_minutes == 10
    error = _error("dev", api__waf_requests_per_ip_per_5_minutes=5)
    assert error.problems[0].field == "api.waf_requests_per_ip_per_5_minutes"


def test_more_instance_types_must_not_repeat_the_primary_or_each_other():
    primary = load_environment("dev").aws.instance_type
    error = _error("dev", aws__more_instance_types=[primary])
    assert [problem.field for problem in error.problems] == ["aws.more_instance_types"]
    error = _error("dev", aws__more_instance_types=["t3a.small", "t3a.small"])
    assert "must not repeat" in error.problems[0].rule
    assert len(load_environment("prod").aws.more_instance_types) >= 1
