"""A cloud's boot budget: the seconds from an instance's launch to in service, the one figure its health-check
grace, autoscaler initialization and rollout waits are derived from. Its parts say where the time goes; the
downloads get what the other parts leave, as the bounded total of every retry (`retry` in boot_retry.sh)."""

from __future__ import annotations

from dataclasses import dataclass

from refarch.health_check import HEALTH_CHECK

# The offline install of a release bundle (install_release.sh into a fresh venv) took 5 s for each of the
# Azure and GCP bundles on a 2-core build machine with Debian 12's own Python 3.11.2 (`make bench` prints
# it); a small instance is allowed ten times that.
INSTALL_SECONDS = 60
# From `systemctl restart sample-service` to the health check's first passing probe (the service binds
# its port within seconds), then the probes the check needs in a row to call it healthy.
START_SECONDS = 10 + HEALTH_CHECK.healthy_threshold * HEALTH_CHECK.interval_seconds
# Kept out of the downloads: `retry` cuts an attempt at the download deadline but KILLs it only 5 s after
# its TERM, and the estimates above are estimates.
SLACK_SECONDS = 30


@dataclass(frozen=True)
class BootBudget:
    # Launch to in service: what autohealing and repair wait before they judge an instance.
    seconds: int
    # Launch until the boot script runs (the image boots, the guest agent hands over the script): an
    # estimate, with its source where it is set.
    os_seconds: int
    install_seconds: int = INSTALL_SECONDS
    start_seconds: int = START_SECONDS
    slack_seconds: int = SLACK_SECONDS

    def __post_init__(self) -> None:
        if self.download_seconds <= 0:
            raise ValueError(f"a boot budget of {self.seconds}s leaves no time for the downloads")

    @property
    def download_seconds(self) -> int:
        """How long every download of a boot may take, retries included, before the boot gives up."""
        return self.seconds - self.os_seconds - self.install_seconds - self.start_seconds - self.slack_seconds

    @property
    def normal_seconds(self) -> int:
        """A boot that waits for nothing: launch, install and start, with the downloads as they go when the
        instance's grants are already in effect (a scale-out reuses the fleet's identity and its role
        assignments; only a first deploy waits for a new assignment to propagate)."""
        # The identity's token and one bundle of a few MB from storage inside the region: seconds; a minute.
        normal_download_seconds = min(60, self.download_seconds)
        return self.os_seconds + self.install_seconds + self.start_seconds + normal_download_seconds
