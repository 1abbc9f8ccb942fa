"""Queries the GCP tests share: how one resource refers to another, and what the boot script and the
gateway's OpenAPI document carry."""

from __future__ import annotations

import base64
import json

from refarch.boot import written_environment
from refarch.inventory import Inventory, Resource
from refarch.offline import mock_id


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
