"""Compute tier: a regional managed instance group that boots the sample service from a private release
bucket, heals on a shallow health check, replaces with surge and scales on CPU within the spec's bounds."""

from __future__ import annotations

import math
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_gcp.compute as compute
import pulumi_gcp.storage as storage

from gcp_stack.object_storage import OBJECT_VIEWER, private_bucket
from gcp_stack.service_environment import CACHE_CA_FILE
from gcp_stack.settings import StackSettings
from gcp_stack.tier import Tier, labels
from refarch.boot import render_boot
from refarch.boot_budget import BootBudget
from refarch.bundle import Bundle
from refarch.health_check import HEALTH_CHECK
from refarch.platforms import IMAGES
from refarch.spec import EnvironmentSpec, Service
from refarch_pulumi.release import bundle_archive
from sample_service.paths import HEALTH_PATH

BOOT_SCRIPT = Path(__file__).with_name("boot.sh")
# Launch to in service, the one figure autohealing's initial delay, the autoscaler's initialization period
# and the rollout timeout are derived from. The image boots and runs its startup script within about a
# minute (an estimate: Debian 12 images on Compute Engine, guest agent included); IAM grants take "typically
# 2 minutes, can take 7 minutes or longer" to propagate ("Access change propagation", IAM docs), which is
# what the downloads' share (7 minutes) waits out; the install, start and slack are refarch.boot_budget's.
BOOT_BUDGET = BootBudget(seconds=600, os_seconds=60)
PORT_NAME = "http"


def fleet_zones(spec: EnvironmentSpec, settings: StackSettings) -> list[str]:
    """The first of the stack's zones, as many as the spec spreads the fleet over."""
    return list(settings.gcp.zones[: spec.zones])


# Every host the startup script reaches, and how (refarch.boot_destinations checks the rendered script).
# No package command: the script installs nothing from any repository.
BOOT_DESTINATIONS = {
    r"metadata\.google\.internal": "the metadata server (the service account's token): on the host",
    r"storage\.googleapis\.com": (
        "Cloud Storage's JSON API (the release object): Private Google Access, *.googleapis.com resolves to"
        " the restricted VIP (google_apis.py)"
    ),
}
PACKAGE_COMMANDS: dict[str, str] = {}
# Hosts the instances' agents reach after boot (not the startup script's, so not in the check above).
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


def rollout_timeout_seconds(spec: EnvironmentSpec, surge: int) -> int:
    """How long `pulumi up` waits for a release to be everywhere: the group replaces `surge` instances at a
    time; each wave is in service within the boot budget (the health check's passes included) and drains
    the old instances. One wave more leaves room for autohealing to replace an instance once."""
    per_wave = BOOT_BUDGET.seconds + spec.service.shutdown_grace_seconds
    return (math.ceil(spec.capacity.max / surge) + 1) * per_wave


def render_boot_script(
    service: Service,
    *,
    release: str,
    bundle_url: str,
    cache_ca: str,
    environment: dict[str, str],
) -> str:
    return render_boot(
        BOOT_SCRIPT,
        service,
        environment,
        download_seconds=BOOT_BUDGET.download_seconds,
        release=release,
        bundle_url=bundle_url,
        cache_ca=cache_ca.strip(),
        cache_ca_file=CACHE_CA_FILE,
    )


@dataclass(frozen=True, kw_only=True)
class FleetArgs:
    spec: EnvironmentSpec
    settings: StackSettings
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
        spec, settings = args.spec, args.settings
        capacity = spec.capacity
        zones = fleet_zones(spec, settings)

        self.releases = private_bucket("releases", spec.name, settings.region, self.child())
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
        environment = pulumi.Output.all(**args.service_environment)
        startup_script = pulumi.Output.all(bundle_url, args.cache_ca, environment).apply(
            lambda values: render_boot_script(
                spec.service,
                release=release,
                bundle_url=values[0],
                cache_ca=values[1],
                environment=values[2],
            )
        )

        self.health_check = compute.HealthCheck(
            "health",
            description="Shallow: the process is up and serving (a cache or store outage must not fail it)",
            http_health_check=compute.HealthCheckHttpHealthCheckArgs(
                port=spec.service.port, request_path=HEALTH_PATH
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
            name_prefix=f"{spec.name}-service-",
            description=f"Stateless sample service, release {release}",
            machine_type=spec.gcp.machine_type,
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
                "startup-script": startup_script,
            },
            scheduling=compute.InstanceTemplateSchedulingArgs(
                automatic_restart=True, on_host_maintenance="MIGRATE", preemptible=False
            ),
            labels=labels(spec) | FLEET_LABEL,
            opts=self.child(),
        )
        max_surge = len(zones)  # a regional group surges by at least one instance per zone
        self.group = compute.RegionInstanceGroupManager(
            "group",
            base_instance_name=f"{spec.name}-service",
            region=settings.region,
            distribution_policy_zones=zones,
            distribution_policy_target_shape="EVEN",
            versions=[
                compute.RegionInstanceGroupManagerVersionArgs(
                    name=release, instance_template=self.template.self_link_unique
                )
            ],
            named_ports=[
                compute.RegionInstanceGroupManagerNamedPortArgs(name=PORT_NAME, port=spec.service.port)
            ],
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
                    create=f"{rollout_timeout_seconds(spec, max_surge)}s",
                    update=f"{rollout_timeout_seconds(spec, max_surge)}s",
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
                            inclusion_labels=labels(spec) | FLEET_LABEL
                        )
                    )
                ],
                opts=self.child(),
            )
            for zone in zones
        ]
        self.autoscaler = compute.RegionAutoscaler(
            "autoscaler",
            region=settings.region,
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
