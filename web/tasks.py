"""The inbox (my tasks, my roles' tasks) and the task page with its form."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from engine import inbox, oversight, policy, workspace
from engine.errors import NotFound, ValidationFailed
from engine.identity import get_user
from engine.models import HumanTask, ProcessInstance, User

from . import formkit, signing
from .cases import SITES, _process_keys, case_context
from .core import (
    back_to,
    db,
    engine,
    field_message,
    glue,
    lang,
    now,
    page_arg,
    page_count,
    runtime,
    task_label,
    use_case_glue,
)
from .formread import read_form, with_people
from .values import ROLE_WORDS, masked_fields, role_label, show_values

bp = Blueprint("tasks", __name__)

PER_PAGE = 25
SERVICES = (
    ("147", "Contact Center 147"),
    ("indihome_digital", "Digital Media IndiHome"),
    ("108", "Call Center 108"),
)


def nav_counts() -> dict[str, int]:
    """Counts for the navigation bar, once per request."""
    if "nav_counts" not in g:
        g.nav_counts = {scope: inbox.count_tasks(db(), current_user, scope) for scope in ("mine", "roles")}
    return g.nav_counts


@bp.get("/inbox", endpoint="inbox")
def inbox_page():  # type: ignore[no-untyped-def]
    args = request.args
    scope = args.get("scope", "mine")
    may_oversee = bool(policy.ASSIGNER_ROLES & current_user.role_keys)
    if scope not in ("mine", "roles") and not (scope == "oversee" and may_oversee):
        scope = "mine"
    filters = inbox.TaskFilter(
        process_key=args.get("process") or None,
        site=args.get("site") or None,
        service=args.get("service") or None,
        due=args.get("due") or None,
        text=(args.get("q") or "").strip() or None,
        sort=args.get("sort") if args.get("sort") in inbox.SORTS else "due",
        role=(args.get("role") or None) if scope == "oversee" else None,
        assignee=(args.get("assignee") or None) if scope == "oversee" else None,
    )
    page = page_arg(args.get("page"))
    try:
        rows, total = inbox.search_tasks(
            db(), current_user, scope, filters, now(), runtime().settings.zone, page=page, per_page=PER_PAGE
        )
    except ValueError as exc:
        flash(str(exc), "error")
        rows, total = [], 0
    assignees: list[User] = []
    can_assign = bool(policy.ASSIGNER_ROLES & current_user.role_keys)
    if can_assign:
        assignees = list(
            db().execute(select(User).where(User.active.is_(True)).order_by(User.username)).unique().scalars()
        )
    return render_template(
        "inbox.html",
        may_oversee=may_oversee,
        roles=sorted((k, role_label(k)) for k in ROLE_WORDS) if scope == "oversee" else [],
        saved_views=oversight.views(db(), current_user),
        scope=scope,
        rows=rows,
        total=total,
        page=page,
        pages=page_count(total, PER_PAGE),
        filters=filters,
        processes=_process_keys(),
        sites=SITES,
        services=SERVICES,
        assignees=assignees,
        can_assign=can_assign,
    )


@bp.post("/tasks/<int:task_id>/claim")
def claim(task_id: int):  # type: ignore[no-untyped-def]
    row = engine().claim(db(), task_id, current_user)
    db().commit()
    flash(_("You claimed “%(task)s”.", task=task_label(row.process_key, row.bpmn_id, row.name)), "info")
    return redirect(back_to(url_for("tasks.task_page", task_id=task_id)))


@bp.post("/tasks/<int:task_id>/unclaim")
def unclaim(task_id: int):  # type: ignore[no-untyped-def]
    row = engine().unclaim(db(), task_id, current_user)
    db().commit()
    flash(
        _("“%(task)s” is back in its role's queue.", task=task_label(row.process_key, row.bpmn_id, row.name)),
        "info",
    )
    return redirect(back_to(url_for("tasks.inbox", scope="mine")))


@bp.post("/tasks/<int:task_id>/assign")
def assign(task_id: int):  # type: ignore[no-untyped-def]
    try:
        assignee = get_user(db(), request.form.get("assignee", ""))
    except NotFound:
        flash(_("Choose a user to give the task to."), "error")
        return redirect(back_to(url_for("tasks.task_page", task_id=task_id)))
    row = engine().assign(db(), task_id, current_user, assignee)
    db().commit()
    flash(
        _(
            "“%(task)s” given to %(user)s.",
            task=task_label(row.process_key, row.bpmn_id, row.name),
            user=assignee.online_name or assignee.username,
        ),
        "info",
    )
    return redirect(back_to(url_for("tasks.task_page", task_id=task_id)))


def _open_task(task_id: int) -> tuple[HumanTask, ProcessInstance]:
    """The task if this user may see it; a finished one is a 409 naming who finished it."""
    row = policy.get_task_for(db(), task_id, current_user)
    instance = db().get(ProcessInstance, row.instance_id)
    assert instance is not None
    use_case_glue(instance)
    return row, instance


def _schema(row: HumanTask, instance: ProcessInstance) -> dict[str, Any]:
    schema = engine().form_schema(db(), instance.process_version, row.form_ref) if row.form_ref else None
    return with_people(schema or {"type": "object", "properties": {}}, row.site)


def _signature_box(row: HumanTask, instance: ProcessInstance, error: str | None) -> dict[str, Any] | None:
    meaning = signing.meaning_for(row, instance)
    if meaning is None:
        return None
    return {"meaning": signing.meaning_word(meaning), "statement": signing.statement(meaning), "error": error}


@bp.route("/tasks/<int:task_id>", methods=["GET", "POST"])
def task_page(task_id: int):  # type: ignore[no-untyped-def]
    row, instance = _open_task(task_id)
    if row.status != "open":
        who = db().get(User, row.completed_by_id) if row.completed_by_id else None
        return render_template(
            "task_closed.html",
            task=row,
            who=who,
            **case_context(instance),
        ), 409
    schema = _schema(row, instance)
    hidden = masked_fields(row.process_key)
    values: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    status = 200
    draft = workspace.load_draft(db(), row.id, current_user)
    sign_error = None
    if request.method == "POST":
        policy.check_may_work(row, current_user)  # reading a task is not writing to it
        action = request.form.get("action", "complete")
        values, errors = read_form(schema, request.form, request.files, instance.id)
        if action == "draft":
            workspace.save_draft(db(), row.id, current_user, values, now())
            db().commit()
            flash(_("Draft saved."), "info")
            return redirect(url_for("tasks.task_page", task_id=row.id))
        meaning = signing.meaning_for(row, instance)
        signed = None
        if not errors and meaning:
            try:
                signed = signing.confirm(request.form.get("signature_password", ""))
            except signing.Refused as exc:
                sign_error, status = exc.message, exc.status
        if not errors and not sign_error:
            try:
                result = engine().complete(
                    db(), row.id, current_user, values, claim_next=True, signature=signed
                )
            except ValidationFailed as exc:
                errors = {}
                for detail in exc.details:
                    errors.setdefault(detail.path, []).append(field_message(detail))
            else:
                workspace.drop_drafts(db(), row.id)
                db().commit()
                label = task_label(row.process_key, row.bpmn_id, row.name)
                if result.incident is not None:
                    flash(_("“%(task)s” was saved, but the case stopped with an error.", task=label), "error")
                    return redirect(url_for("cases.case_page", instance_id=instance.id))
                flash(_("“%(task)s” completed.", task=label), "info")
                nxt = inbox.next_task_in_case(db(), current_user, instance.id)
                if nxt is not None:
                    return redirect(url_for("tasks.task_page", task_id=nxt.id))
                return redirect(url_for("tasks.inbox"))
        db().commit()  # keep the evidence files uploaded with a form that has errors
        status = status if sign_error else 422
    elif draft is not None:
        values = draft.data
    assignee = db().get(User, row.assignee_id) if row.assignee_id else None
    context = case_context(instance)
    wanted = (glue(row.process_key).meta.get("shows") or {}).get(row.bpmn_id) or []
    files = {str(a.id): a for a in context["attachments"]}
    earlier = workspace.earlier_values(db(), instance.id, [n for n in wanted if isinstance(n, str)])
    can_assign = policy.may_oversee(row, current_user)
    candidates: list[User] = []
    if can_assign:
        users = (
            db().execute(select(User).where(User.active.is_(True)).order_by(User.username)).unique().scalars()
        )
        candidates = [u for u in users if policy.may_act(row, u)]
    return render_template(
        "task.html",
        task=row,
        title=task_label(row.process_key, row.bpmn_id, row.name),
        form_title=formkit.form_title(schema, lang()),
        fields=formkit.build(schema, lang(), values, errors, hidden),
        has_errors=bool(errors),
        draft=draft,
        assignee=assignee,
        mine=row.assignee_id == current_user.id,
        can_act=policy.may_work(row, current_user),
        can_assign=can_assign,
        candidates=candidates,
        earlier=show_values(row.process_key, earlier, files),
        signature=_signature_box(row, instance, sign_error),
        **context,
    ), status
