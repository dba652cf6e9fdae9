"""``/api/v1``: the same rules as the pages, as JSON, for scripts with a bearer token."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Blueprint, g, jsonify, request, url_for
from flask_login import current_user
from flask_wtf.csrf import validate_csrf
from werkzeug.exceptions import HTTPException
from wtforms import ValidationError

from engine import inbox, policy, signin
from engine.errors import MutuError, ValidationFailed
from engine.models import HumanTask, ProcessInstance
from engine.policy import STATEMENT, STATEMENT_VERSION
from engine.signin import BadCredentials, LoginThrottled

from . import signing
from .cases import _process_keys
from .core import MAX_PAGE, db, engine, now, runtime, task_label
from .idempotent import asked_key, fetched, once

bp = Blueprint("api", __name__, url_prefix="/api/v1")

OPEN = {"api.token", "api.openapi"}
PRE_STATEMENT = OPEN | {"api.confidentiality", "api.statement", "api.revoke"}
MAX_PER_PAGE = 200


class ApiError(MutuError):
    def __init__(self, status: int, code: str, message: str):
        self.http_status, self.code = status, code
        super().__init__(message)


MAX_JSON_BYTES = 1024 * 1024  # form data, not files: evidence goes up through the pages


def _body(*allowed: str) -> dict[str, Any]:
    """The JSON object of the request, holding only the ``allowed`` keys (unknown ones are a 400)."""
    if (request.content_length or 0) > MAX_JSON_BYTES:
        raise ApiError(413, "too_large", f"a JSON body may be at most {MAX_JSON_BYTES // 1024} KiB")
    if not request.is_json:
        raise ApiError(400, "bad_request", "send the body as a JSON object (Content-Type: application/json)")
    try:
        body = request.get_json()
    except HTTPException as exc:
        # Flask hides the parser's reason outside debug mode; it is the useful part here.
        reason = getattr(exc.__cause__, "description", None) or exc.description
        raise ApiError(400, "bad_request", f"the request body is not valid JSON: {reason}") from None
    if not isinstance(body, dict):
        raise ApiError(400, "bad_request", "the request body must be a JSON object")
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise ApiError(
            400,
            "bad_request",
            f"unknown key(s) {', '.join(map(repr, unknown))}; allowed: {', '.join(allowed)}",
        )
    return body


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


@bp.before_request
def authenticate():  # type: ignore[no-untyped-def]
    if request.endpoint in OPEN:
        return None
    token = _bearer()
    key = asked_key()
    user, accepted, answer = (
        signin.user_for_token(db(), token, now(), STATEMENT_VERSION, key) if token else (None, False, None)
    )
    if key is not None and user is not None:
        fetched(key, answer)
    if token is None and current_user.is_authenticated:
        # The app's own pages (the process editor) call the API with their signed-in session;
        # a cookie can be sent by another site, so a write also needs the page's CSRF token.
        user = current_user._get_current_object()
        accepted = policy.has_accepted(db(), user)
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            try:
                validate_csrf(request.headers.get("X-CSRFToken", ""))
            except ValidationError:
                raise ApiError(400, "csrf", "a page's request needs its X-CSRFToken header") from None
    if user is None:
        raise ApiError(401, "unauthenticated", "send 'Authorization: Bearer <token>' from POST /api/v1/token")
    g._login_user = user  # what Flask-Login's current_user returns from here on
    if request.endpoint not in PRE_STATEMENT and not accepted:
        raise ApiError(
            403,
            "statement_not_accepted",
            "accept the confidentiality statement first: POST /api/v1/confidentiality",
        )
    return None


@bp.errorhandler(ValidationFailed)
def invalid(exc: ValidationFailed):  # type: ignore[no-untyped-def]
    return jsonify(error={"code": exc.code, "message": str(exc), "fields": exc.errors}), exc.http_status


@bp.errorhandler(MutuError)
def failed(exc: MutuError):  # type: ignore[no-untyped-def]
    error: dict[str, Any] = {"code": exc.code, "message": str(exc)}
    if isinstance(getattr(exc, "problems", None), list):
        error["problems"] = exc.problems
    return jsonify(error=error), exc.http_status


@bp.post("/token")
def token():  # type: ignore[no-untyped-def]
    body = _body("username", "password")
    settings = runtime().settings
    username, password = body.get("username", ""), body.get("password", "")
    if not isinstance(username, str) or not isinstance(password, str):
        raise ApiError(400, "bad_request", "username and password must be strings")
    try:
        user = signin.sign_in(
            db(),
            username,
            password,
            now(),
            remote_addr=request.remote_addr,
            max_failures=settings.login_max_failures,
            max_failures_per_address=settings.login_max_failures_per_address,
            window=timedelta(minutes=settings.login_lockout_minutes),
        )
    except (BadCredentials, LoginThrottled):
        db().commit()
        raise
    value, expires = signin.issue_token(db(), user, now(), timedelta(hours=settings.token_hours))
    db().commit()
    return jsonify(token=value, token_type="Bearer", expires_at=expires.isoformat()), 201


@bp.delete("/token")
def revoke():  # type: ignore[no-untyped-def]
    signin.revoke_token(db(), _bearer() or "")
    db().commit()
    return "", 204


@bp.get("/confidentiality")
def statement():  # type: ignore[no-untyped-def]
    return jsonify(
        version=STATEMENT_VERSION,
        text=STATEMENT,
        accepted=policy.has_accepted(db(), current_user, STATEMENT_VERSION),
    )


@bp.post("/confidentiality")
def confidentiality():  # type: ignore[no-untyped-def]
    body = _body("accept", "version", "language")
    if body.get("accept") is not True or body.get("version") != STATEMENT_VERSION:
        raise ApiError(400, "bad_request", f'send {{"accept": true, "version": "{STATEMENT_VERSION}"}}')
    language = body.get("language", "id")
    if not isinstance(language, str) or language not in STATEMENT:
        raise ApiError(400, "bad_request", "language must be id or en")
    signin.accept_statement(
        db(), current_user, STATEMENT_VERSION, STATEMENT[language], now(), request.remote_addr
    )
    db().commit()
    return jsonify(version=STATEMENT_VERSION, accepted=True)


@bp.get("/processes")
def processes():  # type: ignore[no-untyped-def]
    items = []
    for key, label in _process_keys():
        version, ref, schema = engine().start_form(db(), key)
        items.append(
            {
                "key": key,
                "name": version.name,
                "label": label,
                "version": version.version,
                "may_start": engine().may_start(version, current_user),
                "start_form": ref,
                "start_schema": schema,
            }
        )
    return jsonify(items=items)


@bp.post("/processes/<process_key>/start")
def start(process_key: str):  # type: ignore[no-untyped-def]
    body = _body("data")
    data = body.get("data", {})
    if not isinstance(data, dict):
        raise ApiError(400, "bad_request", "data must be a JSON object")
    return once(lambda: _start(process_key, data))


def _start(process_key: str, data: dict[str, Any]) -> tuple[dict[str, Any], int]:
    result = engine().start(db(), process_key, current_user, data, validate=True)
    payload = {
        "instance_id": result.instance.id,
        "number": result.number,
        "status": result.instance.status,
        "new_tasks": [{"id": t.id, "bpmn_id": t.bpmn_id, "lane": t.lane} for t in result.new_tasks or []],
    }
    if result.incident is not None:
        payload["incident"] = {"element_id": result.incident.element_id, "message": result.incident.message}
    return payload, 201


def _page_args() -> tuple[int, int]:
    raw_page, raw_per = request.args.get("page", "1"), request.args.get("per_page", "25")
    ok = all(v.isascii() and v.isdigit() and len(v) <= 6 for v in (raw_page, raw_per))
    page, per_page = (int(raw_page), int(raw_per)) if ok else (0, 0)
    if not (1 <= page <= MAX_PAGE) or not (1 <= per_page <= MAX_PER_PAGE):
        raise ApiError(
            400, "bad_request", f"page must be 1 to {MAX_PAGE} and per_page between 1 and {MAX_PER_PAGE}"
        )
    return page, per_page


def _task_json(t: HumanTask, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    out = inbox.task_dict(t)
    out["label"] = task_label(t.process_key, t.bpmn_id, t.name)
    out["url"] = url_for("tasks.task_page", task_id=t.id)
    if extra:
        out.update(extra)
    return out


@bp.get("/tasks")
def tasks():  # type: ignore[no-untyped-def]
    scope = request.args.get("scope", "mine")
    for name, allowed in (("scope", inbox.SCOPES), ("due", inbox.DUES), ("sort", inbox.SORTS)):
        if name in request.args and request.args[name] not in allowed:
            raise ApiError(400, "bad_request", f"{name} must be one of {', '.join(allowed)}")
    page, per_page = _page_args()
    filters = inbox.TaskFilter(
        process_key=request.args.get("process") or None,
        site=request.args.get("site") or None,
        service=request.args.get("service") or None,
        due=request.args.get("due") or None,
        text=request.args.get("q") or None,
        sort=request.args.get("sort", "due"),
    )
    try:
        rows, total = inbox.search_tasks(
            db(), current_user, scope, filters, now(), runtime().settings.zone, page=page, per_page=per_page
        )
    except ValueError as exc:
        raise ApiError(400, "bad_request", str(exc)) from None
    items = [
        _task_json(
            r.task,
            {"case": {"number": r.number, "summary": r.summary, "site": r.site, "service": r.service}},
        )
        for r in rows
    ]
    return jsonify(items=items, total=total, page=page, per_page=per_page)


@bp.get("/tasks/<int:task_id>")
def task(task_id: int):  # type: ignore[no-untyped-def]
    row = policy.get_task_for(db(), task_id, current_user)
    instance = db().get(ProcessInstance, row.instance_id)
    assert instance is not None
    schema = engine().form_schema(db(), instance.process_version, row.form_ref) if row.form_ref else None
    return jsonify(_task_json(row, {"schema": schema}))


def _task_op(op: str, task_id: int):  # type: ignore[no-untyped-def]
    policy.get_task_for(db(), task_id, current_user)
    row = getattr(engine(), op)(db(), task_id, current_user)
    db().commit()
    return jsonify(_task_json(row))


@bp.post("/tasks/<int:task_id>/claim")
def claim(task_id: int):  # type: ignore[no-untyped-def]
    return _task_op("claim", task_id)


@bp.post("/tasks/<int:task_id>/unclaim")
def unclaim(task_id: int):  # type: ignore[no-untyped-def]
    return _task_op("unclaim", task_id)


@bp.post("/tasks/<int:task_id>/complete")
def complete(task_id: int):  # type: ignore[no-untyped-def]
    body = _body("data", "signature")
    data = body.get("data", {})
    if not isinstance(data, dict):
        raise ApiError(400, "bad_request", "data must be a JSON object")
    sign = body.get("signature")
    if sign is not None and not (isinstance(sign, dict) and isinstance(sign.get("password"), str)):
        raise ApiError(400, "bad_request", "signature must be an object with the user's password")
    return once(lambda: _complete(task_id, data, sign["password"] if sign else None))


def _complete(task_id: int, data: dict[str, Any], password: str | None) -> tuple[dict[str, Any], int]:
    # Any draft of the task goes with the scheduler's hourly housekeeping.
    try:
        signed = signing.confirm_for(task_id, password)
    except signing.Refused as exc:
        raise ApiError(exc.status, exc.code, str(exc)) from None
    result = engine().complete(db(), task_id, current_user, data, signature=signed)
    payload: dict[str, Any] = {
        "instance_id": result.instance.id,
        "status": result.instance.status,
        "new_tasks": [{"id": t.id, "bpmn_id": t.bpmn_id, "lane": t.lane} for t in result.new_tasks or []],
    }
    if result.incident is not None:
        payload["incident"] = {"element_id": result.incident.element_id, "message": result.incident.message}
    return payload, 200


@bp.get("/openapi.json")
def openapi():  # type: ignore[no-untyped-def]
    from .openapi import document

    return jsonify(document())


__all__ = ["bp"]
