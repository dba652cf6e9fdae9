"""The OpenAPI 3.1 description of ``/api/v1``, kept beside the routes it describes."""

from __future__ import annotations

from typing import Any

from engine.policy import STATEMENT_VERSION

ERROR = {"$ref": "#/components/schemas/Error"}
# Every request refuses a NUL character (PostgreSQL text cannot hold one): say so for every string.
TEXT: dict[str, Any] = {"type": "string", "pattern": "^[^\\u0000\\ud800-\\udfff]*$"}
# Keys of any object in a body follow the same rule as text (JSON itself would allow them).
KEYS = {"propertyNames": TEXT}
MAX_PAGE = 100_000
MAX_ID = 2**31 - 1


def _resp(description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"description": description}
    if schema is not None:
        out["content"] = {"application/json": {"schema": schema}}
    return out


def _errors(*codes: int) -> dict[str, Any]:
    words = {
        400: "bad request",
        401: "no valid bearer token",
        403: "not allowed, or the confidentiality statement is not accepted",
        404: "not found",
        405: "a path with '.' or '..' segments, which clients resolve to another route before sending",
        409: "someone else claimed or completed it first, or the case is not running",
        413: "the JSON body is larger than 1 MiB",
        422: "form data broke its form's schema or named a field the form lacks; `fields` lists each",
        429: "too many failed sign-ins for this username or from this address",
    }
    return {str(c): _resp(words[c], ERROR) for c in codes}


def _op(
    summary: str, ok: dict[str, Any], *codes: int, body: dict[str, Any] | None = None, params=None
) -> dict:
    op: dict[str, Any] = {"summary": summary, "responses": {**ok, **_errors(401, *codes)}}
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
        op["responses"].update(_errors(413))
    if params:
        op["parameters"] = params
    return op


def _q(name: str, schema: dict[str, Any], description: str = "") -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


def _p(name: str) -> dict[str, Any]:
    """A row id: anything past the ids the database can hold is simply not found."""
    return {"name": name, "in": "path", "required": True, "schema": {"type": "integer", "minimum": 0}}


PAGING = [
    _q("page", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": 1}),
    _q("per_page", {"type": "integer", "minimum": 1, "maximum": 200, "default": 25}),
]
DATA_BODY = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "data": {
            "type": "object",
            **KEYS,
            "description": "only the fields the form declares (its JSON Schema is `start_schema` of GET "
            "/processes or `schema` of GET /tasks/{task_id}); any other field is a 422 naming it. "
            "No NaN or Infinity, no NUL characters, at most 16 levels deep.",
        }
    },
    "required": ["data"],
}
COMPLETE_BODY = {
    **DATA_BODY,
    "properties": {
        **DATA_BODY["properties"],
        "signature": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"password": {"type": "string", "maxLength": 1000}},
            "required": ["password"],
            "description": "a step the process marks as signed needs the user's password again "
            "(403 signature_refused when wrong, counted towards the sign-in lockout; 422 "
            "signature_required when missing)",
        },
    },
}
OBJ = {"type": "object"}
IDEM = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "^[ -~]+$"},
    "description": "a retry with the same key gets the first answer (header Idempotent-Replayed: true) "
    "instead of running again; the same key on another request is a 422. Kept for a day.",
}
KEY = {"name": "process_key", "in": "path", "required": True, "schema": TEXT}
PATH = {
    "name": "path",
    "in": "path",
    "required": True,
    # Each segment starts with a letter, digit, "_" or "-": no "." or ".." segment leaves the bundle.
    "schema": {"type": "string", "pattern": "^(bpmn|workflows)(/[A-Za-z0-9_-][A-Za-z0-9._-]*)+$"},
    "description": "a path in the bundle: bpmn/NAME.bpmn, workflows/KEY/forms/NAME.json, ...",
}
REVISION = {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}
ZIP = {
    "description": "the zip",
    "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
}


def document() -> dict[str, Any]:
    from .openapi_daily import daily_paths
    from .openapi_editor import editor_paths
    from .openapi_records import records_paths

    task_id, case_id = _p("task_id"), _p("instance_id")
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Mutu API",
            "version": "1",
            "description": "Tasks and cases of the Mutu quality system. Get a token with POST /token, "
            "send it as `Authorization: Bearer <token>`, and accept the confidentiality statement once.",
        },
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {
                        "error": {
                            "type": "object",
                            "required": ["code", "message"],
                            "properties": {
                                "code": {"type": "string"},
                                "message": {"type": "string"},
                                "fields": {"type": "object", "additionalProperties": {"type": "array"}},
                            },
                        }
                    },
                },
                "Task": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "integer"},
                        "instance_id": {"type": "integer"},
                        "bpmn_id": {"type": "string"},
                        "name": {"type": "string"},
                        "label": {"type": "string"},
                        "process_key": {"type": "string"},
                        "lane": {"type": ["string", "null"]},
                        "role": {"type": ["string", "null"]},
                        "assignee_id": {"type": ["integer", "null"]},
                        "form": {"type": ["string", "null"]},
                        "due_at": {"type": ["string", "null"], "format": "date-time"},
                        "status": {"type": "string"},
                        "created_at": {"type": "string", "format": "date-time"},
                    },
                },
                "Case": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "integer"},
                        "process_key": {"type": "string"},
                        "status": {"enum": ["running", "completed", "incident", "suspended", "cancelled"]},
                        "number": {"type": ["string", "null"]},
                        "summary": {"type": ["string", "null"]},
                        "site": {"type": ["string", "null"]},
                        "fields": {"type": "object"},
                        "waits_for": {
                            "type": "object",
                            "description": "what the engine says the case waits for: open tasks with holder "
                            "and due date, timers with their date, messages, asynchronous service calls "
                            "(kind service: due is the next try, with attempts and the last error), "
                            "messages it sent that a worker is still delivering (kind sending: the "
                            "message's name, attempts, due the next try); or the end events it reached",
                            "properties": {
                                "state": {"type": "string"},
                                "waiting": {"type": "array", "items": OBJ},
                                "ended": {"type": "array", "items": OBJ},
                                "reason": {"type": ["string", "null"]},
                            },
                        },
                    },
                },
                "Step": {
                    "type": "object",
                    "properties": {
                        "instance_id": {"type": "integer"},
                        "status": {"type": "string"},
                        "new_tasks": {"type": "array", "items": OBJ},
                        "incident": OBJ,
                    },
                },
            },
        },
        "paths": {
            "/token": {
                "post": {
                    "summary": "Exchange a username and password for a bearer token that expires",
                    "security": [],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["username", "password"],
                                    "additionalProperties": False,
                                    "properties": {"username": TEXT, "password": TEXT},
                                }
                            }
                        },
                    },
                    "responses": {
                        "201": _resp(
                            "a token",
                            {
                                "type": "object",
                                "properties": {
                                    "token": {"type": "string"},
                                    "token_type": {"const": "Bearer"},
                                    "expires_at": {"type": "string", "format": "date-time"},
                                },
                            },
                        ),
                        **_errors(400, 401, 413, 429),
                    },
                },
                "delete": _op("Revoke the token of this request", {"204": _resp("revoked")}),
            },
            "/confidentiality": {
                "get": _op(
                    "The confidentiality statement and whether it is accepted", {"200": _resp("it", OBJ)}
                ),
                "post": _op(
                    "Accept the confidentiality statement (manual 8.5.3)",
                    {"200": _resp("accepted", OBJ)},
                    400,
                    body={
                        "type": "object",
                        "required": ["accept", "version"],
                        "additionalProperties": False,
                        "properties": {
                            "accept": {"const": True},
                            "version": {"const": STATEMENT_VERSION},
                            "language": {"enum": ["id", "en"], "default": "id"},
                        },
                    },
                ),
            },
            "/processes": {
                "get": _op(
                    "Deployed processes, whether you may start them, and their start forms",
                    {"200": _resp("processes", OBJ)},
                    403,
                )  # fmt: skip
            },
            "/processes/{process_key}/start": {
                "post": {
                    **_op(
                        "Start a case",
                        {"201": _resp("the new case", {"$ref": "#/components/schemas/Step"})},
                        400,
                        403,
                        404,
                        422,
                        body=DATA_BODY,
                    ),
                    "parameters": [
                        {"name": "process_key", "in": "path", "required": True, "schema": TEXT},
                        IDEM,
                    ],
                }
            },
            "/tasks": {
                "get": _op(
                    "Open tasks: mine (claimed by me), roles (unclaimed, open to me) or all",
                    {"200": _resp("a page of tasks", OBJ)},
                    400,
                    403,
                    params=[
                        _q("scope", {"enum": ["mine", "roles", "all"], "default": "mine"}),
                        _q("process", TEXT),
                        _q("site", TEXT),
                        _q("service", TEXT),
                        _q("due", {"enum": ["overdue", "today", "week", "none"]}),
                        _q("q", TEXT, "case number or words of the summary or task name"),
                        _q("sort", {"enum": ["due", "-due", "age", "-age", "case", "process"]}),
                        *PAGING,
                    ],
                )
            },
            "/tasks/{task_id}": {
                "get": _op(
                    "A task with its form schema", {"200": _resp("the task", OBJ)}, 403, 404, params=[task_id]
                )
            },
            "/tasks/{task_id}/claim": {
                "post": _op("Claim a task", {"200": _resp("the task", OBJ)}, 403, 404, 409, params=[task_id])
            },
            "/tasks/{task_id}/unclaim": {
                "post": _op(
                    "Give a task back to its role",
                    {"200": _resp("the task", OBJ)},
                    403,
                    404,
                    409,
                    params=[task_id],
                )  # fmt: skip
            },
            "/tasks/{task_id}/complete": {
                "post": _op(
                    "Complete a task with its form data",
                    {"200": _resp("the step", {"$ref": "#/components/schemas/Step"})},
                    400,
                    403,
                    404,
                    409,
                    422,
                    429,
                    body=COMPLETE_BODY,
                    params=[task_id, IDEM],
                )
            },
            "/cases": {
                "get": _op(
                    "Cases you may see",
                    {"200": _resp("a page of cases", OBJ)},
                    400,
                    403,
                    params=[
                        _q("process", TEXT),
                        _q("status", TEXT),
                        _q("site", TEXT),
                        _q("severity", TEXT),
                        _q("agent_code", TEXT),
                        _q("number", TEXT),
                        _q("q", TEXT),
                        *PAGING,
                    ],
                )
            },
            "/cases/{instance_id}": {
                "get": _op(
                    "A case with its open tasks and incidents",
                    {"200": _resp("the case", {"$ref": "#/components/schemas/Case"})},
                    403,
                    404,
                    params=[case_id],
                )  # fmt: skip
            },
            "/cases/{instance_id}/history": {
                "get": _op(
                    "Who did what and when, with agent codes",
                    {"200": _resp("events", OBJ)},
                    403,
                    404,
                    params=[case_id],
                )  # fmt: skip
            },
            **editor_paths(),
            **daily_paths(),
            **records_paths(),
            "/openapi.json": {
                "get": {"summary": "This document", "security": [], "responses": {"200": _resp("it", OBJ)}}
            },
        },
    }
