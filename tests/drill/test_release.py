"""The drill's instances run the release bundle, installed as a boot installs it: once per bundle id, and
refused with a clear message on a machine that cannot run the instances' platform."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest

from refarch.platforms import IMAGES
from tools.drill import release


def test_a_python_other_than_the_images_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(IMAGES, release.CLOUD, dataclasses.replace(IMAGES[release.CLOUD], python=(3, 99)))
    with pytest.raises(release.ReleaseError, match=r"the instances run Python 3\.99 and this is 3\.11"):
        release.base_python()


def test_another_platform_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(release.host, "machine", lambda: "riscv64")
    with pytest.raises(
        release.ReleaseError, match="built for Linux on x86_64 or aarch64; this is linux riscv64"
    ):
        release.host_bundle()


@pytest.mark.servers
def test_an_installed_release_is_reused_and_a_failed_install_leaves_nothing(tmp_path: Path) -> None:
    bundle = release.host_bundle()
    python = release.base_python()
    first = release.install(bundle, python, tmp_path)
    assert first.install_seconds > 0 and (first.path / "venv/bin/python").exists()
    again = release.install(bundle, python, tmp_path)
    assert (again.path, again.install_seconds) == (first.path, 0.0)
    # A bundle whose wheels do not match its lock's hashes does not install, and leaves no release behind.
    broken = tmp_path / "broken-bundle"
    shutil.copytree(bundle.path, broken)
    (broken / "requirements.lock").write_text(
        (broken / "requirements.lock").read_text().replace("sha256:", "sha256:0")
    )
    with pytest.raises(release.ReleaseError, match="install_release failed"):
        release.install(dataclasses.replace(bundle, path=broken), python, tmp_path / "other")
    assert list((tmp_path / "other").iterdir()) == []
