"""The OpenAPI paths of the process owners' routes (web/editor_api.py)."""

from __future__ import annotations

from typing import Any

from .openapi import KEY, OBJ, PATH, REVISION, TEXT, ZIP, _op, _p, _q, _resp


def editor_paths() -> dict[str, Any]:
    return {
        "/processes/{process_key}/versions": {
            "get": _op(
                "Every version with its state (in_effect, scheduled, superseded, waiting_approval, "
                "returned), note, who prepared and approved it, and from when it is in effect",
                {"200": _resp("versions", OBJ)},
                403,
                404,
                params=[KEY],
            )
        },
        "/processes/{process_key}/versions/{version}/bundle": {
            "get": {
                **_op("The version's bundle as a zip (bpmn/, workflows/<key>/)", {"200": ZIP}, 403, 404),
                "parameters": [KEY, _p("version")],
            }
        },
        "/processes/{process_key}/drafts": {
            "post": {
                **_op(
                    "A new draft: from an uploaded bundle (application/zip), from an old version "
                    '(JSON {"from_version": n}: a restore), or from the version in effect (no body)',
                    {"201": _resp("the draft with its files", OBJ)},
                    400,
                    403,
                    404,
                    413,
                    422,
                ),
                "parameters": [KEY],
                "requestBody": {
                    "required": False,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "additionalProperties": False,
                                "properties": {
                                    "from_version": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}
                                },
                            }
                        }
                    },
                },
            }
        },
        "/drafts/{draft_id}": {
            "get": _op(
                "A draft: its revision and files (path -> text)",
                {"200": _resp("the draft", OBJ)},
                403,
                404,
                params=[_p("draft_id")],
            )
        },
        "/drafts/{draft_id}/files/{path}": {
            "put": _op(
                "Write one file of the draft from the revision you read (stale: a 409 naming who saved)",
                {"200": _resp("the draft's new revision", OBJ)},
                400,
                403,
                404,
                405,
                409,
                body={
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["text", "revision"],
                    "properties": {"text": TEXT, "revision": REVISION},
                },
                params=[_p("draft_id"), PATH],
            ),
            "delete": _op(
                "Delete one file of the draft",
                {"200": _resp("the draft's new revision", OBJ)},
                400,
                403,
                404,
                405,
                409,
                body={
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["revision"],
                    "properties": {"revision": REVISION},
                },
                params=[_p("draft_id"), PATH],
            ),
        },
        "/drafts/{draft_id}/check": {
            "post": _op(
                "Check the draft: problems, each with file, element, severity (error, warning) and message",
                {"200": _resp("the problems", OBJ)},
                403,
                404,
                params=[_p("draft_id")],
            )
        },
        "/drafts/{draft_id}/scenarios/run": {
            "post": _op(
                "Run the draft's scenarios in a sandbox: each with name, passed and the first difference",
                {"200": _resp("each scenario's result", OBJ)},
                400,
                403,
                404,
                422,
                body={
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {"paths": {"type": "array", "items": TEXT}},
                },
                params=[_p("draft_id")],
            )
        },
        "/messages": {
            "post": _op(
                "Send a message into the processes: a waiting case whose correlation keys match takes it, "
                "else each process with a message start event of that name starts (202 with the cases)",
                {"202": _resp("the cases that received it or were started", OBJ)},
                400,
                403,
                404,
                422,
                body={
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["name"],
                    "properties": {
                        "name": {**TEXT, "minLength": 1, "maxLength": 200},
                        "payload": OBJ,
                        "correlation": {"type": "object", "additionalProperties": OBJ},
                    },
                },
            )
        },
        "/drafts/{draft_id}/forms/preview": {
            "post": _op(
                "A form schema drawn as the task page draws it (html), in Indonesian or English, "
                "or why it is not a valid form (problem)",
                {"200": _resp("the preview", OBJ)},
                400,
                403,
                404,
                body={
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["schema"],
                    "properties": {"schema": OBJ, "lang": {"enum": ["id", "en"]}},
                },
                params=[_p("draft_id")],
            )
        },
        "/drafts/{draft_id}/uses": {
            "get": _op(
                "Where the draft reads a data name: conditions, scripts, timers, case fields, other forms",
                {"200": _resp("the places", OBJ)},
                400,
                403,
                404,
                params=[
                    _p("draft_id"),
                    {"name": "name", "in": "query", "required": True, "schema": {**TEXT, "maxLength": 64}},
                    _q("form", TEXT, "a form file name to leave out"),
                ],
            )
        },
        "/drafts/{draft_id}/scenarios/step": {
            "post": {
                **_op(
                    "Record one step of a scenario: the start form or a task's form posted as staff post "
                    "it (fields scenario, task, form, lang and the form's own fields)",
                    {"200": _resp("the scenario with the step, and where it stands", OBJ)},
                    400,
                    403,
                    404,
                    422,
                    params=[_p("draft_id")],
                ),
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/x-www-form-urlencoded": {
                            "schema": {
                                "type": "object",
                                "required": ["scenario"],
                                "properties": {"scenario": TEXT, "task": TEXT, "form": TEXT},
                            }
                        }
                    },
                },
            }
        },
        "/drafts/{draft_id}/scenarios/replay": {
            "post": _op(
                "Run a scenario being recorded against the draft: open tasks, timers and path so far",
                {"200": _resp("where the scenario stands", OBJ)},
                400,
                403,
                404,
                422,
                body={
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["scenario"],
                    "properties": {"scenario": OBJ},
                },
                params=[_p("draft_id")],
            )
        },
        "/drafts/{draft_id}/publish": {
            "post": _op(
                "Publish the draft with a change note: the new version waits for the Director's approval",
                {"201": _resp("the version and its state (waiting_approval or in_effect)", OBJ)},
                400,
                403,
                404,
                409,
                422,
                body={
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["note"],
                    "properties": {
                        "note": TEXT,
                        "acknowledge_warnings": {"type": "boolean"},
                        "scenario_notes": {"type": "object", "additionalProperties": TEXT},
                    },
                },
                params=[_p("draft_id")],
            )
        },
        "/processes/{process_key}/migrations": {
            "post": {
                **_op(
                    "Move running cases to a version: per case moved, or the reason it cannot",
                    {"200": _resp("the moves", OBJ)},
                    400,
                    403,
                    404,
                    409,
                    body={
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["to"],
                        "properties": {
                            "to": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1},
                            "instances": {
                                "type": "array",
                                "maxItems": 10_000,
                                "items": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1},
                            },
                            "dry_run": {"type": "boolean", "default": False},
                        },
                    },
                ),
                "parameters": [KEY],
            }
        },
    }
