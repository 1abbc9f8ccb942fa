"""The per-cloud tables of an environment (`[prod.aws]`, `[prod.azure]`, `[prod.gcp]`): each cloud's sizes
and tier choices, validated like the rest of the spec. Field defaults are the project's defaults; the
rules that relate a table to the shared fields (zones, production, cache replicas) are at the end.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from refarch.errors import Problem

if TYPE_CHECKING:
    from refarch.spec import EnvironmentSpec

INSTANCE_TYPE = r"^[a-z][a-z0-9-]*\.[a-z0-9]+$"
CACHE_ENGINE_VERSIONS = {"valkey": ("7.2", "8.0", "8.1"), "redis": ("6.2", "7.0", "7.1")}
# The API Management tiers that can be injected into a VNet and so reach the private load balancer. The
# others (Consumption, Basic, Standard, Basic v2) reach only public backends, which would leave a path from
# the internet to the load balancer that bypasses the gateway.
APIM_SKUS = ("Developer", "Premium")
REDIS_VERSIONS = ("REDIS_6_X", "REDIS_7_0", "REDIS_7_2")
# Memorystore read replicas (more than one replica) need at least this much capacity.
READ_REPLICA_MIN_GB = 5


class _Table(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AwsTable(_Table):
    """`[<env>.aws]`: EC2 instance types, the ElastiCache node and engine, NAT gateways."""

    instance_type: str = Field("t3.medium", pattern=INSTANCE_TYPE)
    # More types the fleet may launch, in order of preference after `instance_type`, so that a replacement
    # still finds capacity when one type runs short in a zone. Same architecture (x86_64 or arm64).
    more_instance_types: list[Annotated[str, Field(pattern=INSTANCE_TYPE)]] = Field(
        default_factory=list, max_length=9
    )
    cache_node_type: str = Field("cache.t4g.small", pattern=r"^cache\.[a-z0-9]+\.[a-z0-9]+$")
    cache_engine: Literal["valkey", "redis"] = "valkey"
    cache_engine_version: str = "8.0"
    # One NAT gateway per zone survives a zone's loss; fewer cost less.
    nat_gateways: int = Field(1, ge=1, le=3)


class AzureTable(_Table):
    """`[<env>.azure]`: VM size, gateway and API Management tiers, cache SKU, Cosmos DB ceiling."""

    vm_size: str = Field("Standard_D2s_v5", pattern=r"^Standard_[A-Za-z0-9_]+$")
    # Encrypt temp disks and caches on the host (register the EncryptionAtHost feature once per subscription).
    encryption_at_host: bool = True
    # Application Gateway v2 autoscale bounds (instances); 0 costs nothing while idle.
    gateway_min_capacity: int = Field(1, ge=0, le=125)
    gateway_max_capacity: int = Field(10, ge=2, le=125)
    # Prevention blocks what the managed rules match; Detection only logs it.
    waf_mode: Literal["Prevention", "Detection"] = "Prevention"
    apim_sku: Literal[APIM_SKUS] = "Developer"
    # API Management units; in production a multiple of zones.
    apim_capacity: int = Field(1, ge=1, le=12)
    # Share of successful requests API Management sends to Application Insights (errors always go).
    insights_sampling_percent: float = Field(100, gt=0, le=100)
    cache_sku: str = Field(
        "Balanced_B1", pattern=r"^(Balanced|MemoryOptimized|ComputeOptimized)_[AB][0-9]{1,4}$"
    )
    # Autoscale ceiling of the item container in RU/s.
    cosmos_max_throughput: int = Field(1000, ge=1000, le=1_000_000, multiple_of=1000)


class GcpTable(_Table):
    """`[<env>.gcp]`: machine type and Memorystore size and version."""

    machine_type: str = Field("e2-medium", pattern=r"^[a-z][a-z0-9]*-[a-z0-9-]+$")
    cache_memory_gb: int = Field(1, ge=1, le=300)
    redis_version: Literal[REDIS_VERSIONS] = "REDIS_7_2"


# Each rule below is checked only when every field it reads is valid (refarch.spec), so a rule checks one
# thing: a bad value elsewhere must not hide it.


def _more_instance_types_distinct(spec: EnvironmentSpec) -> list[Problem]:
    aws = spec.aws
    types = [aws.instance_type, *aws.more_instance_types]
    if len(set(types)) < len(types):
        return [Problem("aws.more_instance_types", aws.more_instance_types, "must not repeat a type")]
    return []


def _nat_gateways_within_zones(spec: EnvironmentSpec) -> list[Problem]:
    if spec.aws.nat_gateways > spec.zones:
        return [Problem("aws.nat_gateways", spec.aws.nat_gateways, f"must be at most zones ({spec.zones})")]
    return []


def _engine_version_of_engine(spec: EnvironmentSpec) -> list[Problem]:
    aws = spec.aws
    allowed_versions = CACHE_ENGINE_VERSIONS[aws.cache_engine]
    if aws.cache_engine_version not in allowed_versions:
        return [
            Problem(
                "aws.cache_engine_version",
                aws.cache_engine_version,
                f"must be one of {', '.join(allowed_versions)} for cache_engine {aws.cache_engine}",
            )
        ]
    return []


def _gateway_bounds_in_order(spec: EnvironmentSpec) -> list[Problem]:
    azure = spec.azure
    if azure.gateway_min_capacity > azure.gateway_max_capacity:
        return [
            Problem(
                "azure.gateway_min_capacity",
                azure.gateway_min_capacity,
                f"must be at most azure.gateway_max_capacity ({azure.gateway_max_capacity})",
            )
        ]
    return []


def _zone_redundant_api_management(spec: EnvironmentSpec) -> list[Problem]:
    """Production's API Management spreads over every zone: Premium, in a multiple of zones."""
    if not spec.production:
        return []
    azure = spec.azure
    if azure.apim_sku != "Premium":
        return [Problem("azure.apim_sku", azure.apim_sku, "must be Premium in production (zone redundancy)")]
    if azure.apim_capacity % spec.zones:
        return [
            Problem(
                "azure.apim_capacity",
                azure.apim_capacity,
                f"must be a multiple of zones ({spec.zones}) in production",
            )
        ]
    return []


def _gateway_instance_in_every_zone(spec: EnvironmentSpec) -> list[Problem]:
    if spec.production and spec.azure.gateway_min_capacity < spec.zones:
        return [
            Problem(
                "azure.gateway_min_capacity",
                spec.azure.gateway_min_capacity,
                f"must be at least zones ({spec.zones}) in production",
            )
        ]
    return []


def _waf_prevents_in_production(spec: EnvironmentSpec) -> list[Problem]:
    if spec.production and spec.azure.waf_mode != "Prevention":
        return [Problem("azure.waf_mode", spec.azure.waf_mode, "must be Prevention in production")]
    return []


def _read_replicas_have_memory(spec: EnvironmentSpec) -> list[Problem]:
    if spec.cache.replicas > 1 and spec.gcp.cache_memory_gb < READ_REPLICA_MIN_GB:
        return [
            Problem(
                "gcp.cache_memory_gb",
                spec.gcp.cache_memory_gb,
                f"must be at least {READ_REPLICA_MIN_GB} when cache.replicas ({spec.cache.replicas}) "
                "is above 1 (Memorystore read replicas)",
            )
        ]
    return []


CLOUD_TABLE_RULES = (
    _more_instance_types_distinct,
    _nat_gateways_within_zones,
    _engine_version_of_engine,
    _gateway_bounds_in_order,
    _zone_redundant_api_management,
    _gateway_instance_in_every_zone,
    _waf_prevents_in_production,
    _read_replicas_have_memory,
)
