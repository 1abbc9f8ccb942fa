"""Arrows point inward (DESIGN.md, Layout): each entry point, imported in a fresh interpreter, loads only
the SDKs its layer may use. Checked by the modules actually loaded, whichever file a helper lives in."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from refarch import ROOT

# Top-level packages of each infrastructure-as-code SDK and cloud client this project installs.
CDK = {"aws_cdk", "constructs", "cdk_nag", "jsii"}
PULUMI = {"pulumi", "pulumi_azure_native", "pulumi_gcp", "pulumi_random", "grpc"}
AWS_CLIENT = {"boto3", "botocore", "aioboto3", "aiobotocore"}

# entry point -> SDKs it must not load
FORBIDDEN = {
    # The CDK synth: no Pulumi, and no AWS client (the table layout is a plain module).
    "stacks.app_builder": PULUMI | AWS_CLIENT,
    # The core package imports no IaC SDK.
    "refarch.spec": CDK | PULUMI,
    # The service imports no IaC; its cloud clients load only with the backend that needs them.
    "sample_service.app": CDK | PULUMI,
}

_PROBE = (
    "import importlib, json, sys; importlib.import_module(sys.argv[1]); print(json.dumps([*sys.modules]))"
)


def loaded_packages(module: str) -> set[str]:
    command = [sys.executable, "-c", _PROBE, module]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True, timeout=120)
    return {name.split(".")[0] for name in json.loads(result.stdout)}


@pytest.mark.parametrize("module", sorted(FORBIDDEN))
def test_entry_point_loads_no_sdk_of_another_layer(module: str) -> None:
    loaded = loaded_packages(module)
    assert module.split(".")[0] in loaded  # the probe did import what it names
    assert not loaded & FORBIDDEN[module], f"{module} loads {sorted(loaded & FORBIDDEN[module])}"


# Every module of the core package, imported one after another in one fresh interpreter: the top-level
# packages each import added to those already loaded (so an SDK is charged to the first module that loads it).
_CORE_PROBE = """
import importlib, json, pkgutil, sys
import refarch
def packages():
    return {name.split(".")[0] for name in sys.modules}
added = {}
for name in ["refarch", *(info.name for info in pkgutil.walk_packages(refarch.__path__, "refarch."))]:
    before = packages()
    importlib.import_module(name)
    added[name] = sorted(packages() - before)
print(json.dumps(added))
"""


def core_module_names() -> set[str]:
    """The core package's modules, from its files (so the probe's walk cannot skip one unseen)."""
    package = ROOT / "refarch"
    names = set()
    for path in package.rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        names.add(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def test_no_module_of_the_core_package_loads_an_iac_sdk() -> None:
    command = [sys.executable, "-c", _CORE_PROBE]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True, timeout=120)
    added = {module: set(packages) for module, packages in json.loads(result.stdout).items()}
    assert set(added) == core_module_names()
    loading = {module: sorted(packages & (CDK | PULUMI)) for module, packages in added.items()}
    assert not {module: sdks for module, sdks in loading.items() if sdks}, "core modules load an IaC SDK"


def test_the_probe_sees_an_sdk_when_one_is_loaded() -> None:
    # The CDK entry point does load the CDK: the probe is not blind.
    assert loaded_packages("stacks.app_builder") >= CDK
