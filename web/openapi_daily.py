"""The OpenAPI paths of staff's daily work: notifications, dates the QMR moves, the oversight view."""

from __future__ import annotations

from typing import Any

from .openapi import MAX_ID, OBJ, PAGING, TEXT, _op, _p, _q, _resp

MODES = {"enum": ["immediate", "digest", "off"]}
REASON = {**TEXT, "minLength": 1, "maxLength": 500, "description": "kept in the case's history"}
WHEN = {**TEXT, "format": "date-time", "description": "ISO 8601; without an offset, the site's time zone"}


def _body(properties: dict[str, Any], *required: str) -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": properties,
        "required": list(required),
    }


def _dated(summary: str, answer: str, id_name: str, fields: dict[str, Any]) -> dict[str, Any]:
    """A QMR's change of time: the fields, a required reason, and the errors each may meet."""
    body = _body({**fields, "reason": REASON}, *fields, "reason")
    op = _op(summary, {"200": _resp(answer, OBJ)}, 400, 403, 404, 409, 422, body=body)
    return {"post": {**op, "parameters": [_p(id_name)]}}


def daily_paths() -> dict[str, Any]:
    return {
        "/notifications": {
            "get": _op(
                "My notifications, newest first, worded in my language (or `lang`), with the unread count",
                {"200": _resp("notifications", OBJ)},
                400,
                params=[*PAGING, _q("lang", {"enum": ["id", "en"]})],
            )
        },
        "/notifications/read": {
            "post": _op(
                "Mark some (`ids`) or all of my notifications read; ids of others are ignored",
                {"200": _resp("how many were marked, and what is still unread", OBJ)},
                400,
                body=_body(
                    {
                        "ids": {
                            "type": "array",
                            "items": {"type": "integer", "minimum": 0, "maximum": MAX_ID},
                            "maxItems": 1000,
                        }
                    }
                ),
            )
        },
        "/notifications/preferences": {
            "get": _op("How I am told of each kind", {"200": _resp("modes", OBJ)}),
            "put": _op(
                "Choose per kind (assigned, queued, due, escalation): immediate mail, daily digest or off",
                {"200": _resp("the modes now", OBJ)},
                400,
                422,
                body=_body(
                    {"modes": _body({k: MODES for k in ("assigned", "queued", "due", "escalation")})}, "modes"
                ),
            ),
        },
        "/tasks/{task_id}/due": _dated(
            "Change an open task's due date (QMR and admins), with a reason; its interrupting "
            "boundary timer due with it moves too",
            "the task's new due date",
            "task_id",
            {"due": WHEN},
        ),
        "/timers/{timer_id}/move": _dated(
            "Let a case's waiting timer fall due at another moment (QMR and admins), with a reason",
            "the case",
            "timer_id",
            {"fire_at": WHEN},
        ),
        "/timers/{timer_id}/fire": _dated(
            "Fire a case's waiting timer now (QMR and admins), with a reason", "the case", "timer_id", {}
        ),
    }
