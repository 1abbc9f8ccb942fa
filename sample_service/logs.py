"""One JSON object per line on stdout, for the cloud's log agent to ship as is."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

from aiohttp.abc import AbstractAccessLogger
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web import AbstractResource, BaseRequest, RequestPayloadError, StreamResponse

from sample_service import log_fields

ACCESS_LOGGER = logging.getLogger("sample_service.access")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            log_fields.TIME: datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        # Structured values travel as logger.info(..., extra={"fields": {...}}).
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class ClientErrorsAsWarnings(logging.Filter):
    """aiohttp logs a request it cannot parse or decode at ERROR, with a traceback. The client sent it and
    got a 400: log a warning naming the kind of error, without the traceback, whose message quotes the
    request line, and a request line can hold a session token."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, (HttpProcessingError, RequestPayloadError)):
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.exc_info = record.exc_text = None
            record.fields = {"client_error": type(error).__name__}
        return True


def configure_logging() -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)
    logging.getLogger("aiohttp.server").addFilter(ClientErrorsAsWarnings())


def _resource(request: BaseRequest) -> AbstractResource | None:
    try:
        match_info = request.match_info  # type: ignore[attr-defined]
    except (AttributeError, AssertionError):
        # A request the HTTP parser rejected never reached the router, and aiohttp asserts on its match_info.
        return None
    return match_info.route.resource


class JsonAccessLogger(AbstractAccessLogger):
    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        # The route pattern, never the path: session tokens are bearer credentials and must not reach logs.
        resource = _resource(request)
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
