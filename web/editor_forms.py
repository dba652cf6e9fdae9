"""``/api/v1`` for the form editor and the scenario recorder: preview, where a name is used, a step.

The preview is drawn by the task page's own renderer (``formkit`` and ``_form.html``), so
what the QMR sees beside the editor is what staff will see; a recorded step reads its
posted form the same way a task page does, without storing files (a sandbox keeps none).
"""

from __future__ import annotations

import json
from typing import Any

from flask import jsonify, render_template_string, request
from flask_babel import force_locale
from flask_login import current_user
from werkzeug.datastructures import MultiDict

from engine import draft_scenarios, drafts, form_checks, scenarios
from engine.errors import ValidationFailed
from engine.forms import schema_problem
from engine.forms import validate as validate_form

from . import formkit
from .api import ApiError, _body, bp
from .core import db, engine, field_message, parse_message

_FIELDS = '{% from "_form.html" import render_fields %}{{ render_fields(fields) }}'
LANGS = ("id", "en")


def render_form(
    schema: dict[str, Any], lang: str, values: dict[str, Any], errors: dict[str, list[str]]
) -> str:
    with force_locale(lang):
        return render_template_string(_FIELDS, fields=formkit.build(schema, lang, values, errors))


@bp.post("/drafts/<int:draft_id>/forms/preview")
def preview_form(draft_id: int):  # type: ignore[no-untyped-def]
    """A form schema as the task page draws it, in either language, and why it is not valid."""
    body = _body("schema", "lang")
    drafts.get(db(), draft_id, current_user)
    schema, lang = body.get("schema"), body.get("lang", "id")
    if lang not in LANGS:
        raise ApiError(400, "bad_request", "lang must be id or en")
    if not isinstance(schema, dict):
        raise ApiError(400, "bad_request", "schema must be a JSON Schema object")
    problem = schema_problem(schema)
    if problem:
        return jsonify(html="", problem=problem)
    try:
        html = render_form(schema, lang, {}, {})
    except (TypeError, ValueError, AttributeError) as exc:  # a schema valid as JSON Schema, not as a form
        return jsonify(html="", problem=f"the form cannot be drawn: {exc}")
    return jsonify(html=html, problem=None, title=formkit.form_title(schema, lang))


@bp.get("/drafts/<int:draft_id>/uses")
def name_uses(draft_id: int):  # type: ignore[no-untyped-def]
    """Where the draft reads a data name: conditions, scripts, timers, case fields, other forms."""
    draft = drafts.get(db(), draft_id, current_user)
    name = request.args.get("name", "")
    if not name or len(name) > 64:
        raise ApiError(400, "bad_request", "name must be a field name")
    form = request.args.get("form")
    return jsonify(name=name, uses=form_checks.uses(draft.files, draft.process_key, name, except_form=form))


def _posted(schema: dict[str, Any], form: MultiDict[str, str]) -> tuple[dict[str, Any], dict[str, list[str]]]:
    data, parse_errors = formkit.parse(schema, form, {})
    errors = {k: [parse_message(m) for m in v] for k, v in parse_errors.items()}
    try:
        validate_form(schema, {k: v for k, v in data.items() if k not in errors})
    except ValidationFailed as exc:
        for detail in exc.details:
            errors.setdefault(detail.path, []).append(field_message(detail))
    return data, errors


@bp.post("/drafts/<int:draft_id>/scenarios/step")
def record_step(draft_id: int):  # type: ignore[no-untyped-def]
    """One step of a scenario being recorded: the start form or a task's form, as staff post it.

    Form fields: ``scenario`` (the scenario so far, JSON), ``task`` (a BPMN id, empty for the
    start), ``form`` (the form's file name) and the form's own fields.
    """
    draft = drafts.get(db(), draft_id, current_user)
    try:
        doc = json.loads(request.form.get("scenario", ""))
    except (json.JSONDecodeError, RecursionError):
        raise ApiError(400, "bad_request", "scenario must be the scenario so far, as JSON") from None
    if not isinstance(doc, dict) or scenarios.problems({**doc, "name": doc.get("name") or "x"}):
        raise ApiError(400, "bad_request", "scenario is not a scenario: name, start, steps")
    task, form_name = request.form.get("task", ""), request.form.get("form", "")
    lang = request.form.get("lang", "id") if request.form.get("lang") in LANGS else "id"
    schema: dict[str, Any] = {"type": "object", "properties": {}}
    if form_name:
        text = draft.files.get(f"workflows/{draft.process_key}/forms/{form_name}")
        if text is None:
            raise ApiError(400, "bad_request", f"the draft has no form {form_name}")
        schema = json.loads(text)
    data, errors = _posted(schema, request.form)
    if errors:
        return jsonify(errors=errors, html=render_form(schema, lang, data, errors)), 422
    if task:
        doc.setdefault("steps", []).append({"task": task, "data": data})
    else:
        doc["start"] = {"data": data}
        doc.setdefault("steps", [])
    state = draft_scenarios.replay(engine(), db(), draft, {**doc, "name": doc.get("name") or "x"})
    if state["passed"] and doc["steps"]:
        doc["steps"][-1]["expect"] = {"open": [t["bpmn_id"] for t in state["open"]]}
    return jsonify(scenario=doc, state=state)
