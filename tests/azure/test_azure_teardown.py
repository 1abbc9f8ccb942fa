"""TEARDOWN.md lists exactly what `pulumi destroy` leaves behind on Azure, read from the inventories."""

from __future__ import annotations

from refarch.inventory import Resource
from tests.teardown_doc import documented, grouped


def outlives_destroy(resource: Resource) -> bool:
    # Protected resources stop the destroy; Key Vault soft delete is always on and holds the vault's name.
    return (
        bool(resource.options.get("protect") or resource.options.get("retainOnDelete"))
        or resource.type == "azure-native:keyvault:Vault"
    )


def test_the_table_lists_every_retained_resource_and_nothing_else(inventories):
    retained = grouped(
        [
            (r.type, r.name, env)
            for env, inventory in inventories.items()
            for r in inventory
            if outlives_destroy(r)
        ]
    )
    assert retained, "nothing is retained anywhere: the test would prove nothing"
    assert documented("Azure") == retained
