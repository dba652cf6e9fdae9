"""Cases: list and search, the case page (summary, history, comments, evidence, diagram), start."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user
from lxml import etree
from sqlalchemy import select

from engine import case_record, case_status, inbox, links, policy, workspace
from engine.errors import MutuError, NotAuthorized
from engine.models import CaseRecord, ProcessInstance, ProcessVersion
from engine.models_workspace import Attachment
from engine.spiff import parse_xml

from . import formkit, signing, status_words
from .core import (
    back_to,
    db,
    engine,
    glue,
    lang,
    now,
    page_arg,
    page_count,
    process_label,
    process_names,
    runtime,
    safe_path,
    use_case_glue,
)
from .formread import file_ids, read_form, store_uploads, upload_message
from .values import Shown, show_values

bp = Blueprint("cases", __name__)

STATUSES = ("running", "completed", "incident", "suspended", "cancelled")
SITES = policy.SITES
PER_PAGE = 25


# -- the pieces of a case page --------------------------------------------------------------------


def case_context(instance: ProcessInstance) -> dict[str, Any]:
    """Summary, history, comments and evidence of a case, shared by the case and task pages."""
    use_case_glue(instance)
    session = db()
    case = session.get(CaseRecord, instance.id)
    files = {str(a.id): a for a in workspace.attachments(session, instance.id)}
    key = instance.process_key
    summary_fields: dict[str, Any] = {}
    if case is not None:
        summary_fields = {
            "site": case.site,
            "service": case.service,
            "severity": case.severity,
            "agent_code": case.agent_code,
        }
        summary_fields.update({k: v for k, v in case.shown_fields.items() if k not in ("summary", "status")})
    history = []
    for entry in workspace.history(session, instance.id):
        data = entry.data.get("data") if entry.kind in ("started", "completed") else entry.data
        history.append(
            {
                "entry": entry,
                "shown": show_values(key, data or {}, files, skip=("completed_by", "assignee", "case_number"))
                if entry.kind in ("started", "completed")
                else [Shown(_("Reason"), "text", entry.data["reason"])]
                if entry.data.get("reason")
                else [Shown(_("Fingerprint of the signed data (SHA-256)"), "text", entry.data["data_sha256"])]
                if entry.kind == "signed" and entry.data.get("data_sha256")
                else [],
                "note": _history_note(entry),
            }
        )
    view = inbox.instance_view(session, instance.id)
    status = case_status.status_of(session, engine(), instance)
    return {
        "instance": instance,
        "case": case,
        "summary": show_values(key, summary_fields, files),
        "case_status": status_words.describe(status, instance.process_key),
        "case_waits": status.waiting,
        "history": history,
        "comments": workspace.comments(session, instance.id),
        "attachments": list(files.values()),
        "open_tasks": view.open_tasks,
        "incidents": [i for i in view.incidents if i.resolved_at is None],
        "may_manage": policy.may_manage(current_user),
        "links": case_links(instance, case),
        "case_links": links.links_of(session, current_user, instance.id),
        "link_words": _link_words(),
        "may_link": bool(current_user.active and links.LINKER_ROLES & current_user.role_keys),
    }


def case_links(instance: ProcessInstance, case: CaseRecord | None) -> list[tuple[str, str]]:
    """Links a process's glue asks for on its cases (``links``: label, label_en, url with {fields})."""
    out = []
    fields = {k: str(v) for k, v in ((case.fields or {}) if case else {}).items()}
    for link in glue(instance.process_key).meta.get("links", []) or []:
        if not isinstance(link, dict) or not isinstance(link.get("url"), str):
            continue
        try:
            url = link["url"].format_map(fields)
        except (KeyError, ValueError, IndexError):
            continue  # a field the case does not have (yet)
        label = link.get("label_en") if lang() == "en" and link.get("label_en") else link.get("label", url)
        target = safe_path(url, "")
        if target:
            out.append((str(label), target))
    return out


def _link_words() -> dict[tuple[str, bool], str]:
    from .case_links import link_words

    return link_words()


def _status_word(status: str) -> str:
    return status_words.state_word(status)


def _history_note(entry: workspace.HistoryEntry) -> str:
    words = {
        "started": _("started the case"),
        "claimed": _("claimed"),
        "unclaimed": _("released"),
        "assigned": _("assigned to %(who)s", who=entry.data.get("assignee", "")),
        "completed": _("completed"),
        "timer_fired": _("a timer fired"),
        "incident": _("an error stopped the case: %(msg)s", msg=entry.data.get("message", "")),
        "cancelled": _("cancelled the case"),
        "rerouted": _("no user has the agent code named: the site's team leaders have the task"),
        "suspended": _("suspended the case"),
        "resumed": _("resumed the case"),
        "retried": _("retried the case"),
        "migrated": _("moved the case to a newer version"),
        "message_sent": _("sent the message %(name)s", name=entry.data.get("name", "")),
        "instance_completed": _("the case ended"),
        "timer_moved": _("moved a timer"),
        "timer_fired_now": _("fired a timer now"),
        "due_changed": _("changed the due date"),
        "message_received": _("a message arrived"),
        "linked": _("linked the case"),
        "unlinked": _("removed a link"),
        "trend_raised": _("raised by a trend rule"),
        "commented": _("added a comment"),
        "evidence_added": _("added the evidence file %(name)s", name=entry.data.get("filename", "")),
        "signed": signing.history_note(entry.data) if entry.kind == "signed" else "",
        "exported": _("exported the case record"),
        "in_evidence_pack": _("included in an evidence pack"),
        "raised_from_communication": _(
            "raised from the complaint of %(client)s of %(day)s in the client communications register",
            client=entry.data.get("client", ""),
            day=str(entry.data.get("on_date", "")),
        ),
    }
    return words.get(entry.kind, entry.kind.replace("_", " "))


# -- pages ------------------------------------------------------------------------------------


@bp.get("/cases")
def case_list():  # type: ignore[no-untyped-def]
    args = request.args
    filters = {
        "process": args.get("process") or None,
        "status": args.get("status") or None,
        "site": args.get("site") or None,
        "severity": args.get("severity") or None,
        "agent": (args.get("agent") or "").strip() or None,
        "q": (args.get("q") or "").strip() or None,
    }
    page = page_arg(args.get("page"))
    rows, total = workspace.search_cases(
        db(),
        current_user,
        workspace.CaseFilter(
            process_key=filters["process"],
            status=filters["status"],
            site=filters["site"],
            severity=filters["severity"],
            agent_code=filters["agent"],
            text=filters["q"],
        ),
        page=page,
        per_page=PER_PAGE,
    )
    found = case_status.statuses(db(), engine(), [inst for inst, _c in rows])
    return render_template(
        "cases.html",
        rows=rows,
        case_statuses={inst.id: status_words.describe(found[inst.id], inst.process_key) for inst, _c in rows},
        total=total,
        page=page,
        pages=page_count(total, PER_PAGE),
        filters=filters,
        processes=_process_keys(),
        statuses=[(s, _status_word(s)) for s in STATUSES],
        sites=SITES,
        status_word=_status_word,
    )


def _process_keys() -> list[tuple[str, str]]:
    """Deployed processes (key, label in the user's language)."""
    return [(k, process_label(k, n)) for k, n in sorted(process_names().items())]


@bp.get("/cases/<int:instance_id>")
def case_page(instance_id: int):  # type: ignore[no-untyped-def]
    instance = policy.check_may_see(db(), current_user, instance_id)
    return render_template("case.html", **case_context(instance))


@bp.get("/cases/<int:instance_id>/diagram")
def diagram(instance_id: int):  # type: ignore[no-untyped-def]
    """The BPMN XML of the case's version and which elements ran and wait, for bpmn-js."""
    instance = policy.check_may_see(db(), current_user, instance_id)
    version = db().get(ProcessVersion, instance.process_version_id)
    assert version is not None
    xml = _diagram_xml(version)
    if lang() == "en":
        xml = _english_labels(xml, glue(instance.process_key))
    use_case_glue(instance)
    states = engine().element_states(instance)
    return jsonify(xml=xml, **states)


def _english_labels(xml: str, meta: Any) -> str:
    """The diagram with English names where the process glue gives them (elements, process)."""
    names = dict(meta.names_en)
    if meta.name_en:
        names[meta.key] = meta.name_en
    if not names:
        return xml
    root = parse_xml(xml)
    for element in root.iter():
        element_id = element.get("id") if isinstance(element.tag, str) else None
        if element_id in names and element.get("name") is not None:
            element.set("name", names[element_id])
    return etree.tostring(root, encoding="unicode")


def _diagram_xml(version: ProcessVersion) -> str:
    return case_record.diagram_xml(version)


@bp.post("/cases/<int:instance_id>/manage")
def manage(instance_id: int):  # type: ignore[no-untyped-def]
    """Retry an incident, suspend, resume or cancel: each one engine step, checked by the engine too."""
    policy.check_may_see(db(), current_user, instance_id)
    action = request.form.get("action", "")
    if action == "retry":
        result = engine().retry(db(), instance_id, current_user)
        db().commit()
        if result.incident is not None:
            flash(_("The step failed again: %(msg)s", msg=result.incident.message), "error")
        else:
            flash(_("The case runs again."), "info")
    elif action == "suspend":
        engine().suspend(db(), instance_id, current_user)
        db().commit()
        flash(_("The case is suspended; its tasks wait until it is resumed."), "info")
    elif action == "resume":
        engine().resume(db(), instance_id, current_user)
        db().commit()
        flash(_("The case is resumed."), "info")
    elif action == "cancel":
        reason = request.form.get("reason", "").strip()
        if not reason:
            flash(_("Give a reason to cancel the case."), "error")
            return redirect(url_for("cases.case_page", instance_id=instance_id))
        engine().cancel(db(), instance_id, current_user, reason[:500])
        db().commit()
        flash(_("The case is cancelled."), "info")
    else:
        abort(400, _("Unknown action."))
    return redirect(url_for("cases.case_page", instance_id=instance_id))


@bp.post("/cases/<int:instance_id>/comments")
def comment(instance_id: int):  # type: ignore[no-untyped-def]
    instance = policy.check_may_see(db(), current_user, instance_id)
    if instance.status in ("completed", "cancelled"):
        flash(_("The case is closed: no more comments."), "error")
        return redirect(back_to(url_for("cases.case_page", instance_id=instance_id)) + "#comments")
    try:
        workspace.add_comment(db(), instance_id, current_user, request.form.get("body", ""), now())
    except MutuError as exc:
        if type(exc) is not MutuError:
            raise
        flash(_("A comment needs between 1 and 4000 characters."), "error")
    else:
        db().commit()
        flash(_("Comment added."), "info")
    return redirect(back_to(url_for("cases.case_page", instance_id=instance_id)) + "#comments")


@bp.post("/cases/<int:instance_id>/files")
def upload(instance_id: int):  # type: ignore[no-untyped-def]
    instance = policy.check_may_see(db(), current_user, instance_id)
    back = back_to(url_for("cases.case_page", instance_id=instance_id)) + "#evidence"
    if instance.status in ("completed", "cancelled"):
        flash(_("The case is closed: its evidence can no longer change."), "error")
        return redirect(back)
    try:
        stored = store_uploads(request.files.getlist("files"), instance.id)
    except workspace.UploadRefused as exc:
        db().rollback()
        flash(upload_message(exc), "error")
        return redirect(back)
    if not stored:
        flash(_("Choose a file to upload."), "error")
        return redirect(back)
    db().commit()
    flash(_("%(n)s file(s) added.", n=len(stored)), "info")
    return redirect(back)


@bp.get("/files/<int:attachment_id>")
def download(attachment_id: int):  # type: ignore[no-untyped-def]
    row = db().get(Attachment, attachment_id)
    if row is None:
        abort(404)
    if row.instance_id is None:
        if row.uploaded_by_id != current_user.id:
            raise NotAuthorized("this file is not attached to a case you can see")
    else:
        policy.check_may_see(db(), current_user, row.instance_id)
    path = workspace.attachment_path(runtime().settings.upload_dir, row)
    if not path.exists():
        abort(404, _("The file is missing from storage."))
    return send_file(path, mimetype=row.content_type, as_attachment=True, download_name=row.filename)


# -- starting a process -----------------------------------------------------------------------------


@bp.get("/start")
def start_list():  # type: ignore[no-untyped-def]
    """Processes the user may start by hand: the scheduler's (monthly, six-monthly) have no start form."""
    startable = []
    for key, label in _process_keys():
        version, ref, _schema = engine().start_form(db(), key)
        if ref is not None and engine().may_start(version, current_user):
            startable.append((key, label))
    return render_template("start_list.html", processes=startable)


@bp.route("/start/<process_key>", methods=["GET", "POST"])
def start(process_key: str):  # type: ignore[no-untyped-def]
    version, ref, schema = engine().start_form(db(), process_key)
    if not engine().may_start(version, current_user):
        raise NotAuthorized(_("You may not start this process."))
    schema = schema or {"type": "object", "properties": {}}
    values: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    status = 200
    if request.method == "POST":
        values, errors = read_form(schema, request.form, request.files)
        if not errors:
            result = engine().start(db(), process_key, current_user, values)
            ids = [int(v) for v in file_ids(schema, values)]
            workspace.claim_attachments(db(), ids, result.instance.id, current_user)
            db().commit()
            if result.incident is not None:
                flash(_("The case was started but stopped with an error; its page shows where."), "error")
            else:
                flash(_("Case %(n)s started.", n=result.number or result.instance.id), "info")
            nxt = inbox.next_task_in_case(db(), current_user, result.instance.id)
            if nxt is not None:
                return redirect(url_for("tasks.task_page", task_id=nxt.id))
            return redirect(url_for("cases.case_page", instance_id=result.instance.id))
        db().commit()  # keep the evidence files uploaded with a form that has errors
        status = 422
    ids = [int(v) for v in file_ids(schema, values)]
    kept = db().execute(select(Attachment).where(Attachment.id.in_(ids))).scalars() if ids else []
    return render_template(
        "start.html",
        file_names={str(a.id): a.filename for a in kept if a.uploaded_by_id == current_user.id},
        process_key=process_key,
        version=version,
        title=formkit.form_title(schema, lang()) or process_label(process_key, version.name),
        fields=formkit.build(schema, lang(), values, errors),
        has_errors=bool(errors),
    ), status
