"""Queries the GCP tests share: how one resource refers to another, and what the boot script and the
gateway's OpenAPI document carry."""

from __future__ import annotations

import base64
import json

from refarch.boot import written_environment
from refarch.inventory import Inventory, Resource
from refarch_pulumi.offline import mock_id
from sample_service.app import create_app
from sample_service.config import ServiceConfig


def ref(resource: Resource) -> str:
    """What another resource's input holds when it refers to `resource`."""
    return mock_id(resource.name)


def service_environment(inventory: Inventory) -> dict[str, str]:
    """The variables the boot script writes to the service's environment file."""
    script = inventory.only("gcp:compute/instanceTemplate:InstanceTemplate").get("metadata.startup-script")
    return written_environment(script)


def openapi(inventory: Inventory) -> dict:
    config = inventory.only("gcp:apigateway/apiConfig:ApiConfig")
    return json.loads(base64.b64decode(config.get("openapiDocuments.0.document.contents")))


def service_routes() -> set[tuple[str, str]]:
    """(path, method) of every route the sample service serves, from its own router."""
    config = ServiceConfig.from_env(
        {
            "CACHE_HOST": "cache",
            "STORE_BACKEND": "dynamodb",
            "ITEMS_TABLE": "items",
            "AWS_REGION": "eu-west-1",
        }
    )
    app = create_app(config, sessions=object(), items=object())
    return {
        (route.resource.canonical, route.method.lower())
        for route in app.router.routes()
        if route.method != "HEAD"  # aiohttp adds HEAD to every GET
    }
