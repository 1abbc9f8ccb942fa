"""The user data's own install steps, run here in bash with stand-ins for dnf and the AWS CLI (the bundle
download fails once, as it does while a new instance role propagates, then serves the bundle as the CDK
uploads it: the bundle directory, zipped), the unzip with python3 alone and the offline install with
python3.11, every proxy pointing at a closed port so nothing else can be fetched."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from test_boot import _user_data

from refarch.spec import load_environment
from stacks.boot import fleet_bundle

PYTHON311 = Path("/usr/bin/python3.11")
UNREACHABLE = "http://127.0.0.1:9"
# dnf installs the image's python3.11 (here: this machine's) and the agents; it records what it was asked.
DNF = """#!/bin/bash
echo "$@" >> "$CALLS/dnf"
"""
# `aws s3 cp URL FILE --only-show-errors`: the first call is refused (403), the next copies the bundle.
AWS = """#!/bin/bash
echo "$@" >> "$CALLS/aws"
[ "$1 $2" = "s3 cp" ] && [[ "$3" == s3://* ]] || exit 2
if [ ! -f "$CALLS/refused" ]; then touch "$CALLS/refused"; echo "403 Forbidden" >&2; exit 1; fi
cp "$BUNDLE_ZIP" "$4"
"""


@pytest.mark.parametrize("environment", ["dev"], indirect=True)
def test_the_user_data_installs_its_release_from_s3_alone(resources, environment, tmp_path):
    script = _user_data(resources)
    bundle = fleet_bundle(load_environment(environment))
    bundle_zip = shutil.make_archive(str(tmp_path / "bundle"), "zip", bundle.path)
    # The install steps: from the top of the script to the end of the `.installed` block.
    steps = script.split("\n# The service logs", 1)[0].replace(
        "ROOT=/opt/sample-service", f"ROOT={tmp_path}/opt"
    )
    # The bundle's URL as CloudFormation resolves it; a failing test gives up after 30 s, not the budget.
    steps = re.sub(r"'<\{\"Fn::Sub\": \"(s3://[^\"]+)\"\}>'", r"'\1'", steps).replace(
        "${AWS::AccountId}", "111122223333"
    )
    steps = re.sub(
        r"DOWNLOAD_DEADLINE=\$\(\(SECONDS \+ \d+\)\)", "DOWNLOAD_DEADLINE=$((SECONDS + 30))", steps
    )
    assert "'s3://cdk-" in steps and "DOWNLOAD_DEADLINE=$((SECONDS + 30))" in steps
    bin_dir, calls = tmp_path / "bin", tmp_path / "calls"
    bin_dir.mkdir()
    calls.mkdir()
    for name, text in {"dnf": DNF, "aws": AWS}.items():
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    python = PYTHON311 if PYTHON311.exists() else Path(sys._base_executable)
    (bin_dir / "python3").symlink_to(python)
    (bin_dir / "python3.11").symlink_to(python)
    proxies = {name: UNREACHABLE for name in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy")}
    env = {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "CALLS": str(calls),
        "BUNDLE_ZIP": bundle_zip,
        **proxies,
    }
    result = subprocess.run(["bash", "-c", steps], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "boot: release bundle download failed (attempt 1); retrying in 2s" in result.stderr
    assert (calls / "dnf").read_text().split() == [
        "install",
        "-y",
        "-q",
        "--repo",
        "amazonlinux",
        "python3.11",
        "rsyslog",
        "amazon-cloudwatch-agent",
    ]
    release = tmp_path / "opt" / "releases" / bundle.id
    assert (release / ".installed").exists() and (release / "sample_service" / "__main__.py").exists()
    imported = subprocess.run(
        [release / "venv/bin/python", "-c", "import sample_service.app, boto3, redis"],
        cwd=release,
        env={"PATH": os.defpath},
        capture_output=True,
        text=True,
    )
    assert imported.returncode == 0, imported.stderr
