"""The instances' custom data: the boot script with this release, this bundle and the service's settings."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from pathlib import Path, PurePosixPath

import pulumi

from azure_stack import service_logs
from azure_stack.load_balancer import detection_seconds
from refarch.boot import BootTemplate, render_boot
from refarch.boot_budget import BootBudget
from refarch.spec import Service
from sample_service import log_fields

BOOT_SCRIPT = Path(__file__).with_name("boot.sh")
TERMINATE_WATCH = Path(__file__).with_name("terminate_watch.py")
LOG_EXPORT = Path(__file__).with_name("log_export.py")
# Launch to in service, the figure automatic repairs' grace is derived from (the autoscale cooldown is its
# normal boot, `normal_seconds`: a scale-out waits for no new role assignment). A scale set instance boots
# and cloud-init runs its custom data within about two minutes (an estimate: Debian 12 gen2 images,
# provisioning included); a new role assignment "can take up to 10 minutes" to take effect ("Troubleshoot
# Azure RBAC", role assignment changes), and until then storage answers 403: the downloads' share (10
# minutes) waits that out. The install and start are refarch.boot_budget's.
BOOT_BUDGET = BootBudget(seconds=840, os_seconds=120)
# Every host the custom data reaches, and how (refarch.boot_destinations checks the rendered script).
BOOT_DESTINATIONS = {
    r"169\.254\.169\.254": "Instance Metadata Service (the identity's token): link-local, on the host",
    r"[a-z0-9]+\.blob\.core\.windows\.net": (
        "the releases storage account: the app subnet's Microsoft.Storage service endpoint, and the account's"
        " firewall admits only that subnet and the deployers"
    ),
}
# No package command: the image's python3 and the bundle are all a boot installs from, and the service's
# logs reach the Azure Monitor Agent without a syslog daemon (azure_stack.service_logs).
PACKAGE_COMMANDS: dict[str, str] = {}


def custom_data(
    service: Service,
    *,
    release: str,
    bundle_url: pulumi.Input[str],
    client_id: pulumi.Input[str],
    environment: Mapping[str, pulumi.Input[str]],
    os_disk_gib: int,
) -> pulumi.Output[str]:
    """Base64, as Azure takes it. Holds no secret: every credential comes from the managed identity."""
    names = sorted(environment)

    def encode(values: list[str]) -> str:
        url, identity, *settings = values
        environment = dict(zip(names, settings, strict=True))
        script = render_boot(
            BOOT_SCRIPT,
            service,
            environment,
            release=release,
            bundle_url=url,
            client_id=identity,
            download_seconds=BOOT_BUDGET.download_seconds,
            terminate_watch=terminate_watch(),
            log_export=log_export(os_disk_gib),
            log_export_user=service_logs.EXPORTER_USER,
            logs_directory_name=PurePosixPath(service_logs.LOG_DIRECTORY).relative_to("/var/log"),
        )
        return base64.b64encode(script.encode()).decode()

    return pulumi.Output.all(bundle_url, client_id, *(environment[name] for name in names)).apply(encode)


def terminate_watch() -> str:
    """The watcher, waiting out the gateway's detection time between leaving it and stopping the service."""
    text = BootTemplate(TERMINATE_WATCH.read_text()).substitute(leave_seconds=detection_seconds())
    return text.rstrip("\n")


def log_export(os_disk_gib: int) -> str:
    """The exporter, writing where the data collection rule reads, keeping files as long as it asks and
    within the share of the OS disk they may take."""
    text = BootTemplate(LOG_EXPORT.read_text()).substitute(
        log_directory=service_logs.LOG_DIRECTORY,
        keep_days=service_logs.KEEP_DAYS,
        budget_bytes=service_logs.budget_bytes(os_disk_gib),
        time_field=log_fields.TIME,
    )
    return text.rstrip("\n")
