"""The gateway's OpenAPI document is generated from the spec and covers exactly the service's routes."""

from __future__ import annotations

from gcp_queries import openapi, service_routes

from refarch.spec import load_environment


def test_document_lists_exactly_the_service_routes(inventory):
    document = openapi(inventory)
    documented = {(path, method) for path, operations in document["paths"].items() for method in operations}
    assert documented == service_routes()


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
    # The spec's steady rate per second, as the per-minute quota API Gateway counts in.
    assert limits == {
        env: round(load_environment(env).api.throttle_rate_per_second * 60) for env in inventories
    }
    assert len(set(limits.values())) > 1, (
        "every environment has the same rate: the test cannot tell them apart"
    )
