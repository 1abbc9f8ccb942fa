"""What the sample service actually does, read from its code: the routes it serves and the DynamoDB
operations its store calls. Tests compare the stacks with these, never with a copied list."""

from __future__ import annotations

import ast
import inspect
import re
from functools import cache

from sample_service.app import create_app
from sample_service.config import ServiceConfig
from sample_service.stores import dynamodb

_PARAMETER = re.compile(r"\{[^}]+\}")


@cache
def store_operations() -> frozenset[str]:
    """Every `self._client.<operation>` the DynamoDB store calls, as DynamoDB operation names."""
    tree = ast.parse(inspect.getsource(dynamodb))
    calls = {
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Attribute)
        and node.value.attr == "_client"
        and node.attr != "close"
    }
    assert calls, "found no DynamoDB calls in the store: this reader no longer matches its code"
    return frozenset("".join(part.title() for part in call.split("_")) for call in calls)


@cache
def _routes() -> tuple[tuple[str, str, object], ...]:
    config = ServiceConfig.from_env(
        {
            "CACHE_HOST": "127.0.0.1",
            "STORE_BACKEND": "dynamodb",
            "ITEMS_TABLE": "items",
            "AWS_REGION": "eu-west-1",
        }
    )
    app = create_app(config, sessions=object(), items=object())  # type: ignore[arg-type]
    found = []
    for route in app.router.routes():
        info = route.resource.get_info()
        template = info.get("path") or info["formatter"]
        found.append((route.method, template, info.get("pattern")))
    return tuple(found)


def route_templates() -> list[tuple[str, str]]:
    """(method, path template) of every route, e.g. ("PUT", "/items/{item_id}")."""
    return [(method, template) for method, template, _ in _routes() if method != "HEAD"]


def example_path(template: str) -> str:
    return _PARAMETER.sub("example-1", template)


def serves(method: str, path: str) -> bool:
    for route_method, template, pattern in _routes():
        if route_method != method:
            continue
        if (pattern is None and path == template) or (pattern is not None and pattern.fullmatch(path)):
            return True
    return False
