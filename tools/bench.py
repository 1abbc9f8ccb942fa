"""`make bench`: how much synthesizing every environment costs over the CDK's own floor, and how much
each Pulumi project's offline preview costs over importing its SDK.

Each measurement is a fresh Python process (interpreter, jsii runtime and aws-cdk-lib load included),
so the empty app's time is the floor any CDK app pays. Medians of a few runs are printed, then
`synth_ratio=<x> synth_ratio_nag=<y>` (targets: at most 3 and at most 4) and `<cloud>_preview_ratio=<x>`
(target: at most 2).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time

from refarch import ROOT
from refarch.offline import projects
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
from refarch.offline import project
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


def main() -> None:
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
