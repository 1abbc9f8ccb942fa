"""Where the tier's logs are kept, and for how long: a log bucket with the spec's retention that receives
the load balancer's, the health checks', the gateway's, the instances' and the cache's logs; and what is
copied there no longer also fills the project's _Default bucket (kept 30 days), except the health check
logs, which the unhealthy-backends log-match alert reads where they always were.

An exclusion created through projects.exclusions applies to the _Default sink; a sink's own routing is
not affected by it (cloud.google.com/logging/docs/reference/v2/rest/v2/projects.exclusions)."""

from __future__ import annotations

import pulumi
import pulumi_gcp.logging as logging

from refarch.spec import Retention

# The resource types of this architecture's logs (load balancer, health checks, gateway, instances, cache).
LOGGED_RESOURCES = ("http_load_balancer", "gce_instance_group", "api", "gce_instance", "redis_instance")
# Copied to the bucket and kept out of _Default: all but the health checks (unhealthy-backends matches them).
KEPT_ONLY_IN_BUCKET = tuple(resource for resource in LOGGED_RESOURCES if resource != "gce_instance_group")


def log_filter(resources: tuple[str, ...] = LOGGED_RESOURCES) -> str:
    return " OR ".join(f'resource.type="{resource}"' for resource in resources)


def retained_logs(
    environment: str, retention: Retention, project: str, opts: pulumi.ResourceOptions
) -> logging.ProjectBucketConfig:
    """The bucket that keeps the logs the spec's `retention.log_days`."""
    bucket = logging.ProjectBucketConfig(
        "service-logs",
        project=project,
        location="global",
        bucket_id=f"{environment}-service-logs",
        retention_days=retention.log_days,
        description=f"Stateless service logs ({environment}), kept {retention.log_days} days",
        opts=opts,
    )
    # A sink into a log bucket of the same project needs no grant to its writer identity.
    logging.ProjectSink(
        "service-logs",
        project=project,
        destination=bucket.name.apply(lambda name: f"logging.googleapis.com/{name}"),
        filter=log_filter(),
        unique_writer_identity=True,
        description="Routes the tier's logs to the bucket that keeps them for the spec's retention",
        opts=opts,
    )
    logging.ProjectExclusion(
        "copied-to-service-logs",
        project=project,
        name=f"{environment}-copied-to-service-logs",
        description=f"Kept {retention.log_days} days in the service-logs bucket instead",
        filter=log_filter(KEPT_ONLY_IN_BUCKET),
        opts=opts,
    )
    return bucket
