"""A posted task or start form read into typed data, its evidence files stored and checked on the way."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from engine import workspace
from engine.errors import ValidationFailed
from engine.forms import validate as validate_form
from engine.models_workspace import Attachment

from . import formkit
from .core import db, field_message, now, parse_message, runtime


def store_uploads(files: list[Any], instance_id: int | None) -> list[Attachment]:
    """Check and keep uploaded files; the first refused one stops the request with its reason."""
    settings = runtime().settings
    stored = []
    for upload in files:
        if not upload or not upload.filename:
            continue
        content = upload.read(settings.max_evidence_bytes + 1)
        stored.append(
            workspace.store_attachment(
                db(),
                settings.upload_dir,
                upload.filename,
                content,
                current_user,
                now(),
                max_bytes=settings.max_evidence_bytes,
                instance_id=instance_id,
            )
        )
    return stored


def file_ids(schema: dict[str, Any], values: dict[str, Any]) -> list[str]:
    ids = []
    for name, spec in schema.get("properties", {}).items():
        if formkit._kind(spec) == "files":
            ids.extend(str(v) for v in values.get(name, []) if str(v).isdigit())
    return ids


def _attachable(ids: list[str], instance_id: int | None) -> bool:
    """Files already in this case, or the user's own files not yet in any case."""
    if not all(i.isdigit() for i in ids):
        return False
    rows = db().execute(select(Attachment).where(Attachment.id.in_([int(i) for i in ids]))).scalars().all()
    ok = [
        a
        for a in rows
        if (instance_id is not None and a.instance_id == instance_id)
        or (a.instance_id is None and a.uploaded_by_id == current_user.id)
    ]
    return len(ok) == len(set(ids))


def read_form(
    schema: dict[str, Any], form: MultiDict[str, str], files: Any, instance_id: int | None = None
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Posted form -> (typed data, every error by field path), evidence files stored on the way."""
    uploads: dict[str, list[str]] = {}
    upload_errors: dict[str, list[str]] = {}
    for name in files:  # every file input, rows included: ``f.<path>``
        if not name.startswith(formkit.PREFIX):
            continue
        path = name[len(formkit.PREFIX) :]
        try:
            stored = store_uploads(files.getlist(name), instance_id)
        except workspace.UploadRefused as exc:
            upload_errors.setdefault(path, []).append(upload_message(exc))
            continue
        uploads[path] = [str(a.id) for a in stored]
    data, parse_errors = formkit.parse(schema, form, uploads)
    errors: dict[str, list[str]] = {k: [parse_message(m) for m in v] for k, v in parse_errors.items()}
    for key, kept in parse_errors.kept_files.items():
        if not _attachable(kept, instance_id):
            errors.setdefault(key, []).append(_("An evidence file named here is not one you may attach."))
    for key, messages in upload_errors.items():
        errors.setdefault(key, []).extend(messages)
    try:
        validate_form(schema, {k: v for k, v in data.items() if k not in errors})
    except ValidationFailed as exc:
        for detail in exc.details:
            if detail.path in parse_errors:
                continue
            errors.setdefault(detail.path, []).append(field_message(detail))
    return data, errors


def upload_message(exc: workspace.UploadRefused) -> str:
    """Why a file was refused, in the reader's language."""
    p = exc.params
    words = {
        "no_name": lambda: _("The file has no name."),
        "empty": lambda: _("%(name)s: the file is empty.", name=p.get("name", "")),
        "too_large": lambda: _(
            "%(name)s: larger than the limit of %(mb)s MB.", name=p.get("name", ""), mb=p.get("mb")
        ),
        "type": lambda: _(
            "%(name)s: files of type .%(ext)s are not accepted.", name=p.get("name", ""), ext=p.get("ext")
        ),
        "not_text": lambda: _("%(name)s: not a text file.", name=p.get("name", "")),
        "content": lambda: _(
            "%(name)s: its content is not a .%(ext)s file.", name=p.get("name", ""), ext=p.get("ext")
        ),
    }
    word = words.get(exc.reason)
    return word() if word else str(exc)


def with_people(schema: dict[str, Any], site: str | None) -> dict[str, Any]:
    """The schema with each person field's allowed people as its choices, for the page to offer."""
    from copy import deepcopy

    from engine import people_fields

    wanted = people_fields.person_fields(schema)
    if not wanted:
        return schema
    out = deepcopy(schema)
    for path, roles in wanted.items():
        spec: Any = out
        for part in path.split("."):
            spec = spec["items"] if part == "*" else spec["properties"][part]
        users = people_fields.eligible(db(), roles, site)
        spec["enum"] = [u.username for u in users]
        labels = {
            u.username: " · ".join(filter(None, [u.online_name or u.full_name or u.username, u.agent_code]))
            for u in users
        }
        meta = spec.setdefault("x-mutu", {})
        meta["enum_labels"] = labels
        meta["enum_labels_en"] = labels
    return out
