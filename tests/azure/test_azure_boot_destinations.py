"""The custom data reaches only the destinations in azure_stack.boot's table (each with how the instance
reaches it privately), and runs no package command: a boot that would reach PyPI, a package mirror or any
host outside Azure fails here."""

from __future__ import annotations

import pytest
from azure_queries import boot_script

from refarch.boot_destinations import hosts, package_commands, unexpected
from refarch.inventory import Inventory


def _unexpected(script: str) -> list[str]:
    from azure_stack.boot import BOOT_DESTINATIONS, PACKAGE_COMMANDS

    return unexpected(script, BOOT_DESTINATIONS, PACKAGE_COMMANDS)


def test_the_boot_reaches_only_its_allowed_destinations(inventory: Inventory):
    script = boot_script(inventory)
    assert _unexpected(script) == []
    assert {"169.254.169.254", "releases.blob.core.windows.net"} == hosts(script)
    # Not even rsyslog from the image's Debian mirror: the agent reads the service's logs from files.
    assert package_commands(script) == []


# Lines of the boot before the release bundle (main at ef90942), and other ways out: each must be refused.
OLD_AND_OTHER_WAYS_OUT = [
    "apt-get install -y -q python3-venv unzip curl rsyslog",
    '"$DIR/venv/bin/pip" install --no-cache-dir --no-input -r "$DIR/sample_service/requirements.lock"',
    'curl -sSf -H "Authorization: Bearer $TOKEN" -o "$DIR/bundle.zip" https://releases.blob.core.windows.net/x',
    "python3 -m pip install requests",
    "retry 60 wheel fetch https://files.pythonhosted.org/packages/x.whl /tmp/x.whl",
    "retry 60 agent fetch https://packages.microsoft.com/config/debian/12/packages-microsoft-prod.deb /tmp/p",
    # main at 8d4b140: rsyslog from the image's Debian mirror, detached, for an image without it.
    "if ! command -v rsyslogd >/dev/null; then\n"
    "  systemd-run --no-block --unit=rsyslog-install --setenv=DEBIAN_FRONTEND=noninteractive"
    " /bin/bash -c \\\n"
    "    'set -e; timeout 120 apt-get -q -o Acquire::http::Timeout=10 -o Acquire::Retries=0 update; \\\n"
    "    timeout 120 apt-get -q -o Acquire::http::Timeout=10 -o Acquire::Retries=0 install -y rsyslog; \\\n"
    "    systemctl restart rsyslog' || echo 'boot: rsyslog install not started' >&2\nfi",
]


@pytest.mark.parametrize("environment", ["dev"], indirect=True)
@pytest.mark.parametrize("line", OLD_AND_OTHER_WAYS_OUT)
def test_any_other_destination_or_package_command_fails(inventory: Inventory, line: str):
    assert _unexpected(boot_script(inventory) + line + "\n") != []
