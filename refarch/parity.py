"""The parity table: for every shared spec field, each cloud uses it (naming the module that reads it) or
opts out by name with a reason. Nothing is ignored silently.

The tests hold the table to what the renderers really do: each cloud's single synthesis/preview of the
session records which spec fields it read (refarch.spec_reads), and `problems()` compares. A field read
and opted out, a field neither read nor opted out, or a named module that did not read it, all fail.
Each cloud's own table (`[<env>.aws]` ...) must be read by that cloud, entirely.

    python -m refarch.parity     the per-cloud "what differs" Markdown (pasted into the README)
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from refarch import ROOT
from refarch.platforms import CLOUDS
from refarch.spec import EnvironmentSpec
from refarch.spec_reads import Reads, leaf_paths

COMMAND = "python -m refarch.parity"
AZURE = "pulumi/azure/azure_stack"
GCP = "pulumi/gcp/gcp_stack"


@dataclass(frozen=True)
class Uses:
    """The cloud renders the field; `where` is a module that reads it (path from the repository root)."""

    where: str
    # Read only when this key of the stack's own config is unset (a fallback): the test unsets it.
    when_unset: str | None = None


@dataclass(frozen=True)
class OptOut:
    reason: str


Entry = Uses | OptOut


def shared_fields() -> list[str]:
    """Every leaf of the spec that is not a cloud's own table (and not the environment's name)."""
    clouds = tuple(f"{cloud}." for cloud in CLOUDS)
    return [path for path in leaf_paths(EnvironmentSpec) if path != "name" and not path.startswith(clouds)]


def cloud_fields(cloud: str) -> list[str]:
    """Every leaf of the cloud's own table (`[<env>.<cloud>]`)."""
    return [path for path in leaf_paths(EnvironmentSpec) if path.startswith(f"{cloud}.")]


_SERVICE = "refarch/service_settings.py"

PARITY: dict[str, dict[str, Entry]] = {
    "production": {
        "aws": Uses("stacks/service_stack.py"),
        "azure": Uses(f"{AZURE}/program.py"),
        "gcp": Uses(f"{GCP}/program.py"),
    },
    "zones": {
        "aws": Uses("stacks/network.py"),
        "azure": Uses(f"{AZURE}/program.py"),
        "gcp": Uses(f"{GCP}/fleet.py"),
    },
    "vpc_cidr": {
        "aws": Uses("stacks/network.py"),
        "azure": Uses(f"{AZURE}/program.py"),
        "gcp": Uses(f"{GCP}/program.py"),
    },
    "capacity.min": {
        "aws": Uses("stacks/fleet.py"),
        "azure": Uses(f"{AZURE}/fleet.py"),
        "gcp": Uses(f"{GCP}/fleet.py"),
    },
    "capacity.desired": {
        "aws": OptOut(
            "the group starts at `capacity.min` and target tracking decides: a desired count in the "
            "template would reset a scaled-out fleet on every deployment"
        ),
        "azure": Uses(f"{AZURE}/fleet.py"),
        "gcp": OptOut(
            "the managed instance group starts at `capacity.min` and the autoscaler decides, as on AWS"
        ),
    },
    "capacity.max": {
        "aws": Uses("stacks/fleet.py"),
        "azure": Uses(f"{AZURE}/fleet.py"),
        "gcp": Uses(f"{GCP}/fleet.py"),
    },
    "capacity.cpu_target_percent": {
        "aws": Uses("stacks/fleet.py"),
        "azure": Uses(f"{AZURE}/fleet.py"),
        "gcp": Uses(f"{GCP}/fleet.py"),
    },
    "capacity.root_volume_gib": {
        "aws": Uses("stacks/fleet.py"),
        "azure": Uses(f"{AZURE}/fleet.py"),
        "gcp": Uses(f"{GCP}/fleet.py"),
    },
    "capacity.health_check_grace_seconds": {
        "aws": Uses("stacks/boot.py"),
        "azure": OptOut("AWS's boot budget (launch to in service); Azure has no such figure"),
        "gcp": OptOut(
            "AWS's boot budget; GCP's sets autohealing's delay and the autoscaler's initialization period"
        ),
    },
    "capacity.warmup_seconds": {
        "aws": OptOut(
            "Azure's pause between rolling-upgrade batches; the instance refresh's warm-up is the boot budget"
        ),
        "azure": Uses(f"{AZURE}/fleet.py"),
        "gcp": OptOut("Azure's pause between rolling-upgrade batches; the boot budget sets the MIG's waits"),
    },
    "cache.replicas": {
        "aws": Uses("stacks/session_cache.py"),
        "azure": Uses(f"{AZURE}/session_cache.py"),
        "gcp": Uses(f"{GCP}/session_cache.py"),
    },
    "cache.snapshot_retention_days": {
        "aws": Uses("stacks/session_cache.py"),
        "azure": Uses(f"{AZURE}/session_cache.py"),
        "gcp": Uses(f"{GCP}/session_cache.py"),
    },
    "store.point_in_time_recovery": {
        "aws": Uses("stacks/item_store.py"),
        "azure": Uses(f"{AZURE}/item_store.py"),
        "gcp": Uses(f"{GCP}/item_store.py"),
    },
    "store.deletion_protection": {
        "aws": Uses("stacks/item_store.py"),
        "azure": Uses(f"{AZURE}/item_store.py"),
        "gcp": Uses(f"{GCP}/item_store.py"),
    },
    "api.throttle_rate_per_second": {
        "aws": Uses("stacks/api_gateway.py"),
        "azure": Uses(f"{AZURE}/api_gateway.py"),
        "gcp": Uses(f"{GCP}/edge_rate.py"),
    },
    "api.throttle_burst": {
        "aws": Uses("stacks/api_gateway.py"),
        "azure": Uses(f"{AZURE}/api_gateway.py"),
        "gcp": Uses(f"{GCP}/edge_rate.py"),
    },
    "api.waf_requests_per_ip_per_5_minutes": {
        "aws": Uses("stacks/api_gateway.py"),
        "azure": Uses(f"{AZURE}/api_gateway.py"),
        "gcp": OptOut(
            "per-client throttling is the gateway's per-consumer quota; Cloud Armor's per-address limit is "
            "the whole API's budget (the edge policy)"
        ),
    },
    "alarms.error_5xx_percent": {
        "aws": Uses("stacks/monitoring.py"),
        "azure": Uses(f"{AZURE}/alerts.py"),
        "gcp": Uses(f"{GCP}/monitoring.py"),
    },
    "alarms.p99_latency_ms": {
        "aws": Uses("stacks/monitoring.py"),
        "azure": Uses(f"{AZURE}/alerts.py"),
        "gcp": Uses(f"{GCP}/monitoring.py"),
    },
    "alarms.unhealthy_hosts": {
        "aws": Uses("stacks/monitoring.py"),
        "azure": OptOut(
            "AWS's count; Azure's `healthy-hosts` alert fires when the average healthy instances fall below "
            "`capacity.min`"
        ),
        "gcp": OptOut(
            "the unhealthy-backends alert fires on the first instance turning unhealthy: a count needs a "
            "log-based metric, whose alert cannot be created in the deployment that creates the metric"
        ),
    },
    "alarms.cache_cpu_percent": {
        "aws": Uses("stacks/monitoring.py"),
        "azure": Uses(f"{AZURE}/alerts.py"),
        "gcp": Uses(f"{GCP}/monitoring.py"),
    },
    "alarms.cache_memory_percent": {
        "aws": Uses("stacks/monitoring.py"),
        "azure": Uses(f"{AZURE}/alerts.py"),
        "gcp": Uses(f"{GCP}/monitoring.py"),
    },
    "alarms.store_throttled_requests": {
        "aws": Uses("stacks/monitoring.py"),
        "azure": Uses(f"{AZURE}/alerts.py"),
        "gcp": Uses(f"{GCP}/monitoring.py"),
    },
    "alarms.email": {
        "aws": Uses("stacks/monitoring.py"),
        "azure": Uses(f"{AZURE}/program.py", when_unset="alertEmail"),
        "gcp": Uses(f"{GCP}/monitoring.py", when_unset="alertEmail"),
    },
    "alarms.escalation": {
        # Recorded as a stack output the runbooks' Escalation quotes; no resource reads it.
        "aws": Uses("stacks/service_stack.py"),
        "azure": Uses(f"{AZURE}/program.py"),
        "gcp": Uses(f"{GCP}/program.py"),
    },
    "retention.log_days": {
        "aws": Uses("stacks/retention.py"),
        "azure": Uses(f"{AZURE}/program.py"),
        "gcp": Uses(f"{GCP}/service_logs.py"),
    },
    "retention.access_log_days": {
        "aws": Uses("stacks/object_storage.py"),
        "azure": Uses(f"{AZURE}/program.py"),
        "gcp": Uses(f"{GCP}/program.py"),
    },
    "service.port": {"aws": Uses(_SERVICE), "azure": Uses(_SERVICE), "gcp": Uses(_SERVICE)},
    "service.session_ttl_seconds": {"aws": Uses(_SERVICE), "azure": Uses(_SERVICE), "gcp": Uses(_SERVICE)},
    "service.cache_timeout_ms": {"aws": Uses(_SERVICE), "azure": Uses(_SERVICE), "gcp": Uses(_SERVICE)},
    "service.store_timeout_ms": {"aws": Uses(_SERVICE), "azure": Uses(_SERVICE), "gcp": Uses(_SERVICE)},
    "service.shutdown_grace_seconds": {
        "aws": Uses("stacks/load_balancer.py"),
        "azure": Uses(f"{AZURE}/program.py"),
        "gcp": Uses(f"{GCP}/load_balancer.py"),
    },
    "tls.certificate_arn": {
        "aws": Uses("stacks/load_balancer.py"),
        "azure": OptOut(
            "an ACM certificate is AWS's; API Management reaches the Application Gateway over HTTP inside "
            "the VNet (a known limit)"
        ),
        "gcp": OptOut("an ACM certificate is AWS's; the load balancer has a Google-managed certificate"),
    },
    "tls.domain": {
        "aws": Uses("stacks/api_gateway.py"),
        "azure": OptOut("goes with tls.certificate_arn (AWS's); Azure has no gateway-to-LB certificate name"),
        "gcp": OptOut("goes with tls.certificate_arn (AWS's); the stack config's backendDomain names the LB"),
    },
    "tls.required": {
        "aws": OptOut("checked by the spec (tls.certificate_arn must be set), nothing to render"),
        "azure": OptOut("checked by the spec for AWS's certificate; nothing to render on Azure"),
        "gcp": OptOut("checked by the spec for AWS's certificate; nothing to render on GCP"),
    },
    "encryption.customer_managed_keys": {
        "aws": Uses("stacks/encryption.py"),
        "azure": OptOut("not built yet: data at rest uses Microsoft-managed keys (a known gap)"),
        "gcp": OptOut("not built yet: data at rest uses Google-managed keys (a known gap)"),
    },
}


def _relative(filename: str) -> str:
    path = Path(filename)
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else filename


def readers(reads: Reads, field: str) -> set[str]:
    return {_relative(name) for name in reads.readers.get(field, ())}


def problems(cloud: str, reads: Reads, conditional: Reads | None = None) -> list[str]:
    """Where `cloud`'s renderer and the parity table disagree, given what it read (`conditional`: what it
    read with the `when_unset` keys unset)."""
    found = []
    missing = sorted(set(shared_fields()) ^ set(PARITY))
    if missing:
        found.append(f"the parity table and the spec's shared fields differ: {missing}")
    for field, entries in PARITY.items():
        entry = entries.get(cloud)
        fallback = isinstance(entry, Uses) and entry.when_unset is not None
        if fallback and conditional is None:
            found.append(f"{field}: {cloud} uses it only without `{entry.when_unset}`: no such run recorded")
            continue
        seen = readers(conditional if fallback else reads, field)
        if entry is None:
            found.append(
                f"{field}: {cloud} neither uses it nor opts out (read by {sorted(seen) or 'nothing'})"
            )
        elif isinstance(entry, OptOut) and seen:
            found.append(f"{field}: {cloud} opts out, yet {', '.join(sorted(seen))} read it")
        elif isinstance(entry, Uses) and entry.where not in seen:
            found.append(
                f"{field}: {cloud} names {entry.where}, which did not read it (read by {sorted(seen)})"
            )
    for field in cloud_fields(cloud):
        if not readers(reads, field):
            found.append(f"{field}: {cloud}'s own field, never read by its renderer")
    return found


BEGIN = "<!-- parity {cloud}: generated by `" + COMMAND + "`; do not edit -->"
END = "<!-- end of parity {cloud} -->"
TITLES = {"aws": "AWS", "azure": "Azure", "gcp": "GCP"}


def markdown(cloud: str) -> str:
    """What `cloud` does differently with the spec: the shared fields it opts out of, and its own table."""
    lines = [BEGIN.format(cloud=cloud), f"| shared spec field | {TITLES[cloud]} |", "|---|---|"]
    for field, entries in PARITY.items():
        entry = entries[cloud]
        if isinstance(entry, OptOut):
            lines.append(f"| `{field}` | not used: {entry.reason} |")
        elif entry.when_unset:
            lines.append(f"| `{field}` | used when the stack config sets no `{entry.when_unset}` |")
    own = ", ".join(f"`{field}`" for field in cloud_fields(cloud))
    lines += ["", f"{TITLES[cloud]}'s own table `[<env>.{cloud}]`: {own}.", END.format(cloud=cloud)]
    return "\n".join(lines)


def main() -> int:
    sys.stdout.write("\n\n".join(markdown(cloud) for cloud in CLOUDS) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
