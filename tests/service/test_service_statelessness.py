"""REL05-BP06: any instance can serve any request, and no state dies with an instance."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.servers


def test_state_is_shared_by_instances_and_survives_them(start_service: Any) -> None:
    a = start_service()
    b = start_service()

    token = a.request("POST", "/sessions", {"step": 1}).body["token"]
    assert b.request("GET", f"/sessions/{token}").body["data"] == {"step": 1}
    assert b.request("PUT", f"/sessions/{token}", {"step": 2}).status == 200
    assert a.request("GET", f"/sessions/{token}").body["data"] == {"step": 2}

    assert a.request("PUT", "/items/cart-42", {"lines": [{"sku": "x", "qty": 1}]}).status == 200
    assert b.request("GET", "/items/cart-42").body["data"] == {"lines": [{"sku": "x", "qty": 1}]}

    # Scale in to zero, then out again: a brand-new process picks up where the old ones left off.
    assert a.stop() == 0
    assert b.stop() == 0
    c = start_service()
    assert c.request("GET", f"/sessions/{token}").body == {"token": token, "data": {"step": 2}}
    assert c.request("GET", "/items/cart-42").body["data"] == {"lines": [{"sku": "x", "qty": 1}]}
