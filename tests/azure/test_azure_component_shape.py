"""One root component (refarch:azure:StatelessService) holds every tier; every resource belongs to a tier."""

from __future__ import annotations


def test_one_root_holds_every_tier(inventory):
    components = inventory.components()
    roots = [r for r in components if r.parent is None]
    assert [(r.type, r.name) for r in roots] == [("refarch:azure:StatelessService", "service")]
    tiers = [r for r in components if r.parent == "service"]
    assert len(tiers) == len(components) - 1 >= 9
    assert all(r.type.startswith("refarch:azure:") for r in tiers)
    names = {r.name for r in components}
    assert inventory.orphans() == []
    assert all(r.parent in names for r in inventory if r.custom)
