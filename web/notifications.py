"""The bell: my notifications, and how I want to be told (pages and ``/api/v1``)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, g, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from engine import mail, notify
from engine.errors import NotFound, ValidationFailed
from engine.models import CaseRecord, HumanTask, ProcessInstance
from engine.models_notify import KINDS, MODES, Notification

from .api import ApiError, _body, _page_args
from .api import bp as api_bp
from .core import back_to, db, engine, lang, now, page_arg, page_count, runtime

bp = Blueprint("notifications", __name__)
PER_PAGE = 25


def unread() -> int:
    """The number on the bell, once per request."""
    if "unread" not in g:
        g.unread = notify.unread_count(db(), current_user)
    return g.unread


def _rows(notes: list[Notification], language: str) -> list[dict[str, Any]]:
    zone = runtime().settings.zone
    # One query per table for the page, not three per notification: describe() then finds
    # each row in the session already.
    task_ids = {n.task_id for n in notes if n.task_id}
    case_ids = {n.instance_id for n in notes if n.instance_id}
    if task_ids:
        db().execute(select(HumanTask).where(HumanTask.id.in_(task_ids))).scalars().all()
    if case_ids:
        db().execute(select(CaseRecord).where(CaseRecord.instance_id.in_(case_ids))).scalars().all()
        db().execute(select(ProcessInstance).where(ProcessInstance.id.in_(case_ids))).scalars().all()
    out = []
    for note in notes:
        d = mail.describe(db(), engine(), note, language, zone)
        out.append(
            {
                "id": note.id,
                "kind": note.kind,
                "event": note.event,
                "title": d.title,
                "case": d.case,
                "due": d.due,
                "link": d.link,
                "task_id": note.task_id,
                "instance_id": note.instance_id,
                "created_at": note.created_at.isoformat(),
                "read": note.read_at is not None,
                "local_time": note.created_at.astimezone(zone).strftime("%d-%m-%Y %H:%M"),
            }
        )
    return out


@bp.get("/notifications")
def notification_list():  # type: ignore[no-untyped-def]
    page = page_arg(request.args.get("page"))
    notes, total = notify.list_for(db(), current_user, limit=PER_PAGE, offset=(page - 1) * PER_PAGE)
    return render_template(
        "notifications.html",
        rows=_rows(notes, lang()),
        total=total,
        page=page,
        pages=page_count(total, PER_PAGE),
    )


@bp.get("/notifications/<int:note_id>")
def open_notification(note_id: int):  # type: ignore[no-untyped-def]
    """Follow a notification: it is read now, and leads to its task (or its case once done)."""
    note = db().get(Notification, note_id)
    if note is None or note.user_id != current_user.id:
        raise NotFound(f"no notification {note_id}")
    notify.mark_read(db(), current_user, now(), [note.id])
    link = mail.describe(db(), engine(), note, lang(), runtime().settings.zone).link
    db().commit()
    return redirect(link)


@bp.post("/notifications/read")
def read_all():  # type: ignore[no-untyped-def]
    count = notify.mark_read(db(), current_user, now())
    db().commit()
    flash(_("%(num)s notifications marked as read.", num=count), "info")
    return redirect(back_to(url_for("notifications.notification_list")))


@bp.route("/notifications/settings", methods=["GET", "POST"])
def settings_page():  # type: ignore[no-untyped-def]
    errors: dict[str, str] = {}
    if request.method == "POST":
        email = (request.form.get("email") or "").strip()
        if email and (
            len(email) > 200
            or email.count("@") != 1
            or any(ch <= " " or ch in "<>,;\x7f" for ch in email)
            or "." not in email.split("@")[1]
        ):
            errors["email"] = _("Give one e-mail address, such as name@example.org.")
        chosen = {k: request.form.get(f"mode_{k}", "") for k in KINDS}
        if any(m not in MODES for m in chosen.values()):
            errors["modes"] = _("Choose immediately, daily digest or off for each kind.")
        if not errors:
            current_user.email = email or None
            notify.set_preferences(db(), current_user, chosen)
            db().commit()
            flash(_("Your notification settings are saved."), "info")
            return redirect(url_for("notifications.settings_page"))
    return render_template(
        "notification_settings.html",
        modes=notify.preferences(db(), current_user),
        kinds=KINDS,
        errors=errors,
        mail_on=bool(runtime().settings.smtp_url),
    ), (422 if errors else 200)


# -- the same through /api/v1 --------------------------------------------------------------


@api_bp.get("/notifications")
def api_notifications():  # type: ignore[no-untyped-def]
    page, per_page = _page_args()
    language = request.args.get("lang", lang())
    if language not in mail.LANGUAGES:
        raise ApiError(400, "bad_request", "lang must be id or en")
    notes, total = notify.list_for(db(), current_user, limit=per_page, offset=(page - 1) * per_page)
    return jsonify(
        items=_rows(notes, language),
        total=total,
        unread=notify.unread_count(db(), current_user),
        page=page,
        per_page=per_page,
    )


@api_bp.post("/notifications/read")
def api_read():  # type: ignore[no-untyped-def]
    body = _body("ids")
    ids = body.get("ids")
    whole = (int, float)  # JSON has one kind of number: 7.0 is the id 7
    if ids is not None and (
        not isinstance(ids, list)
        or len(ids) > 1000
        or not all(
            isinstance(i, whole) and not isinstance(i, bool) and float(i).is_integer() and 0 <= i < 2**31
            for i in ids
        )
    ):
        raise ApiError(400, "bad_request", "ids must be a list of up to 1000 notification ids, or left out")
    if ids is not None:
        ids = [int(i) for i in ids]
    count = notify.mark_read(db(), current_user, now(), ids)
    db().commit()
    return jsonify(marked=count, unread=notify.unread_count(db(), current_user))


@api_bp.get("/notifications/preferences")
def api_preferences():  # type: ignore[no-untyped-def]
    return jsonify(modes=notify.preferences(db(), current_user), email=current_user.email)


@api_bp.put("/notifications/preferences")
def api_set_preferences():  # type: ignore[no-untyped-def]
    body = _body("modes")
    modes = body.get("modes")
    if not isinstance(modes, dict) or not all(isinstance(v, str) for v in modes.values()):
        raise ApiError(400, "bad_request", "modes must map each kind to immediate, digest or off")
    try:
        saved = notify.set_preferences(db(), current_user, modes)
    except ValidationFailed:
        db().rollback()
        raise
    db().commit()
    return jsonify(modes=saved, email=current_user.email)
