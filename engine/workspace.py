"""What people keep around the workflow: sign-in, tokens, drafts, comments, evidence, history.

Edges (web pages, the HTTP API, the CLI) call these; none of them touches a workflow's state,
so none takes the instance lock.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import filetype
from sqlalchemy import bindparam, delete, func, select
from sqlalchemy.orm import Session

from . import audit
from .errors import MutuError, NotAuthorized, NotFound
from .models import AuditEvent, CaseRecord, HumanTask, ProcessInstance, User
from .models_signin import ApiToken, LoginFailure, LoginThrottle, WebSession
from .models_workspace import Attachment, Comment, TaskDraft
from .policy import check_may_work, needs_case_join, visible_cases

MASK = "••••••"


class UploadRefused(MutuError):
    """A refused file; ``reason`` and ``params`` let each edge word it in the reader's language."""

    code = "upload_refused"
    http_status = 400

    def __init__(self, message: str, reason: str = "", **params: Any):
        super().__init__(message)
        self.reason, self.params = reason, params


# -- personal data -----------------------------------------------------------------------


def sees_personal_data(user: User, personal_roles: tuple[str, ...]) -> bool:
    return bool(set(personal_roles) & user.role_keys)


def mask(value: Any, fields: frozenset[str]) -> Any:
    """A copy of ``value`` with every personal field (at any depth) replaced by a mask."""
    if not fields:
        return value
    if isinstance(value, dict):
        return {
            k: (MASK if k in fields and v not in (None, "") else mask(v, fields)) for k, v in value.items()
        }
    if isinstance(value, list):
        return [mask(v, fields) for v in value]
    return value


# -- drafts and comments ---------------------------------------------------------------------


def save_draft(session: Session, task_id: int, user: User, data: dict[str, Any], now: datetime) -> None:
    """Keep what ``user`` typed; only someone who may complete the task may keep a draft of it."""
    row = session.get(HumanTask, task_id)
    if row is None:
        raise NotFound(f"no task {task_id}")
    check_may_work(row, user)
    draft = session.get(TaskDraft, {"human_task_id": task_id, "user_id": user.id})
    if draft is None:
        session.add(TaskDraft(human_task_id=task_id, user_id=user.id, data=data, saved_at=now))
    else:
        draft.data, draft.saved_at = data, now


def load_draft(session: Session, task_id: int, user: User) -> TaskDraft | None:
    return session.get(TaskDraft, {"human_task_id": task_id, "user_id": user.id})


_DROP_DRAFTS = delete(TaskDraft.__table__).where(TaskDraft.__table__.c.human_task_id == bindparam("task_id"))


def drop_drafts(session: Session, task_id: int) -> None:
    """Forget what was typed into a task once it is done (a plain statement: nothing is loaded)."""
    session.connection().execute(_DROP_DRAFTS, {"task_id": task_id})


def add_comment(session: Session, instance_id: int, user: User, body: str, now: datetime) -> Comment:
    body = body.strip()
    if not body:
        raise MutuError("a comment needs some text")
    if len(body) > 4000:
        raise MutuError("a comment may be at most 4000 characters")
    comment = Comment(instance_id=instance_id, user_id=user.id, body=body, created_at=now)
    session.add(comment)
    session.flush()
    audit.record_on_case(
        session,
        instance_id,
        "commented",
        now,
        actor=user,
        data={"comment_id": comment.id, "sha256": hashlib.sha256(body.encode("utf-8")).hexdigest()},
    )
    return comment


def comments(session: Session, instance_id: int) -> list[Comment]:
    return list(
        session.execute(select(Comment).where(Comment.instance_id == instance_id).order_by(Comment.id))
        .unique()
        .scalars()
    )


# -- evidence files ----------------------------------------------------------------------------

# Extension -> the MIME types its content may sniff as (None: text, checked as UTF-8).
ALLOWED_TYPES: dict[str, tuple[str, ...] | None] = {
    "pdf": ("application/pdf",),
    "png": ("image/png",),
    "jpg": ("image/jpeg",),
    "jpeg": ("image/jpeg",),
    "gif": ("image/gif",),
    "webp": ("image/webp",),
    "wav": ("audio/x-wav", "audio/wav"),
    "mp3": ("audio/mpeg",),
    "m4a": ("audio/mp4", "audio/m4a", "video/mp4"),
    "ogg": ("audio/ogg",),
    "docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "application/zip"),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "application/zip"),
    "pptx": ("application/vnd.openxmlformats-officedocument.presentationml.presentation", "application/zip"),
    "txt": None,
    "csv": None,
}
_TEXT_TYPES = {"txt": "text/plain", "csv": "text/csv"}


def check_upload(filename: str, content: bytes, max_bytes: int) -> str:
    """Return the content type of an acceptable evidence file, or raise UploadRefused with why."""
    name = Path(filename or "").name
    if not name:
        raise UploadRefused("the file has no name", "no_name")
    if len(content) == 0:
        raise UploadRefused(f"{name}: the file is empty", "empty", name=name)
    if len(content) > max_bytes:
        mb = max_bytes // (1024 * 1024)
        raise UploadRefused(f"{name}: larger than the limit of {mb} MB", "too_large", name=name, mb=mb)
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if ext not in ALLOWED_TYPES:
        raise UploadRefused(
            f"{name}: files of type .{ext or '?'} are not accepted", "type", name=name, ext=ext or "?"
        )
    allowed = ALLOWED_TYPES[ext]
    if allowed is None:
        try:
            content.decode("utf-8")
        except UnicodeDecodeError:
            raise UploadRefused(f"{name}: not a text file", "not_text", name=name) from None
        if b"\x00" in content:
            raise UploadRefused(f"{name}: not a text file", "not_text", name=name)
        return _TEXT_TYPES[ext]
    kind = filetype.guess(content)
    if kind is None or kind.mime not in allowed:
        raise UploadRefused(f"{name}: its content is not a .{ext} file", "content", name=name, ext=ext)
    return allowed[0]


def store_attachment(
    session: Session,
    upload_dir: Path,
    filename: str,
    content: bytes,
    user: User,
    now: datetime,
    *,
    max_bytes: int,
    instance_id: int | None = None,
) -> Attachment:
    """Check and keep one evidence file; the bytes go to disk under their SHA-256 first."""
    content_type = check_upload(filename, content, max_bytes)
    digest = hashlib.sha256(content).hexdigest()
    upload_dir.mkdir(parents=True, exist_ok=True)
    path = upload_dir / digest
    if not path.exists():
        partial = path.with_suffix(".part")
        partial.write_bytes(content)
        partial.replace(path)
    row = Attachment(
        instance_id=instance_id,
        filename=Path(filename).name[:255],
        content_type=content_type,
        size=len(content),
        sha256=digest,
        uploaded_by_id=user.id,
        uploaded_at=now,
    )
    session.add(row)
    session.flush()
    if instance_id is not None:
        _evidence_event(session, row, user, now)
    return row


def _evidence_event(session: Session, row: Attachment, user: User, now: datetime) -> None:
    assert row.instance_id is not None
    audit.record_on_case(
        session,
        row.instance_id,
        "evidence_added",
        now,
        actor=user,
        data={"attachment_id": row.id, "filename": row.filename, "size": row.size, "sha256": row.sha256},
    )


def claim_attachments(session: Session, ids: list[int], instance_id: int, user: User) -> list[Attachment]:
    """Tie files uploaded for a form to the case; only the uploader's unattached files qualify."""
    rows = []
    for att_id in ids:
        row = session.get(Attachment, att_id)
        if row is None:
            raise NotFound(f"no evidence file {att_id}")
        if row.instance_id is None and row.uploaded_by_id == user.id:
            row.instance_id = instance_id
            _evidence_event(session, row, user, row.uploaded_at)
        elif row.instance_id != instance_id:
            raise NotAuthorized(f"evidence file {att_id} belongs to another case")
        rows.append(row)
    return rows


def attachments(session: Session, instance_id: int) -> list[Attachment]:
    return list(
        session.execute(
            select(Attachment).where(Attachment.instance_id == instance_id).order_by(Attachment.id)
        ).scalars()
    )


def attachment_path(upload_dir: Path, row: Attachment) -> Path:
    return upload_dir / row.sha256


# -- history --------------------------------------------------------------------------------


@dataclass
class HistoryEntry:
    at: datetime
    kind: str
    actor: str | None
    agent_code: str | None
    bpmn_id: str | None
    task_name: str | None
    data: dict[str, Any]


def history(session: Session, instance_id: int) -> list[HistoryEntry]:
    """The instance's audit events, oldest first, with the task names people know them by."""
    names = dict(
        session.execute(
            select(HumanTask.task_guid, HumanTask.name).where(HumanTask.instance_id == instance_id)
        ).all()
    )
    events = session.execute(
        select(AuditEvent).where(AuditEvent.instance_id == instance_id).order_by(AuditEvent.seq)
    ).scalars()
    return [
        HistoryEntry(
            at=e.created_at,
            kind=e.kind,
            actor=e.actor_username,
            agent_code=e.agent_code,
            bpmn_id=e.bpmn_id,
            task_name=names.get(e.task_guid) if e.task_guid else None,
            data=e.data or {},
        )
        for e in events
    ]


def earlier_values(session: Session, instance_id: int, names: list[str]) -> dict[str, Any]:
    """What earlier steps submitted for ``names``, the latest of each: a task shows it read-only.

    Read from the case's own history (start and completion events), so what is shown is what
    was signed off, never a value a script set later.
    """
    if not names:
        return {}
    wanted = set(names)
    found: dict[str, Any] = {}
    events = session.execute(
        select(AuditEvent.data)
        .where(AuditEvent.instance_id == instance_id, AuditEvent.kind.in_(("started", "completed")))
        .order_by(AuditEvent.seq)
    ).scalars()
    for data in events:
        submitted = (data or {}).get("data") or {}
        found.update({k: v for k, v in submitted.items() if k in wanted})
    return {k: found[k] for k in names if k in found}


# -- housekeeping ------------------------------------------------------------------------------


def housekeeping(
    session: Session, now: datetime, login_window: timedelta, session_idle: timedelta = timedelta(hours=8)
) -> dict[str, int]:
    """Delete what no one can use any more: drafts of closed tasks, expired tokens and sessions.

    Runs hourly in the scheduler, so a completion through the API need not spend a
    statement on drafts that usually do not exist.
    """
    closed = select(HumanTask.id).where(HumanTask.status != "open")
    drafts = session.execute(delete(TaskDraft).where(TaskDraft.human_task_id.in_(closed)))
    tokens = session.execute(delete(ApiToken).where((ApiToken.expires_at < now) | ApiToken.revoked.is_(True)))
    failures = session.execute(delete(LoginFailure).where(LoginFailure.at < now - login_window))
    session.execute(delete(LoginThrottle).where(LoginThrottle.window_start < now - login_window))
    sessions = session.execute(delete(WebSession).where(WebSession.seen_at < now - session_idle))
    return {
        "drafts": drafts.rowcount,
        "tokens": tokens.rowcount,
        "login_failures": failures.rowcount,
        "sessions": sessions.rowcount,
    }


# -- case lists ----------------------------------------------------------------------------------


@dataclass
class CaseFilter:
    """What a case list asks for; every field is optional."""

    process_key: str | None = None
    status: str | None = None
    site: str | None = None
    severity: str | None = None
    agent_code: str | None = None
    number: str | None = None
    text: str | None = None  # words of the case number or summary


def search_cases(
    session: Session, user: User, filters: CaseFilter, *, page: int = 1, per_page: int = 25
) -> tuple[list[tuple[ProcessInstance, CaseRecord | None]], int]:
    """One page of the cases ``user`` may see, newest first, and the total.

    Ids are found first (joining the case table only when a filter or the user's
    visibility needs it), then the page's rows are read in full.
    """
    where: list[Any] = []
    if filters.process_key:
        where.append(ProcessInstance.process_key == filters.process_key)
    if filters.status:
        where.append(ProcessInstance.status == filters.status)
    case_terms = [
        (filters.site, CaseRecord.site),
        (filters.severity, CaseRecord.severity),
        (filters.agent_code, CaseRecord.agent_code),
        (filters.number, CaseRecord.number),
    ]
    where += [column == value for value, column in case_terms if value]
    if filters.text:
        pattern = f"%{filters.text.replace('%', '')}%"
        where.append(CaseRecord.number.ilike(pattern) | CaseRecord.summary.ilike(pattern))
    visible = visible_cases(user)
    if visible is not True:
        where.append(visible)
    needs_case = any(value for value, _column in case_terms) or bool(filters.text) or needs_case_join(user)
    ids_query = select(ProcessInstance.id)
    if needs_case:
        ids_query = ids_query.outerjoin(CaseRecord, CaseRecord.instance_id == ProcessInstance.id)
    ids_query = ids_query.where(*where)
    total = session.execute(select(func.count()).select_from(ids_query.subquery())).scalar_one()
    page = max(page, 1)
    ids = list(
        session.execute(
            ids_query.order_by(ProcessInstance.id.desc()).limit(per_page).offset((page - 1) * per_page)
        ).scalars()
    )
    if not ids:
        return [], total
    rows = session.execute(
        select(ProcessInstance, CaseRecord)
        .outerjoin(CaseRecord, CaseRecord.instance_id == ProcessInstance.id)
        .where(ProcessInstance.id.in_(ids))
    ).all()
    by_id = {inst.id: (inst, case) for inst, case in rows}
    return [by_id[i] for i in ids if i in by_id], total
