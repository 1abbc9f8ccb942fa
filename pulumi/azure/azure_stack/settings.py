"""Azure stack config: where to deploy and who to tell, validated before anything is registered.

Sizes and tier choices are the spec's (`[<env>.azure]`, refarch/cloud_tables.py). Defaults live in
`Pulumi.yaml` (the place Pulumi users look); this model says what is allowed. Errors use the spec's form:
environment, `<namespace>:<key>`, value, what is allowed.
"""

from __future__ import annotations

import ipaddress
import re

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

from azure_stack.names import AUTONAME_SUFFIX_LENGTH, endpoint_name, other_account_prefix
from refarch.errors import Problem
from refarch.spec import EMAIL_PATTERN, EnvironmentSpec, escalation_problems
from refarch_pulumi.stack import HOW_TO_SET_ESCALATION

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


# The longest account name `itemsAccount` / `itemsAccountDraining` take: the private endpoint the stack makes
# for the account is named after it (names.py), azure-native appends its random suffix, and a private
# endpoint's name has at most 64 ("Naming rules and restrictions for Azure resources",
# Microsoft.Network/privateEndpoints). Shorter than Cosmos DB's own 44 for an account name.
PRIVATE_ENDPOINT_NAME_MAX = 64
OTHER_ACCOUNT_MAX = (
    PRIVATE_ENDPOINT_NAME_MAX - AUTONAME_SUFFIX_LENGTH - len(endpoint_name(other_account_prefix("")))
)
# Hyphen-separated runs of lower-case letters and digits: no hyphen at either end nor two in a row.
# Stricter on purpose than the resource provider's pattern, `^[a-z0-9]+(-[a-z0-9]+)*` with no `$`,
# minLength 3, maxLength 50 (Microsoft.DocumentDB.json 2025-10-15, databaseAccounts name; vendored in
# tests/azure/arm_schema/names.json), which admits anything after a valid start. Written for Python's
# re.fullmatch and POSIX `grep -Ex` alike: the restore-store runbook checks a name with it before
# restoring into it.
OTHER_ACCOUNT_PATTERN = "[a-z0-9]+(-[a-z0-9]+)*"


class _Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, alias_generator=to_camel, populate_by_name=True)


class ProviderSettings(_Settings):
    """`azure-native:*` keys this program reads."""

    location: str = Field(pattern=r"^[a-z][a-z0-9]{2,30}$")


class AzureSettings(_Settings):
    """`refarch-azure:*` keys; the camelCase alias is the config key (`refarch-azure:namePrefix`)."""

    name_prefix: str = Field(pattern=r"^[a-z][a-z0-9]{1,9}$")
    publisher_name: str = Field(min_length=1, max_length=100)
    publisher_email: str = Field(pattern=EMAIL_PATTERN)
    deployer_ip_ranges: list[str] = Field(min_length=1, max_length=20)
    # Who the action group e-mails; falls back to the spec's alarms.email. Production needs one of them.
    alert_email: str | None = Field(None, pattern=EMAIL_PATTERN)
    # The Cosmos DB account the fleet uses instead of the stack's own: the name of an account in the stack's
    # resource group, such as a point-in-time restore of it (`az cosmosdb restore`, runbooks/azure/<env>/
    # restore-store.md). Account names: 3 to OTHER_ACCOUNT_MAX lower-case letters, digits and hyphens,
    # no hyphen at either end.
    items_account: str | None = None
    # An account the fleet is not served from but instances may use: the one it served before, which instances
    # not yet replaced by the rolling upgrade still use, or a restored one about to be served, whose grant and
    # DNS record must take effect first. It keeps its private endpoint and the fleet's data role, nothing
    # else, until the key is removed. Same naming rules; another account than `itemsAccount`.
    items_account_draining: str | None = None

    @field_validator("items_account", "items_account_draining")
    @classmethod
    def _account_name(cls, value: str | None) -> str | None:
        # The length is the stack's own limit (OTHER_ACCOUNT_MAX), the form OTHER_ACCOUNT_PATTERN.
        pattern = rf"(?=.{{3,{OTHER_ACCOUNT_MAX}}}$){OTHER_ACCOUNT_PATTERN}"
        if value is not None and not re.fullmatch(pattern, value):
            raise ValueError(
                "must be the name (not the resource ID) of a Cosmos DB account in the stack's resource "
                f"group: 3-{OTHER_ACCOUNT_MAX} lower-case letters, digits and hyphens (the stack names its "
                "private endpoint for it after it), starting and ending with a letter or digit, no two "
                "hyphens in a row"
            )
        return value

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


def settings_problems(
    spec: EnvironmentSpec, provider: ProviderSettings | None, settings: AzureSettings, namespace: str
) -> list[Problem]:
    """Rules across the spec and this config, every one of them."""
    return production_problems(spec, settings, namespace) + draining_problems(settings, namespace)


def draining_problems(settings: AzureSettings, namespace: str) -> list[Problem]:
    """A draining account is one the fleet is not served from: it may be set beside `itemsAccount` when it
    names another account (switching from one restored account to the next, or granting a restored account
    before serving it). (That it exists is read like `itemsAccount`'s: the preview looks it up. That it is not
    the stack's own account cannot be checked here: that name is generated at the first deployment; the
    preview checks it from then on, item_store.py `_not_own`; pulumi/azure/README.md, known limits.)"""
    draining = settings.items_account_draining
    if draining is None or draining != settings.items_account:
        return []
    return [
        Problem(
            f"{namespace}:itemsAccountDraining",
            draining,
            "must name another account than itemsAccount, the one the fleet serves: an account is either "
            "served or draining",
        )
    ]


def production_problems(spec: EnvironmentSpec, settings: AzureSettings, namespace: str) -> list[Problem]:
    """What production adds to this config: alerts must reach someone, and the runbooks name whom to
    page. (The spec's `[<env>.azure]` rules, zone-redundant gateway tiers among them, are
    refarch/cloud_tables.py's.)"""
    problems = []
    if spec.production and not (settings.alert_email or spec.alarms.email):
        problems.append(
            Problem(
                f"{namespace}:alertEmail",
                None,
                "must be set in production (or the spec's alarms.email): alerts must reach someone",
            )
        )
    # The spec's, set per stack through its `spec` config object (refarch_pulumi/stack.py).
    return problems + escalation_problems(spec, HOW_TO_SET_ESCALATION)
