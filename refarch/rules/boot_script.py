"""Facts a fleet's boot script states about the service: its environment and its stop timeout.

Read with patterns rather than by position, so a team's own user data (an `export`, an env file, a
systemd unit) is read the same way as ours (refarch/service_unit.sh)."""

from __future__ import annotations

import re

_VARIABLE = re.compile(r"^\s*(?:export\s+)?([A-Z][A-Z0-9_]*)=(.*)$", re.MULTILINE)
_STOP_TIMEOUT = re.compile(r"^\s*TimeoutStopSec=(\d+)\s*$", re.MULTILINE)
# Network file systems an instance could mount: state that outlives the instance.
_MOUNT = re.compile(
    r"mount\s+(-\S+\s+)*-t\s+(nfs4?|cifs|efs)\b|amazon-efs-utils|mount\.efs|\S+\.file\.core\.windows\.net"
    r"|\S+:/\S*\s+\S+\s+(nfs4?|efs)\s"
)


def variables(script: str) -> dict[str, str]:
    """Every `NAME=value` line (quotes stripped); the last one wins, as it would in an env file."""
    return {name: value.strip().strip("'\"") for name, value in _VARIABLE.findall(script)}


def stop_timeout(script: str) -> int | None:
    found = _STOP_TIMEOUT.findall(script)
    return int(found[-1]) if found else None


def network_mounts(script: str) -> list[str]:
    return [match.group(0) for match in _MOUNT.finditer(script)]
