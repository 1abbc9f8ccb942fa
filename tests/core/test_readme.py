"""The README's deployment sections name what the projects really read and pin, so they cannot drift."""

from __future__ import annotations

import re

import pytest

from refarch.offline import ROOT, projects

README = (ROOT / "README.md").read_text()
LOCK = (ROOT / "requirements.lock").read_text()


@pytest.mark.parametrize("pulumi_project", projects(), ids=lambda p: p.cloud)
def test_every_config_key_a_stack_sets_is_documented(pulumi_project):
    keys = set()
    for stack in pulumi_project.stacks():
        keys |= set(pulumi_project.config(stack))
    assert keys, "the project sets no config at all"
    undocumented = sorted(
        key
        for key in keys
        if f"`{key}`" not in README
        and f"`{key.split(':', 1)[1]}`" not in README
        and f"{key.split(':', 1)[1]}`" not in README
    )
    assert undocumented == []


@pytest.mark.parametrize("package", ["pulumi-azure-native", "pulumi-gcp"])
def test_the_provider_version_the_readme_names_is_the_pinned_one(package):
    # pip freeze writes some names with underscores.
    pinned = re.search(rf"^{package.replace('-', '[-_]')}==(\S+)$", LOCK, re.MULTILINE)
    assert pinned, f"{package} is not pinned in requirements.lock"
    short = package.removeprefix("pulumi-")
    named = re.findall(rf"(?:{package}|{short})`?\s+v?(\d+\.\d+\.\d+)", README)
    assert named, f"the README names no version of {package}"
    assert set(named) == {pinned.group(1)}
