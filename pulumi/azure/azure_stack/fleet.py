"""Compute tier: a Flexible VM Scale Set of interchangeable instances that boot the sample service, spread
over the spec's zones, replaced when unhealthy, rolled with surge, and scaled on CPU within the spec's
bounds."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_azure_native.compute as compute
import pulumi_azure_native.monitor as monitor

from azure_stack import service_logs
from azure_stack.boot import BOOT_BUDGET, custom_data
from azure_stack.diagnostics import send_diagnostics
from azure_stack.load_balancer import detection_seconds
from azure_stack.placement import Placement
from azure_stack.tier import Tier
from refarch.boot import stop_timeout_seconds
from refarch.health_check import HEALTH_CHECK
from refarch.platforms import IMAGES
from refarch.spec import Capacity, Service
from sample_service.paths import HEALTH_PATH

ADMIN_USER = "azureuser"
# Azure requires a Linux VM to accept a password or an SSH key. This is the public half of an RSA key
# whose private half was discarded when it was generated, so it opens nothing; sshd is off and no NSG
# rule admits port 22 either. Instances are never logged into: replace them.
UNUSABLE_SSH_KEY = (
    "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABgQD6uA6iFG9TQUSE71FZ6frMN9vPs8pAxAkaPeNajsl0bOXnNasc4matFPcB"
    "ntbm1EUzUMIyjnWInMF6HYEhRwMd/uLWb4xQhpGbzLkrWeMhoC8fGMefTjT0qGBpGvs9PGTea8D84ws99k0RaYwXI9Hl340e"
    "pUOHKBjKuqNnT9gzz3aaGPwdTs0tuWDmTcwUgpXJOzxxCflFi1B6UTd6u4JwKGRTZtuwY2zxNysxkI9BZZbSAC/i7ReV2SXi"
    "zguPTS7P1w3Kn0umHjwiGMXqJGly85s3bplFLYCosmDKVlkPDg6Ql1SLfsWET2H7JN/9O10IozbF4p5MCJqoVC6OWDpTuLho"
    "CGx2BYCRNue6z9eMubP1U3R/ej9YZUmdjrw89IJEnQbDk3n2i7YnjJolOTOE5Z7vhtzPNBLHLoEsTVMggGGGQK4RBIj4LYIG"
    "Tj7Bz81/7tyH4xNExAvdJhWDmXKY0CpdCJeGcv18vpxmKd+Z9QG5hJkmf3CfxvekL5Povg0="
)


def image(arch: str) -> dict[str, str]:
    """The marketplace image an instance of `arch` boots (refarch.platforms, the bundle's platform too):
    Debian 12, whose Python 3.11 the service's lock is resolved for (Ubuntu 24.04 has 3.12)."""
    publisher, offer, sku = IMAGES["azure"].names[arch].split(":")
    return {"publisher": publisher, "offer": offer, "sku": sku, "version": "latest"}


# The image needs a 30 GiB OS disk at least.
MIN_OS_DISK_GIB = 30
# Automatic repairs accept a grace period from 10 to 90 minutes.
REPAIR_GRACE_MINUTES = (10, 90)
# A terminate notification may hold a deletion from 5 to 15 minutes ("Terminate notification for Azure
# Virtual Machine Scale Set instances": notBeforeTimeout takes any value from 5 to 15 minutes).
TERMINATE_NOTICE_MINUTES = (5, 15)
# Debian 12 is not on the list of images that support automatic VM guest patching ("Automatic VM guest
# patching for Azure VMs", supported OS images), and ARM refuses AutomaticByPlatform for it. Instances are
# patched by replacement instead: every deployment rolls new instances from the image's latest version.
PATCH_MODE = "ImageDefault"
# Rolling upgrades stop once more than this share of the fleet is unhealthy, before or during the rollout.
MAX_UNHEALTHY_PERCENT = 20
# Azure autoscale has no target tracking: scale out above the target, in below it minus this band,
# so one scaling step cannot flip the other rule straight back.
SCALE_IN_BAND_PERCENT = 20
# What the instance needs beyond the service's stop to see the event (it polls every 10 s) and approve it.
TERMINATE_APPROVAL_SECONDS = 30


@dataclass(frozen=True, kw_only=True)
class StatelessFleetArgs:
    placement: Placement
    subnet_id: pulumi.Input[str]
    backend_pool_id: pulumi.Input[str]
    identity_id: pulumi.Input[str]
    identity_client_id: pulumi.Input[str]
    release: str
    bundle_url: pulumi.Input[str]
    # The CPU architecture the VM size runs and the bundle was built for.
    arch: str
    service_environment: Mapping[str, pulumi.Input[str]]
    workspace_id: pulumi.Input[str]
    # The workspace's custom table the service's logs go to (azure_stack.service_logs).
    log_table_name: pulumi.Input[str]
    # The spec's `capacity` section (counts, CPU target, disk, warm-up) and the service the instances run.
    capacity: Capacity
    service: Service
    # `[<env>.azure]`'s VM size and whether the host encrypts temp disks and caches.
    vm_size: str
    encryption_at_host: bool


def repair_grace(seconds: int) -> str:
    low, high = REPAIR_GRACE_MINUTES
    return f"PT{min(max(math.ceil(seconds / 60), low), high)}M"


def terminate_notice(seconds: int) -> str:
    """How long a deletion waits for the instance to approve it: at least the shutdown `seconds`."""
    low, high = TERMINATE_NOTICE_MINUTES
    minutes = max(math.ceil(seconds / 60), low)
    if minutes > high:
        raise ValueError(f"a shutdown of {seconds}s exceeds the longest terminate notice ({high} minutes)")
    return f"PT{minutes}M"


def deletion_notice(service: Service) -> str:
    """The terminate notice the watcher needs: leave the gateway and wait out its detection of the failing
    health path, stop the service (its grace, within systemd's stop timeout), then approve."""
    return terminate_notice(detection_seconds() + stop_timeout_seconds(service) + TERMINATE_APPROVAL_SECONDS)


def os_disk_gib(root_volume_gib: int) -> int:
    """The OS disk's size: the spec's root volume, at least what the image needs."""
    return max(root_volume_gib, MIN_OS_DISK_GIB)


def max_unhealthy_percent(minimum: int) -> int:
    """The unhealthy share a rolling upgrade tolerates: at least one instance of the smallest fleet, so the
    rollout that replaces one broken instance is not refused because that instance is broken."""
    return max(MAX_UNHEALTHY_PERCENT, math.ceil(100 / minimum))


class StatelessFleet(Tier):
    def __init__(
        self, name: str, args: StatelessFleetArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("StatelessFleet", name, opts)
        placement, capacity, service = args.placement, args.capacity, args.service
        self.scale_set = compute.VirtualMachineScaleSet(
            "fleet",
            resource_group_name=placement.resource_group_name,
            location=placement.location,
            vm_scale_set_name=placement.name("vmss"),
            orchestration_mode="Flexible",
            platform_fault_domain_count=1,
            single_placement_group=False,
            zones=placement.zones,
            sku={"name": args.vm_size, "tier": "Standard", "capacity": capacity.desired},
            identity={"type": "UserAssigned", "user_assigned_identities": [args.identity_id]},
            # New instances come up and pass their health check before old ones go (max surge).
            upgrade_policy={
                "mode": "Rolling",
                "rolling_upgrade_policy": {
                    "max_surge": True,
                    "max_batch_instance_percent": 20,
                    "max_unhealthy_instance_percent": max_unhealthy_percent(capacity.min),
                    "max_unhealthy_upgraded_instance_percent": 20,
                    # A surge batch is complete only once its new instances report healthy, so their boot
                    # is already behind it: the pause only watches the batch warm up, the spec's warm-up.
                    "pause_time_between_batches": f"PT{capacity.warmup_seconds}S",
                    "prioritize_unhealthy_instances": True,
                    "rollback_failed_instances_on_policy_breach": True,
                },
            },
            automatic_repairs_policy={
                "enabled": True,
                "grace_period": repair_grace(BOOT_BUDGET.seconds),
                "repair_action": "Replace",
            },
            scale_in_policy={"rules": ["Default"], "force_deletion": False},
            virtual_machine_profile={
                "os_profile": {
                    "computer_name_prefix": "svc",
                    "admin_username": ADMIN_USER,
                    "custom_data": custom_data(
                        service,
                        release=args.release,
                        bundle_url=args.bundle_url,
                        client_id=args.identity_client_id,
                        environment=args.service_environment,
                        os_disk_gib=os_disk_gib(capacity.root_volume_gib),
                    ),
                    "linux_configuration": {
                        "disable_password_authentication": True,
                        "ssh": {
                            "public_keys": [
                                {
                                    "path": f"/home/{ADMIN_USER}/.ssh/authorized_keys",
                                    "key_data": UNUSABLE_SSH_KEY,
                                }
                            ]
                        },
                        "provision_vm_agent": True,
                        "patch_settings": {"patch_mode": PATCH_MODE, "assessment_mode": PATCH_MODE},
                    },
                },
                "storage_profile": {
                    "image_reference": image(args.arch),
                    "os_disk": {
                        "create_option": "FromImage",
                        "caching": "ReadWrite",
                        "disk_size_gb": os_disk_gib(capacity.root_volume_gib),
                        "managed_disk": {"storage_account_type": "Premium_LRS"},
                        # Nothing outlives an instance.
                        "delete_option": "Delete",
                    },
                },
                "network_profile": {
                    "network_api_version": "2020-11-01",
                    "network_interface_configurations": [
                        {
                            "name": "nic",
                            "primary": True,
                            "delete_option": "Delete",
                            "ip_configurations": [
                                {
                                    "name": "ip",
                                    "primary": True,
                                    "subnet": {"id": args.subnet_id},
                                    # No public_ip_address_configuration: instances have no public address.
                                    "application_gateway_backend_address_pools": [
                                        {"id": args.backend_pool_id}
                                    ],
                                }
                            ],
                        }
                    ],
                },
                "extension_profile": {
                    "extensions": [
                        {
                            # What rolling upgrades, automatic repairs and platform patching wait
                            # for: the same shallow /health the load balancer probes. Binary Health
                            # States (1.0): a 200 is healthy. Rich Health States (2.0) would need an
                            # ApplicationHealthState field the service does not send. Automatic repairs'
                            # own grace period covers boot (1.0 has no gracePeriod setting).
                            "name": "health",
                            "publisher": "Microsoft.ManagedServices",
                            "type": "ApplicationHealthLinux",
                            "type_handler_version": "1.0",
                            "auto_upgrade_minor_version": True,
                            "settings": {
                                "protocol": "http",
                                "port": service.port,
                                "requestPath": HEALTH_PATH,
                                # The load balancer's policy: one failed probe must not start a repair.
                                "intervalInSeconds": HEALTH_CHECK.interval_seconds,
                                "numberOfProbes": HEALTH_CHECK.unhealthy_threshold,
                            },
                        },
                        {
                            # Ships the service's logs (the files the boot's exporter writes) to Log
                            # Analytics under the data collection rule below; signs in as the
                            # instances' managed identity, so no workspace key is on the instances.
                            "name": "monitor-agent",
                            "publisher": "Microsoft.Azure.Monitor",
                            "type": "AzureMonitorLinuxAgent",
                            "type_handler_version": "1.0",
                            "auto_upgrade_minor_version": True,
                            "enable_automatic_upgrade": True,
                            "settings": {
                                "authentication": {
                                    "managedIdentity": {
                                        "identifier-name": "mi_res_id",
                                        "identifier-value": args.identity_id,
                                    }
                                }
                            },
                        },
                    ]
                },
                "security_profile": {
                    "encryption_at_host": args.encryption_at_host,
                    "security_type": "TrustedLaunch",
                    "uefi_settings": {"secure_boot_enabled": True, "v_tpm_enabled": True},
                },
                "diagnostics_profile": {"boot_diagnostics": {"enabled": True}},
                # Scale-in, repair and surge deletions wait until the instance has left the gateway, drained
                # and stopped the service (boot.sh's terminate watcher approves the event) or this timeout
                # passes.
                "scheduled_events_profile": {
                    "terminate_notification_profile": {
                        "enable": True,
                        "not_before_timeout": deletion_notice(service),
                    }
                },
            },
            tags=placement.tags,
            # Autoscale owns the instance count once created: a deployment must not reset a scaled-out fleet.
            opts=self.child(ignore_changes=["sku.capacity"]),
        )
        # The service logs to its journal; instances are replaced at will, so the logs must leave them. The
        # boot's exporter copies the journal to daily files; the agent reads them as a custom text log into
        # the workspace's table (azure_stack.service_logs), no syslog daemon needed.
        self.log_rule = monitor.DataCollectionRule(
            "service-logs",
            resource_group_name=placement.resource_group_name,
            location=placement.location,
            kind="Linux",
            description="The sample service's journal, exported to daily files on every instance",
            stream_declarations={service_logs.STREAM: {"columns": service_logs.stream_columns()}},
            data_sources={
                "log_files": [
                    {
                        "name": "service-log-files",
                        "streams": [service_logs.STREAM],
                        "file_patterns": [service_logs.FILE_PATTERN],
                        "format": monitor.KnownLogFilesDataSourceFormat.TEXT,
                    }
                ]
            },
            destinations={
                "log_analytics": [{"name": "workspace", "workspace_resource_id": args.workspace_id}]
            },
            data_flows=[
                {
                    "streams": [service_logs.STREAM],
                    "destinations": ["workspace"],
                    "transform_kql": service_logs.TRANSFORM_KQL,
                    # The table's name comes from the table resource, so the rule is created after it.
                    "output_stream": pulumi.Output.concat("Custom-", args.log_table_name),
                }
            ],
            tags=placement.tags,
            opts=self.child(),
        )
        monitor.DataCollectionRuleAssociation(
            "service-logs",
            association_name="service-logs",
            resource_uri=self.scale_set.id,
            data_collection_rule_id=self.log_rule.id,
            opts=self.child(),
        )
        self.autoscale = monitor.AutoscaleSetting(
            "fleet-autoscale",
            resource_group_name=placement.resource_group_name,
            location=placement.location,
            enabled=True,
            target_resource_uri=self.scale_set.id,
            profiles=[
                {
                    "name": "cpu",
                    "capacity": {
                        "minimum": str(capacity.min),
                        "maximum": str(capacity.max),
                        "default": str(capacity.desired),
                    },
                    "rules": [
                        self._cpu_rule("Increase", "GreaterThan", capacity.cpu_target_percent),
                        self._cpu_rule(
                            "Decrease",
                            "LessThan",
                            max(capacity.cpu_target_percent - SCALE_IN_BAND_PERCENT, 5),
                        ),
                    ],
                }
            ],
            predictive_autoscale_policy={"scale_mode": "Disabled"},
            tags=placement.tags,
            opts=self.child(),
        )
        # Why the fleet scaled (or did not): autoscale's evaluations and actions.
        send_diagnostics(
            "fleet-autoscale", resource_id=self.autoscale.id, workspace_id=args.workspace_id, parent=self
        )
        self.register_outputs({"scaleSetId": self.scale_set.id, "autoscaleId": self.autoscale.id})

    def _cpu_rule(self, direction: str, operator: str, threshold: int) -> dict:
        return {
            "metric_trigger": {
                "metric_name": "Percentage CPU",
                "metric_namespace": "microsoft.compute/virtualmachinescalesets",
                "metric_resource_uri": self.scale_set.id,
                "time_grain": "PT1M",
                "statistic": "Average",
                "time_window": "PT5M",
                "time_aggregation": "Average",
                "operator": operator,
                "threshold": threshold,
            },
            "scale_action": {
                "direction": direction,
                "type": "ChangeCount",
                "value": "1",
                # A new instance boots before its CPU counts towards another step: a normal boot, not the
                # budget, whose most goes to waiting out a new role assignment on a first deploy (scale-out
                # reuses the fleet's identity). The cooldown is a hard wait after every step of one instance.
                "cooldown": f"PT{BOOT_BUDGET.normal_seconds}S",
            },
        }
