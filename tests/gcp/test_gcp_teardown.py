"""The GCP README's Teardown table lists exactly what `pulumi destroy` leaves behind, read from the
inventories."""

from __future__ import annotations

from refarch.inventory import Resource
from tests.teardown_doc import documented, documented_without_its_last_row, grouped


def outlives_destroy(resource: Resource) -> bool:
    inputs = resource.inputs
    return (
        bool(resource.options.get("protect") or resource.options.get("retainOnDelete"))
        or inputs.get("deletionProtection") is True
        or inputs.get("deleteProtectionState") == "DELETE_PROTECTION_ENABLED"
        or inputs.get("deletionPolicy") == "ABANDON"
        # A bucket that still holds objects is not deleted unless forceDestroy says so.
        or (resource.type == "gcp:storage/bucket:Bucket" and inputs.get("forceDestroy") is not True)
    )


def retained(inventories) -> dict[tuple[str, str], set[str]]:
    return grouped(
        [
            (r.type, r.name, env)
            for env, inventory in inventories.items()
            for r in inventory
            if outlives_destroy(r)
        ]
    )


def test_the_table_lists_every_retained_resource_and_nothing_else(inventories):
    kept = retained(inventories)
    assert kept, "nothing is retained anywhere: the test would prove nothing"
    assert documented("gcp") == kept


def test_a_row_deleted_from_the_table_fails(inventories):
    assert documented_without_its_last_row("gcp") != retained(inventories)
