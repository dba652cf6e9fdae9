"""``/api/v1`` for process owners: versions and their bundles, drafts, check, publish, moving cases.

The browser editor uses these same routes; they sit on the API blueprint, so the bearer
token and the confidentiality gate apply as everywhere else under ``/api/v1``.
"""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request
from flask_login import current_user

from engine import bundle, draft_scenarios, drafts, versioning
from engine.errors import MutuError
from engine.models import ProcessDraft, ProcessVersion, User

from .api import ApiError, _body, bp
from .core import db, engine, now, runtime


def _user_name(user_id: int | None) -> str | None:
    if user_id is None:
        return None
    user = db().get(User, user_id)
    return user.username if user else None


def version_json(version: ProcessVersion, state: str) -> dict[str, Any]:
    return {
        "version": version.version,
        "state": state,
        "note": version.note,
        "prepared_by": _user_name(version.deployed_by_id),
        "approved_by": _user_name(version.approved_by_id) if version.state == "approved" else None,
        "approved_at": version.approved_at.isoformat() if version.approved_at else None,
        "effective_from": version.effective_from.isoformat() if version.effective_from else None,
        "created_at": version.created_at.isoformat(),
        "decision_note": version.decision_note,
    }


@bp.get("/processes/<process_key>/versions")
def versions(process_key: str):  # type: ignore[no-untyped-def]
    rows = versioning.states(db(), process_key, now())
    running = versioning.running_by_version(db(), process_key)
    items = [{**version_json(v, s), "running": running.get(v.version, 0)} for v, s in rows]
    return jsonify(items=items)


@bp.get("/processes/<process_key>/versions/<int:version>/bundle")
def version_zip(process_key: str, version: int):  # type: ignore[no-untyped-def]
    row = versioning.get_version(db(), process_key, version)
    files = drafts.version_bundle(engine(), db(), row)
    name = f"{process_key}-v{version}.zip"
    return Response(
        bundle.write_zip(files),
        mimetype="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _draft_json(draft: ProcessDraft, with_files: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": draft.id,
        "process_key": draft.process_key,
        "base_version": draft.base_version,
        "revision": draft.revision,
        "status": draft.status,
        "updated_by": _user_name(draft.updated_by_id),
        "updated_at": draft.updated_at.isoformat(),
        "published_version": draft.published_version,
    }
    if with_files:
        out["files"] = dict(draft.files)
    return out


def _uploaded_zip() -> bytes | None:
    """A bundle sent as the body (``application/zip``) or as the ``bundle`` file of a form."""
    limit = runtime().settings.max_upload_bytes
    if request.mimetype in ("application/zip", "application/x-zip-compressed"):
        data = request.get_data(cache=False)
    elif request.files.get("bundle") is not None:
        data = request.files["bundle"].read(limit + 1)
    else:
        return None
    if len(data) > limit:
        raise ApiError(413, "too_large", f"a bundle may be at most {limit} bytes")
    return data


@bp.post("/processes/<process_key>/drafts")
def create_draft(process_key: str):  # type: ignore[no-untyped-def]
    """A draft from an uploaded bundle zip, from an old version (``from_version``: a restore), or
    (no body) from the version in effect."""
    data = _uploaded_zip()
    files, from_version = None, None
    if data is not None:
        files = bundle.read_zip(data, runtime().settings.max_upload_bytes)
    elif request.content_length:
        body = _body("from_version")
        from_version = _int(body.get("from_version"))
        if "from_version" in body and from_version is None:
            raise ApiError(400, "bad_request", "from_version must be a version number")
    draft = drafts.create(db(), engine(), process_key, current_user, now(), files, from_version=from_version)
    db().commit()
    return jsonify(_draft_json(draft)), 201


@bp.get("/drafts/<int:draft_id>")
def get_draft(draft_id: int):  # type: ignore[no-untyped-def]
    return jsonify(_draft_json(drafts.get(db(), draft_id, current_user)))


def _int(value: Any) -> int | None:
    """A JSON integer: JSON Schema counts 3.0 as one, so the API does too."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value if isinstance(value, int) else None


def _revision(body: dict[str, Any]) -> int:
    revision = _int(body.get("revision"))
    if revision is None:
        raise ApiError(400, "bad_request", "revision must be the draft's revision you read (an integer)")
    return revision


@bp.put("/drafts/<int:draft_id>/files/<path:path>")
def put_draft_file(draft_id: int, path: str):  # type: ignore[no-untyped-def]
    body = _body("text", "revision")
    text = body.get("text")
    if not isinstance(text, str):
        raise ApiError(400, "bad_request", "text must be the file's whole new content")
    draft = drafts.put_file(db(), draft_id, path, text, _revision(body), current_user, now())
    db().commit()
    return jsonify(_draft_json(draft, with_files=False))


@bp.delete("/drafts/<int:draft_id>/files/<path:path>")
def delete_draft_file(draft_id: int, path: str):  # type: ignore[no-untyped-def]
    body = _body("revision")
    draft = drafts.put_file(db(), draft_id, path, None, _revision(body), current_user, now())
    db().commit()
    return jsonify(_draft_json(draft, with_files=False))


@bp.post("/drafts/<int:draft_id>/check")
def check_draft(draft_id: int):  # type: ignore[no-untyped-def]
    draft = drafts.get(db(), draft_id, current_user)
    base = drafts.base_files(engine(), db(), draft)
    checked = drafts.check_files(engine(), draft.process_key, draft.files, base)
    return jsonify(
        revision=draft.revision, problems=checked.problems, changes=drafts.changes(base, draft.files)
    )


@bp.post("/drafts/<int:draft_id>/publish")
def publish_draft(draft_id: int):  # type: ignore[no-untyped-def]
    body = _body("note", "acknowledge_warnings", "scenario_notes")
    note = body.get("note")
    if not isinstance(note, str):
        raise ApiError(400, "bad_request", "note must say what changed and why")
    notes = body.get("scenario_notes") or {}
    if not isinstance(notes, dict) or not all(isinstance(v, str) for v in notes.values()):
        raise ApiError(400, "bad_request", "scenario_notes must map a scenario's path to a note")
    try:
        version = drafts.publish(
            db(),
            engine(),
            draft_id,
            current_user,
            note,
            now(),
            acknowledge_warnings=body.get("acknowledge_warnings") is True,
            publish_alone=runtime().settings.qmr_publishes_alone,
            scenario_notes=notes,
        )
    except drafts.PublishRefused as exc:
        return jsonify(
            error={"code": exc.code, "message": str(exc), "problems": exc.problems}
        ), exc.http_status
    db().commit()
    state = "in_effect" if version.state == "approved" else version.state
    return jsonify(version=version.version, state=state), 201


@bp.post("/drafts/<int:draft_id>/scenarios/run")
def run_draft_scenarios(draft_id: int):  # type: ignore[no-untyped-def]
    """Every scenario of the draft (or the ``paths`` given) against the draft, in a sandbox."""
    body = _body("paths")
    chosen = body.get("paths")
    if chosen is not None and not (isinstance(chosen, list) and all(isinstance(p, str) for p in chosen)):
        raise ApiError(400, "bad_request", "paths must be a list of scenario file paths")
    draft = drafts.get(db(), draft_id, current_user)
    results = draft_scenarios.run(engine(), db(), draft, chosen)
    return jsonify(
        revision=draft.revision,
        passed=all(r["passed"] for r in results),
        scenarios=results,
    )


@bp.post("/drafts/<int:draft_id>/scenarios/replay")
def replay_draft_scenario(draft_id: int):  # type: ignore[no-untyped-def]
    """A scenario being recorded: its steps so far run against the draft, and where it stands."""
    body = _body("scenario")
    doc = body.get("scenario")
    if not isinstance(doc, dict):
        raise ApiError(400, "bad_request", "scenario must be a scenario object (name, start, steps)")
    draft = drafts.get(db(), draft_id, current_user)
    return jsonify(draft_scenarios.replay(engine(), db(), draft, doc))


@bp.post("/processes/<process_key>/migrations")
def migrations(process_key: str):  # type: ignore[no-untyped-def]
    body = _body("to", "instances", "dry_run")
    to = _int(body.get("to"))
    if to is None:
        raise ApiError(400, "bad_request", "to must be a version number")
    instances = body.get("instances")
    if instances is not None:
        ids = [_int(i) for i in instances] if isinstance(instances, list) else [None]
        if any(i is None for i in ids):
            raise ApiError(400, "bad_request", "instances must be a list of case ids")
        instances = ids
    dry_run = body.get("dry_run", False)
    if not isinstance(dry_run, bool):
        raise ApiError(400, "bad_request", "dry_run must be true or false")
    try:
        moves = versioning.migrate_many(
            db(), engine(), process_key, to, current_user, instance_ids=instances, dry_run=dry_run
        )
    except MutuError:
        db().rollback()
        raise
    if dry_run:
        db().rollback()
    else:
        db().commit()
    return jsonify(
        to=to,
        dry_run=dry_run,
        moved=sum(m.moved for m in moves),
        refused=sum(not m.moved for m in moves),
        items=[m.as_dict() for m in moves],
    )
