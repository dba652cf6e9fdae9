"""The scenario file format: its JSON Schema, its durations, and what makes a file not one.

See ``scenarios`` for how a scenario runs. A file is checked before any of it runs, so a
scenario with a typo fails at step 0 with the reason instead of half way through.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from jsonschema import Draft202012Validator
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition

from .errors import MutuError

_EXPECT = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "status": {"enum": ["running", "completed", "cancelled", "incident", "suspended"]},
        "open": {"type": "array", "items": {"type": "string"}},
        "ends": {"type": "array", "items": {"type": "string"}},
        "waits_for": {"type": "array", "items": {"type": "string"}},
        "case": {"type": "object"},
        "due": {"type": "object", "additionalProperties": {"type": "string"}},
        "started": {"type": "object", "additionalProperties": {"type": "integer"}},
    },
}
SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["name", "steps"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 200},
        "name_en": {"type": "string", "maxLength": 200},
        "description": {"type": "string", "maxLength": 4000},
        "start_at": {"type": "string", "format": "date-time"},
        "people": {
            "type": "array",
            "maxItems": 50,
            "items": {
                "type": "object",
                "required": ["username", "role"],
                "additionalProperties": False,
                "properties": {
                    "username": {"type": "string", "pattern": "^[a-z0-9._-]{1,64}$"},
                    "role": {"type": "string"},
                    "site": {"type": "string"},
                    "agent_code": {"type": "string", "maxLength": 20},
                    "online_name": {"type": "string", "maxLength": 100},
                },
            },
        },
        "given": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "suppliers": {
                    "type": "array",
                    "maxItems": 200,
                    "items": {
                        "type": "object",
                        "required": ["name"],
                        "additionalProperties": False,
                        "properties": {
                            "name": {"type": "string", "minLength": 1, "maxLength": 200},
                            "score": {"type": "integer"},
                            "approved": {"type": "boolean"},
                            "valid_days": {"type": "integer"},
                            "deliveries": {"type": "integer", "minimum": 0},
                        },
                    },
                }
            },
        },
        "start": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "data": {"type": "object"},
                "engine_data": {"type": "object"},
                "as": {"type": "string"},
            },
        },
        "steps": {
            "type": "array",
            "maxItems": 500,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "task": {"type": "string"},
                    "data": {"type": "object"},
                    "as": {"type": "string"},
                    "refused": {"type": "array", "items": {"type": "string"}},
                    "wait": {"type": "string", "pattern": "^P"},
                    "timer": {"type": "string"},
                    "note": {"type": "string", "maxLength": 1000},
                    "expect": _EXPECT,
                },
                "oneOf": [{"required": ["task"]}, {"required": ["wait"]}, {"required": ["timer"]}],
            },
        },
        "expect": _EXPECT,
        "history": {"type": "array", "items": {"type": "object"}},
    },
}
_VALIDATOR = Draft202012Validator(SCHEMA)


def problems(doc: Any) -> list[str]:
    """What makes ``doc`` not a scenario file, each as ``path: message``."""
    out = []
    for error in sorted(_VALIDATOR.iter_errors(doc), key=lambda e: list(e.absolute_path)):
        where = "/".join(str(p) for p in error.absolute_path) or "(scenario)"
        out.append(f"{where}: {error.message[:300]}")
    return out


MAX_WAIT = timedelta(days=3660)


def duration(text: str, start: datetime) -> timedelta:
    """An ISO 8601 duration from ``start``; at most ten years, so a clock never leaves the calendar."""
    try:
        parsed = TimerEventDefinition.parse_iso_duration(text)
        delta = TimerEventDefinition.get_timedelta_from_start(parsed, start)
    except Exception as exc:  # noqa: BLE001 - SpiffWorkflow raises plain exceptions here
        raise MutuError(f"{text[:40]!r} is not an ISO 8601 duration such as P30DT1M ({exc})") from None
    if not timedelta(0) <= delta <= MAX_WAIT:
        raise MutuError(f"{text[:40]!r}: a wait is between no time and ten years")
    return delta
