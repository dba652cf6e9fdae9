"""Celery workers on a real Redis, with real worker processes: the outbox leaves through them, and a
worker killed in the middle of a job loses and doubles nothing."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from engine.db import session_scope
from engine.models_notify import MailMessage
from engine.settings import Settings
from tests.flow_coverage import ROOT
from tests.test_mail import free_port

REDIS = "redis://127.0.0.1:6379/9"


def redis_or_skip() -> None:
    import redis

    try:
        redis.Redis.from_url(REDIS, socket_timeout=1).ping()
    except Exception as exc:  # noqa: BLE001 - any failure means "not here"
        why = f"Redis not reachable at {REDIS}: {exc}"
        if os.environ.get("MUTU_REQUIRE_POSTGRES") == "1":  # CI: .ci/run starts Redis beside PostgreSQL
            pytest.fail(why)
        pytest.skip(why)


class SlowFirstInbox:
    """Holds the first conversation long enough to kill the worker in it; takes the rest at once."""

    def __init__(self, hold: float) -> None:
        self.hold, self.calls, self.messages = hold, 0, []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802 - aiosmtpd's hook
        self.calls += 1
        if self.calls == 1:
            await asyncio.sleep(self.hold)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook
        self.messages.append(envelope.content)
        return "250 OK"


def worker_env(db_url: str, workflows: Path, **extra: str) -> tuple[str, dict[str, str]]:
    """A queue of the test's own and the environment a worker on it runs with."""
    queue = f"mutu-test-{os.getpid()}-{time.time_ns()}"
    env = {
        **os.environ,
        "MUTU_DATABASE_URL": db_url,
        "MUTU_SECRET_KEY": "worker-test",
        "MUTU_BROKER_URL": REDIS,
        "MUTU_BROKER_QUEUE": queue,
        "MUTU_WORKFLOWS_DIR": str(workflows),
        **extra,
    }
    return queue, env


def start_worker(env: dict[str, str], queue: str) -> subprocess.Popen:
    args = [sys.executable, "-m", "celery", "-A", "engine.worker", "worker", "--pool", "solo", "-Q", queue,
            "--loglevel", "WARNING", "--without-gossip", "--without-mingle", "--without-heartbeat"]  # fmt: skip
    return subprocess.Popen(args, cwd=ROOT, env=env)


def stop_workers(*procs: subprocess.Popen | None) -> None:
    for proc in procs:
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


def wait_for(check, seconds: float = 40.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return False


@pytest.mark.parametrize("committed_db", ["sqlite"], indirect=True)
def test_a_worker_killed_in_the_middle_of_sending_loses_and_doubles_nothing(committed_db, tmp_path: Path):
    redis_or_skip()
    inbox = SlowFirstInbox(hold=8.0)
    smtp = Controller(inbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    queue, env = worker_env(
        committed_db.url, ROOT / "workflows",
        MUTU_SMTP_URL=f"smtp://127.0.0.1:{smtp.port}", MUTU_BROKER_VISIBILITY_SECONDS="3",
    )  # fmt: skip
    now = datetime.now(UTC)
    with session_scope(committed_db.sessions) as session:
        session.add(
            MailMessage(
                to_addr="qmr@mutu.example", subject="Tugas untuk Anda: Triase", body="isi", language="id",
                status="pending", attempts=0, next_attempt_at=now, created_at=now,
            )
        )  # fmt: skip
    settings = Settings.from_env(
        {}, database_url=committed_db.url, secret_key="t", broker_url=REDIS, broker_queue=queue,
        broker_visibility_seconds=3,
    )  # fmt: skip
    from engine import worker

    first = start_worker(env, queue)
    second = None
    try:
        worker.enqueue("notifications", settings)
        assert wait_for(lambda: inbox.calls >= 1), "the worker never reached the mail server"
        first.send_signal(signal.SIGKILL)  # in the middle of the job: the mail is on the wire
        first.wait(10)
        with session_scope(committed_db.sessions) as session:
            [mail] = session.execute(select(MailMessage)).scalars()
            assert mail.status == "pending" and mail.attempts == 0  # its transaction went with it
        second = start_worker(env, queue)  # the unacknowledged job comes back to this one
        assert wait_for(lambda: len(inbox.messages) == 1), "the job was not given to the new worker"
        with session_scope(committed_db.sessions) as session:
            [mail] = session.execute(select(MailMessage)).scalars()
            assert mail.status == "sent" and mail.attempts == 1
        worker.enqueue("notifications", settings)  # the same job again: nothing more leaves
        time.sleep(2)
        assert len(inbox.messages) == 1
    finally:
        stop_workers(first, second)
        smtp.stop()


def test_the_scheduler_hands_the_work_over_when_a_broker_is_set(committed_db):  # type: ignore[no-untyped-def]
    from engine.scheduler import periodic_job_definitions

    settings = Settings.from_env({}, database_url=committed_db.url, secret_key="t", broker_url=REDIS)
    runtime = type("Rt", (), {"settings": settings})()
    jobs = {j.id: j for j in periodic_job_definitions(runtime)}  # type: ignore[arg-type]
    assert jobs["notifications"].func.__name__ == "hand_over" and jobs["digests"].func.__name__ == "hand_over"
    assert jobs["fire-due-timers"].func.__name__ == "tick"  # timers stay with the scheduler's watch


@pytest.mark.parametrize("committed_db", ["sqlite"], indirect=True)
def test_a_worker_builds_an_evidence_pack_off_the_web_workers(committed_db, tmp_path: Path):  # type: ignore[no-untyped-def]
    redis_or_skip()
    from engine import packs, worker
    from engine.models_records import EvidencePack
    from tests.conftest import make_user

    queue, env = worker_env(committed_db.url, ROOT / "workflows", MUTU_UPLOAD_DIR=str(tmp_path / "uploads"))
    with session_scope(committed_db.sessions) as session:
        qc = make_user(session, "qc.worker", "quality_control")
        first, last = packs.period_bounds("2026-01", None, None)
        pack_id = packs.request(session, qc, first, last, None, None, "id", datetime.now(UTC)).id
    settings = Settings.from_env(
        {}, database_url=committed_db.url, secret_key="t", broker_url=REDIS, broker_queue=queue
    )
    proc = start_worker(env, queue)
    try:
        worker.enqueue("evidence_packs", settings)

        def built() -> bool:
            with session_scope(committed_db.sessions) as session:
                return session.get(EvidencePack, pack_id).status == "done"

        assert wait_for(built), "the worker did not build the pack"
        with session_scope(committed_db.sessions) as session:
            pack = session.get(EvidencePack, pack_id)
            assert pack.sha256 and pack.size and pack.progress == 100
    finally:
        stop_workers(proc)


PORTAL = '''"""A supplier portal that hangs while the hold file exists (the test kills the worker in it)."""

import os
import time
from pathlib import Path


def portal_price(binding, params):
    with open(os.environ["MUTU_TEST_PORTAL_LOG"], "a", encoding="utf-8") as log:
        log.write(params["name"] + "\\n")
    hold = Path(os.environ["MUTU_TEST_PORTAL_HOLD"])
    deadline = time.monotonic() + 60
    while hold.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    return {"price": 1200}


OPERATORS = {"portal_price": portal_price}
'''


def portal_setting(
    db_url: str, tmp_path: Path, process: str
) -> tuple[str, dict[str, str], Settings, Path, Path]:
    """A workflows folder whose ``process`` has the hanging portal, a held hold file, a worker's
    queue and environment, and the settings of this side: (queue, env, settings, calls, hold)."""
    folder = tmp_path / "workflows" / process
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "operators.py").write_text(PORTAL, encoding="utf-8")
    calls, hold = tmp_path / "calls.log", tmp_path / "hold"
    hold.touch()
    queue, env = worker_env(
        db_url, tmp_path / "workflows", MUTU_BROKER_VISIBILITY_SECONDS="3",
        MUTU_TEST_PORTAL_LOG=str(calls), MUTU_TEST_PORTAL_HOLD=str(hold),
    )  # fmt: skip
    settings = Settings.from_env(
        {}, database_url=db_url, secret_key="t", broker_url=REDIS, broker_queue=queue,
        broker_visibility_seconds=3, workflows_dir=tmp_path / "workflows",
    )  # fmt: skip
    return queue, env, settings, calls, hold


@pytest.mark.parametrize("committed_db", ["sqlite", "postgres"], indirect=True)
def test_a_worker_killed_in_an_asynchronous_service_call_completes_it_once_after(
    committed_db, tmp_path: Path
):  # type: ignore[no-untyped-def]
    redis_or_skip()
    import json

    from engine import worker
    from engine.context import build_runtime
    from engine.deploy import SourceFile
    from engine.models import ServiceJob
    from tests.conftest import make_people
    from tests.helpers import open_tasks, task_by_bpmn
    from tests.test_service_jobs import ASYNC, FILL

    (tmp_path / "workflows" / "async_call" / "forms").mkdir(parents=True)
    (tmp_path / "workflows" / "async_call" / "forms" / "fill.json").write_text(
        json.dumps(FILL), encoding="utf-8"
    )
    queue, env, settings, calls, hold = portal_setting(committed_db.url, tmp_path, "async_call")
    rt = build_runtime(settings)
    with session_scope(rt.sessions) as session:
        people = make_people(session)
        xml = ASYNC.format(key="async_call", operator="portal_price")
        rt.engine.deploy(session, [SourceFile("async_call.bpmn", xml.encode())])
        inst_id = rt.engine.start(session, "async_call", people.qc).instance.id
        fill = task_by_bpmn(session, inst_id, "fill").id
        rt.engine.complete(session, fill, people.qc, {"supplier": "PT Sinar"})

    def job() -> ServiceJob:
        with session_scope(rt.sessions) as session:
            row = session.execute(select(ServiceJob).where(ServiceJob.instance_id == inst_id)).scalar_one()
            session.expunge(row)
            return row

    def lines() -> list[str]:
        return calls.read_text(encoding="utf-8").splitlines() if calls.exists() else []

    first = start_worker(env, queue)
    second = None
    try:
        worker.enqueue("service_tasks", settings)
        assert wait_for(lambda: len(lines()) == 1), (
            f"the worker never called the portal: {vars(job())} {lines()} {hold.exists()}"
        )
        first.send_signal(signal.SIGKILL)  # in the middle of the call
        first.wait(10)
        assert (job().status, job().attempts) == ("waiting", 0)  # its transaction went with it
        hold.unlink()
        second = start_worker(env, queue)  # the unacknowledged job comes back to this one
        assert wait_for(lambda: job().status == "done"), "the job was not given to the new worker"
        assert job().attempts == 1 and lines() == ["PT Sinar", "PT Sinar"]
        worker.enqueue("service_tasks", settings)  # the same job again: no third call
        time.sleep(2)
        assert len(lines()) == 2
        with session_scope(rt.sessions) as session:
            assert [t.bpmn_id for t in open_tasks(session, inst_id)] == ["check"]
    finally:
        stop_workers(first, second)
        rt.db.dispose()


INTAKE = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d_in" targetNamespace="http://x">
  <bpmn:message id="m_in" name="complaint_received" />
  <bpmn:process id="complaint_intake" isExecutable="true">
    <bpmn:startEvent id="got_it"><bpmn:outgoing>f1</bpmn:outgoing><bpmn:messageEventDefinition messageRef="m_in" /></bpmn:startEvent>
    <bpmn:serviceTask id="ask" name="Ask the portal">
      <bpmn:extensionElements>
        <spiffworkflow:serviceTaskOperator id="portal_price" resultVariable="answer">
          <spiffworkflow:parameters><spiffworkflow:parameter id="name" type="any" value="channel" /></spiffworkflow:parameters>
        </spiffworkflow:serviceTaskOperator>
      </bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:serviceTask>
    <bpmn:manualTask id="read_it" name="Read it"><bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing></bpmn:manualTask>
    <bpmn:endEvent id="e"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="got_it" targetRef="ask" />
    <bpmn:sequenceFlow id="f2" sourceRef="ask" targetRef="read_it" />
    <bpmn:sequenceFlow id="f3" sourceRef="read_it" targetRef="e" />
  </bpmn:process>
</bpmn:definitions>
"""


@pytest.mark.parametrize("committed_db", ["sqlite", "postgres"], indirect=True)
def test_a_worker_killed_while_delivering_a_message_leaves_one_receiving_case_after(
    committed_db, tmp_path: Path
):  # type: ignore[no-untyped-def]
    """The receiver's first step hangs in a portal call; the worker dies there, the next delivers."""
    redis_or_skip()
    from engine import worker
    from engine.context import build_runtime
    from engine.deploy import SourceFile
    from engine.models import MessageJob, ProcessInstance
    from tests.conftest import DATA, make_people
    from tests.helpers import open_tasks

    queue, env, settings, calls, hold = portal_setting(committed_db.url, tmp_path, "complaint_intake")
    rt = build_runtime(settings)
    sender_xml = (DATA / "constructs" / "message_sender.bpmn").read_bytes()
    with session_scope(rt.sessions) as session:
        admin = make_people(session).admin
        rt.engine.deploy(
            session, [SourceFile("intake.bpmn", INTAKE.encode()), SourceFile("sender.bpmn", sender_xml)]
        )
        sender = rt.engine.start(session, "complaint_desk", admin, {}).instance.id

    def state() -> tuple[str, int, list[int]]:
        with session_scope(rt.sessions) as session:
            job = session.execute(select(MessageJob).where(MessageJob.sender_id == sender)).scalar_one()
            intakes = session.execute(
                select(ProcessInstance.id).where(ProcessInstance.process_key == "complaint_intake")
            ).scalars()
            return job.status, job.attempts, list(intakes)

    def lines() -> list[str]:
        return calls.read_text(encoding="utf-8").splitlines() if calls.exists() else []

    assert state() == ("waiting", 0, [])  # the sender's step only queued it
    first = start_worker(env, queue)
    second = None
    try:
        worker.enqueue("messages", settings)
        assert wait_for(lambda: len(lines()) == 1), f"the worker never started the receiver: {state()}"
        first.send_signal(signal.SIGKILL)  # inside the receiving case's first step
        first.wait(10)
        assert state() == ("waiting", 0, [])  # its transaction went with it: no half-started case
        hold.unlink()
        second = start_worker(env, queue)  # the unacknowledged job comes back to this one
        assert wait_for(lambda: state()[0] == "done"), f"the message was not delivered after: {state()}"
        status, attempts, intakes = state()
        assert attempts == 1 and len(intakes) == 1 and lines() == ["147", "147"]
        worker.enqueue("messages", settings)  # the same job again: no second case
        time.sleep(2)
        assert len(state()[2]) == 1
        with session_scope(rt.sessions) as session:
            assert [t.bpmn_id for t in open_tasks(session, intakes[0])] == ["read_it"]
    finally:
        stop_workers(first, second)
        rt.db.dispose()
