"""The QMR moves a due date or a waiting timer, or fires it now: on the case page and in ``/api/v1``."""

from __future__ import annotations

from datetime import datetime

from flask import flash, jsonify, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from engine import case_status, policy
from engine.errors import MutuError, ValidationFailed

from .api import ApiError, _body
from .api import bp as api_bp
from .cases import bp
from .core import db, engine, runtime


def _local(value: str) -> datetime | None:
    """A ``datetime-local`` value (or a date) in the site's time zone, or None."""
    value = (value or "").strip()
    try:
        parsed = datetime.fromisoformat(value if "T" in value or " " in value else f"{value}T08:00")
    except ValueError:
        return None
    return parsed.replace(tzinfo=runtime().settings.zone) if parsed.tzinfo is None else parsed


@bp.post("/cases/<int:instance_id>/time")
def move_time(instance_id: int):  # type: ignore[no-untyped-def]
    policy.check_may_see(db(), current_user, instance_id)
    policy.check_may_manage(current_user, instance_id, "change dates of")
    form = request.form
    action, reason = form.get("action", ""), form.get("reason", "")
    back = url_for("cases.case_page", instance_id=instance_id) + "#summary"
    try:
        if action == "fire_now":
            engine().fire_now(db(), _own_timer(instance_id, form.get("timer_id")), current_user, reason)
            message = _("The timer fired now; the case went on.")
        elif action in ("move_timer", "set_due"):
            when = _local(form.get("when", ""))
            if when is None:
                flash(_("Give the new date."), "error")
                return redirect(back)
            if action == "move_timer":
                engine().move_timer(
                    db(), _own_timer(instance_id, form.get("timer_id")), current_user, when, reason
                )
                message = _("The timer now waits until %(date)s.", date=when.strftime("%d-%m-%Y %H:%M"))
            else:
                engine().set_due(
                    db(), _own_task(instance_id, form.get("task_id")), current_user, when, reason
                )
                message = _("The task is now due %(date)s.", date=when.strftime("%d-%m-%Y %H:%M"))
        else:
            flash(_("Unknown action."), "error")
            return redirect(back)
    except ValidationFailed as exc:
        db().rollback()
        key = next(iter(exc.errors), "")
        flash(
            _("Give the reason; it is kept in the case's history.")
            if key == "reason"
            else _("The new due date must be in the future."),
            "error",
        )
        return redirect(back)
    db().commit()
    flash(message, "info")
    return redirect(back)


def _own_timer(instance_id: int, raw: str | None) -> int:
    """A timer id of this case (a form naming another case's timer is refused)."""
    instance = policy.check_may_see(db(), current_user, instance_id)
    waiting = case_status.status_of(db(), engine(), instance).waiting
    ids = {w.timer_id for w in waiting if w.kind == "timer"}
    if not (raw or "").isdigit() or int(raw or 0) not in ids:
        raise ApiError(404, "not_found", f"case {instance_id} waits for no timer {raw!r}")
    return int(raw or 0)


def _own_task(instance_id: int, raw: str | None) -> int:
    instance = policy.check_may_see(db(), current_user, instance_id)
    waiting = case_status.status_of(db(), engine(), instance).waiting
    ids = {w.task_id for w in waiting if w.kind == "task"}
    if not (raw or "").isdigit() or int(raw or 0) not in ids:
        raise ApiError(404, "not_found", f"case {instance_id} has no open task {raw!r}")
    return int(raw or 0)


# -- the same through /api/v1 --------------------------------------------------------------


def _when(body: dict, key: str) -> datetime:
    raw = body.get(key)
    if not isinstance(raw, str):
        raise ApiError(400, "bad_request", f"{key} must be an ISO 8601 date and time")
    when = _local(raw)
    if when is None:
        raise ApiError(400, "bad_request", f"{key} {raw!r} is not an ISO 8601 date and time")
    return when


def _reason(body: dict) -> str:
    reason = body.get("reason")
    if not isinstance(reason, str):
        raise ApiError(400, "bad_request", "reason must be text: it is kept in the case's history")
    return reason


def _case_of_timer(timer_id: int) -> int:
    from engine.models import Timer

    timer = db().get(Timer, timer_id)
    if timer is None or timer.instance_id is None:
        raise ApiError(404, "not_found", f"no timer {timer_id} of a case")
    policy.check_may_see(db(), current_user, timer.instance_id)
    return timer.instance_id


@api_bp.post("/timers/<int:timer_id>/move")
def api_move_timer(timer_id: int):  # type: ignore[no-untyped-def]
    body = _body("fire_at", "reason")
    _case_of_timer(timer_id)
    result = engine().move_timer(db(), timer_id, current_user, _when(body, "fire_at"), _reason(body))
    db().commit()
    return jsonify(instance_id=result.instance.id, status=result.instance.status)


@api_bp.post("/timers/<int:timer_id>/fire")
def api_fire_now(timer_id: int):  # type: ignore[no-untyped-def]
    body = _body("reason")
    _case_of_timer(timer_id)
    result = engine().fire_now(db(), timer_id, current_user, _reason(body))
    db().commit()
    return jsonify(instance_id=result.instance.id, status=result.instance.status)


@api_bp.post("/tasks/<int:task_id>/due")
def api_set_due(task_id: int):  # type: ignore[no-untyped-def]
    body = _body("due", "reason")
    row = policy.get_task_for(db(), task_id, current_user)
    try:
        row = engine().set_due(db(), row.id, current_user, _when(body, "due"), _reason(body))
    except MutuError:
        db().rollback()
        raise
    db().commit()
    return jsonify(id=row.id, due_at=row.due_at.isoformat() if row.due_at else None)
