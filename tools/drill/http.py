"""A minimal HTTP/1.1 keep-alive client on asyncio streams, for the load generator. A full client library
would spend more of the machine's two cores on itself than on the service under test."""

from __future__ import annotations

import asyncio
import json
from typing import Any

MAX_HEAD_BYTES = 16384


class HttpConnection:
    """One keep-alive connection to 127.0.0.1:port, one request at a time; reconnects after any error."""

    def __init__(self, port: int, timeout: float) -> None:
        self._port = port
        self._timeout = timeout
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, body: Any = None) -> tuple[int, bytes]:
        """(status, body). Raises OSError, TimeoutError or ValueError on failure,
        after which the connection is closed and the next request opens a new one."""
        try:
            async with asyncio.timeout(self._timeout):
                return await self._exchange(method, path, body)
        except BaseException:
            self.close()
            raise

    async def _exchange(self, method: str, path: str, body: Any) -> tuple[int, bytes]:
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection("127.0.0.1", self._port)
        assert self._reader is not None
        head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        payload = b""
        if body is not None:
            payload = json.dumps(body, separators=(",", ":")).encode()
            head += f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
        self._writer.write(head.encode() + b"\r\n" + payload)

        raw_head = await self._reader.readuntil(b"\r\n\r\n")
        if len(raw_head) > MAX_HEAD_BYTES:
            raise ValueError("response head too large")
        status_line, *header_lines = raw_head.decode("latin-1").split("\r\n")
        status = int(status_line.split(" ", 2)[1])
        headers = {}
        for line in header_lines:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip().lower()
        if "content-length" in headers:
            data = await self._reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding") == "chunked":
            data = await self._read_chunked()
        elif status in (204, 304) or method == "HEAD":
            data = b""
        else:  # a body delimited by the end of the connection
            data = await self._reader.read()
            headers["connection"] = "close"
        if headers.get("connection") == "close":
            self.close()
        return status, data

    async def _read_chunked(self) -> bytes:
        assert self._reader is not None
        data = b""
        while True:
            size = int((await self._reader.readuntil(b"\r\n")).split(b";")[0], 16)
            chunk = await self._reader.readexactly(size + 2)
            if size == 0:
                return data
            data += chunk[:-2]

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None
