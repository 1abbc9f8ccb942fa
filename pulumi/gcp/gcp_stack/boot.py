"""The instances' startup script: the boot script with this release, this bundle, the cache's CA and the
service's settings."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pulumi

from gcp_stack.service_environment import CACHE_CA_FILE
from refarch.boot import render_boot
from refarch.boot_budget import BootBudget
from refarch.spec import Service

BOOT_SCRIPT = Path(__file__).with_name("boot.sh")
# Launch to in service, the one figure autohealing's initial delay, the autoscaler's initialization period
# and the rollout timeout are derived from. The image boots and runs its startup script within about a
# minute (an estimate: Debian 12 images on Compute Engine, guest agent included); IAM grants take "typically
# 2 minutes, can take 7 minutes or longer" to propagate ("Access change propagation", IAM docs), which is
# what the downloads' share (7 minutes) waits out; the install, start and slack are refarch.boot_budget's.
BOOT_BUDGET = BootBudget(seconds=600, os_seconds=60)
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


def startup_script(
    service: Service,
    *,
    release: str,
    bundle_url: pulumi.Input[str],
    cache_ca: pulumi.Input[str],
    environment: Mapping[str, pulumi.Input[str]],
) -> pulumi.Output[str]:
    """Plain text, as the `startup-script` metadata key takes it. Holds no secret: the service reads the
    cache's AUTH string from Secret Manager itself."""

    def render(values: list) -> str:
        url, ca, settings = values
        return render_boot(
            BOOT_SCRIPT,
            service,
            settings,
            download_seconds=BOOT_BUDGET.download_seconds,
            release=release,
            bundle_url=url,
            cache_ca=ca.strip(),
            cache_ca_file=CACHE_CA_FILE,
        )

    return pulumi.Output.all(bundle_url, cache_ca, pulumi.Output.all(**environment)).apply(render)
