"""The Azure README's Teardown table lists exactly what `pulumi destroy` leaves behind, read from the
inventories."""

from __future__ import annotations

from refarch.inventory import Resource
from tests.teardown_doc import documented, documented_without_its_last_row, grouped


def outlives_destroy(resource: Resource) -> bool:
    # Protected resources stop the destroy; Key Vault soft delete is always on and holds the vault's name.
    return (
        bool(resource.options.get("protect") or resource.options.get("retainOnDelete"))
        or resource.type == "azure-native:keyvault:Vault"
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
    assert documented("azure") == kept


def test_a_row_deleted_from_the_table_fails(inventories):
    assert documented_without_its_last_row("azure") != retained(inventories)
