"""What a boot script reaches over the network: every host its URLs name and every package command it runs,
checked against its cloud's table of allowed destinations, so a boot that would reach PyPI, a package
mirror or any host outside the cloud fails a test instead of a scale-out.

A cloud's table (`BOOT_DESTINATIONS` in its boot module) maps each allowed host pattern to how the instance
reaches it privately; `PACKAGE_COMMANDS` in the same place lists the package commands it may run (none,
unless an OS package is truly needed), each with the mirror that serves it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_URL = re.compile(r"\bhttps?://([A-Za-z0-9.@{}_-]+|\[[0-9a-fA-F:]+\])(?::\d+)?")
# Commands that fetch packages or files from somewhere: any of them in a boot is a destination.
_PACKAGE = re.compile(
    r"\b(apt-get|apt|aptitude|dpkg\s+-i|yum|dnf|zypper|snap|add-apt-repository|curl|wget|easy_install"
    r"|aws\s+s3|pip3?(?:\.\d+)?\"?\s+(?:--\S+\s+)*install|-m\s+pip\s+(?:--\S+\s+)*install|/pip\"?\s+(?:--\S+\s+)*install)\b"
)
# An offline pip install: only the bundle's wheels, nothing from an index.
_OFFLINE_PIP = re.compile(r"--no-index\b.*--find-links|--find-links.*--no-index\b")


_ENVIRONMENT_FILE = re.compile(r"cat > /etc/sample-service\.env <<'ENV'\n.*?\nENV\n", re.DOTALL)


def boot_steps(script: str) -> str:
    """The script without the service's environment file: the hosts there are the service's own run-time
    destinations (its store, its gateway), which the network rules govern, not places a boot goes."""
    return _ENVIRONMENT_FILE.sub("", script)


def hosts(script: str) -> set[str]:
    return {match.group(1) for match in _URL.finditer(boot_steps(script))}


def package_commands(script: str) -> list[str]:
    """Each logical line (continuations joined) that runs a package or download command, except pip
    installs that read only the bundle's wheelhouse."""
    lines = re.sub(r"\\\n\s*", " ", boot_steps(script)).splitlines()
    found = []
    for line in lines:
        code = line.split(" #", 1)[0].strip()
        if code.startswith("#") or not _PACKAGE.search(code):
            continue
        if "install" in code and "pip" in code and _OFFLINE_PIP.search(code):
            continue
        found.append(code)
    return found


def unexpected(
    script: str, allowed_hosts: Mapping[str, str], allowed_commands: Mapping[str, str]
) -> list[str]:
    """Every host and package command in `script` that its cloud's table does not allow."""
    problems = [
        f"host {host}: not an allowed boot destination"
        for host in sorted(hosts(script))
        if not any(re.fullmatch(pattern, host) for pattern in allowed_hosts)
    ]
    problems += [
        f"package command {command!r}: not an allowed boot command"
        for command in package_commands(script)
        if not any(re.search(pattern, command) for pattern in allowed_commands)
    ]
    return problems
