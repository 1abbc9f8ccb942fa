"""Durable item stores behind one small interface, chosen by STORE_BACKEND."""

from __future__ import annotations

from sample_service.config import ServiceConfig
from sample_service.stores.base import Item, ItemStore, ItemTooLarge, StoreUnavailable

__all__ = ["Item", "ItemStore", "ItemTooLarge", "StoreUnavailable", "build_item_store"]


def build_item_store(config: ServiceConfig) -> ItemStore:
    if config.store_backend == "dynamodb" and config.items_table and config.aws_region:
        # Imported here, as each backend is: an instance carries only its own cloud's client libraries.
        from sample_service.stores.dynamodb import DynamoDBItemStore

        return DynamoDBItemStore(
            table=config.items_table, region=config.aws_region, timeout=config.store_timeout
        )
    if config.store_backend == "cosmos" and config.cosmos and config.azure_client_id:
        # Imported here: the Azure SDK loads only on instances that use it.
        from sample_service.entra_id import managed_identity_credential
        from sample_service.stores.cosmos import CosmosItemStore

        return CosmosItemStore(
            endpoint=config.cosmos.endpoint,
            database=config.cosmos.database,
            container=config.cosmos.container,
            credential=managed_identity_credential(config.azure_client_id),
            timeout=config.store_timeout,
        )
    if config.store_backend == "firestore" and config.gcp_project and config.firestore_database:
        # Imported here: only instances that use Firestore load its gRPC client.
        from sample_service.stores.firestore import FirestoreItemStore

        return FirestoreItemStore(
            project=config.gcp_project, database=config.firestore_database, timeout=config.store_timeout
        )
    # ServiceConfig.from_env rejects these combinations; this catches a hand-built config.
    raise ValueError(f"no item store for STORE_BACKEND={config.store_backend!r} with this configuration")
