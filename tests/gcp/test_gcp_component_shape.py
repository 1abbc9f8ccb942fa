"""One root component (refarch:gcp:StatelessService) holds every tier; every resource belongs to a tier."""

from __future__ import annotations


def test_one_root_holds_every_tier(inventory):
    components = inventory.components()
    roots = [r for r in components if r.parent is None]
    assert [(r.type, r.name) for r in roots] == [("refarch:gcp:StatelessService", "service")]
    tiers = [r for r in components if r.parent == "service"]
    assert len(tiers) == len(components) - 1 >= 9
    assert all(r.type.startswith("refarch:gcp:") for r in tiers)
    names = {r.name for r in components}
    assert inventory.orphans() == []
    assert all(r.parent in names for r in inventory if r.custom)


def test_tiers_keep_their_urns_from_before_the_root(gcp, monkeypatch):
    """The tiers were registered at the stack's root before StatelessService existed: each carries an alias to
    that parent (its children inherit it: Pulumi "Refactoring with aliases", wrapping resources in a
    component; pulumi/runtime/resource.py inherited_child_alias): `pulumi up` moves, not replaces."""
    import pulumi
    from google.protobuf import json_format

    import refarch_pulumi.offline as offline

    # Offline runs drop aliases to save time (refarch_pulumi.offline._without_aliases); this run keeps them.
    monkeypatch.setattr(
        offline, "_without_aliases", lambda args: pulumi.ResourceTransformationResult(args.props, args.opts)
    )

    class AliasMonitor(offline.RecordingMonitor):
        aliases: dict[tuple[str, str], list] = {}

        def RegisterResource(self, request):
            self.aliases[(request.type, request.name)] = [
                json_format.MessageToDict(a) for a in request.aliases
            ]
            return super().RegisterResource(request)

    monitor = AliasMonitor(gcp.module("offline").Mocks())
    inventory = gcp.preview("dev", monitor=monitor)
    tiers = [r for r in inventory.components() if r.parent == "service"]
    assert len(tiers) >= 9
    for tier in tiers:
        assert monitor.aliases[(tier.type, tier.name)] == [{"spec": {"noParent": True}}], tier.name
    root = inventory.named("service")
    assert monitor.aliases[(root.type, root.name)] == []
