"""Mail through a real SMTP server started here: both languages, the digest, a broken server."""

from __future__ import annotations

import socket
from datetime import timedelta
from email import message_from_bytes
from email.policy import default as default_policy
from types import SimpleNamespace

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from engine import scheduler
from engine.db import session_scope
from engine.models import User
from engine.models_notify import MailMessage
from engine.runtime import ProcessEngine
from engine.settings import Settings
from tests.conftest import make_people, review_files
from tests.helpers import task_by_bpmn
from tests.test_timers import RAISE


class Inbox:
    def __init__(self) -> None:
        self.messages: list = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        self.messages.append(message_from_bytes(envelope.original_content, policy=default_policy))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp():  # type: ignore[no-untyped-def]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield SimpleNamespace(inbox=inbox, url=f"smtp://127.0.0.1:{controller.port}", controller=controller)
    controller.stop()


def make_rt(committed_db, registry, clock, smtp_url: str):  # type: ignore[no-untyped-def]
    settings = Settings.from_env(
        {}, database_url=committed_db.url, secret_key="test", smtp_url=smtp_url, mail_from="mutu@mutu.example"
    )
    engine = ProcessEngine(registry, clock, script_timeout=1.0)
    return SimpleNamespace(sessions=committed_db.sessions, engine=engine, settings=settings)


def raise_finding(rt, language: str = "en", assign: bool = True):  # type: ignore[no-untyped-def]
    with session_scope(rt.sessions) as session:
        people = make_people(session)
        for user in session.execute(select(User)).unique().scalars():
            user.email = f"{user.username}@mutu.example"
        people.qmr.language = language
        rt.engine.deploy(session, review_files())
        inst = rt.engine.start(session, "review", people.qc).instance
        rt.engine.complete(session, task_by_bpmn(session, inst.id, "raise").id, people.qc, RAISE)
        triage = task_by_bpmn(session, inst.id, "triage")
        if assign:
            rt.engine.assign(session, triage.id, people.admin, people.qmr)
        return inst.id, triage.id


@pytest.mark.parametrize("language", ["en", "id"])
def test_a_task_given_to_me_is_mailed_in_my_language(committed_db, registry, clock, smtp, language):
    rt = make_rt(committed_db, registry, clock, smtp.url)
    _, triage_id = raise_finding(rt, language)
    result = scheduler.notifications(rt)
    assert result["sent"] >= 1
    to_qmr = [m for m in smtp.inbox.messages if m["To"] == "qmr@mutu.example"]
    [mail] = to_qmr  # the queue events found the task already held: only the assignment
    subject = {"en": "A task for you: ", "id": "Tugas untuk Anda: "}[language]
    assert mail["Subject"].startswith(subject)
    assert mail["From"] == "mutu@mutu.example"
    body = mail.get_content()
    assert f"http://127.0.0.1:5000/tasks/{triage_id}" in body
    assert ("Hello" in body) == (language == "en") and ("Halo" in body) == (language == "id")
    assert scheduler.notifications(rt)["sent"] == 0  # nothing twice


def test_the_daily_digest_gathers_the_queue_in_one_mail(committed_db, registry, clock, smtp):
    rt = make_rt(committed_db, registry, clock, smtp.url)
    raise_finding(rt, "id", assign=False)
    result = scheduler.notifications(rt)  # triage waits in the QMR's queue: for the digest
    assert result["told"] == 1 and result["sent"] == 0
    result = scheduler.digests(rt)
    assert result["digests"] == 1
    [mail] = smtp.inbox.messages
    assert mail["To"] == "qmr@mutu.example"
    assert mail["Subject"] == "Ringkasan harian Mutu: 1 pemberitahuan"
    assert "Tugas baru di antrean peran Anda" in mail.get_content()
    assert scheduler.digests(rt)["digests"] == 0


def test_a_broken_mail_server_slows_no_step_and_the_mail_leaves_later(committed_db, registry, clock, smtp):
    port = free_port()  # nobody listens here
    rt = make_rt(committed_db, registry, clock, f"smtp://127.0.0.1:{port}")
    raise_finding(rt)
    result = scheduler.notifications(rt)
    assert result["sent"] == 0 and result["retry"] == 1
    with session_scope(rt.sessions) as session:
        pending = list(session.execute(select(MailMessage).where(MailMessage.status == "pending")).scalars())
        assert pending and all(m.next_attempt_at >= clock.now() for m in pending)
        [tried] = [m for m in pending if m.attempts == 1]
        assert tried.next_attempt_at == clock.now() + timedelta(seconds=30)
        assert "Connection" in (tried.last_error or "") or "refused" in (tried.last_error or "")
    # The server comes back: the next pass after the wait sends everything, once.
    rt.settings = Settings.from_env(
        {}, database_url=committed_db.url, secret_key="test", smtp_url=smtp.url, mail_from="mutu@mutu.example"
    )
    clock.advance(timedelta(seconds=31))
    result = scheduler.notifications(rt)
    assert result["sent"] == len(pending) and result["retry"] == 0
    assert [m["To"] for m in smtp.inbox.messages].count("qmr@mutu.example") == 1


def test_after_its_last_attempt_a_mail_is_kept_as_failed(committed_db, registry, clock):
    from engine import mail

    rt = make_rt(committed_db, registry, clock, f"smtp://127.0.0.1:{free_port()}")
    raise_finding(rt)
    scheduler.notifications(rt)
    for _ in range(mail.MAX_ATTEMPTS + 2):
        clock.advance(timedelta(hours=1, seconds=1))
        mail.send_pending(rt.sessions, rt.settings, clock.now(), timeout=2)
    with session_scope(rt.sessions) as session:
        states = {(m.status, m.attempts) for m in session.execute(select(MailMessage)).scalars()}
    assert states == {("failed", mail.MAX_ATTEMPTS)}


def test_without_a_mail_server_set_nothing_is_queued(committed_db, registry, clock):
    rt = make_rt(committed_db, registry, clock, "")
    raise_finding(rt)
    result = scheduler.notifications(rt)
    assert result["told"] >= 1 and result["queued"] == 0
    with session_scope(rt.sessions) as session:
        assert session.execute(select(MailMessage)).first() is None


def test_a_line_break_in_a_name_never_becomes_a_mail_header(session, people, clock):
    from engine import mail

    people.qmr.email = "qmr@mutu.example"
    mail._queue(
        session, people.qmr, "Tugas untuk Anda: Triase\nBcc: victim@example.org", "isi", "id", clock.now()
    )
    people.tl.email = "tl@mutu.example\nBcc: victim@example.org"
    mail._queue(session, people.tl, "Tugas", "isi", "id", clock.now())
    session.flush()
    rows = list(session.execute(select(MailMessage)).scalars())
    assert [(m.to_addr, m.subject) for m in rows] == [
        ("qmr@mutu.example", "Tugas untuk Anda: Triase Bcc: victim@example.org")
    ]
