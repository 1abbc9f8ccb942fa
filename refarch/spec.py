"""The environment spec: typed, validated, cloud-neutral.

Field defaults are the project's secure defaults; `environments.toml` tunes them per environment.
Every renderer (CDK stacks, Pulumi programs, runbook generators) reads an `EnvironmentSpec` and
nothing else for sizing and limits.
"""

from __future__ import annotations

import ipaddress
import math
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from refarch import ROOT
from refarch.cloud_tables import CLOUD_TABLE_RULES, AwsTable, AzureTable, GcpTable
from refarch.errors import Problem, SpecError
from refarch.spec_reads import recording
from sample_service import defaults

SPEC_FILE = ROOT / "environments.toml"
# An e-mail address for alerts, in the spec and in every cloud's stack config.
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"

# Who to page when a runbook says Escalation, and how: one line of plain text the runbooks quote as written.
ESCALATION_MAX_LENGTH = 200
# Letters, digits, spaces and the punctuation of names, URLs and phone numbers; no backtick, quote, `$`, `\\`,
# `<>`, `[]`, `*` or `|`, which would end a Markdown code span or table cell, start a link or emphasis, or
# break shell quoting where a reader pastes it.
ESCALATION_ALLOWED = "ASCII letters, digits, spaces and . , : ; / + - ( ) @ # & ? = % ~ ! _"
ESCALATION_PATTERN = re.compile(r"[A-Za-z0-9 .,:;/+\-()@#&?=%~!_]+")

ENVIRONMENT_NAME = re.compile(r"^[a-z][a-z0-9-]{1,15}$")

# CloudWatch Logs accepts only these retention periods; Azure and GCP accept any of them too.
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 3653)

Percent = Annotated[float, Field(gt=0, le=100)]


class _Section(BaseModel):
    # Typos in the spec must fail loudly, not silently fall back to a default.
    model_config = ConfigDict(extra="forbid", frozen=True)


class Capacity(_Section):
    """Instance counts and scaling. `desired` is the count to run when scaling has no metrics to go by
    (Azure's autoscale default); AWS and GCP start at `min` and let target tracking decide, because a
    fixed desired count in a template resets a scaled-out fleet on every deployment."""

    min: int = Field(2, ge=1, le=100)
    desired: int = Field(2, ge=1, le=100)
    max: int = Field(6, ge=1, le=100)
    cpu_target_percent: int = Field(50, ge=10, le=90)
    root_volume_gib: int = Field(20, ge=8, le=200)
    # AWS's boot budget (stacks/boot.py): launch to in service, the grace before health checks count and
    # the warm-ups; it must leave the boot's downloads time to wait out IAM.
    health_check_grace_seconds: int = Field(300, ge=60, le=1800)
    # Azure's pause between rolling-upgrade batches.
    warmup_seconds: int = Field(120, ge=30, le=900)


class Cache(_Section):
    # Read replicas per shard; one or more enables Multi-AZ automatic failover.
    replicas: int = Field(1, ge=0, le=5)
    snapshot_retention_days: int = Field(1, ge=0, le=35)


class Store(_Section):
    point_in_time_recovery: bool = True
    deletion_protection: bool = True


# Unless the spec says otherwise, one client address may use this share of the stage's sustained rate.
# Machine clients often share a NAT address, so a per-address limit far below the stage's rate blocks
# legitimate callers; above the stage's rate it would never act. Half lets one address (one NAT) use
# most of the capacity while a single flooding address cannot take all of it.
WAF_SHARE_OF_STAGE_RATE_PER_IP = 0.5
# WAF rate-based rules: limits from 10 to 2,000,000,000 requests per evaluation window.
WAF_RATE_LIMIT_RANGE = (10, 2_000_000_000)
WAF_WINDOW_SECONDS = 300


class Api(_Section):
    throttle_rate_per_second: float = Field(100, gt=0, le=10000)
    throttle_burst: int = Field(200, gt=0, le=5000)
    # Requests one client IP may make in five minutes before the WAF blocks it; derived from the stage's
    # throttle when not set (see WAF_SHARE_OF_STAGE_RATE_PER_IP).
    waf_requests_per_ip_per_5_minutes: int = Field(
        None, ge=WAF_RATE_LIMIT_RANGE[0], le=WAF_RATE_LIMIT_RANGE[1], validate_default=False
    )

    @model_validator(mode="after")
    def _derive_waf_limit(self) -> Api:
        if self.waf_requests_per_ip_per_5_minutes is None:
            derived = math.ceil(
                self.throttle_rate_per_second * WAF_WINDOW_SECONDS * WAF_SHARE_OF_STAGE_RATE_PER_IP
            )
            # Frozen model: set the derived default once, during validation.
            object.__setattr__(
                self,
                "waf_requests_per_ip_per_5_minutes",
                min(max(derived, WAF_RATE_LIMIT_RANGE[0]), WAF_RATE_LIMIT_RANGE[1]),
            )
        return self


class Alarms(_Section):
    error_5xx_percent: Percent = 5
    p99_latency_ms: int = Field(1000, ge=10, le=29000)
    unhealthy_hosts: int = Field(1, ge=1, le=100)
    cache_cpu_percent: Percent = 75
    cache_memory_percent: Percent = 80
    store_throttled_requests: int = Field(1, ge=1)
    # Optional e-mail subscription for the alarm topic; without one, subscribe the topic yourself.
    email: str | None = Field(None, pattern=EMAIL_PATTERN)
    # Who to page when a runbook says Escalation, and how (a rota or pager service, a phone, a URL); each
    # stack records it as an output the runbooks quote. Production requires it (each cloud's config check).
    escalation: str | None = None

    @field_validator("escalation")
    @classmethod
    def _one_plain_line(cls, value: str | None) -> str | None:
        if value is None:
            return value
        text = value.strip()
        if not text:
            raise ValueError("must name who to page and how, not be blank")
        if len(text) > ESCALATION_MAX_LENGTH:
            raise ValueError(f"must be at most {ESCALATION_MAX_LENGTH} characters (it is {len(text)})")
        if not ESCALATION_PATTERN.fullmatch(text):
            bad = sorted({char for char in text if not ESCALATION_PATTERN.fullmatch(char)})
            raise ValueError(f"must be one line of {ESCALATION_ALLOWED} (not {' '.join(map(repr, bad))})")
        return text


class Retention(_Section):
    log_days: int = 30
    access_log_days: int = Field(90, ge=1, le=3650)

    @field_validator("log_days")
    @classmethod
    def _supported_retention(cls, value: int) -> int:
        if value not in LOG_RETENTION_DAYS:
            raise ValueError(f"must be one of {', '.join(map(str, LOG_RETENTION_DAYS))}")
        return value


class Encryption(_Section):
    """Keys for data at rest. Customer-managed keys (AWS: one KMS key per stack, rotated) put the key
    policy and its audit trail in the operator's hands; AWS-managed keys cost nothing extra."""

    customer_managed_keys: bool = False


class Tls(_Section):
    """HTTPS between the API gateway and the load balancer (AWS). Give both the certificate and the name it
    covers, or neither; `required` makes a missing certificate an error (for production)."""

    # An ACM certificate in the stack's region; the gateway checks it against `domain`.
    certificate_arn: str | None = Field(
        None, pattern=r"^arn:aws[a-z-]*:acm:[a-z0-9-]+:[0-9]{12}:certificate/[0-9a-f-]{36}$"
    )
    domain: str | None = Field(
        None, max_length=253, pattern=r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$"
    )
    required: bool = False


class Service(_Section):
    """How the sample service runs; the same values configure its environment on every cloud.
    Defaults are the service's own (sample_service/defaults.py)."""

    port: int = Field(defaults.SERVICE_PORT, ge=1024, le=65535)
    session_ttl_seconds: int = Field(defaults.SESSION_TTL_SECONDS, ge=60, le=86400)
    cache_timeout_ms: int = Field(defaults.CACHE_TIMEOUT_MS, ge=10, le=5000)
    store_timeout_ms: int = Field(defaults.STORE_TIMEOUT_MS, ge=10, le=10000)
    # In-flight requests get this long after SIGTERM; the load balancer drains for the same time.
    shutdown_grace_seconds: int = Field(defaults.SHUTDOWN_GRACE_SECONDS, ge=5, le=300)


class EnvironmentSpec(_Section):
    name: str
    production: bool = False
    zones: int = Field(3, ge=1, le=3)
    vpc_cidr: str = "10.0.0.0/16"
    capacity: Capacity = Capacity()
    cache: Cache = Cache()
    store: Store = Store()
    api: Api = Api()
    alarms: Alarms = Alarms()
    retention: Retention = Retention()
    service: Service = Service()
    tls: Tls = Tls()
    encryption: Encryption = Encryption()
    # Each cloud's sizes and tier choices (refarch/cloud_tables.py).
    aws: AwsTable = AwsTable()
    azure: AzureTable = AzureTable()
    gcp: GcpTable = GcpTable()

    @field_validator("vpc_cidr")
    @classmethod
    def _private_cidr(cls, value: str) -> str:
        try:
            network = ipaddress.IPv4Network(value)
        except ValueError as exc:
            raise ValueError(f"must be an IPv4 network such as 10.0.0.0/16 ({exc})") from None
        if not network.is_private or not 16 <= network.prefixlen <= 20:
            raise ValueError("must be a private IPv4 network with a prefix from /16 to /20")
        return value


def _min_within_max(spec: EnvironmentSpec) -> list[Problem]:
    cap = spec.capacity
    if cap.min > cap.max:
        return [Problem("capacity.min", cap.min, f"must be at most capacity.max ({cap.max})")]
    return []


def _desired_within_bounds(spec: EnvironmentSpec) -> list[Problem]:
    cap = spec.capacity
    if not cap.min <= cap.desired <= cap.max:
        return [
            Problem(
                "capacity.desired",
                cap.desired,
                f"must be between capacity.min ({cap.min}) and max ({cap.max})",
            )
        ]
    return []


def _certificate_with_domain(spec: EnvironmentSpec) -> list[Problem]:
    tls = spec.tls
    if (tls.certificate_arn is None) != (tls.domain is None):
        missing = "tls.domain" if tls.domain is None else "tls.certificate_arn"
        return [Problem(missing, None, "must be set together with the other of certificate_arn and domain")]
    return []


def _certificate_when_required(spec: EnvironmentSpec) -> list[Problem]:
    if spec.tls.required and spec.tls.certificate_arn is None:
        return [Problem("tls.certificate_arn", None, "must be set: tls.required is true")]
    return []


def _production_zones(spec: EnvironmentSpec) -> list[Problem]:
    # Production must survive the loss of one zone with no manual step.
    if spec.production and spec.zones < 2:
        return [Problem("zones", spec.zones, "must be 2 or 3 in production (3 recommended)")]
    return []


def _production_capacity(spec: EnvironmentSpec) -> list[Problem]:
    if spec.production and spec.capacity.min < spec.zones:
        return [
            Problem("capacity.min", spec.capacity.min, f"must be at least zones ({spec.zones}) in production")
        ]
    return []


def _production_cache_failover(spec: EnvironmentSpec) -> list[Problem]:
    if spec.production and spec.cache.replicas < 1:
        return [
            Problem(
                "cache.replicas", spec.cache.replicas, "must be at least 1 in production (Multi-AZ failover)"
            )
        ]
    return []


def _production_deletion_protection(spec: EnvironmentSpec) -> list[Problem]:
    if spec.production and not spec.store.deletion_protection:
        return [Problem("store.deletion_protection", False, "must be true in production")]
    return []


def _production_point_in_time_recovery(spec: EnvironmentSpec) -> list[Problem]:
    if spec.production and not spec.store.point_in_time_recovery:
        return [Problem("store.point_in_time_recovery", False, "must be true in production")]
    return []


def escalation_problems(spec: EnvironmentSpec, how_to_set: str) -> list[Problem]:
    """Production names who to page when a runbook says Escalation. Each cloud checks it where it checks the
    alarm e-mail (its tool's overrides can set it; `how_to_set` says how), not the spec file alone."""
    if spec.production and not spec.alarms.escalation:
        return [
            Problem(
                "alarms.escalation",
                None,
                "must be set in production: who to page when a runbook says Escalation, and how (a rota or "
                f"pager service, a phone, a URL; one line of {ESCALATION_ALLOWED}, at most "
                f"{ESCALATION_MAX_LENGTH}): {how_to_set}",
            )
        ]
    return []


# Rules that relate fields to each other, or that production adds. Each is checked only when every field
# it reads is valid, so one bad value reports its own problem without hiding (or faking) the others.
CROSS_FIELD_RULES = (
    _min_within_max,
    _desired_within_bounds,
    _certificate_with_domain,
    _certificate_when_required,
    _production_zones,
    _production_capacity,
    _production_cache_failover,
    _production_deletion_protection,
    _production_point_in_time_recovery,
    *CLOUD_TABLE_RULES,
)


def _cross_field_problems(spec: EnvironmentSpec, invalid: set[str] = frozenset()) -> list[Problem]:
    """The cross-field rules' problems, leaving out rules that read a field in `invalid`."""
    problems = []
    for rule in CROSS_FIELD_RULES:
        with recording(EnvironmentSpec) as reads:
            found = rule(spec)
        if not any(path == bad or path.startswith(f"{bad}.") for path in reads.paths for bad in invalid):
            problems += found
    return problems


# Fields that moved to a cloud's own table: a spec written before the move is told where each went.
MOVED = {
    "nat_gateways": "aws.nat_gateways",
    "capacity.instance_type": "aws.instance_type",
    "capacity.more_instance_types": "aws.more_instance_types",
    "cache.node_type": "aws.cache_node_type",
    "cache.engine": "aws.cache_engine",
    "cache.engine_version": "aws.cache_engine_version",
}


def problems_from(error: ValidationError) -> list[Problem]:
    problems = []
    for item in error.errors():
        field = ".".join(str(part) for part in item["loc"]) or "(environment)"
        message = item["msg"].removeprefix("Value error, ")
        rule = message[:1].lower() + message[1:]
        value = item.get("input")
        if item["type"] == "extra_forbidden" and field in MOVED:
            rule = f"no such field: it moved to {MOVED[field]} (the cloud's own table)"
        elif item["type"] == "extra_forbidden":
            rule = "no such field (check the spelling)"
        elif item["type"] == "missing":
            # pydantic reports the enclosing object as the input; the field itself has no value.
            value, rule = "(unset)", "is required"
        problems.append(Problem(field, value, rule))
    return problems


def _without(raw: Mapping[str, Any], loc: tuple[Any, ...]) -> dict[str, Any]:
    """A copy of `raw` without the value at `loc` (so the field's default stands in for it)."""
    head, *rest = loc
    copy = dict(raw)
    if rest and isinstance(copy.get(head), Mapping):
        copy[head] = _without(copy[head], tuple(rest))
    else:
        copy.pop(head, None)
    return copy


def parse_environment(name: str, raw: Mapping[str, Any]) -> EnvironmentSpec:
    """Validate one environment's raw mapping; raise SpecError listing every problem, field errors and
    cross-field ones together."""
    if not ENVIRONMENT_NAME.match(name):
        raise SpecError(
            name, [Problem("(name)", name, "must be lower-case letters, digits and '-', 2-16 long")]
        )
    if not isinstance(raw, Mapping):
        raise SpecError(name, [Problem("(environment)", raw, "must be a table of fields")])
    # Validation reads every field; that is not a renderer's use (refarch/parity.py).
    with recording(EnvironmentSpec):
        problems, invalid, valid = [], set(), dict(raw)
        spec = None
        while spec is None:
            try:
                spec = EnvironmentSpec.model_validate({**valid, "name": name})
            except ValidationError as exc:
                errors = [item for item in exc.errors() if item["loc"] and item["loc"][0] != "name"]
                if not errors:
                    raise SpecError(name, problems_from(exc)) from None
                problems += problems_from(exc)
                before = valid
                for item in errors:
                    # List items and dict keys are dropped with their field: the field's default stands in.
                    loc = tuple(part for part in item["loc"] if isinstance(part, str))
                    invalid.add(".".join(loc))
                    valid = _without(valid, loc)
                if valid == before:  # nothing left to drop: report what was found
                    raise SpecError(name, problems) from None
        problems += _cross_field_problems(spec, invalid)
    if problems:
        raise SpecError(name, problems)
    return spec


def apply_overrides(raw: dict[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Merge dotted-path overrides (`prod.capacity.max` -> 12) into a copy of the raw spec."""
    merged = {env: dict(fields) if isinstance(fields, Mapping) else fields for env, fields in raw.items()}
    for path, value in overrides.items():
        env, *keys = path.split(".")
        if env not in merged:
            raise unknown_environment(env, merged)
        if not keys:
            raise SpecError(
                env, [Problem("(override)", path, "must be a dotted path such as prod.capacity.max")]
            )
        node = merged[env]
        for key in keys[:-1]:
            child = node.get(key, {})
            node[key] = dict(child) if isinstance(child, Mapping) else child
            node = node[key]
            if not isinstance(node, dict):
                raise SpecError(
                    env, [Problem(".".join(keys), value, "must be a path through tables of the spec")]
                )
        node[keys[-1]] = value
    return merged


def unknown_environment(name: str, known: Mapping[str, Any]) -> SpecError:
    allowed = ", ".join(known) or "(none defined)"
    return SpecError(
        name, [Problem("(environment)", name, f"must be one of the defined environments: {allowed}")]
    )


class SpecFileError(SpecError):
    """The spec file cannot be read as TOML: which file, which line, what is wrong, in plain words."""

    def __init__(self, path: Path, error: tomllib.TOMLDecodeError) -> None:
        shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
        message = str(error)
        where = re.search(r" \(at line (\d+), column (\d+)\)$", message)
        if where:
            message = message[: where.start()]
            place = f"{shown}, line {where[1]}, column {where[2]}"
        else:
            place = str(shown)
        reason = message[:1].lower() + message[1:]
        self.path, self.line = path, int(where[1]) if where else None
        self.environment, self.problems = (
            "(all)",
            [Problem(str(shown), "(file)", f"must be valid TOML: {reason}")],
        )
        ValueError.__init__(self, f"{place}: not valid TOML: {reason}")


def read_raw(path: Path = SPEC_FILE) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise SpecFileError(path, exc) from None


def load_all(
    path: Path = SPEC_FILE, overrides: Mapping[str, Any] | None = None
) -> dict[str, EnvironmentSpec]:
    """Every environment in the spec file, validated; the first invalid one raises SpecError."""
    raw = apply_overrides(read_raw(path), overrides or {})
    return {name: parse_environment(name, fields) for name, fields in raw.items()}


def load_environment(
    name: str, path: Path = SPEC_FILE, overrides: Mapping[str, Any] | None = None
) -> EnvironmentSpec:
    raw = apply_overrides(read_raw(path), overrides or {})
    if name not in raw:
        raise unknown_environment(name, raw)
    return parse_environment(name, raw[name])
