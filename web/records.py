"""The record pages: the five registers, an agent's page, the dashboard, the evidence packs and
one case's complete record as a PDF. Every rule is the engine's; pages only show and ask."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from engine import (
    agents,
    audit,
    case_record,
    export_jobs,
    exports,
    packs,
    policy,
    register_writes,
    registers,
    reports,
)
from engine.errors import ValidationFailed
from engine.register_forms import FORMS

from . import formkit, records_words
from .core import db, engine, field_message, glue, lang, now, page_arg, page_count, runtime
from .formread import read_form
from .records_support import nc_targets, today
from .values import masked_fields

bp = Blueprint("records", __name__)


@bp.app_context_processor
def _record_helpers() -> dict[str, Any]:
    def record_links() -> dict[str, bool]:
        user = current_user
        if not getattr(user, "is_authenticated", False):
            return {}
        return {
            "registers": any(policy.may_read_register(user, n) for n in registers.NAMES),
            "reports": bool(policy.REPORT_READERS & user.role_keys),
            "packs": bool(policy.PACK_READERS & user.role_keys),
            "agents": bool((policy.OVERSIGHT_ROLES | policy.SITE_CASE_ROLES) & user.role_keys),
        }

    return {"record_links": record_links, "column_label": records_words.column}


PER_PAGE = 50
ADD_FORMS = {
    "communications": "communication",
    "preservation": "activity",
    "tools": "tool",
    "requirements": "requirement",
}
ADDERS = {
    "communications": register_writes.log_communication,
    "preservation": register_writes.plan_activity,
    "tools": register_writes.add_tool,
    "requirements": register_writes.add_requirement,
}


def _form(name: str, values: dict[str, Any] | None = None, errors: dict[str, list[str]] | None = None) -> Any:
    return formkit.build(FORMS[name], lang(), values or {}, errors or {})


def _posted(name: str) -> tuple[dict[str, Any], dict[str, list[str]]]:
    return read_form(FORMS[name], request.form, request.files)


def _engine_errors(exc: ValidationFailed) -> dict[str, list[str]]:
    return {d.path: [field_message(d)] for d in exc.details} or {"": [str(v[0]) for v in exc.errors.values()]}


@bp.get("/registers")
def register_index():  # type: ignore[no-untyped-def]
    names = [n for n in registers.NAMES if policy.may_read_register(current_user, n)]
    if not names:
        abort(403)
    return render_template("registers.html", names=names, words=records_words.words())


def _export(name: str, filters: dict[str, Any], fmt: str, total: int) -> Response:
    columns = registers.COLUMNS[name]
    headers = list(records_words.columns(columns).values())
    if total > runtime().settings.export_inline_rows:  # too large for a web request: a job
        job = export_jobs.request(db(), current_user, name, filters, fmt, headers, now())
        db().commit()
        return redirect(url_for("records.export_page", job_id=job.id))
    rows = registers.all_rows(db(), current_user, name, filters, today(), exports.MAX_ROWS)
    if fmt == "xlsx":
        content = exports.xlsx_bytes(columns, headers, rows, records_words.register_title(name))
        mimetype, ext = exports.XLSX_TYPE, "xlsx"
    else:
        content, mimetype, ext = exports.csv_bytes(columns, headers, rows), exports.CSV_TYPE, "csv"
    exports.record(
        db(),
        current_user,
        f"register:{name}",
        ext,
        registers.clean_filters(name, filters),
        len(rows),
        content,
        now(),
    )
    db().commit()
    return Response(
        content, mimetype=mimetype, headers={"Content-Disposition": f'attachment; filename="{name}.{ext}"'}
    )


@bp.get("/registers/<name>")
def register_page(name: str, form_values: dict[str, Any] | None = None, form_errors: Any = None):  # type: ignore[no-untyped-def]
    if name not in registers.NAMES:
        abort(404)
    policy.check_may_read_register(current_user, name)
    filters = registers.clean_filters(name, request.args.to_dict())
    fmt = request.args.get("format")
    number = 1 if fmt in ("csv", "xlsx") else page_arg(request.args.get("page"))
    result = registers.page(db(), current_user, name, filters, today(), number, PER_PAGE)
    if fmt in ("csv", "xlsx"):
        return _export(name, filters, fmt, result.total)
    may_keep = bool(policy.REGISTER_KEEPERS[name] & current_user.role_keys) and current_user.active
    add = _form(ADD_FORMS[name], form_values, form_errors) if may_keep and name in ADD_FORMS else None
    return render_template(
        "register.html",
        name=name,
        result=result,
        filters=filters,
        pages=page_count(result.total, PER_PAGE),
        columns=registers.COLUMNS[name],
        labels=records_words.columns(registers.COLUMNS[name]),
        add=add,
        add_title=formkit.form_title(FORMS[ADD_FORMS[name]], lang()) if add is not None else "",
        words=records_words.words(),
        choices=records_words.filter_choices(name),
    ), (422 if form_errors else 200)


@bp.post("/registers/<name>")
def register_add(name: str):  # type: ignore[no-untyped-def]
    if name not in ADD_FORMS:
        abort(404)
    values, errors = _posted(ADD_FORMS[name])
    if not errors:
        try:
            ADDERS[name](db(), current_user, values, now())
        except ValidationFailed as exc:
            db().rollback()
            errors = _engine_errors(exc)
    if errors:
        return register_page(name, values, errors)
    db().commit()
    flash(_("Recorded in the register."), "info")
    return redirect(url_for("records.register_page", name=name))


@bp.post("/registers/communications/<int:row_id>/raise")
def raise_nonconformity(row_id: int):  # type: ignore[no-untyped-def]
    instance_id = register_writes.raise_from_complaint(db(), runtime().engine, current_user, row_id, now())
    db().commit()
    flash(_("A nonconformity was raised from the complaint."), "info")
    return redirect(url_for("cases.case_page", instance_id=instance_id))


@bp.route("/registers/<name>/<int:row_id>", methods=["GET", "POST"])
def register_row(name: str, row_id: int):  # type: ignore[no-untyped-def]
    """One row with its history: a supplier's scores and requests, an activity, a tool."""
    policy.check_may_read_register(current_user, name)
    session, values, errors = db(), {}, {}
    form_name = {"preservation": "attendance", "tools": "verification"}.get(name)
    if request.method == "POST" and form_name:
        values, errors = _posted(form_name)
        if not errors:
            act = register_writes.record_attendance if name == "preservation" else register_writes.verify_tool
            try:
                act(session, current_user, row_id, values, now())
            except ValidationFailed as exc:
                session.rollback()
                errors = _engine_errors(exc)
            else:
                session.commit()
                flash(_("Recorded in the register."), "info")
                return redirect(url_for("records.register_row", name=name, row_id=row_id))
    context = records_words.row_context(session, current_user, name, row_id, today())
    if context is None:
        abort(404)
    form = _form(form_name, values, errors) if form_name and context.get("may_keep") else None
    return render_template(
        "register_row.html", name=name, row_id=row_id, form=form, words=records_words.words(), **context
    ), (422 if errors else 200)


@bp.post("/registers/suppliers/actions/<int:action_id>/<step>")
def supplier_action(action_id: int, step: str):  # type: ignore[no-untyped-def]
    if step not in ("close", "verify"):
        abort(404)
    form_name = "action_close" if step == "close" else "action_verify"
    values, errors = _posted(form_name)
    back = request.form.get("supplier_id", "")
    if not errors:
        act = register_writes.close_action if step == "close" else register_writes.verify_action
        try:
            act(db(), current_user, action_id, values, now())
        except ValidationFailed as exc:
            db().rollback()
            errors = _engine_errors(exc)
    if errors:
        flash(" ".join(m for v in errors.values() for m in v), "error")
    else:
        db().commit()
        flash(_("Recorded in the register."), "info")
    target = (
        url_for("records.register_row", name="suppliers", row_id=int(back))
        if back.isdigit()
        else url_for("records.register_page", name="suppliers")
    )
    return redirect(target)


@bp.get("/exports/<int:job_id>")
def export_page(job_id: int):  # type: ignore[no-untyped-def]
    job = export_jobs.visible(db(), current_user, job_id)
    if job.status == "done" and request.args.get("download"):
        mimetype = exports.XLSX_TYPE if job.format == "xlsx" else exports.CSV_TYPE
        disposition = f'attachment; filename="{job.register}-{job.id}.{job.format}"'
        return Response(job.content, mimetype=mimetype, headers={"Content-Disposition": disposition})
    return render_template("export.html", job=job, words=records_words.words())


@bp.get("/agents")
def agent_search():  # type: ignore[no-untyped-def]
    code = (request.args.get("code") or "").strip()
    if not code:
        return redirect(url_for("tasks.inbox"))
    if not code.isdigit():
        flash(_("An agent code is digits only."), "error")
        return redirect(request.referrer or url_for("tasks.inbox"))
    return redirect(url_for("records.agent_page", code=code))


@bp.get("/agents/<code>")
def agent_page(code: str):  # type: ignore[no-untyped-def]
    profile = agents.profile(db(), current_user, code, today())
    return render_template("agent.html", a=profile, words=records_words.words())


@bp.get("/reports")
def report_page():  # type: ignore[no-untyped-def]
    policy.check_may_read_reports(current_user)
    period = reports.period_of(request.args.get("from") or None, request.args.get("to") or None, today())
    site, service = request.args.get("site") or None, request.args.get("service") or None
    targets, kpi = nc_targets()
    nc = reports.nonconformity(db(), current_user, period, site, service, targets, kpi)
    mon = reports.monitoring(db(), current_user, period, site, service)
    db().commit()  # the months computed for this page stay cached
    table = request.args.get("csv")
    if table:
        columns, headers, rows = records_words.report_table(table, nc, mon)
        content = exports.csv_bytes(columns, headers, rows)
        exports.record(
            db(), current_user, f"report:{table}", "csv", dict(request.args), len(rows), content, now()
        )
        db().commit()
        return Response(
            content,
            mimetype=exports.CSV_TYPE,
            headers={"Content-Disposition": f'attachment; filename="{table}.csv"'},
        )
    return render_template(
        "reports.html", nc=nc, mon=mon, period=period, site=site, service=service,
        charts=records_words.charts(nc, mon), words=records_words.words(), sites=policy.SITES,
    )  # fmt: skip


@bp.route("/evidence-packs", methods=["GET", "POST"])
def pack_list():  # type: ignore[no-untyped-def]
    if request.method == "POST":
        site = request.form.get("site") or None
        first, last = packs.period_bounds(request.form.get("period"), None, None)
        pack = packs.request(
            db(), current_user, first, last, site, request.form.get("service") or None, lang(), now()
        )
        db().commit()
        return redirect(url_for("records.pack_page", pack_id=pack.id))
    number = page_arg(request.args.get("page"))
    rows, total = packs.listed(db(), current_user, number, PER_PAGE)
    return render_template(
        "packs.html", rows=rows, total=total, page=number, pages=page_count(total, PER_PAGE),
        may_make=policy.may_make_packs(current_user), sites=policy.SITES,
        bound=policy.records_site(current_user), month=today().strftime("%Y-%m"), words=records_words.words(),
    )  # fmt: skip


@bp.get("/evidence-packs/<int:pack_id>")
def pack_page(pack_id: int):  # type: ignore[no-untyped-def]
    pack = packs.visible(db(), current_user, pack_id)
    return render_template("pack.html", pack=pack, words=records_words.words())


@bp.get("/evidence-packs/<int:pack_id>/download")
def pack_download(pack_id: int):  # type: ignore[no-untyped-def]
    pack = packs.visible(db(), current_user, pack_id)
    if pack.status != "done":
        abort(409, _("The pack is not ready yet."))
    packs.downloaded(db(), current_user, pack, now())
    db().commit()
    name = f"evidence-pack-{pack.period_from[:7]}-{pack.site or 'all'}-{pack.id}.zip"
    return Response(
        pack.content,
        mimetype="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@bp.get("/cases/<int:instance_id>/record.pdf")
def case_pdf(instance_id: int):  # type: ignore[no-untyped-def]
    """The complete record of one case for an auditor; the export joins the case's audit chain."""
    instance = policy.check_may_see(db(), current_user, instance_id)
    meta = glue(instance.process_key)
    hidden = masked_fields(instance.process_key)
    names = dict(meta.names_en) if lang() == "en" else {}
    title = (meta.name_en if lang() == "en" else None) or meta.meta.get("name") or instance.process_key
    content = case_record.render(
        db(), instance, engine().element_states(instance), hidden, lang(), title, names, now(),
        current_user.full_name or current_user.username,
    )  # fmt: skip
    digest = exports.record(db(), current_user, f"case:{instance_id}", "pdf", {}, 1, content, now())
    audit.record_on_case(
        db(), instance_id, "exported", now(), actor=current_user, data={"format": "pdf", "sha256": digest}
    )
    db().commit()
    return Response(
        content,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'inline; filename="case-{instance_id}.pdf"'},
    )
