"""What every request passes before a view sees it: bounded ids, strict JSON, no NUL characters.

Each turns input that would otherwise reach the database or a parser as an error of ours
(a 500) into a clear 4xx at the door, for every route at once.
"""

from __future__ import annotations

import json
import math
from typing import Any

from flask import request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import BadRequest
from werkzeug.routing import IntegerConverter

MAX_ROW_ID = 2**31 - 1  # ids are INTEGER columns on PostgreSQL
MAX_JSON_DEPTH = 32


class RowIdConverter(IntegerConverter):
    """``<int:...>`` that matches only numbers a row id can be: anything larger is a plain 404."""

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_ROW_ID)
        super().__init__(map, *args, **kwargs)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def _depth_problem(value: Any) -> str | None:
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            return f"nested deeper than {MAX_JSON_DEPTH} levels"
        if isinstance(item, str):
            if "\x00" in item:
                return "a string holds a NUL character"
            if not _encodable(item):
                return "a string holds a lone surrogate (\\ud800-\\udfff), which is not text"
        if isinstance(item, dict):
            for key, inner in item.items():
                if "\x00" in key or not _encodable(key):
                    return "a key holds a NUL character or a lone surrogate"
                stack.append((inner, depth + 1))
        elif isinstance(item, list):
            stack.extend((inner, depth + 1) for inner in item)
    return None


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class StrictJSONProvider(DefaultJSONProvider):
    """Parse request bodies as JSON really is: no NaN or Infinity, bounded depth, no NUL.

    A ValueError here becomes Werkzeug's 400 "Failed to decode JSON object: ..." (or
    ``None`` with ``silent=True``); a RecursionError from a body nested 100,000 deep would
    otherwise be a 500.
    """

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        kwargs.setdefault("parse_constant", _refuse_constant)
        try:
            value = json.loads(s, **kwargs)
        except RecursionError:
            raise ValueError(f"nested deeper than {MAX_JSON_DEPTH} levels") from None
        problem = _depth_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        kwargs.setdefault("allow_nan", False)
        return super().dumps(_finite(obj), **kwargs)


def _finite(obj: Any) -> Any:
    """Old rows may hold NaN from before these checks: answer with null, never with invalid JSON."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    return obj


_FORM_TYPES = frozenset({"multipart/form-data", "application/x-www-form-urlencoded"})


def refuse_nul() -> None:
    """No query, form field or file name may carry a NUL: PostgreSQL text cannot store one."""
    # Werkzeug parses a form or files from these two types only; for any other (the API's
    # JSON) both are empty, and merely asking for them cost each API request 1.5 %.
    parsed = request.mimetype in _FORM_TYPES
    for values in (request.args, request.form) if parsed else (request.args,):
        for key, value in values.items(multi=True):
            if "\x00" in key or "\x00" in value:
                raise BadRequest("a NUL character is not allowed in a request")
    for key, upload in request.files.items(multi=True) if parsed else ():
        if "\x00" in key or "\x00" in (upload.filename or ""):
            raise BadRequest("a NUL character is not allowed in a file name")
    if "\x00" in request.path:
        raise BadRequest("a NUL character is not allowed in a request")


# What drivers say when the server is gone (a restart, a cut network): retry later, not a bug.
_DOWN_WORDS = (
    "connection refused",
    "could not connect",
    "server closed the connection",
    "terminating connection",
    "connection is closed",
    "the database system is starting up",
    "the database system is shutting down",
    "consuming input failed",
    "ssl connection has been closed",
    "connection timed out",
    "no connection to the server",
    "unable to open database file",
)


def database_down(exc: Any) -> bool:
    """Whether a database error means the server could not be reached, so the answer is a 503."""
    if getattr(exc, "connection_invalidated", False):
        return True
    text = str(getattr(exc, "orig", exc)).lower()
    return any(words in text for words in _DOWN_WORDS)
