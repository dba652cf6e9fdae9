"""``Idempotency-Key`` on the API's starts and completions: a retry gets the first answer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import g, jsonify, request
from flask_login import current_user
from sqlalchemy.exc import IntegrityError

from engine import idempotency
from engine.errors import Conflict

from .core import db, now


def asked_key() -> str | None:
    """A POST's well-formed Idempotency-Key, for the token's query to bring its answer along."""
    key = request.headers.get("Idempotency-Key") if request.method == "POST" else None
    return key if key is not None and idempotency.valid(key) else None  # a bad one: 400 in ``once``


def fetched(key: str, answer: idempotency.Answer | None) -> None:
    """Keep the answer the token's query found under ``key``, for ``once`` to use."""
    g.idempotent_answer = (key, answer)


def once(run: Callable[[], tuple[dict[str, Any], int]]) -> Any:
    """Run a start or completion; with an ``Idempotency-Key``, a retry gets the first answer.

    The key is written in the step's transaction: if that committed, the answer is here;
    if it rolled back, there is no key and the retry runs the step.
    """
    key = request.headers.get("Idempotency-Key")
    if key is None:
        payload, status = run()
        db().commit()
        return jsonify(payload), status
    if not idempotency.valid(key):
        raise _error(400, "bad_request", "Idempotency-Key must be 1 to 200 printable ASCII characters")
    asked = f"{request.method} {request.path}"
    user_id = current_user.id
    early = g.pop("idempotent_answer", None)  # read with the bearer token, in its query
    found = early[1] if early is not None and early[0] == key else idempotency.find(db(), user_id, key)
    if found is None:
        try:
            payload, status = run()
        except Conflict:  # the first try held the lock and has committed meanwhile: its answer
            db().rollback()
            found = idempotency.find(db(), user_id, key)
            if found is None:
                raise
            return _replay(found, asked)
        try:
            idempotency.remember(db(), user_id, key, asked, status, payload, now())
            db().commit()
            return jsonify(payload), status
        except IntegrityError:  # the same key committed a moment ago by a parallel retry
            db().rollback()
            found = idempotency.find(db(), user_id, key)
            if found is None:
                raise
    return _replay(found, asked)


def _replay(found: Any, asked: str) -> Any:
    if found.request != asked:
        raise _error(422, "idempotency_key_reused", f"this Idempotency-Key was used for {found.request}")
    response = jsonify(found.body)
    response.status_code = found.status
    response.headers["Idempotent-Replayed"] = "true"
    return response


def _error(status: int, code: str, message: str) -> Exception:
    from .api import ApiError  # the API module imports this one

    return ApiError(status, code, message)
