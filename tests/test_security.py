"""The holes an insider and an outsider found, each closed where its rule lives (pages and API alike)."""

from __future__ import annotations

import io
import json
import re
import threading

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from engine.models import AuditEvent, CaseRecord, HumanTask
from engine.models_workspace import Attachment, TaskDraft
from engine.signin import BadCredentials, LoginThrottled, sign_in
from tests.test_api import REPORT, api_for
from tests.test_web import open_task, raise_nc, triaged_and_acknowledged
from tests.web_support import MAJOR_TRIAGE, PASSWORD, PNG

FORGED = {
    "site": "Malang",
    "case_number": "NC-2026-0001",
    "agent_code": "1002",
    "lane_owners": {"Team Leader": ["agent"]},
    "completed_by": {"nc_triage": {"username": "director", "agent_code": "5001"}},
}


def test_submitted_data_is_an_allow_list_of_the_forms_fields(web):  # type: ignore[no-untyped-def]
    qc, qmr, agent = api_for(web, "qc"), api_for(web, "qmr"), api_for(web, "agent")
    first = qc.call("POST", "/processes/nonconformity/start", {"data": REPORT}).get_json()
    # A start that names its own case number is refused, naming the field.
    refused = qc.call(
        "POST", "/processes/nonconformity/start", {"data": {**REPORT, "case_number": first["number"]}}
    )
    assert refused.status_code == 422 and refused.get_json()["error"]["fields"] == {
        "case_number": ["is not a field of this form"]
    }
    triage = next(
        t for t in qmr.call("GET", "/tasks?scope=roles").get_json()["items"] if t["bpmn_id"] == "nc_triage"
    )
    assert qmr.call("POST", f"/tasks/{triage['id']}/complete", {"data": MAJOR_TRIAGE}).status_code == 200
    ack = next(
        t
        for t in agent.call("GET", "/tasks?scope=roles").get_json()["items"]
        if t["bpmn_id"] == "nc_acknowledge"
    )
    forged = agent.call("POST", f"/tasks/{ack['id']}/complete", {"data": {"acknowledged": True, **FORGED}})
    assert forged.status_code == 422
    assert set(forged.get_json()["error"]["fields"]) == set(FORGED)
    # Nothing moved: the case stays at its site with its number, the task still waits.
    case = qmr.call("GET", f"/cases/{first['instance_id']}").get_json()
    assert case["site"] == "Bandung" and case["number"] == first["number"] and case["agent_code"] == "1001"
    assert (
        agent.call("POST", f"/tasks/{ack['id']}/complete", {"data": {"acknowledged": True}}).status_code
        == 200
    )
    history = qmr.call("GET", f"/cases/{first['instance_id']}/history").get_json()["items"]
    done = [e for e in history if e["kind"] == "completed" and e["bpmn_id"] == "nc_acknowledge"]
    assert done[0]["actor"] == "agent" and done[0]["data"]["data"] == {"acknowledged": True}


def test_a_html_form_keeps_only_its_own_fields(web):  # type: ignore[no-untyped-def]
    """The page reads only the fields its form draws; anything else posted is dropped, not stored."""
    qc, qmr = web.client("qc"), web.client("qmr")
    instance_id = raise_nc(qc)
    triage = open_task(web, instance_id, "nc_triage")
    posted = {"f.is_nonconformity": "true", "f.impact": "sedang", "f.repeated": "false"}
    extra = {"f.site": "Malang", "f.case_number": "NC-2026-0099", "f.completed_by": "director"}
    assert qmr.post(f"/tasks/{triage.id}", {**posted, **extra}).status_code == 302
    with web.session() as s:
        case = s.get(CaseRecord, instance_id)
        assert case.site == "Bandung" and case.number == "NC-2026-0001"


def test_case_numbers_are_unique_per_process_in_the_database(web):  # type: ignore[no-untyped-def]
    qc = api_for(web, "qc")
    first = qc.call("POST", "/processes/nonconformity/start", {"data": REPORT}).get_json()
    second = qc.call("POST", "/processes/nonconformity/start", {"data": REPORT}).get_json()
    with web.runtime.sessions() as s, pytest.raises(IntegrityError):
        s.get(CaseRecord, second["instance_id"]).number = first["number"]
        s.commit()


def test_team_leaders_cannot_hand_out_or_release_another_sites_work(web):  # type: ignore[no-untyped-def]
    qc, qmr = web.client("qc"), web.client("qmr")
    instance_id = triaged_and_acknowledged(web, qc, qmr)
    contain = open_task(web, instance_id, "nc_contain")
    bogor = web.client("teamlead.bogor")
    assert bogor.get(f"/tasks/{contain.id}").status_code == 403
    assert bogor.post(f"/tasks/{contain.id}/claim").status_code == 403
    assert bogor.post(f"/tasks/{contain.id}/assign", {"assignee": "teamlead.bogor"}).status_code == 403
    assert qmr.post(f"/tasks/{contain.id}/assign", {"assignee": "teamlead"}).status_code == 302
    assert bogor.post(f"/tasks/{contain.id}/unclaim").status_code == 403
    with web.session() as s:
        row = s.get(HumanTask, contain.id)
        assert row.assignee_id is not None and row.site == "Bandung"
        tl_id = row.assignee_id
    # The API says the same as the pages, since both ask the engine.
    api = api_for(web, "teamlead.bogor")
    assert api.call("POST", f"/tasks/{contain.id}/unclaim").status_code == 403
    assert api.call("GET", "/tasks?scope=roles").get_json()["total"] == 0
    with web.session() as s:
        assert s.get(HumanTask, contain.id).assignee_id == tl_id


def test_overseers_read_a_task_but_do_not_write_to_it(web):  # type: ignore[no-untyped-def]
    qc, qmr = web.client("qc"), web.client("qmr")
    instance_id = triaged_and_acknowledged(web, qc, qmr)
    contain = open_task(web, instance_id, "nc_contain")
    for who in ("qmr", "director", "qc"):
        reader = web.client(who)
        page = reader.get(f"/tasks/{contain.id}")
        assert page.status_code == 200 and 'id="complete" disabled' in page.get_data(as_text=True)
        draft = reader.post(f"/tasks/{contain.id}", {"action": "draft", "f.correction": "bukan tugas saya"})
        assert draft.status_code == 403
        upload = reader.post(
            f"/tasks/{contain.id}",
            {"action": "draft", "f.evidence": (io.BytesIO(PNG), "bukti.png")},
            content_type="multipart/form-data",
        )
        assert upload.status_code == 403
    with web.session() as s:
        assert s.execute(select(func.count()).select_from(TaskDraft)).scalar_one() == 0
        assert s.execute(select(func.count()).select_from(Attachment)).scalar_one() == 0


def test_no_input_gets_a_server_error(web):  # type: ignore[no-untyped-def]
    qc, qmr = web.client("qc"), web.client("qmr")
    api = api_for(web, "qmr")
    instance_id = raise_nc(qc)
    huge = "99999999999999999999"
    for url in (
        f"/cases/{huge}",
        "/cases/3000000000",
        f"/tasks/{huge}",
        f"/files/{huge}",
        f"/cases/{huge}/diagram",
    ):
        assert qmr.get(url).status_code == 404, url
    for url in (f"/cases/{huge}", f"/tasks/{huge}", f"/cases/{huge}/history"):
        assert api.call("GET", url).status_code == 404, url
    assert api.call("GET", f"/cases?page={huge}").status_code == 400
    assert api.call("GET", "/tasks?page=²").status_code == 400
    assert (
        qmr.get(f"/cases?page={huge}").status_code == 200
        and qmr.get(f"/inbox?page={huge}").status_code == 200
    )
    # JSON nested 100,000 deep, NaN and Infinity: a 400 with the reason, even before sign-in.
    deep = "[" * 100_000 + "]" * 100_000
    for body in (deep, '{"username": NaN}', '{"a": Infinity}', '{"username": "qc\\u0000"}'):
        response = web.app.test_client().post("/api/v1/token", data=body, content_type="application/json")
        assert response.status_code == 400 and response.get_json()["error"]["code"] == "bad_request", body
    triage = open_task(web, instance_id, "nc_triage")
    nan = api.c.post(
        f"/api/v1/tasks/{triage.id}/complete",
        data='{"data": {"impact": NaN}}',
        content_type="application/json",
        headers={"Authorization": f"Bearer {api.token}"},
    )
    assert nan.status_code == 400 and "NaN" in nan.get_json()["error"]["message"]
    # A superscript digit as a row index, "nan" in a number field, a NUL in a value or a file name.
    tl = web.client("teamlead")
    rows = tl.post(
        "/start/supplier_procurement",
        {
            "f.resource_type": "people",
            "f.estimated_value": "nan",
            "f.specification": "Agen tambahan",
            "f.site": "Bandung",
        },
    )
    assert rows.status_code == 422 and "Isi dengan bilangan bulat." in rows.get_data(as_text=True)
    assert tl.post("/start/supplier_procurement", {"f.estimated_value": "1e999"}).status_code == 422
    assert qmr.post(f"/tasks/{triage.id}", {"f.rows.².x": "1", "f.impact": "sedang"}).status_code in (
        302,
        422,
    )
    assert qc.post(f"/cases/{instance_id}/comments", {"body": "a\x00b"}).status_code == 400
    nul_name = qc.post(
        f"/cases/{instance_id}/files",
        {"files": (io.BytesIO(PNG), "bukti\x00.png")},
        content_type="multipart/form-data",
    )
    assert nul_name.status_code == 400
    with web.session() as s:
        assert s.execute(select(func.count()).select_from(Attachment)).scalar_one() == 0
    assert json.loads(api.call("GET", f"/cases/{instance_id}/history").get_data(as_text=True))


def test_a_row_index_in_superscript_is_ignored_not_a_crash(web):  # type: ignore[no-untyped-def]
    qc, qmr, tl = web.client("qc"), web.client("qmr"), web.client("teamlead")
    instance_id = triaged_and_acknowledged(web, qc, qmr)
    contain = open_task(web, instance_id, "nc_contain")
    tl.post(f"/tasks/{contain.id}", {"f.correction": "Agen sudah dikoreksi langsung oleh TL"})
    rca = open_task(web, instance_id, "nc_rca")
    tl.post(
        f"/tasks/{rca.id}",
        {
            "f.method": "5_whys",
            "f.whys": "Tarif lama\nSkrip lama",
            "f.root_cause": "Skrip layanan belum diperbarui",
        },
    )
    plan = open_task(web, instance_id, "nc_plan")
    response = tl.post(
        f"/tasks/{plan.id}",
        {
            "f.actions.².action": "Retraining",
            "f.actions.٣.owner": "teamlead",
            "f.actions.0.action": "Sosialisasi",
            "f.actions.0.owner": "teamlead",
            "f.actions.0.due_date": "2026-12-20",
        },
    )
    assert response.status_code == 302
    approve = open_task(web, instance_id, "nc_approve")
    with web.session() as s:
        plan_data = s.execute(
            select(AuditEvent.data).where(
                AuditEvent.instance_id == instance_id,
                AuditEvent.bpmn_id == "nc_plan",
                AuditEvent.kind == "completed",
            )
        ).scalar_one()
    assert approve and [a["action"] for a in plan_data["data"]["actions"]] == ["Sosialisasi"]


def test_signing_out_ends_the_session_on_the_server(web):  # type: ignore[no-untyped-def]
    b = web.client("qc")
    assert b.get("/inbox").status_code == 200
    copied = b.c.get_cookie("session").value
    b.post("/logout")
    thief = web.app.test_client()
    thief.set_cookie("session", copied)
    response = thief.get("/inbox")
    assert response.status_code == 302 and "/login" in response.location


def test_secure_cookies_and_hsts_behind_tls(web):  # type: ignore[no-untyped-def]
    from web import create_app

    settings = web.runtime.settings
    object.__setattr__(settings, "secure_cookies", True)
    try:
        app = create_app(runtime=web.runtime)
        client = app.test_client()
        client.get("/login")
        login = client.post("/login", data={"username": "qc", "password": PASSWORD})
        assert "Secure" in login.headers["Set-Cookie"]
        assert login.headers["Strict-Transport-Security"].startswith("max-age=")
    finally:
        object.__setattr__(settings, "secure_cookies", False)


def test_password_spraying_from_one_address_is_throttled(web):  # type: ignore[no-untyped-def]
    client = web.app.test_client()
    limit = web.runtime.settings.login_max_failures_per_address
    codes = [
        client.post("/api/v1/token", json={"username": f"user{i}", "password": "Password1"}).status_code
        for i in range(limit + 3)
    ]
    assert codes[:limit] == [401] * limit and codes[limit:] == [429] * 3
    # Another address is not held up by this one.
    other = client.post(
        "/api/v1/token",
        json={"username": "qc", "password": PASSWORD},
        environ_base={"REMOTE_ADDR": "10.9.8.7"},
    )
    assert other.status_code == 201


def test_parallel_wrong_passwords_never_pass_the_limit(web):  # type: ignore[no-untyped-def]
    """16 attempts at once for one username: exactly five are checked, the rest wait out the lock."""
    results: list[str] = []
    barrier = threading.Barrier(16)

    def attempt(i: int) -> None:
        with web.runtime.sessions() as s:
            barrier.wait()
            try:
                sign_in(s, "qc", "wrong", web.clock.now(), remote_addr=f"10.0.0.{i}")
            except BadCredentials:
                results.append("401")
            except LoginThrottled:
                results.append("429")
            except Exception as exc:  # noqa: BLE001 - SQLite's busy writer: the attempt is not made
                results.append(type(exc).__name__)
            finally:
                s.commit()

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count("401") == 5 and results.count("429") == 11, results


def test_headers_no_banner_no_store_and_safe_redirects(web):  # type: ignore[no-untyped-def]
    qc = web.client("qc")
    instance_id = raise_nc(qc, **{"f.evidence": (io.BytesIO(PNG), "rekaman.png")})
    with web.session() as s:
        att = s.execute(select(Attachment).where(Attachment.instance_id == instance_id)).scalar_one()
    download = qc.get(f"/files/{att.id}")
    assert download.status_code == 200 and download.headers["Cache-Control"] == "no-store"
    assert "Server" not in download.headers
    for back in ("/\t/evil.example/", "//evil.example/", "/\\evil.example", "https://evil.example/"):
        response = qc.post(f"/cases/{instance_id}/comments", {"body": "catatan", "back": back})
        assert response.status_code == 302
        assert response.location.startswith(f"/cases/{instance_id}"), (back, response.location)
    signed = web.client()
    signed.get("/login")
    landed = signed.post("/login?next=/%09/evil.example", {"username": "qc", "password": PASSWORD})
    assert not re.match(r"^/+\s*/", landed.location) and "evil" not in landed.location.split("?")[0].lstrip(
        "/%09"
    )


def test_the_reporter_cannot_cancel_before_triage(web):  # type: ignore[no-untyped-def]
    qc = api_for(web, "qc")
    instance_id = qc.call("POST", "/processes/nonconformity/start", {"data": REPORT}).get_json()[
        "instance_id"
    ]
    page = web.client("qc")
    assert (
        page.post(f"/cases/{instance_id}/manage", {"action": "cancel", "reason": "hapus"}).status_code == 403
    )
    with web.session() as s:
        kinds = (
            s.execute(select(AuditEvent.kind).where(AuditEvent.instance_id == instance_id)).scalars().all()
        )
        assert "cancelled" not in kinds


def test_lone_surrogates_and_huge_bodies_are_refused(web):  # type: ignore[no-untyped-def]
    client = web.app.test_client()
    lone = client.post(
        "/api/v1/token", data='{"username": "\\ud800", "password": "x"}', content_type="application/json"
    )
    assert lone.status_code == 400 and "surrogate" in lone.get_json()["error"]["message"]
    big = client.post("/api/v1/token", data="[" + "1," * 600_000 + "1]", content_type="application/json")
    assert big.status_code == 413 and big.get_json()["error"]["code"] == "too_large"


def test_behind_a_proxy_the_forwarded_address_is_the_one_throttled(web):  # type: ignore[no-untyped-def]
    from web import create_app

    settings = web.runtime.settings
    object.__setattr__(settings, "proxy_hops", 1)
    try:
        client = create_app(runtime=web.runtime).test_client()
        limit = settings.login_max_failures_per_address
        for i in range(limit):
            wrong = {"username": f"user{i}", "password": "x"}
            assert (
                client.post(
                    "/api/v1/token", json=wrong, headers={"X-Forwarded-For": "203.0.113.9"}
                ).status_code
                == 401
            )
        spray = {"username": "someone", "password": "x"}
        assert (
            client.post("/api/v1/token", json=spray, headers={"X-Forwarded-For": "203.0.113.9"}).status_code
            == 429
        )
        ok = {"username": "qc", "password": PASSWORD}
        assert (
            client.post("/api/v1/token", json=ok, headers={"X-Forwarded-For": "198.51.100.4"}).status_code
            == 201
        )
    finally:
        object.__setattr__(settings, "proxy_hops", 0)


def test_no_server_banner_from_gunicorn_or_the_development_server(tmp_path):  # type: ignore[no-untyped-def]
    import os
    import socket
    import subprocess
    import sys
    import time
    import urllib.request
    from pathlib import Path

    from werkzeug.serving import make_server

    from web.cli import _QuietHandler

    root = Path(__file__).resolve().parent.parent
    db = f"sqlite:///{tmp_path / 'banner.sqlite3'}"
    env = {**os.environ, "MUTU_DATABASE_URL": db, "MUTU_SECRET_KEY": "banner", "MUTU_ADMIN_PASSWORD": ""}
    subprocess.run(
        [sys.executable, "-m", "engine.cli", "db", "upgrade"],
        cwd=root,
        env=env,
        check=True,
        capture_output=True,
    )
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    gunicorn = Path(sys.executable).with_name("gunicorn")
    server = subprocess.Popen(
        [str(gunicorn), "-b", f"127.0.0.1:{port}", "-w", "1", "web.wsgi:app"],
        cwd=root,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as answer:
                    assert answer.status == 200 and answer.headers.get("Server") is None
                    break
            except OSError:
                time.sleep(0.1)
        else:
            raise AssertionError("gunicorn did not answer")
    finally:
        server.terminate()
        server.wait(timeout=10)
    from flask import Flask

    tiny = Flask("tiny")
    tiny.get("/")(lambda: "ok")
    dev = make_server("127.0.0.1", 0, tiny, request_handler=_QuietHandler)
    thread = __import__("threading").Thread(target=dev.handle_request)
    thread.start()
    with urllib.request.urlopen(f"http://127.0.0.1:{dev.server_port}/", timeout=5) as answer:
        assert answer.headers.get("Server") is None
    thread.join(timeout=5)
    dev.server_close()


def test_values_too_long_or_too_many_are_refused_on_every_edge(web):  # type: ignore[no-untyped-def]
    qc = api_for(web, "qc")
    huge = qc.call(
        "POST", "/processes/nonconformity/start", {"data": {**REPORT, "description": "x" * 100_001}}
    )
    assert (
        huge.status_code == 422
        and "longer than 100000" in huge.get_json()["error"]["fields"]["description"][0]
    )
    many = qc.call("POST", "/processes/nonconformity/start", {"data": {**REPORT, "evidence": ["1"] * 10_001}})
    assert (
        many.status_code == 422
        and "more than 10000 items" in many.get_json()["error"]["fields"]["evidence"][0]
    )
