"""Mail: notifications in each reader's language, an outbox sent with retries and backoff.

Mail leaves only from the ``mail_outbox`` table, outside any step: a mail server that is down
or slow delays mail, never a step, and a message is retried with growing waits until
``MAX_ATTEMPTS``, then kept as failed with its last error.
"""

from __future__ import annotations

import contextlib
import logging
import smtplib
import ssl
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any
from urllib.parse import unquote, urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from .db import session_scope
from .models import CaseRecord, HumanTask, ProcessInstance, User
from .models_notify import MailMessage, Notification
from .notify import Told

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
LANGUAGES = ("id", "en")

TITLES = {
    "assigned": {"id": "Tugas untuk Anda: {task}", "en": "A task for you: {task}"},
    "queued": {
        "id": "Tugas baru di antrean peran Anda: {task}",
        "en": "New task in your role's queue: {task}",
    },
    "due": {"id": "Tenggat dalam sehari: {task}", "en": "Due within a day: {task}"},
    "overdue": {"id": "Melewati tenggat: {task}", "en": "Past its due date: {task}"},
    "reminder": {"id": "Pengingat: {task}", "en": "Reminder: {task}"},
    "escalation": {"id": "Eskalasi: {task}", "en": "Escalation: {task}"},
}
WORDS = {
    "case": {"id": "Kasus", "en": "Case"},
    "due": {"id": "Tenggat", "en": "Due"},
    "open": {"id": "Buka", "en": "Open"},
    "digest": {
        "id": "Ringkasan harian Mutu: {n} pemberitahuan",
        "en": "Mutu daily digest: {n} notifications",
    },
    "greeting": {"id": "Halo {name},", "en": "Hello {name},"},
    "footer": {
        "id": "Atur pemberitahuan Anda di {url}/notifications/settings",
        "en": "Choose how you are told at {url}/notifications/settings",
    },
}


def language_of(user: User) -> str:
    return user.language if user.language in LANGUAGES else "id"


@dataclass
class Described:
    title: str
    case: str  # "NC-2026-0001 — Salah informasi tarif", or ""
    due: str  # local date, or ""
    link: str  # the task, or the case when the task is gone


def describe(session: Session, engine: Any, note: Notification, lang: str, zone: Any) -> Described:
    """What a notification says, in ``lang``: the same words in the bell and in mail."""
    task = session.get(HumanTask, note.task_id) if note.task_id else None
    label = ""
    if task is not None:
        label = task.name
        if lang == "en":
            instance = session.get(ProcessInstance, task.instance_id)
            if instance is not None:
                label = engine.glue_of(session, instance.process_version).names_en.get(task.bpmn_id) or label
    case = session.get(CaseRecord, note.instance_id) if note.instance_id else None
    case_text = " — ".join(p for p in (case.number, case.summary) if p) if case is not None else ""
    due = task.due_at.astimezone(zone).strftime("%d-%m-%Y") if task is not None and task.due_at else ""
    if task is not None and task.status == "open":
        link = f"/tasks/{task.id}"
    elif note.instance_id:
        link = f"/cases/{note.instance_id}"
    else:
        link = "/inbox"
    return Described(TITLES[note.event][lang].format(task=label), case_text, due, link)


def _lines(d: Described, lang: str, base_url: str) -> list[str]:
    lines = [d.title]
    if d.case:
        lines.append(f"{WORDS['case'][lang]}: {d.case}")
    if d.due:
        lines.append(f"{WORDS['due'][lang]}: {d.due}")
    lines.append(f"{WORDS['open'][lang]}: {base_url}{d.link}")
    return lines


def _queue(session: Session, user: User, subject: str, body: str, lang: str, now: datetime) -> None:
    address = user.email or ""
    if any(ch < " " or ch == "\x7f" for ch in address):
        log.warning("user %s has an e-mail address with control characters; not mailed", user.username)
        return
    subject = " ".join(subject.split())  # a name with a line break must not become a header of its own
    session.add(
        MailMessage(
            user_id=user.id,
            to_addr=address,
            subject=subject[:300],
            body=body,
            language=lang,
            status="pending",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
    )


def queue_immediate(session: Session, rt: Any, told: list[Told], now: datetime) -> int:
    """One mail per immediate notification, for users with an address, when mail is set up."""
    queued = 0
    settings = rt.settings
    for item in told:
        note, user = item.notification, item.user
        if note.delivery != "immediate":
            continue
        note.mailed_at = now
        if not (settings.smtp_url and user.email):
            continue
        lang = language_of(user)
        d = describe(session, rt.engine, note, lang, settings.zone)
        body = [WORDS["greeting"][lang].format(name=user.online_name or user.full_name or user.username), ""]
        body += _lines(d, lang, settings.base_url)
        body += ["", WORDS["footer"][lang].format(url=settings.base_url)]
        _queue(session, user, d.title, "\n".join(body) + "\n", lang, now)
        queued += 1
    return queued


def queue_digests(session: Session, rt: Any, now: datetime) -> int:
    """One mail per user gathering every digest notification not mailed yet."""
    settings = rt.settings
    waiting = session.execute(
        select(Notification)
        .where(Notification.delivery == "digest", Notification.mailed_at.is_(None))
        .order_by(Notification.user_id, Notification.id)
        .with_for_update(skip_locked=True)
    ).scalars()
    by_user: dict[int, list[Notification]] = defaultdict(list)
    for note in waiting:
        by_user[note.user_id].append(note)
    sent = 0
    for user_id, notes in by_user.items():
        for note in notes:
            note.mailed_at = now
        user = session.get(User, user_id)
        if user is None or not user.active or not (settings.smtp_url and user.email):
            continue
        lang = language_of(user)
        body = [WORDS["greeting"][lang].format(name=user.online_name or user.full_name or user.username), ""]
        for note in notes:
            body += _lines(describe(session, rt.engine, note, lang, settings.zone), lang, settings.base_url)
            body.append("")
        body.append(WORDS["footer"][lang].format(url=settings.base_url))
        _queue(session, user, WORDS["digest"][lang].format(n=len(notes)), "\n".join(body) + "\n", lang, now)
        sent += 1
    session.flush()
    return sent


# -- sending ----------------------------------------------------------------------------------


def backoff(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min, ... capped at an hour."""
    return timedelta(seconds=min(30 * 2 ** max(attempts - 1, 0), 3600))


def _connect(url: str, timeout: float) -> smtplib.SMTP:
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    if parts.scheme == "smtps":
        smtp: smtplib.SMTP = smtplib.SMTP_SSL(
            host, parts.port or 465, timeout=timeout, context=ssl.create_default_context()
        )
    else:
        smtp = smtplib.SMTP(host, parts.port or 25, timeout=timeout)
    if parts.username:
        smtp.login(unquote(parts.username), unquote(parts.password or ""))
    return smtp


def send_pending(
    factory: sessionmaker[Session], settings: Any, now: datetime, limit: int = 50, timeout: float = 10.0
) -> dict[str, int]:
    """Send what is due in the outbox, one claimed message per transaction."""
    counts = {"sent": 0, "retry": 0, "failed": 0}
    if not settings.smtp_url:
        return counts
    smtp: smtplib.SMTP | None = None
    handled: set[int] = set()
    try:
        for _ in range(limit):
            with session_scope(factory) as session:
                query = (
                    select(MailMessage)
                    .where(MailMessage.status == "pending", MailMessage.next_attempt_at <= now)
                    .order_by(MailMessage.next_attempt_at, MailMessage.id)
                    .limit(1)
                    .with_for_update(skip_locked=True)
                )
                if handled:
                    query = query.where(MailMessage.id.not_in(handled))
                mail = session.execute(query).scalars().first()
                if mail is None:
                    break
                handled.add(mail.id)
                message = EmailMessage()
                message["From"] = settings.mail_from
                message["To"] = mail.to_addr
                message["Subject"] = mail.subject
                message["Content-Language"] = mail.language
                message.set_content(mail.body)
                mail.attempts += 1
                try:
                    if smtp is None:
                        smtp = _connect(settings.smtp_url, timeout)
                    smtp.send_message(message)
                except ValueError as exc:  # a message no server will take: do not try again
                    mail.status, mail.last_error = "failed", f"ValueError: {exc}"[:1000]
                    counts["failed"] += 1
                    continue
                except (OSError, smtplib.SMTPException) as exc:
                    smtp = None  # the rest wait for the next pass: the server is down or refusing
                    mail.last_error = f"{type(exc).__name__}: {exc}"[:1000]
                    if mail.attempts >= MAX_ATTEMPTS:
                        mail.status = "failed"
                        counts["failed"] += 1
                    else:
                        mail.next_attempt_at = now + backoff(mail.attempts)
                        counts["retry"] += 1
                    log.warning("mail %s to %s not sent: %s", mail.id, mail.to_addr, mail.last_error)
                    break
                else:
                    mail.status = "sent"
                    mail.sent_at = now
                    counts["sent"] += 1
    finally:
        if smtp is not None:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                smtp.quit()
    return counts
