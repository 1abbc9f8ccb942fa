"""Azure-only stack config, validated before anything is registered.

Defaults live in `Pulumi.yaml` (the place Pulumi users look); this model says what is allowed, and the
spec-dependent rules say what production additionally needs. Errors use the spec's form: environment,
`<namespace>:<key>`, value, what is allowed.
"""

from __future__ import annotations

import ipaddress

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

from refarch.errors import Problem
from refarch.spec import EMAIL_PATTERN, EnvironmentSpec

# The tiers that can be injected into a VNet and so reach the private load balancer. The others
# (Consumption, Basic, Standard, Basic v2) reach only public backends, which would leave a path from the
# internet to the load balancer that bypasses the gateway.
APIM_SKUS = ("Developer", "Premium")
# Ranges a storage account's IP rules cannot hold (RFC 1918, shared, loopback, link-local, multicast, "this").
NOT_ROUTABLE = tuple(
    ipaddress.IPv4Network(cidr)
    for cidr in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "224.0.0.0/3",
    )
)


class _Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, alias_generator=to_camel, populate_by_name=True)


class ProviderSettings(_Settings):
    """`azure-native:*` keys this program reads."""

    location: str = Field(pattern=r"^[a-z][a-z0-9]{2,30}$")


class AzureSettings(_Settings):
    """`refarch-azure:*` keys; the camelCase alias is the config key (`refarch-azure:vmSize`)."""

    name_prefix: str = Field(pattern=r"^[a-z][a-z0-9]{1,9}$")
    vm_size: str = Field(pattern=r"^Standard_[A-Za-z0-9_]+$")
    encryption_at_host: bool
    gateway_min_capacity: int = Field(ge=0, le=125)
    gateway_max_capacity: int = Field(ge=2, le=125)
    waf_mode: str = Field(pattern=r"^(Prevention|Detection)$")
    apim_sku: str = Field(pattern=rf"^({'|'.join(APIM_SKUS)})$")
    apim_capacity: int = Field(ge=1, le=12)
    publisher_name: str = Field(min_length=1, max_length=100)
    publisher_email: str = Field(pattern=EMAIL_PATTERN)
    # Share of successful requests API Management sends to Application Insights (errors always go).
    insights_sampling_percent: float = Field(gt=0, le=100)
    cache_sku: str = Field(pattern=r"^(Balanced|MemoryOptimized|ComputeOptimized)_[AB][0-9]{1,4}$")
    cosmos_max_throughput: int = Field(ge=1000, le=1_000_000, multiple_of=1000)
    deployer_ip_ranges: list[str] = Field(min_length=1, max_length=20)
    # Who the action group e-mails; falls back to the spec's alarms.email. Production needs one of them.
    alert_email: str | None = Field(None, pattern=EMAIL_PATTERN)

    @field_validator("deployer_ip_ranges")
    @classmethod
    def _public_ipv4(cls, ranges: list[str]) -> list[str]:
        for value in ranges:
            try:
                network = ipaddress.IPv4Network(value)
            except ValueError:
                raise ValueError(
                    f"{value!r} must be an IPv4 address or CIDR such as 203.0.113.0/24"
                ) from None
            # Storage firewall rules refuse private and special ranges, and /31 or /32 prefixes.
            if any(network.overlaps(blocked) for blocked in NOT_ROUTABLE):
                raise ValueError(f"{value!r} must be a public address or range, not a private or special one")
            if network.prefixlen in (31, 32) and "/" in value:
                raise ValueError(
                    f"{value!r}: give a single address without a prefix, or a CIDR of /30 or wider"
                )
        return ranges


def production_problems(spec: EnvironmentSpec, settings: AzureSettings, namespace: str) -> list[Problem]:
    """What production adds: a zone-redundant gateway tier and enough gateway instances for every zone."""
    problems = []
    if settings.gateway_min_capacity > settings.gateway_max_capacity:
        problems.append(
            Problem(
                f"{namespace}:gatewayMinCapacity",
                settings.gateway_min_capacity,
                f"must be at most gatewayMaxCapacity ({settings.gateway_max_capacity})",
            )
        )
    if not spec.production:
        return problems
    if not (settings.alert_email or spec.alarms.email):
        problems.append(
            Problem(
                f"{namespace}:alertEmail",
                None,
                "must be set in production (or the spec's alarms.email): alerts must reach someone",
            )
        )
    if settings.apim_sku != "Premium":
        problems.append(
            Problem(
                f"{namespace}:apimSku", settings.apim_sku, "must be Premium in production (zone redundancy)"
            )
        )
    elif settings.apim_capacity % spec.zones:
        problems.append(
            Problem(
                f"{namespace}:apimCapacity",
                settings.apim_capacity,
                f"must be a multiple of zones ({spec.zones}) in production",
            )
        )
    if settings.gateway_min_capacity < spec.zones:
        problems.append(
            Problem(
                f"{namespace}:gatewayMinCapacity",
                settings.gateway_min_capacity,
                f"must be at least zones ({spec.zones}) in production",
            )
        )
    if settings.waf_mode != "Prevention":
        problems.append(
            Problem(f"{namespace}:wafMode", settings.waf_mode, "must be Prevention in production")
        )
    return problems
