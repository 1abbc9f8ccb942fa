"""The shell functions every boot script shares: `retry` (bounded, patient retries of any download) and
`install_release` (the offline install of the release bundle), run here in bash as a boot runs them."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from refarch.boot import BOOT_RETRY, INSTALL_RELEASE, render_fragment


def _bash(script: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", f"set -euo pipefail\n{render_fragment(BOOT_RETRY)}\n{script}"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_retry_retries_any_error_until_it_succeeds(tmp_path: Path) -> None:
    # Fails once (a grant not there yet), then succeeds: the boot goes on.
    flaky = "n=$(cat count 2>/dev/null || echo 0); echo $((n + 1)) > count; [ $n -ge 1 ]"
    result = _bash(f"retry 30 'bundle download' bash -c '{flaky}'\necho booted", tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "booted\n" and (tmp_path / "count").read_text() == "2\n"
    assert "boot: bundle download failed (attempt 1); retrying in 2s" in result.stderr


def test_retry_gives_up_loudly_within_its_budget(tmp_path: Path) -> None:
    started = time.monotonic()
    result = _bash("retry 3 'bundle download' false\necho booted", tmp_path)
    took = time.monotonic() - started
    assert result.returncode == 1 and result.stdout == "", "the boot must stop, not go on"
    assert "boot: bundle download failed 2 times in 3s; giving up" in result.stderr
    assert took < 3 + 1


def test_retry_cuts_an_attempt_that_would_outlive_the_deadline(tmp_path: Path) -> None:
    # A download that hangs (a stalled socket re-arms urlopen's per-operation timeout) must not run past the
    # deadline: the boot stops at it, for repair to replace the instance within its grace.
    started = time.monotonic()
    result = _bash("retry 2 'bundle download' sleep 30\necho booted", tmp_path)
    took = time.monotonic() - started
    assert result.returncode == 1 and result.stdout == ""
    assert "boot: bundle download attempt 1 cut off at its 2s deadline; giving up" in result.stderr
    assert took < 2 + 2


def test_retry_cuts_a_shell_function_too(tmp_path: Path) -> None:
    # fetch is a shell function: `timeout` must still run (and cut) it.
    script = "hang() { sleep 30; }\nretry 2 'service account token' hang\necho booted"
    started = time.monotonic()
    result = _bash(script, tmp_path)
    assert result.returncode == 1 and time.monotonic() - started < 2 + 2, result.stderr
    ok = _bash("ok() { echo \"got $1\"; }\nretry 5 'token' ok 'a b'", tmp_path)
    assert ok.returncode == 0 and ok.stdout == "got a b\n", ok.stderr


def test_retry_with_no_time_left_does_not_start(tmp_path: Path) -> None:
    result = _bash("retry 0 'release bundle download' touch started", tmp_path)
    assert result.returncode == 1 and not (tmp_path / "started").exists()
    assert "boot: release bundle download has no time left of its 0s; giving up" in result.stderr


def test_install_release_reads_nothing_but_the_bundle() -> None:
    """No index, no pip configuration, no PIP_* variables; every wheel checked against the lock's hashes."""
    text = render_fragment(INSTALL_RELEASE)
    install = text[text.index('pip" --isolated install') :]
    for option in ("--no-index", '--find-links "$dir/wheelhouse"', "--require-hashes", "--only-binary=:all:"):
        assert option in install
    assert "PIP_CONFIG_FILE=/dev/null" in text
    assert "http" not in text and "--index-url" not in text


def test_install_release_refuses_a_pip_wheel_the_lock_does_not_pin(tmp_path: Path) -> None:
    # pip runs from the bundle's wheel before any hash is checked by pip itself: the boot checks that
    # wheel against the lock first, and stops on a mismatch.
    (tmp_path / "wheelhouse").mkdir()
    (tmp_path / "wheelhouse" / "pip-26.3-py3-none-any.whl").write_bytes(b"not the locked pip")
    (tmp_path / "requirements.lock").write_text("pip==26.3 \\\n    --hash=sha256:" + "0" * 64 + "\n")
    script = f"{render_fragment(INSTALL_RELEASE)}\ninstall_release {tmp_path} python3\necho installed"
    result = _bash(script, tmp_path)
    assert result.returncode == 1 and "installed" not in result.stdout
    assert "pip-26.3-py3-none-any.whl is not the pip requirements.lock pins" in result.stderr


def test_a_boot_budget_must_leave_time_for_the_downloads() -> None:
    from refarch.boot_budget import INSTALL_SECONDS, SLACK_SECONDS, START_SECONDS, BootBudget

    budget = BootBudget(seconds=600, os_seconds=60)
    # The slack stays outside the downloads: a download cut at its deadline still leaves the boot time.
    assert SLACK_SECONDS > 5, "more than retry's KILL grace"
    assert budget.download_seconds == 600 - 60 - INSTALL_SECONDS - START_SECONDS - SLACK_SECONDS
    with pytest.raises(ValueError, match="leaves no time for the downloads"):
        BootBudget(seconds=60 + INSTALL_SECONDS + START_SECONDS + SLACK_SECONDS, os_seconds=60)
