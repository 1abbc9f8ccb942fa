"""Every cloud's boot script: each fetches the service bundle its own way (S3, a blob, a Cloud Storage
object), then makes that release current and runs it under the same systemd unit, written once here
(`service_unit.sh`) and placed where a script says `@{service_unit}`. Three shell functions are shared the
same way: `retry` (`boot_retry.sh`, bounded retries for every download) where a script says
`@{boot_retry}`, `install_release` (`install_release.sh`, the offline install of the release bundle)
where it says `@{install_release}`, and `fetch` (`boot_fetch.sh`, one GET with python3, no curl) where it
says `@{boot_fetch}`."""

from __future__ import annotations

import string
from collections.abc import Mapping
from pathlib import Path

from refarch.spec import Service

SERVICE_UNIT = Path(__file__).with_name("service_unit.sh")
BOOT_RETRY = Path(__file__).with_name("boot_retry.sh")
INSTALL_RELEASE = Path(__file__).with_name("install_release.sh")
BOOT_FETCH = Path(__file__).with_name("boot_fetch.sh")
# Each fragment replaces a line that holds only its placeholder.
FRAGMENTS = {
    "service_unit": SERVICE_UNIT,
    "boot_retry": BOOT_RETRY,
    "install_release": INSTALL_RELEASE,
    "boot_fetch": BOOT_FETCH,
}


class BootTemplate(string.Template):
    # `@{name}` placeholders leave the script's own `$VARIABLES` alone.
    delimiter = "@"


def stop_timeout_seconds(service: Service) -> int:
    """How long systemd waits after SIGTERM before it kills: the service's grace plus time to exit."""
    return service.shutdown_grace_seconds + 10


def render_boot(script: Path, service: Service, environment: Mapping[str, str], **values: object) -> str:
    """The cloud's `script` with the shared fragments placed and every `@{placeholder}` filled."""
    text = script.read_text()
    for name, fragment in FRAGMENTS.items():
        text = text.replace(f"@{{{name}}}\n", fragment.read_text())
    return BootTemplate(text).substitute(
        environment="\n".join(f"{key}={value}" for key, value in sorted(environment.items())),
        stop_timeout=stop_timeout_seconds(service),
        **values,
    )


def written_environment(script: str) -> dict[str, str]:
    """The service's variables as a rendered boot script writes them to its environment file (tests and
    reviewers read them back with this, whichever cloud rendered the script)."""
    block = script.split("cat > /etc/sample-service.env <<'ENV'\n", 1)[1].split("\nENV\n", 1)[0]
    return dict(line.split("=", 1) for line in block.splitlines())


def render_fragment(fragment: Path) -> str:
    """A shared fragment on its own, as a boot script holds it (tests source it into bash)."""
    return BootTemplate(fragment.read_text()).substitute()
