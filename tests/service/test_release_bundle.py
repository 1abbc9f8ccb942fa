"""The release bundle is complete: built for this machine's platform (Linux x86_64, CPython 3.11, as every
cloud's image), installed into a fresh venv with the boot scripts' own `install_release` and no network
(pip gets `--no-index`, and every proxy variable points at a closed port), the service starts from it
against the test Redis and answers its health check.

The first build of a session downloads each wheel once into build/wheels (PyPI, through pip); every later
build, in this session or the next, downloads nothing.
"""

from __future__ import annotations

import json
import os
import platform as host
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name, parse_wheel_filename

from refarch.boot import INSTALL_RELEASE, render_fragment
from refarch.bundle import Bundle, build_bundle, build_platform_bundle
from refarch.locks import Lock, Pin, lock_path, read_lock, render_lock
from refarch.platforms import AARCH64, CLOUDS, X86_64, image_platform
from refarch.wheelhouse import WheelhouseError, WheelStore
from sample_service.paths import HEALTH_PATH
from tests.service.conftest import Service
from tools.drill.servers import free_port

pytestmark = [
    pytest.mark.servers,
    pytest.mark.skipif(host.machine() != X86_64 or sys.platform != "linux", reason="builds for Linux x86_64"),
]

UNREACHABLE = "http://127.0.0.1:9"
# The Python a boot installs with: Debian 12's own python3 (3.11.2, the Azure and GCP images') when this
# machine has it, else this interpreter's base (same minor version).
DEBIAN_PYTHON = Path("/usr/bin/python3.11")
BOOT_PYTHON = str(DEBIAN_PYTHON) if DEBIAN_PYTHON.exists() else sys._base_executable
# Every way pip or the service could reach a network, pointed at a port nothing listens on.
NO_NETWORK = {
    name: UNREACHABLE for name in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "https_proxy", "http_proxy")
}


def offline_pip(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """pip options and environment under which any download fails: no configured index or find-links."""
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    for name, value in NO_NETWORK.items():
        monkeypatch.setenv(name, value)
    for name in ("PIP_FIND_LINKS", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    return ["--index-url", f"{UNREACHABLE}/simple", "--retries", "0", "--timeout", "2"]


@pytest.fixture(scope="session")
def bundles() -> dict[str, Bundle]:
    """Each cloud's bundle for this machine's platform; wheels come from build/wheels after the first run."""
    return {cloud: build_platform_bundle(cloud, image_platform(cloud, X86_64)) for cloud in CLOUDS}


@pytest.fixture(scope="session")
def installed(
    bundles: dict[str, Bundle], tmp_path_factory: pytest.TempPathFactory
) -> Callable[[str], tuple[Path, float]]:
    """The cloud's bundle unpacked into a release directory and installed offline, as a boot does it."""
    releases: dict[str, tuple[Path, float]] = {}

    def install(cloud: str) -> tuple[Path, float]:
        if cloud not in releases:
            release = tmp_path_factory.mktemp(f"release-{cloud}")
            shutil.copytree(bundles[cloud].path, release, dirs_exist_ok=True)
            script = f'set -euo pipefail\n{render_fragment(INSTALL_RELEASE)}\ninstall_release {release} "$1"'
            env = {"PATH": "/usr/bin:/bin", "HOME": str(release), **NO_NETWORK}
            started = time.monotonic()
            result = subprocess.run(
                ["bash", "-c", script, "boot", BOOT_PYTHON],
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
            took = time.monotonic() - started
            assert result.returncode == 0, result.stdout + result.stderr
            releases[cloud] = release, took
        return releases[cloud]

    return install


def _distributions(release: Path) -> dict[str, str]:
    code = "import json, importlib.metadata as m"
    code += "\nprint(json.dumps({d.name: d.version for d in m.distributions()}))"
    listed = subprocess.run(
        [release / "venv/bin/python", "-c", code], capture_output=True, text=True, check=True, cwd=release
    )
    return json.loads(listed.stdout)


@pytest.mark.parametrize("cloud", CLOUDS)
def test_bundle_installs_exactly_its_lock_offline(cloud: str, installed) -> None:
    release, _ = installed(cloud)
    found = {canonicalize_name(name): version for name, version in _distributions(release).items()}
    # The venv is made without pip (Debian's python3 has no ensurepip without python3-venv): pip too is the
    # lock's, from the wheelhouse, and ensurepip's setuptools is absent.
    assert found == {pin.name: pin.version for pin in read_lock(cloud).pins}


def _service(release: Path, env: dict[str, str], log: Path) -> Service:
    # The proxies stay set: the service reaches 127.0.0.1 only, which no_proxy exempts (gRPC reads it
    # in lower case only).
    local = "127.0.0.1,localhost"
    env = {**env, **NO_NETWORK, "NO_PROXY": local, "no_proxy": local, "SERVICE_PORT": str(free_port())}
    return Service(env, log, python=str(release / "venv/bin/python"), cwd=release)


def test_aws_bundle_serves_items_and_sessions(installed, service_env: dict[str, str], tmp_path: Path) -> None:
    release, _ = installed("aws")
    service = _service(release, service_env, tmp_path / "service.log")
    try:
        service.wait_healthy()
        assert service.request("GET", HEALTH_PATH).status == 200
        assert service.request("PUT", "/items/bundle", {"x": 1}).status == 200
        assert service.request("GET", "/items/bundle").body["data"] == {"x": 1}
        assert service.request("POST", "/sessions", {"user": "u1"}).status in (200, 201)
    finally:
        service.kill()


def test_gcp_bundle_serves(installed, service_env: dict[str, str], tmp_path: Path) -> None:
    """Firestore's client connects lazily, so the service starts without it; its gRPC wheels load here.
    (No in-process Firestore fake: forking this process while its gRPC server runs can abort the child.)"""
    release, _ = installed("gcp")
    env = {k: v for k, v in service_env.items() if k != "ITEMS_TABLE"}
    env |= {
        "STORE_BACKEND": "firestore",
        "GOOGLE_CLOUD_PROJECT": "refarch-test-1",
        "FIRESTORE_DATABASE": "dev-items",
        "FIRESTORE_EMULATOR_HOST": f"127.0.0.1:{free_port()}",
    }
    service = _service(release, env, tmp_path / "service.log")
    try:
        service.wait_healthy()
        assert service.request("POST", "/sessions", {"user": "u1"}).status in (200, 201)
    finally:
        service.kill()
    imports = "import grpc, google.cloud.firestore_v1.async_client, google.auth.transport.requests"
    subprocess.run([release / "venv/bin/python", "-c", imports], cwd=release, check=True)


def test_azure_bundle_starts(installed, service_env: dict[str, str], tmp_path: Path) -> None:
    release, _ = installed("azure")
    env = {k: v for k, v in service_env.items() if k != "ITEMS_TABLE"}
    env |= {
        "STORE_BACKEND": "cosmos",
        "COSMOS_ENDPOINT": "https://items.documents.azure.com:443/",
        "COSMOS_DATABASE": "service",
        "COSMOS_CONTAINER": "items",
        "AZURE_CLIENT_ID": "8f2a1c3e-0b6d-4e7a-9c1f-2d3e4f5a6b7c",
    }
    service = _service(release, env, tmp_path / "service.log")
    try:
        service.wait_healthy()
        assert service.request("POST", "/sessions", {"user": "u1"}).status in (200, 201)
    finally:
        service.kill()


def test_rebuild_downloads_nothing(bundles: dict[str, Bundle], monkeypatch, tmp_path: Path) -> None:
    """With the index unreachable: the unchanged bundle comes back as it was, and a new wheelhouse (a
    changed lock would need one) is filled from the wheel store alone."""
    pip_options = offline_pip(monkeypatch)
    for cloud, bundle in bundles.items():
        again = build_platform_bundle(cloud, bundle.platform, pip_options=pip_options)
        assert (again.id, again.path, again.downloaded) == (bundle.id, bundle.path, 0)
        fresh = build_platform_bundle(
            cloud, bundle.platform, pip_options=pip_options, wheelhouses=tmp_path, bundles=tmp_path / "b"
        )
        assert (fresh.id, fresh.downloaded) == (bundle.id, 0)
    # The same build from an empty store must download, and cannot: the index really is unreachable.
    unreachable = f"cannot download the {len(read_lock('aws').pins)} wheel.s. for {bundles['aws'].platform}"
    with pytest.raises(WheelhouseError, match=unreachable):
        build_platform_bundle(
            "aws",
            bundles["aws"].platform,
            pip_options=pip_options,
            store=WheelStore(tmp_path / "empty"),
            wheelhouses=tmp_path / "wh",
            bundles=tmp_path / "b2",
        )


def test_a_change_to_service_lock_or_platform_is_a_new_release(bundles, tmp_path: Path) -> None:
    bundle = bundles["aws"]
    service = tmp_path / "service"
    shutil.copytree(bundle.path / "sample_service", service)
    (service / "app.py").write_text((service / "app.py").read_text() + "\n# changed\n")
    changed = build_platform_bundle("aws", bundle.platform, service_dir=service, bundles=tmp_path / "b")
    assert changed.id != bundle.id and changed.downloaded == 0
    lock = tmp_path / "aws.lock"
    lock.write_text(lock_path("aws").read_text() + "# a comment is a change too\n")
    relocked = build_platform_bundle("aws", bundle.platform, lock_file=lock, bundles=tmp_path / "b")
    assert relocked.id != bundle.id


def test_no_wheel_for_the_architecture_names_package_and_platform(
    installed, monkeypatch, tmp_path: Path
) -> None:
    """An ARM instance type, and an index that has only x86_64 wheels of two compiled packages: the build
    fails before anything is deployed, naming both packages and the platform."""
    release, _ = installed("aws")
    lock = read_lock("aws")
    wheels = {
        canonicalize_name(parse_wheel_filename(p.name)[0]): p for p in (release / "wheelhouse").glob("*.whl")
    }
    compiled = [pin for pin in lock.pins if wheels[pin.name].name.endswith("_x86_64.whl")][:2]
    pure = next(pin for pin in lock.pins if wheels[pin.name].name.endswith("-none-any.whl"))
    index = tmp_path / "index"
    index.mkdir()
    for pin in (*compiled, pure):
        shutil.copyfile(wheels[pin.name], index / wheels[pin.name].name)
    fake = tmp_path / "aws.lock"
    fake.write_text(render_lock("# test", Lock((*compiled, pure), lock.platforms)))
    offline_pip(monkeypatch)
    with pytest.raises(WheelhouseError) as raised:
        build_bundle(
            "aws",
            "t4g.small",
            lock_file=fake,
            store=WheelStore(tmp_path / "store"),
            wheelhouses=tmp_path / "wh",
            bundles=tmp_path / "b",
            pip_options=["--no-index", "--find-links", str(index)],
        )
    message = str(raised.value)
    platform = image_platform("aws", AARCH64)
    assert f"no wheel for {platform} of 2 locked package(s)" in message
    for pin in compiled:
        assert f"  {pin.requirement}: no wheel with a locked hash" in message
    assert pure.requirement not in message


def test_platform_the_lock_does_not_cover_is_refused_before_any_download(tmp_path: Path) -> None:
    lock = read_lock("aws")
    x86_only = tmp_path / "aws.lock"
    x86_only.write_text(render_lock("# test", Lock(lock.pins, lock.platforms[:1])))
    arm = image_platform("aws", AARCH64)
    with pytest.raises(WheelhouseError, match=f"not for {arm}: add it to refarch/platforms.py"):
        build_bundle("aws", "m7g.large", lock_file=x86_only, store=WheelStore(tmp_path / "s"))


def test_a_wheel_whose_hash_the_lock_does_not_list_is_refused(installed, monkeypatch, tmp_path: Path) -> None:
    """The index serves the package, but not the file the lock pinned (a re-upload, a compromised mirror)."""
    release, _ = installed("aws")
    lock = read_lock("aws")
    pin = lock.pins[0]
    wheel = next(p for p in (release / "wheelhouse").glob("*.whl") if _names(p) == pin.name)
    index = tmp_path / "index"
    index.mkdir()
    shutil.copyfile(wheel, index / wheel.name)
    tampered = Pin(pin.name, pin.version, ("0" * 64,))
    fake = tmp_path / "aws.lock"
    fake.write_text(render_lock("# test", Lock((tampered,), lock.platforms)))
    offline_pip(monkeypatch)
    with pytest.raises(WheelhouseError, match=f"  {pin.requirement}: no wheel with a locked hash"):
        build_platform_bundle(
            "aws",
            image_platform("aws", X86_64),
            lock_file=fake,
            store=WheelStore(tmp_path / "store"),
            wheelhouses=tmp_path / "wh",
            bundles=tmp_path / "b",
            pip_options=["--no-index", "--find-links", str(index)],
        )


def _names(wheel: Path) -> str:
    return canonicalize_name(parse_wheel_filename(wheel.name)[0])
