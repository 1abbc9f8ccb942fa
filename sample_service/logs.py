"""One JSON object per line on stdout, for the cloud's log agent to ship as is."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

from aiohttp.abc import AbstractAccessLogger
from aiohttp.web import BaseRequest, StreamResponse

ACCESS_LOGGER = logging.getLogger("sample_service.access")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        # Structured values travel as logger.info(..., extra={"fields": {...}}).
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging() -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)


class JsonAccessLogger(AbstractAccessLogger):
    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        # The route pattern, never the path: session tokens are bearer credentials and must not reach logs.
        match_info = getattr(request, "match_info", None)
        resource = match_info.route.resource if match_info is not None else None
        self.logger.info(
            "request",
            extra={
                "fields": {
                    "method": request.method,
                    "route": resource.canonical if resource is not None else None,
                    "status": response.status,
                    "duration_ms": round(time * 1000, 1),
                    "remote": request.remote,
                }
            },
        )
