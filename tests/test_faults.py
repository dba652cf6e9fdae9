"""Faults: a database that does not answer or is behind is a 503 with Retry-After, never a 500."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from engine.clock import ManualClock
from engine.context import Runtime
from engine.db import make_engine, make_session_factory
from engine.migrate import head_revision, upgrade
from engine.registry import load_registry
from engine.runtime import ProcessEngine
from engine.settings import Settings
from tests.flow_coverage import ROOT
from web import create_app


def app_on(url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    settings = Settings.from_env(
        {}, database_url=url, secret_key="test", upload_dir=tmp_path / "up", secure_cookies=False
    )
    db = make_engine(url)
    runtime = Runtime(
        settings,
        db,
        make_session_factory(db),
        ProcessEngine(load_registry(ROOT / "workflows"), ManualClock()),
    )
    app = create_app(runtime=runtime)
    app.config.update(TESTING=True)
    return app, db


def test_healthz_tells_ready_from_alive(web):  # type: ignore[no-untyped-def]
    client = web.app.test_client()
    ready = client.get("/healthz")
    assert ready.status_code == 200 and ready.get_json() == {
        "status": "ok", "alive": True, "ready": True, "schema": head_revision()
    }  # fmt: skip
    assert client.get("/healthz/live").get_json() == {"status": "alive", "alive": True}


def test_a_database_behind_the_code_is_not_ready(tmp_path):  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    upgrade(make_engine(url), "0010")
    app, db = app_on(url, tmp_path)
    response = app.test_client().get("/healthz")
    assert response.status_code == 503 and response.headers["Retry-After"] == "30"
    assert f"code needs {head_revision()}" in response.get_json()["reason"]
    assert app.test_client().get("/healthz/live").status_code == 200
    db.dispose()


@pytest.mark.parametrize("url", ["postgresql+psycopg://postgres@127.0.0.1:1/nothing"])
def test_a_database_that_does_not_answer_is_a_503_with_retry_after(url, tmp_path):  # type: ignore[no-untyped-def]
    app, db = app_on(url, tmp_path)
    client = app.test_client()
    health = client.get("/healthz")
    assert health.status_code == 503 and health.headers["Retry-After"] == "2"
    assert health.get_json()["ready"] is False and "refused" in health.get_json()["reason"].lower()
    token = client.post("/api/v1/token", json={"username": "qmr", "password": "x" * 12})
    assert token.status_code == 503 and token.headers["Retry-After"] == "2"
    assert token.get_json()["error"]["code"] == "unavailable"
    page = client.get("/login")
    csrf = page.get_data(as_text=True).split('name="csrf_token" value="')[1].split('"')[0]
    signin = client.post("/login", data={"csrf_token": csrf, "username": "qmr", "password": "x" * 12})
    assert signin.status_code == 503 and "Basis data tidak menjawab" in signin.get_data(as_text=True)
    db.dispose()


def test_a_retried_start_or_completion_with_its_key_gets_the_first_answer(web):  # type: ignore[no-untyped-def]
    from sqlalchemy import func, select

    from engine.models import ProcessInstance
    from tests.test_api import REPORT, api_for

    qc = api_for(web, "qc")
    key = {"Idempotency-Key": "start-7f3a"}

    def call(method, url, body, headers):  # type: ignore[no-untyped-def]
        return qc.c.open(
            "/api/v1" + url,
            method=method,
            json=body,
            headers={**headers, "Authorization": f"Bearer {qc.token}"},
        )

    first = call("POST", "/processes/nonconformity/start", {"data": REPORT}, key)
    again = call("POST", "/processes/nonconformity/start", {"data": REPORT}, key)
    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json() and again.headers["Idempotent-Replayed"] == "true"
    with web.session() as s:
        assert s.execute(select(func.count()).select_from(ProcessInstance)).scalar_one() == 1
    other = call("POST", "/processes/nonconformity/start", {"data": REPORT}, {"Idempotency-Key": "start-8b"})
    assert other.status_code == 201 and other.get_json()["instance_id"] != first.get_json()["instance_id"]
    qmr = api_for(web, "qmr")
    task_id = next(t["id"] for t in first.get_json()["new_tasks"] if t["bpmn_id"] == "nc_triage")
    body = {"data": {"is_nonconformity": True, "impact": "sedang", "repeated": False}}
    headers = {"Authorization": f"Bearer {qmr.token}", "Idempotency-Key": "done-1"}
    done = qmr.c.post(f"/api/v1/tasks/{task_id}/complete", json=body, headers=headers)
    retried = qmr.c.post(f"/api/v1/tasks/{task_id}/complete", json=body, headers=headers)
    assert done.status_code == retried.status_code == 200 and retried.get_json() == done.get_json()
    unkeyed = qmr.c.post(
        f"/api/v1/tasks/{task_id}/complete", json=body, headers={"Authorization": f"Bearer {qmr.token}"}
    )
    assert unkeyed.status_code == 409  # without a key a repeat is the conflict it is
    reused = qmr.c.post("/api/v1/processes/nonconformity/start", json={"data": REPORT}, headers=headers)
    assert reused.status_code == 422 and reused.get_json()["error"]["code"] == "idempotency_key_reused"
    bad = qmr.c.post(
        f"/api/v1/tasks/{task_id}/complete", json=body, headers={**headers, "Idempotency-Key": "é"}
    )
    assert bad.status_code == 400


def test_a_key_a_parallel_retry_stored_during_the_step_is_answered_with_that_answer(web):  # type: ignore[no-untyped-def]
    from sqlalchemy import func, insert, select

    from engine.idempotency import IdempotencyKey
    from engine.models import ProcessInstance, User
    from tests.test_api import REPORT, api_for

    if web.runtime.db.dialect.name != "postgresql":
        pytest.skip("SQLite lets one writer in at a time: no retry can store its key during a step")
    qc = api_for(web, "qc")
    first = {"instance_id": 999, "new_tasks": []}  # what the parallel retry answered

    def parallel_retry(event, _info):  # type: ignore[no-untyped-def]
        if event != "written":
            return
        web.runtime.engine.hook = None
        with web.runtime.db.begin() as other:  # its own transaction, committed before ours
            user_id = other.execute(select(User.id).where(User.username == "qc")).scalar_one()
            other.execute(
                insert(IdempotencyKey.__table__).values(
                    user_id=user_id,
                    key="start-race",
                    request="POST /api/v1/processes/nonconformity/start",
                    status=201,
                    body=first,
                    created_at=web.runtime.engine.clock.now(),
                )
            )

    web.runtime.engine.hook = parallel_retry
    answer = qc.c.post(
        "/api/v1/processes/nonconformity/start",
        json={"data": REPORT},
        headers={"Authorization": f"Bearer {qc.token}", "Idempotency-Key": "start-race"},
    )
    assert answer.status_code == 201 and answer.get_json() == first
    assert answer.headers["Idempotent-Replayed"] == "true"
    with web.session() as s:  # this request's own start was rolled back with its key
        assert s.execute(select(func.count()).select_from(ProcessInstance)).scalar_one() == 0


def test_metrics_count_steps_and_read_incidents_and_the_outbox(web):  # type: ignore[no-untyped-def]
    from tests.test_api import REPORT, api_for

    qc = api_for(web, "qc")
    assert qc.call("POST", "/processes/nonconformity/start", {"data": REPORT}).status_code == 201
    client = web.app.test_client()
    scraped = client.get("/metrics")
    assert scraped.status_code == 200 and scraped.mimetype == "text/plain"
    text = scraped.get_data(as_text=True)
    assert 'mutu_steps_total{outcome="ok",process="nonconformity"}' in text
    assert "mutu_step_seconds_bucket" in text and "mutu_timer_lag_seconds_count" in text
    assert "mutu_open_incidents 0.0" in text and 'mutu_outbox_depth{kind="notification_event"}' in text
    assert 'mutu_outbox_depth{kind="service_job"} 0.0' in text
    assert 'mutu_outbox_depth{kind="message_job"} 0.0' in text
    assert "mutu_signin_failures_total" in text
    away = client.get("/metrics", environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert away.status_code == 403


def test_metrics_from_elsewhere_need_the_token(committed_db, tmp_path):  # type: ignore[no-untyped-def]
    from engine.clock import ManualClock
    from engine.context import Runtime
    from engine.registry import load_registry
    from engine.runtime import ProcessEngine
    from engine.settings import Settings
    from tests.flow_coverage import ROOT
    from web import create_app

    settings = Settings.from_env(
        {},
        database_url=committed_db.url,
        secret_key="t",
        metrics_token="scrape-me-please",
        secure_cookies=False,
    )
    engine = ProcessEngine(load_registry(ROOT / "workflows"), ManualClock())
    app = create_app(runtime=Runtime(settings, committed_db.engine, committed_db.sessions, engine))
    client = app.test_client()
    elsewhere = {"REMOTE_ADDR": "10.1.2.3"}
    assert client.get("/metrics", environ_base=elsewhere).status_code == 401
    wrong = client.get("/metrics", environ_base=elsewhere, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    right = client.get(
        "/metrics", environ_base=elsewhere, headers={"Authorization": "Bearer scrape-me-please"}
    )
    assert right.status_code == 200 and "mutu_open_tasks" in right.get_data(as_text=True)


def test_each_request_has_an_id_and_json_logs_carry_request_user_and_case(web, caplog):  # type: ignore[no-untyped-def]
    import json
    import logging

    from engine import logs

    client = web.client("qmr")
    echoed = client.get("/inbox", headers={"X-Request-Id": "lb-7f3a-01"})
    assert echoed.headers["X-Request-Id"] == "lb-7f3a-01"
    fresh = client.get("/inbox", headers={"X-Request-Id": "bad id; with <script>"})
    assert len(fresh.headers["X-Request-Id"]) == 16 and "<" not in fresh.headers["X-Request-Id"]
    with caplog.at_level(logging.INFO, logger="mutu.request"):
        client.get("/cases/999999", headers={"X-Request-Id": "case-probe"})
    [record] = [r for r in caplog.records if getattr(r, "path", None) == "/cases/999999"]
    logs.ContextFilter().filter(record)
    line = json.loads(logs.JsonFormatter().format(record))
    assert line["request_id"] == "case-probe" and line["user"] == "qmr" and line["case"] == 999999
    assert line["status"] == 404 and line["method"] == "GET" and line["level"] == "info"


def test_metrics_through_a_proxy_on_this_machine_are_not_local(web):  # type: ignore[no-untyped-def]
    client = web.app.test_client()
    assert client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 403


def test_a_transaction_lost_with_the_database_mid_flush_is_a_503_not_a_500(web):  # type: ignore[no-untyped-def]
    """Seen in bench/load.py --restart-db: a flush failed as PostgreSQL restarted, and the next
    use of the session raised PendingRollbackError; nothing was written, so it is a retry."""
    from sqlalchemy.exc import PendingRollbackError

    def lost():  # type: ignore[no-untyped-def]
        raise PendingRollbackError(
            "This Session's transaction has been rolled back due to a previous exception"
        )

    web.app.add_url_rule("/test-lost-transaction", "lost_transaction", lost)
    answer = web.client("qmr").get("/test-lost-transaction")
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "2"


def test_a_connection_cut_under_a_signed_in_user_is_a_503_that_asks_the_database_nothing(web):  # type: ignore[no-untyped-def]
    """Seen in bench/load.py --restart-db: the error page's words asked the broken session for
    the user's language, which raised again inside the handler and made the 503 a 500."""
    from flask_login import current_user
    from sqlalchemy import create_engine
    from sqlalchemy.exc import IntegrityError, OperationalError

    from engine.models import CaseRecord
    from web import core

    def cut():  # type: ignore[no-untyped-def]
        db = core.db()
        db.expire(current_user._get_current_object())  # as a rolled-back flush leaves it
        db.add(CaseRecord(instance_id=-1))  # a flush that fails leaves the session pending rollback
        with contextlib.suppress(IntegrityError):
            db.flush()
        db.bind = create_engine("postgresql+psycopg://nobody@127.0.0.1:9/gone")  # and the server is away
        raise OperationalError(
            "SELECT 1", {}, Exception("terminating connection due to administrator command")
        )

    web.app.add_url_rule("/test-connection-cut", "connection_cut", cut)
    answer = web.client("qmr").get("/test-connection-cut")
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "2"
    assert "Basis data tidak menjawab" in answer.get_data(as_text=True) or answer.is_json
