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


def test_field_and_cross_field_problems_are_reported_together():
    # zones is out of range and capacity.min above capacity.max: both, not only the first kind.
    maximum = load_environment("dev").capacity.max
    error = _error("dev", zones=7, capacity__min=maximum + 2)
    assert {(p.field, p.value) for p in error.problems} >= {("zones", 7), ("capacity.min", maximum + 2)}
    # A rule that reads an invalid field is left out rather than judged against the default standing in.
    prod = _error("prod", zones=7, capacity__min=1, capacity__desired=1)
    assert [p.field for p in prod.problems] == ["zones"]
    both = _error("prod", azure__apim_sku="Basic", azure__gateway_min_capacity=1)
    assert [p.field for p in both.problems] == ["azure.apim_sku", "azure.gateway_min_capacity"]


def test_a_field_that_moved_to_a_cloud_table_says_where():
    raw = read_raw()["dev"]
    old = {**raw, "nat_gateways": 1, "capacity": {**raw["capacity"], "instance_type": "t3.small"}}
    with pytest.raises(SpecError) as caught:
        parse_environment("dev", old)
    assert {(p.field, p.rule) for p in caught.value.problems} == {
        ("nat_gateways", "no such field: it moved to aws.nat_gateways (the cloud's own table)"),
        ("capacity.instance_type", "no such field: it moved to aws.instance_type (the cloud's own table)"),
    }


def test_overrides_arrive_as_strings_from_the_cdk_cli_and_are_coerced():
    spec = load_environment("prod", overrides={"prod.capacity.max": "20"})
    assert spec.capacity.max == 20


def test_malformed_environment_names_and_tables_are_refused():
    with pytest.raises(SpecError, match="lower-case"):
        parse_environment("Prod_1", {})
    with pytest.raises(SpecError, match="a table of fields"):
        parse_environment("dev", 3)  # type: ignore[arg-type]


def test_malformed_spec_file_is_refused_naming_file_and_line_in_plain_words(tmp_path):
    broken = tmp_path / "environments.toml"
    text = SPEC_FILE.read_text() + "\n[dev.capacity\n"
    broken.write_text(text)
    with pytest.raises(SpecError) as caught:
        read_raw(broken)
    line = text.count("\n")  # the unclosed table header is the file's last line
    message = str(caught.value)
    assert message.startswith(f"{broken}, line {line}, column ") and ": not valid TOML: " in message
    assert "\n" not in message and "TOMLDecodeError" not in message
