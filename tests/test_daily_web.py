"""Staff's daily pages: the bell, notification settings, what a case waits for, dates the QMR moves."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from engine import scheduler
from engine.models import AuditEvent, Timer
from tests.test_web import open_task, raise_nc


def test_the_bell_counts_my_notifications_and_leads_to_the_task(web):  # type: ignore[no-untyped-def]
    qc, qmr = web.client("qc"), web.client("qmr")
    instance_id = raise_nc(qc)
    scheduler.notifications(web.runtime)
    page = qmr.get("/inbox").get_data(as_text=True)
    assert 'data-count="bell">1<' in page
    listing = qmr.get("/notifications").get_data(as_text=True)
    assert "Tugas baru di antrean peran Anda: Triase QMR" in listing
    triage = open_task(web, instance_id, "nc_triage")
    [note_link] = [
        line for line in listing.split('"') if line.startswith("/notifications/") and line[15:].isdigit()
    ]
    followed = qmr.get(note_link)
    assert followed.status_code == 302 and followed.location.endswith(f"/tasks/{triage.id}")
    assert 'data-count="bell"' not in qmr.get("/inbox").get_data(as_text=True)
    english = qmr.get("/api/v1/notifications?lang=en").get_json()
    assert (
        english["unread"] == 0 and english["items"][0]["title"] == "New task in your role's queue: QMR triage"
    )
    assert web.client("teamlead").get(note_link).status_code == 404  # another user's


def test_notification_settings_keep_my_address_and_choices(web):  # type: ignore[no-untyped-def]
    qmr = web.client("qmr")
    page = qmr.get("/notifications/settings").get_data(as_text=True)
    assert (
        'name="mode_queued" value="digest" aria-label="Tugas masuk ke antrean peran saya: Ringkasan harian" checked'
        in page
    )
    bad = qmr.post("/notifications/settings", {"email": "not an address", "mode_assigned": "immediate"})
    assert bad.status_code == 422 and "Berikan satu alamat e-mail" in bad.get_data(as_text=True)
    modes = {f"mode_{k}": "off" for k in ("assigned", "queued", "due", "escalation")}
    ok = qmr.post(
        "/notifications/settings", {"email": "qmr@mutu.example", **modes, "mode_assigned": "immediate"}
    )
    assert ok.status_code == 302
    assert qmr.get("/api/v1/notifications/preferences").get_json() == {
        "email": "qmr@mutu.example",
        "modes": {"assigned": "immediate", "queued": "off", "due": "off", "escalation": "off"},
    }


def test_a_case_says_what_it_waits_for_in_both_languages(web):  # type: ignore[no-untyped-def]
    qc, qmr = web.client("qc"), web.client("qmr")
    instance_id = raise_nc(qc)
    page = qmr.get(f"/cases/{instance_id}").get_data(as_text=True)
    assert 'id="case-status">Triase QMR<' in page
    assert "Triase QMR — di antrean QMR (Wakil Manajemen Mutu) · tenggat" in page
    qmr.post("/language", {"lang": "en", "next": f"/cases/{instance_id}"})
    page = qmr.get(f"/cases/{instance_id}").get_data(as_text=True)
    assert (
        'id="case-status">QMR triage<' in page
        and "in the queue of QMR (Quality Management Representative) · due" in page
    )
    listing = qmr.get("/cases").get_data(as_text=True)
    assert ">QMR triage</span>" in listing
    api = qmr.get(f"/api/v1/cases/{instance_id}").get_json()
    assert [(w["kind"], w["bpmn_id"]) for w in api["waits_for"]["waiting"]] == [("task", "nc_triage")]


def test_the_qmr_moves_a_due_date_and_fires_a_timer_with_a_reason(web):  # type: ignore[no-untyped-def]
    qc, qmr = web.client("qc"), web.client("qmr")
    instance_id = raise_nc(qc)
    triage = open_task(web, instance_id, "nc_triage")
    page = qmr.get(f"/cases/{instance_id}").get_data(as_text=True)
    assert 'id="dates"' in page and "Ubah tenggat" in page
    assert 'id="dates"' not in web.client("teamlead").get(f"/cases/{instance_id}").get_data(as_text=True)
    when = (web.clock.now() + timedelta(days=10)).astimezone(web.runtime.settings.zone)
    stamp = when.strftime("%Y-%m-%dT%H:%M")
    no_reason = qmr.post(
        f"/cases/{instance_id}/time", {"action": "set_due", "task_id": str(triage.id), "when": stamp}
    )
    assert "Berikan alasannya" in qmr.get(no_reason.location).get_data(as_text=True)
    moved = qmr.post(
        f"/cases/{instance_id}/time",
        {"action": "set_due", "task_id": str(triage.id), "when": stamp, "reason": "menunggu rekaman"},
    )
    assert "Tenggat tugas kini" in qmr.get(moved.location).get_data(as_text=True)
    assert (
        open_task(web, instance_id, "nc_triage")
        .due_at.astimezone(web.runtime.settings.zone)
        .strftime("%Y-%m-%dT%H:%M")
        == stamp
    )
    refused = web.client("teamlead").post(
        f"/cases/{instance_id}/time",
        {"action": "set_due", "task_id": str(triage.id), "when": stamp, "reason": "x"},
    )
    assert refused.status_code == 403
    with web.session() as s:
        kinds = [
            e.kind
            for e in s.execute(select(AuditEvent).where(AuditEvent.instance_id == instance_id)).scalars()
        ]
    assert "due_changed" in kinds
    history = qmr.get(f"/cases/{instance_id}").get_data(as_text=True)
    assert "menunggu rekaman" in history


def test_dates_move_and_timers_fire_through_the_api(web):  # type: ignore[no-untyped-def]
    from engine.deploy import SourceFile
    from engine.identity import get_user
    from tests.conftest import DATA

    path = DATA / "constructs" / "due_boundary.bpmn"
    with web.session() as s:
        web.runtime.engine.deploy(s, [SourceFile(path.name, path.read_bytes())])
        instance_id = web.runtime.engine.start(s, "due_boundary", get_user(s, "qc")).instance.id
    from tests.test_api import api_for

    qc, qmr = api_for(web, "qc"), api_for(web, "qmr")
    with web.session() as s:
        late = s.execute(
            select(Timer).where(Timer.instance_id == instance_id, Timer.bpmn_id == "late")
        ).scalar_one()
    work = open_task(web, instance_id, "work")
    later = (web.clock.now() + timedelta(days=30)).isoformat()
    assert qmr.call("POST", f"/timers/{late.id}/move", {"fire_at": later}).status_code == 400
    assert qc.call("POST", f"/timers/{late.id}/move", {"fire_at": later, "reason": "x"}).status_code == 403
    assert qmr.call("POST", f"/timers/{late.id}/move", {"fire_at": later, "reason": "x"}).status_code == 200
    due = qmr.call("POST", f"/tasks/{work.id}/due", {"due": later, "reason": "vendor late"})
    assert due.status_code == 200 and due.get_json()["due_at"].startswith(later[:16])
    fired = qmr.call("POST", f"/timers/{late.id}/fire", {"reason": "now"})
    assert fired.status_code == 200
    assert open_task(web, instance_id, "chase") is not None
    again = qmr.call("POST", f"/timers/{late.id}/fire", {"reason": "again"})
    assert again.status_code == 409


def test_a_team_leader_reassigns_in_bulk_from_the_site_view(web):  # type: ignore[no-untyped-def]
    from tests.web_support import MAJOR_TRIAGE  # noqa: F401 - the shape of a triage

    qc, tl = web.client("qc"), web.client("teamlead")
    cases = [raise_nc(qc) for _ in range(3)]
    triages = [open_task(web, c, "nc_triage") for c in cases]
    assert web.client("agent").get("/inbox?scope=oversee").status_code == 200  # falls back to my tasks
    page = tl.get("/inbox?scope=oversee").get_data(as_text=True)
    assert 'id="tab-oversee"' in page and "Lokasi saya" in page
    assert all(f'name="task_ids" value="{t.id}"' in page for t in triages)
    other = web.client("qmr")
    other.post(f"/tasks/{triages[2].id}/claim")
    done = tl.post(
        "/inbox/bulk",
        {
            "action": "assign",
            "assignee": "qmr",
            "task_ids": [str(t.id) for t in triages],
            "back": "/inbox?scope=oversee",
        },
    )
    assert done.status_code == 302
    shown = tl.get(done.location).get_data(as_text=True)
    assert "3 tugas diberikan kepada Qmr." in shown
    held = tl.get("/inbox?scope=oversee&assignee=qmr").get_data(as_text=True)
    assert "3 tugas" in held
    saved = tl.post(
        "/inbox/views", {"name": "Dipegang QMR", "scope": "oversee", "assignee": "qmr", "back": "/inbox"}
    )
    assert saved.status_code == 302 and "assignee=qmr" in saved.location
    assert ">Dipegang QMR</a>" in tl.get("/inbox").get_data(as_text=True)
    nothing = tl.post("/inbox/bulk", {"action": "claim", "back": "/inbox?scope=oversee"})
    assert "Pilih setidaknya satu tugas." in tl.get(nothing.location).get_data(as_text=True)


def test_a_refused_upload_says_why_on_the_case_page_and_a_closed_case_takes_none(web):  # type: ignore[no-untyped-def]
    import io

    qc, qmr = web.client("qc"), web.client("qmr")
    instance_id = raise_nc(qc)
    refused = qc.post(
        f"/cases/{instance_id}/files",
        {"files": (io.BytesIO(b"MZ\x90\x00"), "tool.exe"), "back": f"/cases/{instance_id}"},
        content_type="multipart/form-data",
    )
    assert refused.status_code == 302 and refused.location.endswith(f"/cases/{instance_id}#evidence")
    page = qc.get(f"/cases/{instance_id}").get_data(as_text=True)
    assert "tool.exe: berkas bertipe .exe tidak diterima." in page
    qc.post("/language", {"lang": "en", "next": "/inbox"})
    qc.post(
        f"/cases/{instance_id}/files",
        {"files": (io.BytesIO(b""), "empty.pdf")},
        content_type="multipart/form-data",
    )
    assert "empty.pdf: the file is empty." in qc.get(f"/cases/{instance_id}").get_data(as_text=True)
    triage = open_task(web, instance_id, "nc_triage")
    qmr.post(f"/tasks/{triage.id}", {"f.is_nonconformity": "false", "f.rejection_reason": "Bukan temuan"})
    closed = qc.get(f"/cases/{instance_id}").get_data(as_text=True)
    assert 'id="upload-form"' not in closed and 'name="body"' not in closed
    late = qc.post(f"/cases/{instance_id}/comments", {"body": "terlambat"})
    assert "The case is closed: no more comments." in qc.get(late.location).get_data(as_text=True)


def test_linking_cases_and_the_qmrs_trend_rules(web):  # type: ignore[no-untyped-def]
    qc, qmr = web.client("qc"), web.client("qmr")
    first, second = raise_nc(qc), raise_nc(qc)
    with web.session() as s:
        from engine.models import CaseRecord

        number = s.get(CaseRecord, first).number
    done = qmr.post(f"/cases/{second}/links", {"kind": "recurs", "to": number, "note": "pola sama"})
    assert done.location.endswith(f"/cases/{second}#links")
    page = qmr.get(f"/cases/{second}").get_data(as_text=True)
    assert f'berulang dari <a href="/cases/{first}"><strong>{number}</strong></a>' in page
    assert "berulang di" in qmr.get(f"/cases/{first}").get_data(as_text=True)
    missing = qmr.post(f"/cases/{second}/links", {"kind": "related", "to": "NC-2099-0001"})
    assert "Tidak ada kasus dengan nomor itu" in qmr.get(missing.location).get_data(as_text=True)
    assert 'id="link-form"' not in web.client("agent").get(f"/cases/{second}").get_data(as_text=True)
    assert qmr.get("/rules").status_code == 200 and web.client("teamlead").get("/rules").status_code == 403
    saved = qmr.post(
        "/rules",
        {"agent_findings_threshold": "4", "agent_findings_days": "45", "agent_findings_active": "on",
         "site_source_threshold": "3", "site_source_days": "90"},
    )  # fmt: skip
    assert saved.status_code == 302
    page = qmr.get("/rules").get_data(as_text=True)
    assert 'name="agent_findings_threshold" inputmode="numeric" size="4" value="4"' in page
    assert 'name="site_source_active"  aria' in page or 'name="site_source_active" aria' in page  # off now
    bad = qmr.post("/rules", {"agent_findings_threshold": "1", "agent_findings_days": "45"})
    assert bad.status_code == 422


def test_the_case_page_says_a_worker_is_to_call_its_service_and_when_it_tries_again(web):  # type: ignore[no-untyped-def]
    from engine import service_jobs
    from engine.identity import get_user
    from tests.helpers import task_by_bpmn
    from tests.test_service_jobs import Portal, deploy_async

    portal = Portal(failures=1)
    with web.session() as s:
        deploy_async(s, web.runtime.engine, portal)
        qc = get_user(s, "qc")
        instance_id = web.runtime.engine.start(s, "async_call", qc).instance.id
        fill = task_by_bpmn(s, instance_id, "fill").id
        web.runtime.engine.complete(s, fill, qc, {"supplier": "PT Sinar"})
    qmr = web.client("qmr")
    page = qmr.get(f"/cases/{instance_id}").get_data(as_text=True)
    assert "Ask the supplier portal: menunggu dipanggil oleh proses latar" in page
    assert service_jobs.run_due(web.runtime.sessions, web.runtime.engine) == {"retry": 1}
    page = qmr.get(f"/cases/{instance_id}").get_data(as_text=True)
    assert "panggilan ke-1 gagal (" in page and "the portal did not answer (call 1)" in page
    qmr.post("/language", {"lang": "en", "next": f"/cases/{instance_id}"})
    page = qmr.get(f"/cases/{instance_id}").get_data(as_text=True)
    assert "Ask the supplier portal: call 1 failed (" in page and "a worker tries again at" in page


def test_the_senders_page_says_its_message_is_on_its_way_and_when_it_is_tried_again(web):  # type: ignore[no-untyped-def]
    from engine import message_jobs
    from engine.deploy import SourceFile
    from engine.identity import get_user
    from tests.conftest import DATA
    from tests.test_api import api_for

    bpmn = (DATA / "constructs" / "message_sender.bpmn").read_bytes()
    with web.session() as s:
        web.runtime.engine.deploy(s, [SourceFile("message_sender.bpmn", bpmn)])
        sender = web.runtime.engine.start(s, "complaint_desk", get_user(s, "admin")).instance
        assert sender.status == "completed"  # it ended as it sent; the message is on its way
        sender_id = sender.id
    admin = web.client("admin")
    page = admin.get(f"/cases/{sender_id}").get_data(as_text=True)
    assert "Send: pesan complaint_received sedang dikirim" in page
    api = api_for(web, "admin").call("GET", f"/cases/{sender_id}").get_json()
    [sending] = [w for w in api["waits_for"]["waiting"] if w["kind"] == "sending"]
    assert (sending["bpmn_id"], sending["message"], sending["attempts"]) == ("send", "complaint_received", 0)
    assert message_jobs.run_due(web.runtime.sessions, web.runtime.engine) == {"retry": 1}  # nobody receives
    page = admin.get(f"/cases/{sender_id}").get_data(as_text=True)
    assert "belum ada kasus yang menerima pesan complaint_received" in page and "(percobaan ke-2)" in page
    admin.post("/language", {"lang": "en", "next": f"/cases/{sender_id}"})
    page = admin.get(f"/cases/{sender_id}").get_data(as_text=True)
    assert "Send: no case has received the message complaint_received yet" in page
    assert "(attempt 2)" in page
