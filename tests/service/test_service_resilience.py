"""Dependency outages: fail fast with 503 on the affected routes only, keep /health up, recover alone."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest

pytestmark = pytest.mark.servers

# Generous on purpose: this checks that a dead dependency costs about one timeout, not a benchmark.
FAST = 2.0


def assert_sessions_unavailable(service: Any, token: str) -> None:
    for method, path, body in [
        ("POST", "/sessions", {"n": 0}),
        ("GET", f"/sessions/{token}", None),
        ("PUT", f"/sessions/{token}", {"n": 0}),
        ("DELETE", f"/sessions/{token}", None),
    ]:
        response = service.request(method, path, body)
        response.assert_error(503, "session cache unavailable")
        assert response.elapsed < FAST, (method, response.elapsed)


def assert_sessions_work(service: Any) -> None:
    created = service.request("POST", "/sessions", {"ok": True})
    assert created.status == 201, created.body
    token = created.body["token"]
    assert service.request("GET", f"/sessions/{token}").body["data"] == {"ok": True}
    assert service.request("PUT", f"/sessions/{token}", {"ok": 1}).status == 200
    assert service.request("DELETE", f"/sessions/{token}").status == 204


def assert_items_work(service: Any, item_id: str) -> None:
    put = service.request("PUT", f"/items/{item_id}", {"v": item_id})
    assert put.status == 200, put.body
    assert service.request("GET", f"/items/{item_id}").body["data"] == {"v": item_id}


def assert_not_ready(service: Any, checks: dict[str, str]) -> None:
    ready = service.request("GET", "/ready")
    assert (ready.status, ready.body) == (503, {"status": "not ready", "checks": checks})
    assert ready.elapsed < FAST


def test_cache_outage_and_recovery_after_redis_restarts(start_service: Any, make_redis: Any) -> None:
    cache = make_redis()
    service = start_service(CACHE_PORT=str(cache.port), CACHE_TIMEOUT_MS="250")
    token = service.request("POST", "/sessions", {"n": 1}).body["token"]

    # A restart while the pooled connection is idle: the next call must not fail on the dead connection.
    cache.stop()
    cache.start()
    assert_sessions_work(service)

    cache.stop()
    assert_sessions_unavailable(service, token)
    health = service.request("GET", "/health")
    assert (health.status, health.body) == (200, {"status": "ok"})
    assert_not_ready(service, {"cache": "unavailable", "store": "ok"})
    assert_items_work(service, "during-cache-outage")

    cache.start()
    assert_sessions_work(service)
    assert service.request("GET", "/ready").status == 200
    assert service.proc.poll() is None


def test_cache_that_stops_answering_costs_one_timeout(
    start_service: Any, redis_server: Any, fault_proxy: Any
) -> None:
    proxy = fault_proxy(redis_server.port)
    service = start_service(CACHE_PORT=str(proxy.port), CACHE_TIMEOUT_MS="300")
    token = service.request("POST", "/sessions", {"n": 1}).body["token"]

    proxy.set_mode("stall")
    response = service.request("GET", f"/sessions/{token}")
    response.assert_error(503, "session cache unavailable")
    assert 0.25 <= response.elapsed < FAST  # it did wait for the timeout, and only about that long
    assert service.request("GET", "/health").status == 200
    assert_not_ready(service, {"cache": "unavailable", "store": "ok"})
    assert_items_work(service, "during-cache-stall")

    proxy.set_mode("forward")
    assert service.request("GET", f"/sessions/{token}").body == {"token": token, "data": {"n": 1}}


@pytest.mark.parametrize("mode", ["refuse", "stall"])
def test_store_outage_affects_only_item_routes(
    start_service: Any, moto_endpoint: str, fault_proxy: Any, mode: str
) -> None:
    proxy = fault_proxy(urlsplit(moto_endpoint).port)
    service = start_service(
        AWS_ENDPOINT_URL_DYNAMODB=f"http://127.0.0.1:{proxy.port}", STORE_TIMEOUT_MS="300"
    )
    assert_items_work(service, f"before-{mode}")

    proxy.set_mode(mode)
    for method, body in [("PUT", {"v": 2}), ("GET", None)]:
        response = service.request(method, f"/items/before-{mode}", body)
        response.assert_error(503, "item store unavailable")
        assert response.elapsed < FAST, (method, response.elapsed)
    assert service.request("GET", "/health").status == 200
    assert_not_ready(service, {"cache": "ok", "store": "unavailable"})
    assert_sessions_work(service)

    proxy.set_mode("forward")
    assert service.request("GET", f"/items/before-{mode}").body["data"] == {"v": f"before-{mode}"}
    assert service.request("GET", "/ready").status == 200
