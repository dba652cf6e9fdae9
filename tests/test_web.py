"""The staff pages on a real database: sign-in, statement, inbox, task forms, cases, errors, languages."""

from __future__ import annotations

import io
import re
from datetime import timedelta

from sqlalchemy import func, select

from engine.models import CaseRecord, HumanTask, User
from engine.models_signin import ConfidentialityAcceptance, LoginFailure
from engine.models_workspace import Attachment, TaskDraft
from tests.web_support import PNG, Browser, task_ids

REPORT = {
    "f.source": "tapping",
    "f.service": "147",
    "f.site": "Bandung",
    "f.agent_code": "1001",
    "f.description": "Agen memberi informasi tarif yang salah kepada pelanggan",
    "f.customer_name": "Budi Santoso",
    "f.customer_phone": "0812 555 0101",
}


def raise_nc(browser: Browser, **extra) -> int:  # type: ignore[no-untyped-def]
    response = browser.post("/start/nonconformity", {**REPORT, **extra}, content_type="multipart/form-data")
    assert response.status_code == 302, response.get_data(as_text=True)
    found = re.search(r"/cases/(\d+)", response.location)
    assert found, response.location
    return int(found.group(1))


def open_task(env, instance_id: int, bpmn_id: str) -> HumanTask:  # type: ignore[no-untyped-def]
    with env.session() as s:
        return s.execute(
            select(HumanTask).where(
                HumanTask.instance_id == instance_id, HumanTask.bpmn_id == bpmn_id, HumanTask.status == "open"
            )
        ).scalar_one()


def triaged_and_acknowledged(env, qc: Browser, qmr: Browser) -> int:  # type: ignore[no-untyped-def]
    """A case the QMR rated a nonconformity and the agent acknowledged: containment waits."""
    instance_id = raise_nc(qc)
    triage = open_task(env, instance_id, "nc_triage")
    qmr.post(
        f"/tasks/{triage.id}", {"f.is_nonconformity": "true", "f.impact": "sedang", "f.repeated": "false"}
    )
    acknowledge(env, instance_id)
    return instance_id


def acknowledge(env, instance_id: int) -> None:  # type: ignore[no-untyped-def]
    """The agent named in the report acknowledges it, with the yes/no control."""
    agent = env.client("agent")
    ack = open_task(env, instance_id, "nc_acknowledge")
    page = agent.get(f"/tasks/{ack.id}").get_data(as_text=True)
    assert 'type="radio" name="f.acknowledged" value="true"' in page
    assert agent.post(f"/tasks/{ack.id}", {"f.acknowledged": "true"}).status_code == 302


def test_sign_in_statement_and_sign_out(web):  # type: ignore[no-untyped-def]
    b = web.client()
    assert b.get("/inbox").status_code == 302
    bad = b.post("/login", {"username": "qc", "password": "nope"})
    assert bad.status_code == 401 and "kata sandi salah" in bad.get_data(as_text=True)
    b.login("qc")
    first = b.get("/inbox")
    assert first.status_code == 302 and "/confidentiality" in first.location
    page = b.get("/confidentiality").get_data(as_text=True)
    assert "8.5.3" in page and "rahasia" in page
    assert b.post("/confidentiality", {}).status_code == 400
    assert b.accept_statement().status_code == 302
    assert b.get("/inbox").status_code == 200
    with web.session() as s:
        row = s.execute(select(ConfidentialityAcceptance)).scalar_one()
        assert row.text_version == "2026-1" and len(row.text_sha256) == 64 and row.accepted_at
    assert b.post("/logout").status_code == 302
    assert b.get("/inbox").status_code == 302
    # Next time the statement is not asked again.
    b.login("qc")
    assert b.get("/inbox").status_code == 200


def test_failed_sign_ins_are_throttled_per_username(web):  # type: ignore[no-untyped-def]
    b = web.client()
    for _ in range(5):
        assert b.post("/login", {"username": "qmr", "password": "wrong"}).status_code == 401
    locked = b.post("/login", {"username": "qmr", "password": "secret-pass"})
    assert locked.status_code == 429 and "15" in locked.get_data(as_text=True)
    web.clock.advance(timedelta(minutes=16))
    assert b.post("/login", {"username": "qmr", "password": "secret-pass"}).status_code == 302
    with web.session() as s:
        assert s.execute(select(func.count()).select_from(LoginFailure)).scalar_one() == 0


def test_forms_without_csrf_token_are_refused(web):  # type: ignore[no-untyped-def]
    b = web.client("qc")
    response = b.c.post("/start/nonconformity", data=REPORT)
    assert response.status_code == 400 and "formulir kedaluwarsa" in response.get_data(as_text=True).lower()


def test_raise_with_evidence_then_triage_from_my_roles(web):  # type: ignore[no-untyped-def]
    qc = web.client("qc")
    form = qc.get("/start/nonconformity").get_data(as_text=True)
    assert "Uraian temuan" in form and 'type="file"' in form
    instance_id = raise_nc(qc, **{"f.evidence": (io.BytesIO(PNG), "rekaman.png")})
    case_page = qc.get(f"/cases/{instance_id}").get_data(as_text=True)
    assert "NC-2026-0001" in case_page and "rekaman.png" in case_page
    with web.session() as s:
        att = s.execute(select(Attachment)).scalar_one()
        assert att.instance_id == instance_id and att.content_type == "image/png"
    download = qc.get(f"/files/{att.id}")
    assert download.status_code == 200 and download.data == PNG

    qmr = web.client("qmr")
    roles = qmr.get("/inbox?scope=roles").get_data(as_text=True)
    assert "Triase QMR" in roles and "NC-2026-0001" in roles
    triage = open_task(web, instance_id, "nc_triage")
    assert qmr.post(f"/tasks/{triage.id}/claim").status_code == 302
    mine = qmr.get("/inbox?scope=mine").get_data(as_text=True)
    assert triage.id in task_ids(mine)
    done = qmr.post(
        f"/tasks/{triage.id}",
        {"action": "complete", "f.is_nonconformity": "true", "f.impact": "sedang", "f.repeated": "false"},
    )
    # Containment goes to the team leaders; the QMR has nothing more in this case, so back to the inbox.
    assert done.status_code == 302 and done.location.endswith("/inbox")
    assert open_task(web, instance_id, "nc_contain").assignee_id is None
    # The finished task now explains who finished it.
    closed = qmr.get(f"/tasks/{triage.id}")
    assert closed.status_code == 409 and "Qmr" in closed.get_data(as_text=True)


def test_validation_errors_sit_beside_their_fields_and_keep_the_input(web):  # type: ignore[no-untyped-def]
    qc = web.client("qc")
    response = qc.post(
        "/start/nonconformity",
        {"f.source": "tapping", "f.site": "Bogor", "f.description": "pendek", "f.agent_code": "12ab"},
        content_type="multipart/form-data",
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="err-in-service"' in html and "Kolom ini wajib diisi." in html
    assert 'id="err-in-description"' in html and "Isi minimal 10 karakter." in html
    assert 'id="err-in-agent_code"' in html and "Format isian tidak sesuai." in html
    assert ">pendek</textarea>" in html and 'value="12ab"' in html
    assert '<option value="Bogor" selected' in html
    with web.session() as s:
        assert s.execute(select(func.count()).select_from(CaseRecord)).scalar_one() == 0


def test_wrong_types_and_refused_uploads_are_field_errors(web):  # type: ignore[no-untyped-def]
    qc = web.client("qc")
    response = qc.post(
        "/start/nonconformity",
        {**REPORT, "f.evidence": (io.BytesIO(b"MZ\x90\x00binary"), "tool.exe")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert "tool.exe: berkas bertipe .exe tidak diterima." in response.get_data(as_text=True)
    fake = qc.post(
        "/start/nonconformity",
        {**REPORT, "f.evidence": (io.BytesIO(b"not really a picture"), "photo.png")},
        content_type="multipart/form-data",
    )
    assert fake.status_code == 422 and "isinya bukan berkas .png" in fake.get_data(as_text=True)
    big = qc.post(
        "/start/nonconformity",
        {**REPORT, "f.evidence": (io.BytesIO(PNG + b"\x00" * 70_000), "big.png")},
        content_type="multipart/form-data",
    )
    assert big.status_code == 422 and "lebih besar dari batas" in big.get_data(as_text=True)


def test_rows_lines_numbers_drafts_and_next_task(web):  # type: ignore[no-untyped-def]
    qc, qmr, tl = web.client("qc"), web.client("qmr"), web.client("teamlead")
    instance_id = triaged_and_acknowledged(web, qc, qmr)
    contain = open_task(web, instance_id, "nc_contain")
    page = tl.get(f"/tasks/{contain.id}").get_data(as_text=True)
    assert "Koreksi segera" in page and 'name="f.correction"' in page and 'type="date"' in page
    done = tl.post(f"/tasks/{contain.id}", {"f.correction": "Agen sudah dikoreksi langsung oleh TL"})
    rca = open_task(web, instance_id, "nc_rca")
    assert done.location.endswith(f"/tasks/{rca.id}")  # the next task of the same user opens
    rca = open_task(web, instance_id, "nc_rca")
    with web.session() as s:
        teamlead_id = s.execute(select(User.id).where(User.username == "teamlead")).scalar_one()
    assert rca.assignee_id == teamlead_id  # ... and is claimed for them
    tl.post(f"/tasks/{rca.id}/claim")
    draft = tl.post(
        f"/tasks/{rca.id}",
        {"action": "draft", "f.method": "5_whys", "f.whys": "Tarif lama di skrip\nSkrip belum diperbarui\n"},
    )
    assert draft.status_code == 302
    with web.session() as s:
        assert s.execute(select(TaskDraft.data).where(TaskDraft.human_task_id == rca.id)).scalar_one()[
            "whys"
        ] == [
            "Tarif lama di skrip",
            "Skrip belum diperbarui",
        ]
    page = tl.get(f"/tasks/{rca.id}").get_data(as_text=True)
    assert "Tarif lama di skrip\nSkrip belum diperbarui" in page and "Draf disimpan" in page
    done = tl.post(
        f"/tasks/{rca.id}",
        {
            "f.method": "5_whys",
            "f.whys": "Tarif lama di skrip\nSkrip belum diperbarui",
            "f.root_cause": "Skrip layanan belum diperbarui setelah perubahan tarif",
        },
    )
    assert done.status_code == 302, done.get_data(as_text=True)
    plan = open_task(web, instance_id, "nc_plan")
    assert done.location.endswith(f"/tasks/{plan.id}")  # the next task of the same user opens
    bad = tl.post(
        f"/tasks/{plan.id}",
        {
            "f.actions.0.action": "Perbarui skrip tarif",
            "f.actions.0.owner": "teamlead",
            "f.actions.0.due_date": "besok",
        },
    )
    html = bad.get_data(as_text=True)
    assert bad.status_code == 422 and 'id="err-in-actions-0-due_date"' in html and "TTTT-BB-HH" in html
    ok = tl.post(
        f"/tasks/{plan.id}",
        {
            "f.actions.0.action": "Perbarui skrip tarif",
            "f.actions.0.owner": "teamlead",
            "f.actions.0.due_date": "2026-01-12",
            "f.actions.3.action": "Pelatihan ulang agen",
            "f.actions.3.owner": "teamlead",
            "f.actions.3.due_date": "2026-01-14",
        },
    )
    assert ok.status_code == 302
    case = qmr.get(f"/cases/{instance_id}").get_data(as_text=True)
    assert "Pelatihan ulang agen" in case and "Perbarui skrip tarif" in case
    assert "#4001" in case  # the team leader's agent code in the history
    approve = open_task(web, instance_id, "nc_approve")
    assert approve.assignee_id is None  # the QMR's, not the team leader's: left in the queue
    page = qmr.get(f"/tasks/{approve.id}").get_data(as_text=True)
    earlier = page[page.index('id="earlier"') : page.index("</section>", page.index('id="earlier"'))]
    assert "Dari langkah sebelumnya" in earlier
    assert "Skrip layanan belum diperbarui setelah perubahan tarif" in earlier
    assert "Perbarui skrip tarif" in earlier and "Pelatihan ulang agen" in earlier


def test_forbidden_conflicting_and_missing_pages(web):  # type: ignore[no-untyped-def]
    qc, qmr, agent2 = web.client("qc"), web.client("qmr"), web.client("agent2")
    instance_id = raise_nc(qc)
    triage = open_task(web, instance_id, "nc_triage")
    forbidden = agent2.get(f"/tasks/{triage.id}")
    assert forbidden.status_code == 403 and "tidak terbuka untuk Anda" in forbidden.get_data(as_text=True)
    assert agent2.get(f"/cases/{instance_id}").status_code == 403
    assert agent2.get(f"/cases/{instance_id}/diagram").status_code == 403
    assert agent2.post(f"/tasks/{triage.id}/claim").status_code == 403
    assert qmr.post(f"/tasks/{triage.id}/claim").status_code == 302
    admin = web.client("admin")
    taken = admin.post(f"/tasks/{triage.id}/claim")
    assert taken.status_code == 409 and "Tugas ini sudah diambil orang lain" in taken.get_data(as_text=True)
    assert qmr.get("/tasks/999999").status_code == 404
    assert qmr.get("/cases/999999").status_code == 404


def test_reassign_and_release(web):  # type: ignore[no-untyped-def]
    qc, qmr, tl = web.client("qc"), web.client("qmr"), web.client("teamlead")
    instance_id = triaged_and_acknowledged(web, qc, qmr)
    contain = open_task(web, instance_id, "nc_contain")
    tl.post(f"/tasks/{contain.id}", {"f.correction": "Agen sudah dikoreksi langsung oleh TL"})
    rca = open_task(web, instance_id, "nc_rca")
    assert qmr.post(f"/tasks/{rca.id}/assign", {"assignee": "teamlead"}).status_code == 302
    mine = tl.get("/inbox?scope=mine").get_data(as_text=True)
    assert rca.id in task_ids(mine) and "Analisis akar masalah" in mine
    assert tl.post(f"/tasks/{rca.id}/unclaim").status_code == 302
    assert rca.id in task_ids(tl.get("/inbox?scope=roles").get_data(as_text=True))
    unknown = qmr.post(f"/tasks/{rca.id}/assign", {"assignee": "nobody"})
    assert unknown.status_code == 302 and "Pilih pengguna" in qmr.get(unknown.location).get_data(as_text=True)
    # Only the QMR, team leaders and admins hand out work.
    assert qc.post(f"/tasks/{rca.id}/assign", {"assignee": "teamlead"}).status_code == 403


def test_personal_data_is_masked_for_roles_that_need_not_see_it(web):  # type: ignore[no-untyped-def]
    qc, tl = web.client("qc"), web.client("teamlead")
    instance_id = raise_nc(qc)
    assert "Budi Santoso" in qc.get(f"/cases/{instance_id}").get_data(as_text=True)
    # The team leader sees the case once a task of theirs is in it; the customer stays masked.
    qmr = web.client("qmr")
    triage = open_task(web, instance_id, "nc_triage")
    qmr.post(
        f"/tasks/{triage.id}", {"f.is_nonconformity": "true", "f.impact": "sedang", "f.repeated": "false"}
    )
    page = tl.get(f"/cases/{instance_id}").get_data(as_text=True)
    assert "Budi Santoso" not in page and "0812 555 0101" not in page and "••••••" in page


def test_both_languages_cover_labels_choices_and_task_names(web):  # type: ignore[no-untyped-def]
    qc = web.client("qc")
    instance_id = raise_nc(qc)
    qmr = web.client("qmr")
    triage = open_task(web, instance_id, "nc_triage")
    page = qmr.get(f"/tasks/{triage.id}").get_data(as_text=True)
    assert "Triase QMR" in page and "Merupakan ketidaksesuaian?" in page and "Selesaikan" in page
    qmr.post("/language", {"lang": "en", "next": f"/tasks/{triage.id}"})
    page = qmr.get(f"/tasks/{triage.id}").get_data(as_text=True)
    assert "QMR triage" in page and "Is it a nonconformity?" in page and ">Complete<" in page
    assert "Customer impact" in page and 'lang="en"' in page
    start = qc.get("/start/nonconformity").get_data(as_text=True)
    assert "Sumber temuan" in start  # the language is per user
    assert qmr.post("/language", {"lang": "fr"}).status_code == 400
    qmr.post("/language", {"lang": "id"})
    assert "Triase QMR" in qmr.get("/inbox?scope=roles").get_data(as_text=True)


def test_inbox_filters_search_sort_and_pages(web):  # type: ignore[no-untyped-def]
    qc = web.client("qc")
    for i in range(27):
        raise_nc(qc, **{"f.site": "Bogor" if i % 3 == 0 else "Malang"})
    qmr = web.client("qmr")
    first = qmr.get("/inbox?scope=roles").get_data(as_text=True)
    assert "27 tugas" in first and "Halaman 1 dari 2" in first and len(task_ids(first)) == 25
    second = qmr.get("/inbox?scope=roles&page=2").get_data(as_text=True)
    assert len(task_ids(second)) == 2
    bogor = qmr.get("/inbox?scope=roles&site=Bogor").get_data(as_text=True)
    assert "9 tugas" in bogor
    one = qmr.get("/inbox?scope=roles&q=NC-2026-0005").get_data(as_text=True)
    assert "1 tugas" in one and "NC-2026-0005" in one
    words = qmr.get("/inbox?scope=roles&q=tarif+yang+salah&sort=-age").get_data(as_text=True)
    assert "27 tugas" in words
    web.clock.advance(timedelta(days=3))
    qmr = web.client("qmr")  # three idle days ended the session on the server
    overdue = qmr.get("/inbox?scope=roles&due=overdue").get_data(as_text=True)
    assert "27 tugas" in overdue and 'class="due overdue"' in overdue
    assert "0 tugas" in qmr.get("/inbox?scope=roles&process=supplier_procurement").get_data(as_text=True)


def test_cases_list_filters_and_visibility(web):  # type: ignore[no-untyped-def]
    qc = web.client("qc")
    raise_nc(qc, **{"f.site": "Bogor"})
    raise_nc(qc, **{"f.site": "Malang", "f.agent_code": "1002"})
    qmr = web.client("qmr")
    listing = qmr.get("/cases").get_data(as_text=True)
    assert "2 kasus" in listing
    assert "1 kasus" in qmr.get("/cases?site=Bogor").get_data(as_text=True)
    assert "1 kasus" in qmr.get("/cases?agent=1002").get_data(as_text=True)
    assert "1 kasus" in qmr.get("/cases?q=NC-2026-0002").get_data(as_text=True)
    # A team leader of Bogor sees the Bogor case only; an agent not involved sees none.
    bogor_tl = web.client("teamlead.bogor")
    assert "1 kasus" in bogor_tl.get("/cases").get_data(as_text=True)
    assert "0 kasus" in web.client("agent2").get("/cases?status=completed").get_data(as_text=True)


def test_comments_evidence_and_diagram_states(web):  # type: ignore[no-untyped-def]
    qc = web.client("qc")
    instance_id = raise_nc(qc)
    assert (
        qc.post(f"/cases/{instance_id}/comments", {"body": "Rekaman sudah diminta ke TL"}).status_code == 302
    )
    assert qc.post(f"/cases/{instance_id}/comments", {"body": "  "}).status_code == 302
    upload = qc.post(
        f"/cases/{instance_id}/files",
        {"files": (io.BytesIO(b"waktu,catatan\n10:00,salah tarif\n"), "catatan.csv")},
        content_type="multipart/form-data",
    )
    assert upload.status_code == 302
    page = qc.get(f"/cases/{instance_id}").get_data(as_text=True)
    assert "Rekaman sudah diminta ke TL" in page and "catatan.csv" in page
    diagram = qc.get(f"/cases/{instance_id}/diagram").get_json()
    assert diagram["active"] == ["nc_triage"] and "nc_start" in diagram["completed"]
    assert 'id="nc_triage"' in diagram["xml"]


def test_start_page_lists_only_processes_the_user_may_start(web):  # type: ignore[no-untyped-def]
    # Anyone may raise a nonconformity (manual 8.7); a requirement change is the client liaison's.
    agent = web.client("agent")
    page = agent.get("/start").get_data(as_text=True)
    assert "/start/nonconformity" in page and "/start/requirement_change" not in page
    assert agent.get("/start/requirement_change").status_code == 403
    client_page = web.client("client").get("/start").get_data(as_text=True)
    assert "/start/requirement_change" in client_page
    # Processes the scheduler starts have no start page for people.
    assert "/start/release_monitoring" not in web.client("qc").get("/start").get_data(as_text=True)


def test_sessions_expire_after_idle_hours_and_cookies_are_guarded(web):  # type: ignore[no-untyped-def]
    b = web.client()
    b.get("/login")
    response = b.post("/login", {"username": "qc", "password": "secret-pass"})
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Expires=" in cookie
    assert web.app.permanent_session_lifetime.total_seconds() == 8 * 3600
    page = b.get("/confidentiality")
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    assert page.headers["Cache-Control"] == "no-store"


def test_english_help_texts_and_choice_labels(web):  # type: ignore[no-untyped-def]
    qc = web.client("qc")
    qc.post("/language", {"lang": "en"})
    page = qc.get("/start/nonconformity").get_data(as_text=True)
    assert "Nonconformity report" in page and "Agent login code" in page
    assert "Leave empty when no agent is involved." in page  # help_en
    assert ">Customer complaint<" in page  # enum_labels_en
    assert 'class="tag"' in page and ">personal<" in page


def test_my_roles_by_due_date_puts_tasks_without_a_due_date_last_on_every_page(web):  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from sqlalchemy import update

    from engine import inbox
    from engine.identity import get_user

    qc = web.client("qc")
    ids = [raise_nc(qc) for _ in range(12)]
    with web.session() as s:
        rows = s.execute(select(HumanTask).where(HumanTask.instance_id.in_(ids))).scalars().all()
        for i, row in enumerate(rows):  # some without a due date, the rest shuffled
            due = None if i % 4 == 0 else datetime(2026, 2, 1 + (i * 7) % 13, tzinfo=UTC)
            s.execute(update(HumanTask).where(HumanTask.id == row.id).values(due_at=due))
    with web.session() as s:
        qmr = get_user(s, "qmr")
        every = inbox.list_tasks(s, qmr, "roles", limit=100)
        expected = sorted(
            every, key=lambda t: (t.due_at is None, t.due_at or datetime.max.replace(tzinfo=UTC), t.id)
        )
        seen = []
        for page in (1, 2, 3):
            found, total = inbox.search_tasks(
                s,
                qmr,
                "roles",
                inbox.TaskFilter(sort="due"),
                datetime.now(UTC),
                ZoneInfo("UTC"),
                page=page,
                per_page=5,
            )
            assert total == 12
            seen += [r.task.id for r in found]
        assert seen == [t.id for t in expected]
        assert [r.task.due_at for r in found][-1] is None


def test_the_diagram_speaks_the_users_language(web):  # type: ignore[no-untyped-def]
    qc = web.client("qc")
    instance_id = raise_nc(qc)
    assert 'name="Triase QMR"' in qc.get(f"/cases/{instance_id}/diagram").get_json()["xml"]
    qc.post("/language", {"lang": "en"})
    xml = qc.get(f"/cases/{instance_id}/diagram").get_json()["xml"]
    assert 'name="QMR triage"' in xml and 'name="Triase QMR"' not in xml
    assert 'name="Nonconformity: correction and verification"' in xml


def test_completing_a_task_another_user_claimed_is_a_409_page_and_changes_nothing(web):  # type: ignore[no-untyped-def]
    qc, qmr = web.client("qc"), web.client("qmr")
    instance_id = raise_nc(qc)
    verify_roles = open_task(web, instance_id, "nc_triage")
    admin = web.client("admin")
    assert admin.post(f"/tasks/{verify_roles.id}/claim").status_code == 302
    page = qmr.get(f"/tasks/{verify_roles.id}").get_data(as_text=True)
    assert "diambil oleh" in page and 'id="complete" disabled' in page
    refused = qmr.post(
        f"/tasks/{verify_roles.id}",
        {"f.is_nonconformity": "true", "f.impact": "sedang", "f.repeated": "false"},
    )
    assert refused.status_code == 409 and "Tugas ini sudah diambil orang lain" in refused.get_data(
        as_text=True
    )
    assert open_task(web, instance_id, "nc_triage").status == "open"


def test_evidence_uploaded_with_a_form_that_has_errors_is_kept_for_the_next_try(web):  # type: ignore[no-untyped-def]
    qc = web.client("qc")
    first = qc.post(
        "/start/nonconformity",
        {**REPORT, "f.description": "pendek", "f.evidence": (io.BytesIO(PNG), "rekaman.png")},
        content_type="multipart/form-data",
    )
    html = first.get_data(as_text=True)
    assert first.status_code == 422 and "rekaman.png" in html
    kept = re.search(r'name="f.evidence" value="(\d+)" checked', html).group(1)
    instance_id = raise_nc(qc, **{"f.evidence": kept})
    with web.session() as s:
        assert s.get(Attachment, int(kept)).instance_id == instance_id


def test_a_form_cannot_attach_evidence_of_another_case(web):  # type: ignore[no-untyped-def]
    qc = web.client("qc")
    first = raise_nc(qc, **{"f.evidence": (io.BytesIO(PNG), "rekaman.png")})
    with web.session() as s:
        foreign = s.execute(select(Attachment.id).where(Attachment.instance_id == first)).scalar_one()
    other = web.client("teamlead")
    refused = other.post(
        "/start/nonconformity", {**REPORT, "f.evidence": str(foreign)}, content_type="multipart/form-data"
    )
    assert refused.status_code == 422 and "tidak boleh Anda lampirkan" in refused.get_data(as_text=True)


def test_managers_suspend_resume_and_cancel_a_case_from_its_page(web):  # type: ignore[no-untyped-def]
    qc, qmr, agent2 = web.client("qc"), web.client("qmr"), web.client("agent2")
    instance_id = raise_nc(qc)
    page = qmr.get(f"/cases/{instance_id}").get_data(as_text=True)
    assert "Kelola kasus" in page and 'value="suspend"' in page
    assert agent2.post(f"/cases/{instance_id}/manage", {"action": "suspend"}).status_code == 403
    assert qmr.post(f"/cases/{instance_id}/manage", {"action": "suspend"}).status_code == 302
    triage = open_task(web, instance_id, "nc_triage")
    stopped = qmr.post(
        f"/tasks/{triage.id}", {"f.is_nonconformity": "true", "f.impact": "sedang", "f.repeated": "false"}
    )
    assert stopped.status_code == 409
    assert qmr.post(f"/cases/{instance_id}/manage", {"action": "retry"}).status_code == 409  # no incident
    assert qmr.post(f"/cases/{instance_id}/manage", {"action": "resume"}).status_code == 302
    assert qmr.post(f"/cases/{instance_id}/manage", {"action": "cancel", "reason": " "}).status_code == 302
    assert "badge status-running" in qmr.get(f"/cases/{instance_id}").get_data(as_text=True)
    # The one who raised it cannot make it disappear; the QMR cancels, with a reason the history keeps.
    refused = qc.post(f"/cases/{instance_id}/manage", {"action": "cancel", "reason": "Laporan ganda"})
    assert refused.status_code == 403 and "Kelola kasus" not in qc.get(f"/cases/{instance_id}").get_data(
        as_text=True
    )
    assert (
        qmr.post(f"/cases/{instance_id}/manage", {"action": "cancel", "reason": "Laporan ganda"}).status_code
        == 302
    )
    page = qmr.get(f"/cases/{instance_id}").get_data(as_text=True)
    assert "dibatalkan" in page and "Laporan ganda" in page and 'value="cancel"' not in page
    assert "Laporan ganda" in qc.get(f"/cases/{instance_id}").get_data(as_text=True)
    assert qmr.post(f"/cases/{instance_id}/manage", {"action": "explode"}).status_code == 400
