"""The instances' custom data: the boot script with this release, this bundle and the service's settings."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from pathlib import Path

import pulumi

from azure_stack.load_balancer import detection_seconds
from refarch.boot import BootTemplate, render_boot
from refarch.spec import EnvironmentSpec

BOOT_SCRIPT = Path(__file__).with_name("boot.sh")
TERMINATE_WATCH = Path(__file__).with_name("terminate_watch.py")
# How long boot keeps retrying the token and the bundle download, and how often: a new instance's role
# assignment can take minutes to propagate, and until then storage answers 403.
RETRY_SECONDS = 600
RETRY_DELAY_SECONDS = 10


def custom_data(
    spec: EnvironmentSpec,
    *,
    release: str,
    bundle_url: pulumi.Input[str],
    client_id: pulumi.Input[str],
    environment: Mapping[str, pulumi.Input[str]],
) -> pulumi.Output[str]:
    """Base64, as Azure takes it. Holds no secret: every credential comes from the managed identity."""
    names = sorted(environment)

    def encode(values: list[str]) -> str:
        url, identity, *settings = values
        environment = dict(zip(names, settings, strict=True))
        script = render_boot(
            BOOT_SCRIPT,
            spec.service,
            environment,
            release=release,
            bundle_url=url,
            client_id=identity,
            retry_seconds=RETRY_SECONDS,
            retry_delay=RETRY_DELAY_SECONDS,
            terminate_watch=terminate_watch(),
        )
        return base64.b64encode(script.encode()).decode()

    return pulumi.Output.all(bundle_url, client_id, *(environment[name] for name in names)).apply(encode)


def terminate_watch() -> str:
    """The watcher, waiting out the gateway's detection time between leaving it and stopping the service."""
    text = BootTemplate(TERMINATE_WATCH.read_text()).substitute(leave_seconds=detection_seconds())
    return text.rstrip("\n")
