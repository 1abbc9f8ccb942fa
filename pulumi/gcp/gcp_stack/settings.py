"""What only Google Cloud needs to know, from the stack's config, validated before anything is registered.

Sizing, limits and GCP's sizes (machine type, Memorystore size and version: `[<env>.gcp]`) come from the
environment spec; these are where to deploy and who to tell (project, region, zones, the backend's DNS
name, where alerts go). Each error names the config key, the value and what is allowed.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

from gcp_stack.item_store import database_name
from refarch.errors import Problem
from refarch.spec import EMAIL_PATTERN, EnvironmentSpec, escalation_problems
from refarch_pulumi.stack import HOW_TO_SET_ESCALATION

# API Gateway runs in these regions only (cloud.google.com/api-gateway/docs/deployment-model).
GATEWAY_REGIONS = (
    "asia-east1",
    "asia-northeast1",
    "australia-southeast1",
    "europe-west1",
    "europe-west2",
    "us-central1",
    "us-east1",
    "us-east4",
    "us-west2",
    "us-west3",
    "us-west4",
)

_REGION = r"^[a-z]+-[a-z]+[0-9]{1,2}$"
_MEMBER = r"^(user|serviceAccount|group|domain):[^\s]+$"
_CHANNEL = r"^projects/[a-z][a-z0-9-]{4,28}[a-z0-9]/notificationChannels/[0-9]+$"


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Provider(_Config):
    """The `gcp:` namespace the provider reads too."""

    project: str = Field(pattern=r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")
    region: str = Field(pattern=_REGION)


class GcpSettings(_Config):
    """The `refarch-gcp:` namespace (camelCase keys, as Pulumi config usually is). Defaults live in
    Pulumi.yaml, which the CLI (and the offline runner) applies before the program runs."""

    zones: tuple[str, ...] = Field(min_length=1, max_length=4)
    backend_domain: str = Field(
        alias="backendDomain",
        max_length=253,
        pattern=r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$",
    )
    alert_email: str | None = Field(None, alias="alertEmail", pattern=EMAIL_PATTERN)
    alert_channels: tuple[str, ...] = Field((), alias="alertChannels")
    api_callers: tuple[str, ...] = Field((), alias="apiCallers")
    # The repository's address for links to the generated runbooks (`<base>/runbooks/gcp/<env>/<doc>.md`),
    # e.g. https://github.com/org/repo/blob/main; without it alerts name the repository-relative path only.
    runbook_base_url: str | None = Field(
        None,
        alias="runbookBaseUrl",
        max_length=1800,
        pattern=r"^https://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[^\s?#]*)?$",
    )
    # The Firestore database the fleet uses instead of the stack's own: one of this project, such as a
    # point-in-time clone of it (`gcloud firestore databases clone`, runbooks/gcp/<env>/restore-store.md).
    items_database: str | None = Field(None, alias="itemsDatabase")
    # A database the fleet is granted but does not serve: a clone about to be served (granted first, so IAM
    # has propagated the grant before any instance uses it), or the one served before while instances not
    # yet replaced still use it. It gets the grant, nothing else; set together with itemsDatabase when they
    # name different databases. Read like itemsDatabase (a misspelt or absent one fails the preview).
    items_database_draining: str | None = Field(None, alias="itemsDatabaseDraining")

    @field_validator("zones")
    @classmethod
    def _distinct_zones(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(value)) != len(value):
            raise ValueError("must not repeat a zone")
        for zone in value:
            if not _zone_shape(zone):
                raise ValueError(f"must be zone names such as europe-west1-b ({zone!r} is not)")
        return value

    @field_validator("alert_channels")
    @classmethod
    def _channel_names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for channel in value:
            if not re.fullmatch(_CHANNEL, channel):
                raise ValueError("must be names such as projects/my-project/notificationChannels/123")
        return value

    @field_validator("items_database", "items_database_draining")
    @classmethod
    def _database_id(cls, value: str | None) -> str | None:
        # Firestore's database ID rules (cloud.google.com/firestore/docs/manage-databases, "Database ID").
        if value is not None and not re.fullmatch(r"[a-z][a-z0-9-]{2,61}[a-z0-9]", value):
            raise ValueError(
                "must be the ID (not the full name) of a Firestore database of gcp:project: 4-63 lower-case "
                "letters, digits and hyphens, starting with a letter and ending with a letter or digit"
            )
        return value

    @field_validator("api_callers")
    @classmethod
    def _members(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for member in value:
            if not re.fullmatch(_MEMBER, member):
                raise ValueError(
                    "must be IAM members such as serviceAccount:caller@p.iam.gserviceaccount.com"
                )
        return value


def _zone_shape(zone: str) -> bool:
    return re.fullmatch(r"^[a-z]+-[a-z]+[0-9]{1,2}-[a-z]$", zone) is not None


class StackSettings(BaseModel):
    """Both namespaces, validated together (refarch_pulumi.stack.validated_stack)."""

    provider: Provider
    gcp: GcpSettings

    @property
    def project(self) -> str:
        return self.provider.project

    @property
    def region(self) -> str:
        return self.provider.region


def cross_checks(
    spec: EnvironmentSpec, provider: Provider | None, gcp: GcpSettings, namespace: str
) -> list[Problem]:
    """Rules across the spec and both namespaces; those on the region wait for a valid `gcp:` namespace."""
    problems = []
    own = database_name(spec.name)
    if gcp.items_database == own:
        problems.append(
            Problem(
                f"{namespace}:itemsDatabase",
                gcp.items_database,
                "must name another database than the stack's own (a clone of it); "
                f"`pulumi config rm {namespace}:itemsDatabase` serves the stack's own",
            )
        )
    draining = gcp.items_database_draining
    if draining is not None and draining in (own, gcp.items_database):
        problems.append(
            Problem(
                f"{namespace}:itemsDatabaseDraining",
                draining,
                "must name a database granted but not served (a clone about to be served, or the one served "
                "before), neither the stack's own (always granted) nor itemsDatabase (the one it serves)",
            )
        )
    if provider is not None:
        problems += _region_problems(spec, provider, gcp, namespace)
    if spec.production and not (gcp.alert_email or gcp.alert_channels or spec.alarms.email):
        problems.append(
            Problem(
                f"{namespace}:alertEmail",
                None,
                "must be set in production (or alertChannels, or the spec's alarms.email): "
                "alerts must reach someone",
            )
        )
    # The runbooks' Escalation names whom to page: the spec's, set per stack through its `spec` config object.
    return problems + escalation_problems(spec, HOW_TO_SET_ESCALATION)


def _region_problems(
    spec: EnvironmentSpec, provider: Provider, gcp: GcpSettings, namespace: str
) -> list[Problem]:
    problems = []
    outside = [zone for zone in gcp.zones if not zone.startswith(f"{provider.region}-")]
    if outside:
        problems.append(
            Problem(f"{namespace}:zones", list(gcp.zones), f"must all be in gcp:region ({provider.region})")
        )
    elif len(gcp.zones) < spec.zones:
        problems.append(
            Problem(
                f"{namespace}:zones", list(gcp.zones), f"must list at least the spec's zones ({spec.zones})"
            )
        )
    if provider.region not in GATEWAY_REGIONS:
        problems.append(
            Problem(
                "gcp:region",
                provider.region,
                f"must be a region API Gateway runs in: {', '.join(GATEWAY_REGIONS)}",
            )
        )
    return problems
