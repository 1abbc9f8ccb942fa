"""`make bench`: how much synthesizing every environment costs over the CDK's own floor, how much
each Pulumi project's offline preview costs over importing its SDK, and what the self-contained release
bundle costs: its build cold (every wheel downloaded) and warm (nothing downloaded), its size per cloud and
architecture, and the offline install into a fresh venv that every boot runs.

Each measurement is a fresh Python process (interpreter, jsii runtime and aws-cdk-lib load included),
so the empty app's time is the floor any CDK app pays. Medians of a few runs are printed, then
`synth_ratio=<x> synth_ratio_nag=<y>` (targets: at most 3 and at most 4) and `<cloud>_preview_ratio=<x>`
(target: at most 2).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from refarch import ROOT
from refarch.boot import INSTALL_RELEASE, render_fragment
from refarch.bundle import build_platform_bundle
from refarch.platforms import ARCHITECTURES, CLOUDS, image_platform
from refarch.wheelhouse import WheelStore
from refarch_pulumi.offline import projects
from stacks.app_builder import DEFAULT_REGION

RUNS = 3

EMPTY_APP = """
from stacks.app_builder import new_app
new_app(outdir={outdir!r}, context={{"region": {region!r}}}).synth()
"""

FULL_APP = """
from stacks.app_builder import build_app, new_app
build_app(new_app(outdir={outdir!r}, context={{"region": {region!r}}}), nag={nag}).synth()
"""

EMPTY_APP_NAG = """
from aws_cdk import Validations
from cdk_nag import AwsSolutionsChecks
from stacks.app_builder import new_app
app = new_app(outdir={outdir!r}, context={{"region": {region!r}}})
Validations.of(app).add_plugins(AwsSolutionsChecks(app))
app.synth()
"""


def wall_time(source: str, **values: object) -> float:
    timings = []
    for _ in range(RUNS):
        with tempfile.TemporaryDirectory() as outdir:
            code = source.format(outdir=outdir, region=DEFAULT_REGION, **values)
            start = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)
            timings.append(time.perf_counter() - start)
    return statistics.median(timings)


# Pulumi SDKs import their submodules lazily: a bare import_module only registers a stub, so an attribute
# access forces the load the program itself pays when it first touches a resource class.
IMPORT_SDK = """
import importlib
for module in {modules!r}:
    getattr(importlib.import_module(module), "__all__", None)
"""

PREVIEW_STACK = """
from refarch_pulumi.offline import project
project({cloud!r}).preview({stack!r})
"""


def preview_ratios() -> None:
    """Per Pulumi project: each stack's offline preview against importing the SDK modules it uses.

    Both are fresh processes, so interpreter start-up and the SDK import are in both; the ratio is what
    running the program under mocks adds. The printed ratio is the slowest stack's (target: at most 2).
    """
    for pulumi_project in projects():
        modules = pulumi_project.module("offline").SDK_MODULES
        imports = wall_time(IMPORT_SDK, modules=tuple(modules))
        label = f"{pulumi_project.cloud}: import {len(modules)} SDK modules"
        print(f"{label:<34}{imports:6.2f} s")
        worst = 0.0
        for stack in pulumi_project.stacks():
            took = wall_time(PREVIEW_STACK, cloud=pulumi_project.cloud, stack=stack)
            worst = max(worst, took / imports)
            label = f"{pulumi_project.cloud}: preview {stack}"
            print(f"{label:<34}{took:6.2f} s  ({took / imports:.2f}x)")
        print(f"{pulumi_project.cloud}_preview_ratio={worst:.2f}")


MIB = 2**20
# An install that tried to fetch anything would fail: every proxy points at a closed port.
NO_NETWORK = {
    name: "http://127.0.0.1:9" for name in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy")
}


def offline_install_seconds(bundle_path: Path) -> float:
    """The boot's own install_release, into a fresh venv, with no network."""
    with tempfile.TemporaryDirectory(prefix="release-") as release:
        shutil.copytree(bundle_path, release, dirs_exist_ok=True)
        script = f'set -euo pipefail\n{render_fragment(INSTALL_RELEASE)}\ninstall_release {release} "$1"'
        env = {"PATH": "/usr/bin:/bin", "HOME": release, **NO_NETWORK}
        start = time.perf_counter()
        subprocess.run(
            ["bash", "-c", script, "boot", sys._base_executable], env=env, check=True, capture_output=True
        )
        return time.perf_counter() - start


def bundle_figures() -> None:
    """Every cloud's bundle for each architecture: built cold into an empty wheel store (pip's own cache
    off, so every wheel is fetched), then warm (the unchanged lock reuses the wheelhouse: no pip at all)."""
    host_arch = os.uname().machine
    with tempfile.TemporaryDirectory(prefix="bench-bundle-") as scratch:
        places = {
            "store": WheelStore(Path(scratch) / "wheels"),
            "wheelhouses": Path(scratch) / "wheelhouse",
            "bundles": Path(scratch) / "bundles",
        }
        for phase, options in (("cold", ["--no-cache-dir"]), ("warm", [])):
            start = time.perf_counter()
            built = [
                build_platform_bundle(cloud, image_platform(cloud, arch), pip_options=options, **places)
                for cloud in CLOUDS
                for arch in ARCHITECTURES
            ]
            took = time.perf_counter() - start
            downloaded = sum(bundle.downloaded for bundle in built)
            print(
                f"bundle build, {phase}, {len(built)} bundles:{took:9.2f} s  ({downloaded} wheels downloaded)"
            )
        for bundle in built:
            label = f"bundle {bundle.cloud} {bundle.platform.arch}:"
            print(f"{label:<34}{bundle.size_bytes / MIB:6.1f} MiB  ({bundle.platform}, id {bundle.id})")
        for bundle in built:
            if bundle.platform.arch == host_arch:
                label = f"offline install {bundle.cloud}:"
                print(f"{label:<34}{offline_install_seconds(bundle.path):6.2f} s  (fresh venv, no network)")


def main() -> None:
    parser = argparse.ArgumentParser(description="make bench")
    parser.add_argument("--bundle-only", action="store_true", help="only the release bundle's figures")
    if parser.parse_args().bundle_only:
        bundle_figures()
        return
    bundle_figures()
    preview_ratios()
    empty = wall_time(EMPTY_APP)
    full = wall_time(FULL_APP, nag=False)
    empty_nag = wall_time(EMPTY_APP_NAG)
    full_nag = wall_time(FULL_APP, nag=True)
    print(f"empty CDK app:                    {empty:6.2f} s")
    print(f"all environments, no cdk-nag:     {full:6.2f} s")
    print(f"empty CDK app with cdk-nag:       {empty_nag:6.2f} s")
    print(f"all environments with cdk-nag:    {full_nag:6.2f} s")
    print(f"(median of {RUNS} fresh processes each)")
    print(f"synth_ratio={full / empty:.2f} synth_ratio_nag={full_nag / empty:.2f}")


if __name__ == "__main__":
    main()
