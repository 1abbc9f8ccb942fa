"""The rendered "Names, looked up from the stack" block of a runbook, as the reader pastes it."""

from __future__ import annotations

import re

from tests.docs.runbook_harness import section

ASSIGNED = re.compile(r"^([A-Z_][A-Z0-9_]*)=\$\(")


def lookup_block(markdown: str) -> list[str]:
    """The block's lines, continuation lines joined to the line they continue."""
    block = section(markdown, "Names, looked up from the stack").split("```sh\n", 1)[1].split("```", 1)[0]
    return block.replace("\\\n", " ").splitlines()


def unguarded(markdown: str) -> list[str]:
    """Each variable the block looks up with no `${NAME:?}` on a line after the last lookup: an empty
    lookup (wrong account, expired login) would run on into the steps."""
    lines = lookup_block(markdown)
    assigned = [
        (index, match.group(1)) for index, line in enumerate(lines) if (match := ASSIGNED.match(line))
    ]
    if not assigned:
        return ["no lookups"]
    after = "\n".join(lines[assigned[-1][0] + 1 :])
    return [name for _, name in assigned if f"${{{name}:?}}" not in after]
