"""Logs as one JSON object a line (``MUTU_LOG_FORMAT=json``), with the request, user and case.

Whatever runs a request or a job puts its context in ``context`` (a ContextVar, so threads
and requests keep their own); every record then carries it, in both formats.
"""

from __future__ import annotations

import json
import logging
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

context: ContextVar[dict[str, Any] | None] = ContextVar("mutu_log_context", default=None)
FIELDS = ("request_id", "user", "case", "task")


class ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        found = context.get() or {}
        for name in FIELDS:
            if not hasattr(record, name):
                setattr(record, name, found.get(name))
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in (*FIELDS, "method", "path", "status", "ms"):
            value = getattr(record, name, None)
            if value is not None:
                out[name] = value
        if record.exc_info:
            out["error"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


def configure(fmt: str = "text", level: int = logging.INFO) -> None:
    """One handler on the root logger, in the chosen format, with the context on every record."""
    handler = logging.StreamHandler()
    handler.addFilter(ContextFilter())
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("spiff").setLevel(max(level, logging.WARNING))  # every task state change, at INFO
    logging.getLogger("apscheduler").setLevel(max(level, logging.WARNING))
