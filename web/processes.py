"""The QMR's pages: the process catalogue (manual 8.1, 8.3), versions and running cases, the editor."""

from __future__ import annotations

import re

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from sqlalchemy import func, select

from engine import drafts, policy, versioning
from engine.errors import MutuError, NotFound, Problem
from engine.models import CaseRecord, ProcessDraft, ProcessInstance, ProcessVersion

from .core import db, engine, glue, lang, now, process_label, runtime
from .values import ROLE_WORDS, role_label

bp = Blueprint("processes", __name__)


def _counts() -> dict[str, dict[str, int]]:
    rows = (
        db()
        .execute(
            select(ProcessInstance.process_key, ProcessInstance.status, func.count()).group_by(
                ProcessInstance.process_key, ProcessInstance.status
            )
        )
        .all()
    )
    out: dict[str, dict[str, int]] = {}
    for key, status, count in rows:
        out.setdefault(key, {})[status] = count
    return out


@bp.get("/processes")
def catalogue():  # type: ignore[no-untyped-def]
    keys = sorted(set(db().execute(select(ProcessVersion.process_key).distinct()).scalars()))
    counts = _counts()
    entries = []
    for key in keys:
        try:
            version = engine().latest_version(db(), key)
        except NotFound:
            version = None
        meta = glue(key)
        english = lang() == "en"
        entries.append(
            {
                "key": key,
                "label": process_label(key),
                "version": version,
                "glue": meta,
                "objective": (meta.meta.get("objective_en") if english else None) or meta.objective or "",
                "kpi_target": (meta.meta.get("kpi_target_en") if english else None) or meta.kpi_target or "",
                "owner": role_label(meta.owner_role) if meta.owner_role else "",
                "counts": counts.get(key, {}),
            }
        )
    return render_template(
        "catalogue.html",
        entries=entries,
        may_edit=drafts.may_edit(current_user),
        may_manage=policy.may_manage(current_user),
    )


@bp.get("/processes/<process_key>")
def process_page(process_key: str):  # type: ignore[no-untyped-def]
    try:
        versions = versioning.states(db(), process_key, now())
    except NotFound:
        abort(404)
    in_effect = next((v for v, s in versions if s == "in_effect"), None)
    running = (
        db()
        .execute(
            select(ProcessInstance, CaseRecord.number, ProcessVersion.version)
            .join(ProcessVersion, ProcessVersion.id == ProcessInstance.process_version_id)
            .outerjoin(CaseRecord, CaseRecord.instance_id == ProcessInstance.id)
            .where(
                ProcessInstance.process_key == process_key,
                ProcessInstance.status.in_(("running", "incident", "suspended")),
            )
            .order_by(ProcessVersion.version, ProcessInstance.id)
            .limit(500)
        )
        .all()
    )
    report = None
    if in_effect is not None and policy.may_manage(current_user):
        older = [inst.id for inst, _n, v in running if v != in_effect.version]
        if older:
            report = {
                m.instance_id: m
                for m in versioning.migrate_many(
                    db(),
                    engine(),
                    process_key,
                    in_effect.version,
                    current_user,
                    instance_ids=older,
                    dry_run=True,
                )
            }
            db().rollback()
    open_drafts = (
        db()
        .execute(
            select(ProcessDraft)
            .where(ProcessDraft.process_key == process_key, ProcessDraft.status == "open")
            .order_by(ProcessDraft.id.desc())
        )
        .scalars()
        .all()
        if drafts.may_edit(current_user)
        else []
    )
    return render_template(
        "process.html",
        key=process_key,
        label=process_label(process_key),
        versions=versions,
        in_effect=in_effect,
        running=running,
        report=report,
        drafts=open_drafts,
        may_edit=drafts.may_edit(current_user),
        may_manage=policy.may_manage(current_user),
    )


@bp.post("/processes/<process_key>/move")
def move(process_key: str):  # type: ignore[no-untyped-def]
    """Move the chosen (or all movable) older cases to the version in effect, with a report."""
    version = engine().latest_version(db(), process_key)
    chosen = [int(v) for v in request.form.getlist("instance") if v.isascii() and v.isdigit() and len(v) < 10]
    if request.form.get("all"):
        chosen = []
    moves = versioning.migrate_many(
        db(), engine(), process_key, version.version, current_user, instance_ids=chosen or None
    )
    db().commit()
    moved = sum(m.moved for m in moves)
    flash(
        _(
            "%(moved)s case(s) moved to version %(v)s; %(refused)s could not move.",
            moved=moved,
            v=version.version,
            refused=len(moves) - moved,
        ),
        "info",
    )
    return redirect(url_for("processes.process_page", process_key=process_key))


@bp.post("/processes/<process_key>/edit")
def edit(process_key: str):  # type: ignore[no-untyped-def]
    """Open the editor on this user's open draft of the process, or on a new one."""
    drafts.check_may_edit(current_user)
    draft = (
        db()
        .execute(
            select(ProcessDraft)
            .where(
                ProcessDraft.process_key == process_key,
                ProcessDraft.status == "open",
                ProcessDraft.created_by_id == current_user.id,
            )
            .order_by(ProcessDraft.id.desc())
        )
        .scalars()
        .first()
    )
    if draft is None:
        draft = drafts.create(db(), engine(), process_key, current_user, now())
        db().commit()
    return redirect(url_for("processes.editor", draft_id=draft.id))


@bp.post("/processes/<process_key>/restore/<int:version>")
def restore(process_key: str, version: int):  # type: ignore[no-untyped-def]
    """Restore = an old version's content as a new draft, published through the same approval."""
    draft = drafts.create(db(), engine(), process_key, current_user, now(), from_version=version)
    db().commit()
    flash(
        _("Draft %(id)s holds version %(v)s; publish it to restore that version.", id=draft.id, v=version),
        "info",
    )
    return redirect(url_for("processes.editor", draft_id=draft.id))


_CHANGE = re.compile(
    r"^(?:(added|removed|changed) (\S+)|(\S+): field '([^']+)' (added|removed|changed)|(\S+): (.+) changed)$"
)


def change_words(line: str) -> str:
    """One line of a bundle's changes in the page's language (the engine lists them in English)."""
    found = _CHANGE.match(line)
    if not found:
        return line
    verb, path, fpath, field, fverb, kpath, key = found.groups()
    verbs = {"added": _("added"), "removed": _("removed"), "changed": _("changed")}
    if path:
        return _("%(verb)s %(path)s", verb=verbs[verb], path=path)
    if fpath:
        return _("%(path)s: field %(field)s %(verb)s", path=fpath, field=field, verb=verbs[fverb])
    return _("%(path)s: %(key)s changed", path=kpath, key=key)


@bp.app_template_filter("change_words")
def _change_words_filter(line: str) -> str:
    return change_words(line)


@bp.get("/processes/<process_key>/versions/<int:version>/diff")
def version_diff(process_key: str, version: int):  # type: ignore[no-untyped-def]
    """A version's diagram with what changed since the version before it marked (for the Director too)."""
    rows = (
        db()
        .execute(
            select(ProcessVersion)
            .where(ProcessVersion.process_key == process_key, ProcessVersion.version <= version)
            .order_by(ProcessVersion.version.desc())
            .limit(2)
        )
        .scalars()
        .all()
    )
    if not rows or rows[0].version != version:
        abort(404)
    after = drafts.version_bundle(engine(), db(), rows[0])
    before = drafts.version_bundle(engine(), db(), rows[1]) if len(rows) > 1 else {}
    path = f"bpmn/{process_key}.bpmn"
    if path not in after:
        path = next((p for p in sorted(after) if p.endswith(".bpmn")), path)
    diff_data = {"after": after.get(path, ""), "before": before.get(path)}
    return render_template(
        "version_diff.html",
        label=process_label(process_key),
        version=rows[0],
        before_version=rows[1].version if len(rows) > 1 else None,
        changes=drafts.changes(before, after) if before else [],
        diff_data=diff_data,
    )


@bp.post("/processes/<process_key>/import")
def import_bundle(process_key: str):  # type: ignore[no-untyped-def]
    """A bundle zip uploaded from the browser becomes a draft, checked like any other."""
    from engine import bundle
    from engine.errors import DeployError

    upload = request.files.get("bundle")
    limit = runtime().settings.max_upload_bytes
    data = upload.read(limit + 1) if upload else b""
    try:
        if not data or len(data) > limit:
            raise DeployError(
                [Problem("bundle.zip", None, _("Choose a bundle zip of at most %(n)s bytes.", n=limit))]
            )
        draft = drafts.create(db(), engine(), process_key, current_user, now(), bundle.read_zip(data, limit))
    except DeployError as exc:
        flash("; ".join(str(p) for p in exc.problems)[:1500], "error")
        return redirect(url_for("processes.process_page", process_key=process_key))
    db().commit()
    return redirect(url_for("processes.editor", draft_id=draft.id))


@bp.get("/drafts/<int:draft_id>/edit")
def editor(draft_id: int):  # type: ignore[no-untyped-def]
    draft = drafts.get(db(), draft_id, current_user)
    if draft.status != "open":
        raise MutuError(_("This draft is %(status)s.", status=draft.status))
    base = {p: t for p, t in drafts.base_files(engine(), db(), draft).items() if p.startswith("bpmn/")}
    editor_data = {
        "draft_id": draft.id,
        "process_key": draft.process_key,
        "revision": draft.revision,
        "files": draft.files,
        "base_files": base,
        "operators": sorted(engine().services.names()),
        "roles": {key: role_label(key) for key in ROLE_WORDS},
        "csrf": generate_csrf(),
    }
    return render_template(
        "editor.html", draft=draft, label=process_label(draft.process_key), editor_data=editor_data
    )
