"""Bulk claim and hand-out from the inbox, and saved inbox views."""

from __future__ import annotations

from urllib.parse import urlencode

from flask import flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user

from engine import oversight
from engine.errors import Conflict, NotFound, ValidationFailed
from engine.identity import get_user

from .core import db, engine, now, safe_path
from .tasks import bp


def _back() -> str:
    return safe_path(request.form.get("back", ""), url_for("tasks.inbox"))


@bp.post("/inbox/bulk")
def bulk():  # type: ignore[no-untyped-def]
    raw = request.form.getlist("task_ids")
    ids = [int(x) for x in raw if x.isascii() and x.isdigit() and len(x) < 10]
    action = request.form.get("action", "")
    assignee = None
    if action == "assign":
        try:
            assignee = get_user(db(), request.form.get("assignee", ""))
        except NotFound:
            flash(_("Choose a user to give the tasks to."), "error")
            return redirect(_back())
    try:
        result = oversight.bulk(db(), engine(), current_user, ids, action, assignee)
    except ValidationFailed:
        if not ids:
            flash(_("Choose at least one task."), "error")
        elif len(ids) > oversight.MAX_BULK:
            flash(_("Choose at most %(num)s tasks at once.", num=oversight.MAX_BULK), "error")
        else:
            flash(_("Unknown action."), "error")
        return redirect(_back())
    db().commit()
    if result.done:
        if assignee is not None:
            who = assignee.online_name or assignee.username
            flash(
                ngettext(
                    "%(num)s task given to %(who)s.",
                    "%(num)s tasks given to %(who)s.",
                    len(result.done),
                    who=who,
                ),
                "info",
            )
        else:
            flash(
                ngettext("You claimed %(num)s task.", "You claimed %(num)s tasks.", len(result.done)), "info"
            )
    if result.refused:
        flash(
            ngettext(
                "%(num)s task could not be taken: held by someone else, or not open to that person.",
                "%(num)s tasks could not be taken: held by someone else, or not open to that person.",
                len(result.refused),
            ),
            "error",
        )
    return redirect(_back())


@bp.post("/inbox/views")
def save_view():  # type: ignore[no-untyped-def]
    params = {k: request.form.get(k, "") for k in oversight.VIEW_KEYS}
    try:
        view = oversight.save_view(db(), current_user, request.form.get("name", ""), params, now())
    except ValidationFailed:
        db().rollback()
        flash(_("Give the view a name of 1 to 80 characters (at most 30 views)."), "error")
        return redirect(_back())
    except Conflict:
        db().rollback()
        flash(_("A view of that name was just saved; try again."), "error")
        return redirect(_back())
    db().commit()
    flash(_("View “%(name)s” saved.", name=view.name), "info")
    return redirect(url_for("tasks.inbox") + "?" + urlencode(view.params))


@bp.post("/inbox/views/<int:view_id>/delete")
def delete_view(view_id: int):  # type: ignore[no-untyped-def]
    if not oversight.delete_view(db(), current_user, view_id):
        raise NotFound(f"no saved view {view_id}")
    db().commit()
    flash(_("View deleted."), "info")
    return redirect(url_for("tasks.inbox"))
