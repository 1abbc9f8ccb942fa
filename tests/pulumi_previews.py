"""Offline previews shared by the Azure and GCP tests: every stack once per session with the spec fields it
reads (tests/<cloud>/conftest.py), and what a program reads when the stack leaves out the config keys the
parity table names as fallbacks (tests/<cloud>/test_<cloud>_parity.py)."""

from __future__ import annotations

from refarch import parity
from refarch.inventory import Inventory
from refarch.spec import EnvironmentSpec
from refarch.spec_reads import Reads, recording
from refarch_pulumi.offline import PulumiProject


def preview_all(project: PulumiProject) -> tuple[dict[str, Inventory], Reads]:
    """Every stack's inventory, and the spec fields the previews read (refarch/parity.py checks them)."""
    with recording(EnvironmentSpec) as spec_reads:
        inventories = {stack: project.preview(stack) for stack in project.stacks()}
    return inventories, spec_reads


def fallback_reads(project: PulumiProject) -> Reads:
    """What the program reads in dev when the stack leaves out the parity table's fallback keys."""
    unset = {
        f"{project.name}:{entry.when_unset}"
        for entries in parity.PARITY.values()
        if isinstance(entry := entries[project.cloud], parity.Uses) and entry.when_unset
    }
    config = {key: value for key, value in project.config("dev").items() if key not in unset}
    with recording(EnvironmentSpec) as reads:
        project.preview("dev", config)
    return reads
