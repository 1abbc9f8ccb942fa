"""Each renderer README's "Teardown" tables, read back: `{(type, name): {environment, ...}}` per cloud."""

from __future__ import annotations

import re

from refarch import ROOT

# The README whose "## Teardown" section documents what outlives a destroy on that cloud.
TEARDOWN_READMES = {
    "aws": ROOT / "stacks" / "README.md",
    "azure": ROOT / "pulumi" / "azure" / "README.md",
    "gcp": ROOT / "pulumi" / "gcp" / "README.md",
}
ROW = re.compile(r"^\| `(?P<type>\S+) (?P<name>\S+)` \| (?P<environments>[a-z, ]+) \|", re.MULTILINE)


def teardown_section(markdown: str) -> str:
    sections = re.split(r"^(?=## )", markdown, flags=re.MULTILINE)
    (section,) = [s for s in sections if s.startswith("## Teardown\n")]
    return section


def rows(markdown: str) -> dict[tuple[str, str], set[str]]:
    return {
        (row["type"], row["name"]): {env.strip() for env in row["environments"].split(",")}
        for row in ROW.finditer(teardown_section(markdown))
    }


def documented(cloud: str) -> dict[tuple[str, str], set[str]]:
    return rows(TEARDOWN_READMES[cloud].read_text())


def grouped(kept: list[tuple[str, str, str]]) -> dict[tuple[str, str], set[str]]:
    """(type, name, environment) triples as the tables group them."""
    table: dict[tuple[str, str], set[str]] = {}
    for type_, name, environment in kept:
        table.setdefault((type_, name), set()).add(environment)
    return table


def documented_without_its_last_row(cloud: str) -> dict[tuple[str, str], set[str]]:
    """The table as a reader would see it after one row was deleted: the check must notice."""
    text = TEARDOWN_READMES[cloud].read_text()
    *_, last = ROW.finditer(teardown_section(text))
    line = last.string[last.start() : last.string.index("\n", last.start()) + 1]
    return rows(text.replace(line, ""))
