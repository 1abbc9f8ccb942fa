"""The gateway's OpenAPI document is generated from the spec and covers exactly the service's routes."""

from __future__ import annotations

from gcp_queries import openapi

from sample_service.app import create_app
from sample_service.config import ServiceConfig


def _service_routes() -> set[tuple[str, str]]:
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


def test_document_lists_exactly_the_service_routes(inventory):
    document = openapi(inventory)
    documented = {(path, method) for path, operations in document["paths"].items() for method in operations}
    assert documented == _service_routes()


def test_path_parameters_are_declared(inventory):
    for path, operations in openapi(inventory)["paths"].items():
        for operation in operations.values():
            declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            assert declared == {part[1:-1] for part in path.split("/") if part.startswith("{")}, path


def test_quota_follows_the_spec(inventories):
    limits = {
        env: openapi(inventory)["x-google-management"]["quota"]["limits"][0]["values"]["STANDARD"]
        for env, inventory in inventories.items()
    }
    assert limits == {"dev": 50 * 60, "staging": 200 * 60, "prod": 1000 * 60}
