"""The README's deployment sections name what the projects really read and pin, so they cannot drift."""

from __future__ import annotations

import re

import pytest

from refarch.offline import ROOT, projects

README = (ROOT / "README.md").read_text()
LOCK = (ROOT / "requirements.lock").read_text()


def cloud_documentation(cloud: str, readme: str = README) -> str:
    """Where a cloud's config is documented: its own README once it has one, else the root README's
    `## Deploying to <cloud>` section (not the whole file: one cloud's row must not document another's)."""
    own = ROOT / "pulumi" / cloud / "README.md"
    if own.exists():
        return own.read_text()
    sections = re.split(r"^(?=## )", readme, flags=re.MULTILINE)
    (section,) = [s for s in sections if re.match(rf"## Deploying to {cloud}\b", s, re.IGNORECASE)]
    return section


def undocumented_keys(keys: set[str], documentation: str) -> list[str]:
    """Keys named in backticks neither in full (`refarch-gcp:alertEmail`) nor by their short name."""
    return sorted(
        key
        for key in keys
        if f"`{key}`" not in documentation and f"`{key.split(':', 1)[1]}`" not in documentation
    )


def stack_config_keys(pulumi_project) -> set[str]:
    keys = set()
    for stack in pulumi_project.stacks():
        keys |= set(pulumi_project.config(stack))
    assert keys, "the project sets no config at all"
    return keys


@pytest.mark.parametrize("pulumi_project", projects(), ids=lambda p: p.cloud)
def test_every_config_key_a_stack_sets_is_documented(pulumi_project):
    keys = stack_config_keys(pulumi_project)
    assert undocumented_keys(keys, cloud_documentation(pulumi_project.cloud)) == []


@pytest.mark.parametrize("pulumi_project", projects(), ids=lambda p: p.cloud)
def test_a_deleted_row_is_reported_even_where_another_cloud_documents_the_same_name(pulumi_project):
    documentation = cloud_documentation(pulumi_project.cloud)
    for key in sorted(stack_config_keys(pulumi_project)):
        names = (f"`{key}`", f"`{key.split(':', 1)[1]}`")
        without = "\n".join(line for line in documentation.splitlines() if not any(n in line for n in names))
        assert undocumented_keys({key}, without) == [key]


@pytest.mark.parametrize("package", ["pulumi-azure-native", "pulumi-gcp"])
def test_the_provider_version_the_readme_names_is_the_pinned_one(package):
    # pip freeze writes some names with underscores.
    pinned = re.search(rf"^{package.replace('-', '[-_]')}==(\S+)$", LOCK, re.MULTILINE)
    assert pinned, f"{package} is not pinned in requirements.lock"
    short = package.removeprefix("pulumi-")
    named = re.findall(rf"(?:{package}|{short})`?\s+v?(\d+\.\d+\.\d+)", README)
    assert named, f"the README names no version of {package}"
    assert set(named) == {pinned.group(1)}
