"""The HTTP API of one running service process against real redis-server and moto DynamoDB."""

from __future__ import annotations

import gzip
import json
import socket
import time
from typing import Any

import pytest

pytestmark = pytest.mark.servers

FORGED_TOKEN = "A" * 43  # well-formed, never issued


def test_health_is_ok(shared_service: Any) -> None:
    response = shared_service.request("GET", "/health")
    assert (response.status, response.body) == (200, {"status": "ok"})


def test_ready_checks_cache_and_store(shared_service: Any) -> None:
    response = shared_service.request("GET", "/ready")
    assert response.status == 200
    assert response.body == {"status": "ready", "checks": {"cache": "ok", "store": "ok"}}


def test_session_roundtrip(shared_service: Any) -> None:
    created = shared_service.request("POST", "/sessions", {"user": "ana", "cart": [1, 2], "é": None})
    assert created.status == 201
    token = created.body["token"]
    assert created.body == {"token": token, "data": {"user": "ana", "cart": [1, 2], "é": None}}

    read = shared_service.request("GET", f"/sessions/{token}")
    assert (read.status, read.body) == (200, created.body)

    replaced = shared_service.request("PUT", f"/sessions/{token}", {"user": "ana", "cart": []})
    assert (replaced.status, replaced.body) == (200, {"token": token, "data": {"user": "ana", "cart": []}})
    assert shared_service.request("GET", f"/sessions/{token}").body["data"] == {"user": "ana", "cart": []}

    deleted = shared_service.request("DELETE", f"/sessions/{token}")
    assert (deleted.status, deleted.body) == (204, None)
    shared_service.request("GET", f"/sessions/{token}").assert_error(404, "session not found")
    assert shared_service.request("DELETE", f"/sessions/{token}").status == 204


def test_tokens_are_random_and_unique(shared_service: Any) -> None:
    tokens = {shared_service.request("POST", "/sessions", {}).body["token"] for _ in range(20)}
    assert len(tokens) == 20
    assert all(len(token) == 43 for token in tokens)


def test_session_ttl_is_set_and_put_refreshes_it(shared_service: Any, redis_server: Any) -> None:
    cache = redis_server.client()
    token = shared_service.request("POST", "/sessions", {"n": 1}).body["token"]
    key = f"session:{token}"
    assert json.loads(cache.get(key)) == {"n": 1}
    assert 590 <= cache.ttl(key) <= 600  # SESSION_TTL_SECONDS=600 for this instance

    cache.expire(key, 5)
    assert shared_service.request("PUT", f"/sessions/{token}", {"n": 2}).status == 200
    assert 590 <= cache.ttl(key) <= 600


def test_put_does_not_resurrect_an_expired_session(shared_service: Any, redis_server: Any) -> None:
    cache = redis_server.client()
    token = shared_service.request("POST", "/sessions", {"n": 1}).body["token"]
    cache.pexpire(f"session:{token}", 1)
    time.sleep(0.05)

    shared_service.request("PUT", f"/sessions/{token}", {"n": 2}).assert_error(404, "session not found")
    assert cache.exists(f"session:{token}") == 0
    shared_service.request("GET", f"/sessions/{token}").assert_error(404)


def test_unknown_token_is_404_and_never_created(shared_service: Any, redis_server: Any) -> None:
    shared_service.request("GET", f"/sessions/{FORGED_TOKEN}").assert_error(404, "session not found")
    shared_service.request("PUT", f"/sessions/{FORGED_TOKEN}", {"a": 1}).assert_error(
        404, "session not found"
    )
    assert redis_server.client().exists(f"session:{FORGED_TOKEN}") == 0
    assert shared_service.request("DELETE", f"/sessions/{FORGED_TOKEN}").status == 204


def test_item_roundtrip_and_storage_format(shared_service: Any, dynamodb: Any, service_env: Any) -> None:
    before = int(time.time())
    put = shared_service.request(
        "PUT", "/items/order-1", {"qty": 2, "price": 9.5, "tags": ["a"], "ttl_seconds": 120}
    )
    assert put.status == 200
    assert put.body["item_id"] == "order-1"
    assert put.body["data"] == {"qty": 2, "price": 9.5, "tags": ["a"]}
    assert before + 120 <= put.body["expires_at"] <= int(time.time()) + 120

    assert shared_service.request("GET", "/items/order-1").body == put.body

    stored = dynamodb.get_item(TableName=service_env["ITEMS_TABLE"], Key={"pk": {"S": "order-1"}})["Item"]
    assert stored == {
        "pk": {"S": "order-1"},
        "data": {"S": '{"qty":2,"price":9.5,"tags":["a"]}'},
        "expires_at": {"N": str(put.body["expires_at"])},
    }

    # A PUT replaces the whole item, including dropping the expiry.
    replaced = shared_service.request("PUT", "/items/order-1", {"qty": 3})
    assert replaced.body == {"item_id": "order-1", "data": {"qty": 3}, "expires_at": None}
    assert shared_service.request("GET", "/items/order-1").body == replaced.body


def test_unknown_item_is_404(shared_service: Any) -> None:
    shared_service.request("GET", "/items/never-written").assert_error(404, "item not found")


def test_expired_item_is_404_before_dynamodb_deletes_it(
    shared_service: Any, dynamodb: Any, service_env: Any
) -> None:
    dynamodb.put_item(
        TableName=service_env["ITEMS_TABLE"],
        Item={"pk": {"S": "stale"}, "data": {"S": "{}"}, "expires_at": {"N": str(int(time.time()) - 1)}},
    )
    shared_service.request("GET", "/items/stale").assert_error(404, "item not found")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b'{"a":', "request body is not valid JSON"),
        (b"", "request body is not valid JSON"),
        (b"\xff\xfe{", "request body is not valid JSON"),
        (b'{"a": NaN}', "request body is not valid JSON"),
        (b'{"a": 1e999}', "request body is not valid JSON"),
        (b'{"a":' + b"[" * 4000 + b"]" * 4000 + b"}", "request body is not valid JSON"),
        (b"[1, 2]", "request body must be a JSON object"),
        (b'"text"', "request body must be a JSON object"),
        (b"null", "request body must be a JSON object"),
        (b"42", "request body must be a JSON object"),
    ],
    ids=[
        "truncated",
        "empty",
        "not-utf8",
        "nan",
        "overflow",
        "too-deep",
        "array",
        "string",
        "null",
        "number",
    ],
)
@pytest.mark.parametrize("method_path", ["POST /sessions", "PUT /items/x"])
def test_bad_json_body_is_400(shared_service: Any, method_path: str, raw: bytes, message: str) -> None:
    method, path = method_path.split()
    shared_service.request(method, path, raw=raw).assert_error(400, message)


def test_bad_json_on_session_put_is_400(shared_service: Any) -> None:
    token = shared_service.request("POST", "/sessions", {}).body["token"]
    shared_service.request("PUT", f"/sessions/{token}", raw=b"[]").assert_error(400)


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_oversized_body_is_413(shared_service: Any, chunked: bool) -> None:
    body = json.dumps({"blob": "x" * 9000}).encode()  # MAX_BODY_BYTES=8192 for this instance
    if chunked:
        response = shared_service.request("POST", "/sessions", chunks=[body[:4000], body[4000:]])
    else:
        response = shared_service.request("POST", "/sessions", raw=body)
    response.assert_error(413, "request body exceeds 8192 bytes")


def test_body_just_under_the_limit_is_accepted(shared_service: Any) -> None:
    body = json.dumps({"blob": "x" * 8000}).encode()
    assert shared_service.request("POST", "/sessions", raw=body).status == 201


@pytest.mark.parametrize(
    "token",
    ["abc", "A" * 42, "A" * 44, "A" * 42 + ".", "A" * 42 + "%21", "%00" * 43],
    ids=["short", "42", "44", "dot", "bang", "nul"],
)
@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_malformed_token_is_400(shared_service: Any, method: str, token: str) -> None:
    body = {"a": 1} if method == "PUT" else None
    shared_service.request(method, f"/sessions/{token}", body).assert_error(400, "malformed session token")


@pytest.mark.parametrize("item_id", ["-starts-with-dash", "a" * 129, "a%20b", "a%2Fb", "caf%C3%A9"])
@pytest.mark.parametrize("method", ["GET", "PUT"])
def test_malformed_item_id_is_400(shared_service: Any, method: str, item_id: str) -> None:
    body = {"a": 1} if method == "PUT" else None
    response = shared_service.request(method, f"/items/{item_id}", body)
    response.assert_error(400)
    assert response.body["error"].startswith("malformed item id")


@pytest.mark.parametrize("ttl", ["60", 0, -1, 1.5, True, 365 * 24 * 3600 + 1, [60]])
def test_bad_ttl_seconds_is_400(shared_service: Any, ttl: Any) -> None:
    response = shared_service.request("PUT", "/items/ttl-check", {"a": 1, "ttl_seconds": ttl})
    response.assert_error(400, "ttl_seconds must be an integer from 1 to 31536000")


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("GET", "/sessions", "POST"),
        ("PATCH", f"/sessions/{FORGED_TOKEN}", "DELETE,GET,HEAD,PUT"),
        ("POST", "/health", "GET,HEAD"),
        ("DELETE", "/items/x", "GET,HEAD,PUT"),
        ("POST", "/items/x", "GET,HEAD,PUT"),
    ],
)
def test_unexpected_method_is_405_with_allow(shared_service: Any, method: str, path: str, allow: str) -> None:
    response = shared_service.request(method, path)
    response.assert_error(405, "method not allowed")
    assert sorted(response.headers["Allow"].split(",")) == allow.split(",")


def test_unknown_path_is_404(shared_service: Any) -> None:
    shared_service.request("GET", "/admin").assert_error(404, "not found")


BODY_ROUTES = ["POST /sessions", f"PUT /sessions/{FORGED_TOKEN}", "PUT /items/x"]


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/xml"],
)
@pytest.mark.parametrize("method_path", BODY_ROUTES)
def test_body_labelled_as_another_type_is_415(
    shared_service: Any, method_path: str, content_type: str
) -> None:
    method, path = method_path.split()
    response = shared_service.request(method, path, {"a": 1}, headers={"Content-Type": content_type})
    response.assert_error(415, "request body must be application/json")


@pytest.mark.parametrize(
    "content_type", ["application/json", "application/json; charset=utf-8", "application/merge-patch+json"]
)
def test_json_media_types_are_accepted(shared_service: Any, content_type: str) -> None:
    response = shared_service.request("POST", "/sessions", {"a": 1}, headers={"Content-Type": content_type})
    assert response.status == 201, response.body


@pytest.mark.parametrize("method_path", BODY_ROUTES)
def test_unknown_content_encoding_is_415(shared_service: Any, method_path: str) -> None:
    method, path = method_path.split()
    response = shared_service.request(method, path, {"a": 1}, headers={"Content-Encoding": "x-custom"})
    response.assert_error(415, "content encoding must be one of identity, gzip, deflate")


def test_compressed_bodies_are_decoded_and_limited_after_decoding(shared_service: Any) -> None:
    gzip_json = gzip.compress(b'{"zipped": true}')
    created = shared_service.request("POST", "/sessions", raw=gzip_json, headers={"Content-Encoding": "gzip"})
    assert (created.status, created.body["data"]) == (201, {"zipped": True})
    bomb = gzip.compress(json.dumps({"blob": "x" * 200_000}).encode())  # ~200 kB from well under 8 kB
    assert len(bomb) < 8192
    response = shared_service.request("POST", "/sessions", raw=bomb, headers={"Content-Encoding": "gzip"})
    response.assert_error(413, "request body exceeds 8192 bytes")


def test_body_that_does_not_decode_is_400(start_service: Any) -> None:
    service = start_service()
    response = service.request("POST", "/sessions", raw=b"not gzip", headers={"Content-Encoding": "gzip"})
    response.assert_error(400, "request body could not be decoded")
    assert service.request("GET", "/health").status == 200  # a request after ours: its logs are written
    records = service.log_records()
    assert not [r for r in records if r["logger"] == "sample_service.app"]
    assert not [r for r in records if r["level"] in ("ERROR", "CRITICAL")]


def exchange(port: int, data: bytes) -> bytes:
    """Send raw bytes, return everything the service answers before it closes the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(data)
        received = b""
        while chunk := conn.recv(65536):
            received += chunk
    return received


MALFORMED_HTTP = {
    "not-http": b"GARBAGE\r\n\r\n",
    "unknown-method": b"FOO /sessions HTTP/1.1\r\nHost: x\r\n\r\n",
    "long-url": b"GET /items/" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    "huge-header": b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n",
    "negative-length": b"POST /sessions HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
    "two-lengths": b"POST /sessions HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
    "length-and-chunked": (
        b"POST /sessions HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
    ),
    "bad-chunk": b"POST /sessions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\n{}\r\n",
    "non-ascii-path": b"GET /sessions/\xc3\xa9 HTTP/1.1\r\nHost: x\r\n\r\n",
}


def test_malformed_http_is_400_and_the_service_carries_on(start_service: Any) -> None:
    service = start_service()
    for case, data in MALFORMED_HTTP.items():
        assert exchange(service.port, data).startswith(b"HTTP/1.0 400 Bad Request\r\n"), case
        assert service.request("GET", "/health").status == 200, case
    # Rejected by aiohttp's parser before any route: none of our code ran or failed, nothing was a 5xx,
    # and each is a warning naming the kind of error, not an ERROR with a traceback quoting the request.
    records = service.log_records()
    assert not [r for r in records if r["logger"] == "sample_service.app"]
    statuses = [r["status"] for r in records if r["logger"] == "sample_service.access"]
    assert statuses.count(400) == len(MALFORMED_HTTP)
    assert max(statuses) < 500
    assert not [r for r in records if r["level"] in ("ERROR", "CRITICAL") or "exception" in r]
    warnings = [r for r in records if r["level"] == "WARNING" and r["logger"] == "aiohttp.server"]
    assert warnings and all(r["client_error"] for r in warnings)  # a bad method alone is logged at debug


def test_client_leaving_mid_body_is_not_a_server_error(start_service: Any) -> None:
    service = start_service()
    with socket.create_connection(("127.0.0.1", service.port), timeout=5) as conn:
        conn.sendall(b'POST /sessions HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"a":')
        time.sleep(0.2)  # the handler is now waiting for the rest of the body
    assert service.request("GET", "/health").status == 200
    assert not [r for r in service.log_records() if r["level"] in ("ERROR", "CRITICAL")]


def test_logs_are_json_lines_without_tokens(shared_service: Any) -> None:
    token = shared_service.request("POST", "/sessions", {"a": 1}).body["token"]
    shared_service.request("GET", f"/sessions/{token}")
    shared_service.request("GET", "/health")  # a request after ours, so ours is surely flushed

    text = shared_service.log_path.read_text()
    assert token not in text
    records = shared_service.log_records()
    access = [r for r in records if r["logger"] == "sample_service.access"]
    assert {"method": "GET", "route": "/sessions/{token}", "status": 200} in [
        {k: r[k] for k in ("method", "route", "status")} for r in access
    ]
    # Nothing above may have produced a server error.
    assert not [r for r in access if r["status"] >= 500]
    assert not [r for r in records if r["level"] in ("ERROR", "CRITICAL")]


def test_item_beyond_the_stores_size_limit_is_413(start_service: Any) -> None:
    service = start_service(MAX_BODY_BYTES=str(1024 * 1024))
    response = service.request("PUT", "/items/big", {"blob": "x" * 450_000})
    response.assert_error(413, "item exceeds the store's limit of 409600 bytes")
    # The same body is fine as a session: the limit belongs to the store, not the service.
    assert service.request("POST", "/sessions", {"blob": "x" * 450_000}).status == 201
