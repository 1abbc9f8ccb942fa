"""A small fake of the Cosmos DB for NoSQL REST API on 127.0.0.1 (HTTPS, self-signed), enough for the real
azure-cosmos async client to read and upsert documents in one container. It checks what the real service
would refuse (a missing AAD token, a partition key that is not the id) and can stall or fail on demand."""

from __future__ import annotations

import asyncio
import json
import ssl
import subprocess
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from aiohttp import web

DATABASE = "service"
CONTAINER = "items"
MAX_DOCUMENT_BYTES = 2 * 1024 * 1024


def self_signed_context(directory: Path) -> ssl.SSLContext:
    key, cert = directory / "key.pem", directory / "cert.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


class FakeCosmos:
    def __init__(self, directory: Path) -> None:
        self.documents: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        # "serve", "stall" (never answer), "error" (503 on data calls)
        self.mode = "serve"
        self._ssl = self_signed_context(directory)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self.port = 0

    @property
    def endpoint(self) -> str:
        return f"https://127.0.0.1:{self.port}/"

    def start(self) -> None:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)

    async def _start(self) -> None:
        self._release = asyncio.Event()
        app = web.Application(client_max_size=4 * MAX_DOCUMENT_BYTES)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=self._ssl)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._release.set)
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)

    def _error(self, status: int, code: str, message: str, substatus: int = 0) -> web.Response:
        headers = {"x-ms-substatus": str(substatus)} if substatus else {}
        return web.json_response({"code": code, "message": message}, status=status, headers=headers)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path.strip("/")
        self.requests.append((request.method, path, dict(request.headers)))
        authorization = unquote(request.headers.get("authorization", ""))
        if not authorization.startswith("type=aad&ver=1.0&sig=") or authorization.endswith("sig="):
            return self._error(401, "Unauthorized", "only Entra ID tokens are accepted (local auth disabled)")
        if path == "":
            location = {"name": "West Europe", "databaseAccountEndpoint": f"https://127.0.0.1:{self.port}/"}
            return web.json_response(
                {
                    "id": "fake",
                    "_rid": "fake",
                    "media": "//media/",
                    "addresses": "//addresses/",
                    "_dbs": "//dbs/",
                    "writableLocations": [location],
                    "readableLocations": [location],
                    "enableMultipleWriteLocations": False,
                    "userConsistencyPolicy": {"defaultConsistencyLevel": "Strong"},
                    "systemReplicationPolicy": {"minReplicaSetSize": 3, "maxReplicasetSize": 4},
                    "readPolicy": {"primaryReadCoefficient": 1, "secondaryReadCoefficient": 1},
                }
            )
        if self.mode == "stall":
            await self._release.wait()  # until stop(): the client must give up long before
        if self.mode == "error":
            return self._error(503, "ServiceUnavailable", "fake outage")
        container = f"dbs/{DATABASE}/colls/{CONTAINER}"
        if path == container:
            return web.json_response(
                {
                    "id": CONTAINER,
                    "_rid": "cont",
                    "_self": f"{container}/",
                    "partitionKey": {"paths": ["/id"], "kind": "Hash", "version": 2},
                    "defaultTtl": -1,
                }
            )
        if path == f"{container}/pkranges":
            return web.json_response(
                {
                    "_rid": "cont",
                    "PartitionKeyRanges": [{"id": "0", "minInclusive": "", "maxExclusive": "FF"}],
                    "_count": 1,
                }
            )
        if path.startswith(f"{container}/docs"):
            return await self._documents(request, path.removeprefix(f"{container}/docs").strip("/"))
        return self._error(404, "NotFound", f"no such resource: {path}")

    def _partition_key(self, request: web.Request) -> str | None:
        raw = request.headers.get("x-ms-documentdb-partitionkey")
        return json.loads(raw)[0] if raw else None

    async def _documents(self, request: web.Request, document_id: str) -> web.Response:
        if request.method == "GET" and document_id:
            if self._partition_key(request) != document_id:
                return self._error(400, "BadRequest", "partition key must be the id")
            document = self.documents.get(document_id)
            if document is None or self._expired(document):
                return self._error(
                    404, "NotFound", "Entity with the specified id does not exist in the system."
                )
            return web.json_response(document)
        if request.method == "POST" and not document_id:
            body = await request.read()
            if len(body) > MAX_DOCUMENT_BYTES:
                return self._error(413, "RequestEntityTooLarge", "Request size is too large")
            document = json.loads(body)
            if request.headers.get("x-ms-documentdb-is-upsert", "").lower() != "true":
                return self._error(400, "BadRequest", "expected an upsert")
            if self._partition_key(request) != document["id"]:
                return self._error(400, "BadRequest", "partition key must be the id")
            self.documents[document["id"]] = {**document, "_ts": int(time.time()), "_etag": '"1"'}
            return web.json_response(self.documents[document["id"]], status=200)
        return self._error(405, "MethodNotAllowed", f"{request.method} {document_id}")

    @staticmethod
    def _expired(document: dict[str, Any]) -> bool:
        ttl = document.get("ttl")
        return ttl is not None and ttl != -1 and document["_ts"] + ttl <= time.time()
