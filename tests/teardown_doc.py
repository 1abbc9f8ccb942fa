"""TEARDOWN.md's tables, read back: `{(type, name): {environment, ...}}` per cloud section."""

from __future__ import annotations

import re

from refarch import ROOT

TEARDOWN = ROOT / "TEARDOWN.md"
ROW = re.compile(r"^\| `(?P<type>\S+) (?P<name>\S+)` \| (?P<environments>[a-z, ]+) \|", re.MULTILINE)


def documented(cloud: str) -> dict[tuple[str, str], set[str]]:
    sections = re.split(r"^(?=## )", TEARDOWN.read_text(), flags=re.MULTILINE)
    (section,) = [s for s in sections if s.startswith(f"## {cloud}\n")]
    return {
        (row["type"], row["name"]): {env.strip() for env in row["environments"].split(",")}
        for row in ROW.finditer(section)
    }


def grouped(kept: list[tuple[str, str, str]]) -> dict[tuple[str, str], set[str]]:
    """(type, name, environment) triples as the tables group them."""
    table: dict[tuple[str, str], set[str]] = {}
    for type_, name, environment in kept:
        table.setdefault((type_, name), set()).add(environment)
    return table
