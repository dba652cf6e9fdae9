"""``POST /api/v1/messages``: a message from a system outside Mutu, delivered as BPMN says."""

from __future__ import annotations

from flask import jsonify
from flask_login import current_user

from engine import policy
from engine.forms import value_problems
from engine.runtime import MessageUndelivered

from .api import ApiError, _body, bp
from .core import db, engine


@bp.post("/messages")
def send_message():  # type: ignore[no-untyped-def]
    """A waiting case that correlates takes it; else a process with that message start event starts."""
    body = _body("name", "payload", "correlation")
    name, payload, correlation = body.get("name"), body.get("payload", {}), body.get("correlation", {})
    if not isinstance(name, str) or not 0 < len(name) <= 200:
        raise ApiError(400, "bad_request", "name must be the message's name")
    if not isinstance(payload, dict):
        raise ApiError(400, "bad_request", "payload must be a JSON object")
    if not isinstance(correlation, dict) or not all(isinstance(v, dict) for v in correlation.values()):
        raise ApiError(400, "bad_request", "correlation must map each correlation key to its property values")
    problems = value_problems({"payload": payload, "correlation": correlation})
    if problems:
        raise ApiError(400, "bad_request", f"{problems[0].path}: {problems[0].message}")
    policy.check_may_send_messages(current_user)
    try:
        delivered = engine().send_message(db(), name, payload, correlation, current_user)
    except MessageUndelivered as exc:
        db().rollback()
        raise ApiError(404, "message_undelivered", str(exc)) from None
    db().commit()
    return jsonify(name=name, **delivered), 202
