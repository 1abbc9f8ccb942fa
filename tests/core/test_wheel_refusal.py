"""An instance type whose CPU architecture some locked package has no wheel for is refused when the Pulumi
program starts, before anything is registered: one problem naming the config key, the instance type, the
package and the platform, as a bad spec value is (no traceback; `python -m tools.preview` prints it)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from refarch.locks import Lock, Pin, read_lock, render_lock
from refarch.platforms import AARCH64, X86_64, image_platform, platform_for
from refarch.wheelhouse import WHEEL_STORE, WheelStore
from refarch_pulumi.offline import PulumiProject, project
from tools.preview import preview_stack

PACKAGE = "hiredis"  # a compiled wheel: one per architecture


def lock_without(cloud: str, arch: str, directory: Path) -> Path:
    """The cloud's lock cut down to PACKAGE, keeping only the hash of the wheel that is not for `arch`."""
    lock = read_lock(cloud)
    (pin,) = [pin for pin in lock.pins if pin.name == PACKAGE]
    other = image_platform(cloud, X86_64 if arch == AARCH64 else AARCH64)
    store = WheelStore(WHEEL_STORE)
    kept = tuple(digest for digest in pin.hashes if store.find(Pin(pin.name, pin.version, (digest,)), other))
    assert kept and len(kept) < len(pin.hashes), "run a bundle build first, so the store has both wheels"
    path = directory / f"{cloud}.lock"
    path.write_text(
        render_lock(
            "# one package, one architecture\n", Lock((Pin(pin.name, pin.version, kept),), lock.platforms)
        )
    )
    return path


@pytest.mark.parametrize(
    ("cloud", "key", "arm_type"),
    [
        ("azure", "azure.vm_size", "Standard_D2ps_v5"),
        ("gcp", "gcp.machine_type", "t2a-standard-1"),
    ],
)
def test_an_instance_type_without_wheels_for_its_architecture_is_refused_at_preview(
    cloud, key, arm_type, monkeypatch, tmp_path, capsys
):
    from refarch.bundle import build_bundle

    build_bundle(cloud, arm_type)  # the real lock has both architectures: this one builds
    monkeypatch.setattr("refarch.bundle.lock_path", lambda _cloud: lock_without(cloud, AARCH64, tmp_path))
    pulumi_project = project(cloud)
    table, field = key.split(".")
    override = json.dumps({table: {field: arm_type}})
    config = {**pulumi_project.config("dev"), f"{pulumi_project.name}:spec": override}
    refusal = pulumi_project.refusal("dev", config)
    (problem,) = refusal.problems
    platform = platform_for(cloud, arm_type)
    assert (problem.field, problem.value) == (key, arm_type)
    assert f"{PACKAGE}==" in problem.rule and str(platform) in problem.rule
    assert platform.arch == AARCH64

    monkeypatch.setattr(PulumiProject, "config", lambda _project, _stack: config)
    assert preview_stack(pulumi_project, "dev") is False
    printed = capsys.readouterr().err
    assert f"{cloud} dev: environment 'dev' is invalid:" in printed and f"{PACKAGE}==" in printed
    assert "Traceback" not in printed
