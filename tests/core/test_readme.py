"""The READMEs name what the projects really read and pin, link only to what exists, and keep the shape a
reader navigates by: a short root README, and one README per renderer with the same headings in order."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from refarch import ROOT
from refarch_pulumi.offline import PulumiProject, project, projects

ROOT_README = ROOT / "README.md"
LOCK = (ROOT / "requirements.lock").read_text()
ROOT_MAX_LINES = 200
# One README per renderer; each answers the same questions in the same order (issue 13).
RENDERER_READMES = {
    "aws": ROOT / "stacks" / "README.md",
    **{p.cloud: p.directory / "README.md" for p in projects()},
}
RENDERER_HEADINGS = [
    "Prerequisites",
    "Deploy",
    "Configuration",
    "What differs from the others",
    "Known limits",
    "Teardown",
]
# Where each renderer's tier code lives: the root README's matrix must link into it.
RENDERER_CODE = {
    "aws": ROOT / "stacks",
    **{p.cloud: p.directory / p.package for p in projects()},
}
# Directories that hold no README of ours (installed packages, build output, caches).
NOT_OURS = {".git", ".venv", "venv", "node_modules", "build", "cdk.out", "__pycache__", ".pytest_cache"}
FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def _prose(markdown: str) -> str:
    """The text outside fenced code blocks and inline code, where headings and links live."""
    return re.sub(r"`[^`\n]*`", "", FENCE.sub("", markdown))


def _readmes() -> list[Path]:
    found = []
    for directory, subdirectories, files in os.walk(ROOT):
        subdirectories[:] = sorted(d for d in subdirectories if d not in NOT_OURS)
        if "README.md" in files:
            found.append(Path(directory) / "README.md")
    return found


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*]", "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(readme: Path) -> set[str]:
    text = FENCE.sub("", readme.read_text())
    return {_slug(h) for h in re.findall(r"^#{1,6} (.+)$", text, re.MULTILINE)}


def _config_rows(readme: Path) -> list[set[str]]:
    """The names in backticks in the first cell of each table row: the keys that row documents."""
    rows = []
    for line in readme.read_text().splitlines():
        if line.startswith("|") and not re.fullmatch(r"\|[\s|:-]+\|?", line):
            rows.append(set(re.findall(r"`([^`]+)`", line.split("|")[1])))
    return rows


def _declared_and_set_keys(project: PulumiProject) -> set[str]:
    keys = set()
    for stack in project.stacks():
        keys |= set(project.config(stack))
    declared = project._yaml(project.directory / "Pulumi.yaml").get("config") or {}
    keys |= {key if ":" in key else f"{project.name}:{key}" for key in declared}
    return keys


def test_the_root_readme_stays_short():
    lines = ROOT_README.read_text().splitlines()
    assert len(lines) <= ROOT_MAX_LINES, f"README.md has {len(lines)} lines; move detail to a README below"


@pytest.mark.parametrize("cloud", sorted(RENDERER_READMES))
def test_every_renderer_readme_has_the_shared_headings_in_order(cloud):
    headings = re.findall(r"^## (.+)$", FENCE.sub("", RENDERER_READMES[cloud].read_text()), re.MULTILINE)
    assert headings == RENDERER_HEADINGS


@pytest.mark.parametrize("pulumi_project", projects(), ids=lambda p: p.cloud)
def test_every_config_key_is_documented_in_its_own_clouds_readme(pulumi_project):
    """Each key needs a table row of its own in its cloud's README: another cloud's row never counts.
    A row may name a key of the project's own namespace without it (`vmSize` for `refarch-azure:vmSize`);
    a provider's key (`gcp:region`) is named in full."""
    keys = _declared_and_set_keys(pulumi_project)
    assert keys, "the project declares and sets no config at all"
    rows = _config_rows(RENDERER_READMES[pulumi_project.cloud])
    own = f"{pulumi_project.name}:"

    def documented(key: str) -> bool:
        names = {key, key.removeprefix(own)} if key.startswith(own) else {key}
        return any(names & row for row in rows)

    assert sorted(key for key in keys if not documented(key)) == []


@pytest.mark.parametrize(("cloud", "package"), [("azure", "pulumi-azure-native"), ("gcp", "pulumi-gcp")])
def test_the_provider_version_each_readme_names_is_the_pinned_one(cloud, package):
    # pip freeze writes some names with underscores.
    pinned = re.search(rf"^{package.replace('-', '[-_]')}==(\S+)$", LOCK, re.MULTILINE)
    assert pinned, f"{package} is not pinned in requirements.lock"
    short = package.removeprefix("pulumi-")
    named = re.findall(rf"(?:{package}|{short})`?\s+v?(\d+\.\d+\.\d+)", RENDERER_READMES[cloud].read_text())
    assert named, f"the {cloud} README names no version of {package}"
    assert set(named) == {pinned.group(1)}


def test_every_relative_link_in_every_readme_resolves():
    readmes = _readmes()
    assert {ROOT_README, *RENDERER_READMES.values()} <= set(readmes)
    checked, broken = 0, []
    for readme in readmes:
        for target in LINK.findall(_prose(readme.read_text())):
            if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto: ...
                continue
            path, _, fragment = target.partition("#")
            resolved = (readme.parent / path).resolve() if path else readme
            checked += 1
            if not resolved.exists():
                broken.append(f"{readme.relative_to(ROOT)}: {target}")
            elif fragment and resolved.suffix == ".md" and fragment not in _anchors(resolved):
                broken.append(f"{readme.relative_to(ROOT)}: {target} (no such heading)")
    assert checked, "no relative link found in any README"
    assert broken == []


def test_the_tier_matrix_links_every_tier_to_its_code_on_every_cloud():
    text = ROOT_README.read_text()
    matrix = text[text.index("## Tiers by cloud") :].split("\n## ")[0]
    header, *rows = [line for line in matrix.splitlines() if line.startswith("| ") and "---" not in line]
    clouds = [cell.split()[0].lower() for cell in header.strip("|").split("|")[1:]]
    assert clouds == sorted(RENDERER_CODE)
    tiers = {"network", "compute", "load balancer", "API gateway", "cache", "NoSQL store"}
    tiers |= {"object storage", "monitoring", "identity"}
    assert tiers <= {row.split("|")[1].strip() for row in rows}
    for row in rows:
        tier, *cells = [cell.strip() for cell in row.strip("|").split("|")]
        for cloud, cell in zip(clouds, cells, strict=True):
            links = LINK.findall(cell)
            assert links, f"{tier} on {cloud} links to no file"
            for link in links:
                assert (ROOT / link).resolve().is_relative_to(RENDERER_CODE[cloud]), (tier, cloud, link)


def _destinations(cloud: str) -> dict[str, str]:
    """A cloud's allowed boot destinations (and GCP's agents'), from the modules the boot checks read."""
    if cloud == "aws":
        import stacks.boot

        return stacks.boot.BOOT_DESTINATIONS
    if cloud == "azure":
        return project("azure").module("boot").BOOT_DESTINATIONS
    gcp = project("gcp")
    return {**gcp.module("boot").BOOT_DESTINATIONS, **gcp.module("fleet").AGENT_DESTINATIONS}


@pytest.mark.parametrize("cloud", sorted(RENDERER_READMES))
def test_every_destination_an_instance_may_reach_has_a_row_in_its_clouds_readme(cloud):
    """A row names its host with placeholders (`s3.<region>.amazonaws.com`, `al2023-repos-<region>-*...`);
    filled in, one of them must be what the pattern the boot check allows matches."""
    destinations = _destinations(cloud)
    assert destinations
    hosts = [
        re.sub(r"<[^>]+>|\*", "a1", name) for row in _config_rows(RENDERER_READMES[cloud]) for name in row
    ]
    patterns = [alternative for pattern in destinations for alternative in _alternatives(pattern)]
    assert sorted(p for p in patterns if not any(re.fullmatch(p, host) for host in hosts)) == []


def _alternatives(pattern: str) -> list[str]:
    """`(logging|monitoring)\\.googleapis\\.com` is two hosts: each needs its row."""
    group = re.search(r"\(([^()]*\|[^()]*)\)", pattern)
    if not group:
        return [pattern]
    return [
        expanded
        for choice in group.group(1).split("|")
        for expanded in _alternatives(pattern[: group.start()] + choice + pattern[group.end() :])
    ]
