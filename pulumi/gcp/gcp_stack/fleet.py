"""Compute tier: a regional managed instance group that boots the sample service from a private release
bucket, heals on a shallow health check, replaces with surge and scales on CPU within the spec's bounds."""

from __future__ import annotations

import math
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_gcp.compute as compute
import pulumi_gcp.storage as storage

from gcp_stack.boot import BOOT_BUDGET, startup_script
from gcp_stack.object_storage import OBJECT_VIEWER, private_bucket
from gcp_stack.settings import StackSettings
from gcp_stack.tier import Tier, environment_labels
from refarch.bundle import Bundle
from refarch.health_check import HEALTH_CHECK
from refarch.platforms import IMAGES
from refarch.spec import Capacity, EnvironmentSpec, Service
from refarch_pulumi.release import bundle_archive
from sample_service.paths import HEALTH_PATH

PORT_NAME = "http"


def fleet_zones(spec: EnvironmentSpec, settings: StackSettings) -> list[str]:
    """The first of the stack's zones, as many as the spec spreads the fleet over."""
    return list(settings.gcp.zones[: spec.zones])


# Hosts the instances' agents reach after boot (not the startup script's: those are boot.py's).
AGENT_DESTINATIONS = {
    r"[a-z0-9-]+-agentcommunication\.googleapis\.com": (
        "the guest agent's Agent Communication Service for its zone and region (VM Extension Manager installs"
        " the Ops Agent through it): one CNAME per location to the private VIP (google_apis.py)"
    ),
    r"(logging|monitoring)\.googleapis\.com": (
        "Cloud Logging and Cloud Monitoring (the Ops Agent): the restricted VIP (google_apis.py)"
    ),
}
# The Ops Agent ships the service's journal (its JSON logs) to Cloud Logging. It is a VM extension that VM
# Extension Manager installs and keeps configured on every instance of the group, in each of its zones
# ("Install the Ops Agent by using VM Extension Manager policies"; ZoneVmExtensionPolicy in the provider):
# no boot installs it from a package repository. Unpinned: the extension's latest release.
OPS_AGENT_EXTENSION = "ops-agent"
# What sets the group's instances apart from any other VM of the project (the template gives them this).
FLEET_LABEL = {"role": "service-fleet"}
OPS_AGENT_CONFIG = """logging:
  receivers:
    journal:
      type: systemd_journald
  service:
    pipelines:
      journal:
        receivers: [journal]
"""


def image(arch: str) -> tuple[str, str]:
    """(project, family) of the image an instance of `arch` boots (refarch.platforms, the bundle's too)."""
    project, family = IMAGES["gcp"].names[arch].split("/")
    return project, family


def rollout_timeout_seconds(capacity: Capacity, service: Service, surge: int) -> int:
    """How long `pulumi up` waits for a release to be everywhere: the group replaces `surge` instances at a
    time; each wave is in service within the boot budget (the health check's passes included) and drains
    the old instances. One wave more leaves room for autohealing to replace an instance once."""
    per_wave = BOOT_BUDGET.seconds + service.shutdown_grace_seconds
    return (math.ceil(capacity.max / surge) + 1) * per_wave


@dataclass(frozen=True, kw_only=True)
class FleetArgs:
    environment: str
    region: str
    # The zones the group spreads over (fleet_zones).
    zones: Sequence[str]
    machine_type: str
    # The group's bounds, scaling target and disk: the spec's capacity section.
    capacity: Capacity
    # The service's section: its port, its shutdown grace, and the boot script's unit.
    service: Service
    subnet: pulumi.Input[str]
    service_account: pulumi.Input[str]
    service_account_member: pulumi.Input[str]
    service_environment: dict[str, pulumi.Input[str]]
    cache_ca: pulumi.Input[str]
    # The self-contained release (service, wheelhouse, lock) for the machine type's platform.
    bundle: Bundle
    # What an instance needs before it boots (every grant to its account, the cache's AUTH string): the group
    # creates no instance before these exist, so a first boot never meets a 403.
    prerequisites: Sequence[pulumi.Resource] = ()


class StatelessFleet(Tier):
    def __init__(self, name: str, args: FleetArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("StatelessFleet", name, opts)
        capacity, service, zones = args.capacity, args.service, list(args.zones)
        labels = environment_labels(args.environment)

        self.releases = private_bucket("releases", args.environment, args.region, self.child())
        release = args.bundle.id
        self.bundle = storage.BucketObject(
            "service-bundle",
            bucket=self.releases.name,
            name=f"releases/{release}/sample_service.zip",
            source=bundle_archive(args.bundle),
            # Superseded releases stay in the bucket: instances still on the old template (autohealing
            # during a rollout) and rollbacks can fetch them. The bucket is versioned and private.
            deletion_policy="ABANDON",
            opts=self.child(),
        )
        # Exactly the release bucket: the fleet reads releases and can change none of them.
        reads_releases = storage.BucketIAMMember(
            "fleet-reads-releases",
            bucket=self.releases.name,
            role=OBJECT_VIEWER,
            member=args.service_account_member,
            opts=self.child(),
        )
        bundle_url = pulumi.Output.all(self.releases.name, self.bundle.name).apply(
            lambda parts: (
                "https://storage.googleapis.com/storage/v1/b/"
                f"{parts[0]}/o/{urllib.parse.quote(parts[1], safe='')}?alt=media"
            )
        )
        script = startup_script(
            service,
            release=release,
            bundle_url=bundle_url,
            cache_ca=args.cache_ca,
            environment=args.service_environment,
        )

        self.health_check = compute.HealthCheck(
            "health",
            description="Shallow: the process is up and serving (a cache or store outage must not fail it)",
            http_health_check=compute.HealthCheckHttpHealthCheckArgs(
                port=service.port, request_path=HEALTH_PATH
            ),
            check_interval_sec=HEALTH_CHECK.interval_seconds,
            timeout_sec=HEALTH_CHECK.timeout_seconds,
            healthy_threshold=HEALTH_CHECK.healthy_threshold,
            unhealthy_threshold=HEALTH_CHECK.unhealthy_threshold,
            log_config=compute.HealthCheckLogConfigArgs(enable=True),
            opts=self.child(),
        )
        image_project, image_family = image(args.bundle.platform.arch)
        boot_image = compute.get_image_output(family=image_family, project=image_project)
        self.template = compute.InstanceTemplate(
            "template",
            name_prefix=f"{args.environment}-service-",
            description=f"Stateless sample service, release {release}",
            machine_type=args.machine_type,
            disks=[
                compute.InstanceTemplateDiskArgs(
                    source_image=boot_image.self_link,
                    boot=True,
                    auto_delete=True,
                    disk_size_gb=capacity.root_volume_gib,
                    disk_type="pd-balanced",
                )
            ],
            network_interfaces=[
                # No access_configs: no external IP. Egress goes through Cloud NAT.
                compute.InstanceTemplateNetworkInterfaceArgs(subnetwork=args.subnet)
            ],
            service_account=compute.InstanceTemplateServiceAccountArgs(
                email=args.service_account,
                # Access is decided by the account's IAM roles; the scope only lets those apply.
                scopes=["cloud-platform"],
            ),
            shielded_instance_config=compute.InstanceTemplateShieldedInstanceConfigArgs(
                enable_secure_boot=True, enable_vtpm=True, enable_integrity_monitoring=True
            ),
            metadata={
                "enable-oslogin": "TRUE",
                "block-project-ssh-keys": "TRUE",
                "startup-script": script,
            },
            scheduling=compute.InstanceTemplateSchedulingArgs(
                automatic_restart=True, on_host_maintenance="MIGRATE", preemptible=False
            ),
            labels=labels | FLEET_LABEL,
            opts=self.child(),
        )
        max_surge = len(zones)  # a regional group surges by at least one instance per zone
        self.group = compute.RegionInstanceGroupManager(
            "group",
            base_instance_name=f"{args.environment}-service",
            region=args.region,
            distribution_policy_zones=zones,
            distribution_policy_target_shape="EVEN",
            versions=[
                compute.RegionInstanceGroupManagerVersionArgs(
                    name=release, instance_template=self.template.self_link_unique
                )
            ],
            named_ports=[compute.RegionInstanceGroupManagerNamedPortArgs(name=PORT_NAME, port=service.port)],
            auto_healing_policies=compute.RegionInstanceGroupManagerAutoHealingPoliciesArgs(
                health_check=self.health_check.id, initial_delay_sec=BOOT_BUDGET.seconds
            ),
            # New instances come up and pass health checks before old ones go: never below capacity.
            update_policy=compute.RegionInstanceGroupManagerUpdatePolicyArgs(
                type="PROACTIVE",
                minimal_action="REPLACE",
                replacement_method="SUBSTITUTE",
                max_surge_fixed=max_surge,
                max_unavailable_fixed=0,
                instance_redistribution_type="PROACTIVE",
            ),
            # The spec's minimum at creation, so the first `pulumi up` waits for that many healthy instances
            # (the SDK's default, 0, would wait for an empty group). After that the autoscaler owns the size
            # and Pulumi ignores it, so a deployment never resets a scaled-out group (the pattern the
            # provider's target_size docs recommend when an autoscaler is attached).
            target_size=capacity.min,
            # `pulumi up` succeeds only once every instance runs the new version and is healthy.
            wait_for_instances=True,
            wait_for_instances_status="UPDATED",
            opts=self.child(
                ignore_changes=["targetSize"],
                depends_on=[reads_releases, *args.prerequisites],
                custom_timeouts=pulumi.CustomTimeouts(
                    create=f"{rollout_timeout_seconds(capacity, service, max_surge)}s",
                    update=f"{rollout_timeout_seconds(capacity, service, max_surge)}s",
                ),
            ),
        )
        # One policy per zone of the group (a zonal policy applies to that zone's VMs), selecting the
        # group's instances by the label every instance of this environment carries.
        self.ops_agent = [
            compute.ZoneVmExtensionPolicy(
                f"ops-agent-{zone}",
                zone=zone,
                description="The Ops Agent on the service's instances: their journal to Cloud Logging",
                extension_policies=[
                    compute.ZoneVmExtensionPolicyExtensionPolicyArgs(
                        extension_name=OPS_AGENT_EXTENSION, string_config=OPS_AGENT_CONFIG
                    )
                ],
                instance_selectors=[
                    compute.ZoneVmExtensionPolicyInstanceSelectorArgs(
                        label_selector=compute.ZoneVmExtensionPolicyInstanceSelectorLabelSelectorArgs(
                            inclusion_labels=labels | FLEET_LABEL
                        )
                    )
                ],
                opts=self.child(),
            )
            for zone in zones
        ]
        self.autoscaler = compute.RegionAutoscaler(
            "autoscaler",
            region=args.region,
            target=self.group.id,
            autoscaling_policy=compute.RegionAutoscalerAutoscalingPolicyArgs(
                min_replicas=capacity.min,
                max_replicas=capacity.max,
                # The initialization period: a booting instance's CPU (download, install) is not load.
                # The same boot budget autohealing waits for.
                cooldown_period=BOOT_BUDGET.seconds,
                mode="ON",
                cpu_utilization=compute.RegionAutoscalerAutoscalingPolicyCpuUtilizationArgs(
                    target=capacity.cpu_target_percent / 100
                ),
            ),
            opts=self.child(),
        )
        self.instance_group = self.group.instance_group
        self.register_outputs({"instanceGroup": self.group.instance_group, "release": release})
