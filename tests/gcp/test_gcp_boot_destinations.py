"""The startup script reaches only the destinations in gcp_stack.boot's table (each with how the instance
reaches it privately) and runs no package command at all: a boot that would reach PyPI, a package mirror or
any host outside Google Cloud fails here."""

from __future__ import annotations

import pytest

from refarch.boot_destinations import hosts, package_commands, unexpected


def _script(inventory) -> str:
    return inventory.only("gcp:compute/instanceTemplate:InstanceTemplate").get("metadata.startup-script")


def _unexpected(script: str) -> list[str]:
    from gcp_stack.boot import BOOT_DESTINATIONS, PACKAGE_COMMANDS

    return unexpected(script, BOOT_DESTINATIONS, PACKAGE_COMMANDS)


def test_the_boot_reaches_only_its_allowed_destinations(inventory):
    script = _script(inventory)
    assert _unexpected(script) == []
    assert hosts(script) == {"metadata.google.internal", "storage.googleapis.com"}
    assert package_commands(script) == []


# Lines of the boot before the release bundle (main at ef90942), and other ways out: each must be refused.
OLD_AND_OTHER_WAYS_OUT = [
    "apt-get update -q",
    "apt-get install -y -q python3-venv unzip curl",
    "curl -sSf -o add-ops-agent-repo.sh https://dl.google.com/cloudagents/add-google-cloud-ops-agent-repo.sh",
    '"$DIR/venv/bin/pip" install --no-cache-dir --no-input -r "$DIR/sample_service/requirements.lock"',
    "retry 60 wheel fetch https://files.pythonhosted.org/packages/x.whl /tmp/x.whl",
    "retry 60 key fetch https://packages.cloud.google.com/apt/doc/apt-key.gpg /tmp/key",
]


@pytest.mark.parametrize("environment", ["dev"], indirect=True)
@pytest.mark.parametrize("line", OLD_AND_OTHER_WAYS_OUT)
def test_any_other_destination_or_package_command_fails(inventory, line: str):
    assert _unexpected(_script(inventory) + line + "\n") != []
