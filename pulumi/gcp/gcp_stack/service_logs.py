"""Where the tier's logs are kept, and for how long: a log bucket with the spec's retention that receives
the load balancer's, the gateway's, the instances' and the cache's logs."""

from __future__ import annotations

import pulumi
import pulumi_gcp.logging as logging

from refarch.spec import EnvironmentSpec

# The resource types of this architecture's logs (load balancer, health checks, gateway, instances, cache).
LOGGED_RESOURCES = ("http_load_balancer", "gce_instance_group", "api", "gce_instance", "redis_instance")


def log_filter() -> str:
    return " OR ".join(f'resource.type="{resource}"' for resource in LOGGED_RESOURCES)


def retained_logs(
    spec: EnvironmentSpec, project: str, opts: pulumi.ResourceOptions
) -> logging.ProjectBucketConfig:
    bucket = logging.ProjectBucketConfig(
        "service-logs",
        project=project,
        location="global",
        bucket_id=f"{spec.name}-service-logs",
        retention_days=spec.retention.log_days,
        description=f"Stateless service logs ({spec.name}), kept {spec.retention.log_days} days",
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
    return bucket
