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
        "/tasks/{task_id}/due": {
            "post": {
                **_op(
                    "Change an open task's due date (QMR and admins), with a reason; its interrupting "
                    "boundary timer due with it moves too",
                    {"200": _resp("the task's new due date", OBJ)},
                    400,
                    403,
                    404,
                    409,
                    422,
                    body=_body({"due": WHEN, "reason": REASON}, "due", "reason"),
                ),
                "parameters": [_p("task_id")],
            }
        },
        "/timers/{timer_id}/move": {
            "post": {
                **_op(
                    "Let a case's waiting timer fall due at another moment (QMR and admins), with a reason",
                    {"200": _resp("the case", OBJ)},
                    400,
                    403,
                    404,
                    409,
                    422,
                    body=_body({"fire_at": WHEN, "reason": REASON}, "fire_at", "reason"),
                ),
                "parameters": [_p("timer_id")],
            }
        },
        "/timers/{timer_id}/fire": {
            "post": {
                **_op(
                    "Fire a case's waiting timer now (QMR and admins), with a reason",
                    {"200": _resp("the case", OBJ)},
                    400,
                    403,
                    404,
                    409,
                    422,
                    body=_body({"reason": REASON}, "reason"),
                ),
                "parameters": [_p("timer_id")],
            }
        },
    }
