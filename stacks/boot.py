"""What an AWS instance needs to boot: its release bundle (built for the group's one CPU architecture), the
image for that architecture, its boot budget, and every destination its user data reaches.

The boot budget is the spec's `capacity.health_check_grace_seconds`: the seconds from launch to in service,
per environment. The group's health-check grace, its default instance warm-up and the instance refresh's
warm-up are all that one figure (a replacement counts as warmed up, and the refresh moves on, only once it
can be in service), and the user data's downloads end within the budget's share for them.
"""

from __future__ import annotations

from refarch.boot_budget import INSTALL_SECONDS, SLACK_SECONDS, START_SECONDS, BootBudget
from refarch.bundle import Bundle, build_bundle
from refarch.errors import Problem
from refarch.platforms import IMAGES, PlatformError, architecture
from refarch.spec import EnvironmentSpec
from refarch.wheelhouse import WheelhouseError

# Launch until cloud-init runs the user data: an estimate for Amazon Linux 2023 (the instance boots and
# cloud-init's final stage starts within about a minute).
OS_SECONDS = 60
# IAM is eventually consistent: "Changes that I make are not always immediately visible" (IAM User Guide,
# Troubleshoot IAM) gives no figure, and the instance role's credentials may lag the instance's launch.
# An estimate: a minute, which the downloads' share must wait out (retry in boot_retry.sh), with the OS
# packages and the bundle still to fetch after it.
IAM_PROPAGATION_SECONDS = 60
# Every host the user data reaches, and how (refarch.boot_destinations checks the rendered script).
BOOT_DESTINATIONS = {
    r"169\.254\.169\.254": "Instance Metadata Service (the role's credentials, the region): on the host",
    r"s3\.[a-z0-9-]+\.amazonaws\.com": "S3 (the release bundle): the VPC's S3 gateway endpoint",
    r"al2023-repos-[a-z0-9-]+\.s3\.dualstack\.[a-z0-9-]+\.amazonaws\.com": (
        "the Amazon Linux 2023 repositories (an S3 bucket): the VPC's S3 gateway endpoint"
    ),
}
# The package commands the user data may run, each with the mirror that serves it.
_WITHIN_THE_DEADLINE = r"^retry \$\(\(DOWNLOAD_DEADLINE - SECONDS\)\) "
PACKAGE_COMMANDS = {
    _WITHIN_THE_DEADLINE
    + r"'OS packages' dnf install -y -q --repo amazonlinux python3\.11 rsyslog amazon-cloudwatch-agent$": (
        "the Amazon Linux 2023 repository only (--repo amazonlinux): al2023-repos-<region>-* in S3, through"
        " the S3 gateway endpoint"
    ),
    _WITHIN_THE_DEADLINE
    + r"'release bundle download' aws s3 cp '[^']+' \"\$DIR/bundle\.zip\" --region '[a-z0-9-]+' "
    r"--only-show-errors$": (
        "the release bundle (the CDK asset) in the bootstrap bucket: S3 through the S3 gateway endpoint"
    ),
}


def instance_types(spec: EnvironmentSpec) -> list[str]:
    return [spec.aws.instance_type, *spec.aws.more_instance_types]


def boot_problems(spec: EnvironmentSpec) -> list[Problem]:
    """One CPU architecture for every instance type of the group (one bundle and one image serve them all),
    and a budget that leaves its downloads time to wait out IAM."""
    problems = []
    arches = {name: architecture("aws", name) for name in instance_types(spec)}
    primary = arches[spec.aws.instance_type]
    if len(set(arches.values())) > 1:
        problems.append(
            Problem(
                "aws.more_instance_types",
                spec.aws.more_instance_types,
                f"must run the architecture of aws.instance_type ({primary}):"
                " one release bundle and one image serve the group, and "
                + ", ".join(f"{name} runs {arch}" for name, arch in arches.items()),
            )
        )
    grace = spec.capacity.health_check_grace_seconds
    downloads = grace - OS_SECONDS - INSTALL_SECONDS - START_SECONDS - SLACK_SECONDS
    if downloads < IAM_PROPAGATION_SECONDS:
        least = OS_SECONDS + INSTALL_SECONDS + START_SECONDS + SLACK_SECONDS + IAM_PROPAGATION_SECONDS
        problems.append(
            Problem(
                "capacity.health_check_grace_seconds",
                grace,
                f"must be at least {least}: the boot budget leaves its downloads {downloads}s, less than the"
                f" {IAM_PROPAGATION_SECONDS}s a new instance role may take to propagate",
            )
        )
    if not problems:
        try:
            fleet_bundle(spec)
        except (WheelhouseError, PlatformError) as error:
            problems.append(Problem("aws.instance_type", spec.aws.instance_type, str(error)))
    return problems


def boot_budget(spec: EnvironmentSpec) -> BootBudget:
    return BootBudget(seconds=spec.capacity.health_check_grace_seconds, os_seconds=OS_SECONDS)


def fleet_bundle(spec: EnvironmentSpec) -> Bundle:
    """The release bundle every instance type of the group boots (they share one architecture)."""
    return build_bundle("aws", spec.aws.instance_type)


def image_parameter(bundle: Bundle) -> str:
    """The SSM parameter of the Amazon Linux 2023 image for the bundle's architecture."""
    return IMAGES["aws"].names[bundle.platform.arch]
