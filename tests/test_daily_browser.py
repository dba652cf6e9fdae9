"""Staff's daily work in real Chromium: a nonconformity from report to closure through pages alone,
the same pages in English on a phone, and a team leader's bulk hand-out. Screenshots in
test-artifacts/screenshots/daily-*.png."""

from __future__ import annotations

from typing import Any

import pytest

from engine import scheduler
from tests.test_browser import Staff, chromium, live, staff, start_nc, task_of  # noqa: F401 - fixtures
from tests.web_support import WebEnv

pytestmark = pytest.mark.parametrize("committed_db", ["sqlite"], indirect=True)


def done(person: Staff, label: str) -> None:
    person.page.wait_for_selector(".flash.info")
    assert f"“{label}” selesai." in person.page.content(), person.page.content()[:2000]


def open_from_roles(person: Staff, label: str) -> None:
    person.go("/inbox?scope=roles")
    person.page.locator("a.task-link", has_text=label).first.click()
    person.page.wait_for_selector("#complete")


def test_a_nonconformity_goes_from_report_to_closure_through_the_pages(web: WebEnv, staff: Any) -> None:  # noqa: F811
    qc = staff("qc")
    qc.go("/start/nonconformity")
    page = qc.page
    page.select_option("select[name='f.source']", "tapping")
    page.select_option("select[name='f.service']", "147")
    page.select_option("select[name='f.site']", "Bandung")
    page.fill("input[name='f.agent_code']", "1001")
    page.fill("textarea[name='f.description']", "Agen memberi informasi tarif yang salah kepada pelanggan")
    page.click("#start")
    page.wait_for_selector("#summary")
    instance_id = int(page.url.rsplit("/", 1)[1].split("?")[0].split("#")[0])

    qmr = staff("qmr")
    open_from_roles(qmr, "Triase QMR")
    page = qmr.page
    impact_mark = page.locator("[data-key=impact] .req.cond")
    reason_mark = page.locator("[data-key=rejection_reason] .req.cond")
    assert impact_mark.is_hidden() and reason_mark.is_hidden()
    page.check("input[name='f.is_nonconformity'][value=false]")
    assert reason_mark.is_visible() and impact_mark.is_hidden()  # the mark follows the answer at once
    page.check("input[name='f.is_nonconformity'][value=true]")
    assert impact_mark.is_visible() and reason_mark.is_hidden()
    qmr.shot("daily-1-triage-marks-follow-the-answer")
    page.select_option("select[name='f.impact']", "sedang")
    page.check("input[name='f.repeated'][value=false]")
    page.click("#complete")
    done(qmr, "Triase QMR")

    agent = staff("agent")
    open_from_roles(agent, "Konfirmasi temuan oleh agen")
    agent.page.check("input[name='f.acknowledged'][value=true]")
    agent.page.click("#complete")
    agent.page.wait_for_selector(".flash.info")

    tl = staff("teamlead")
    open_from_roles(tl, "Koreksi segera")
    page = tl.page
    page.fill("textarea[name='f.correction']", "Agen langsung dikoreksi dan diberi tahu tarif yang benar")
    page.click("#complete")
    done(tl, "Koreksi segera")
    assert "Analisis akar masalah" in page.locator("h1").inner_text()  # the next task, claimed for me
    assert page.locator("#unclaim").count() == 1
    page.select_option("select[name='f.method']", "5_whys")
    assert "Satu butir per baris." in page.content()
    page.fill("textarea[name='f.whys']", "Tarif lama di skrip\nSkrip belum diperbarui")
    page.fill("textarea[name='f.root_cause']", "Skrip layanan belum diperbarui setelah perubahan tarif")
    page.click("#complete")
    done(tl, "Analisis akar masalah")
    row = page.locator("table.rows-table tbody tr").first
    row.locator("input[name$='.action']").fill("Perbarui skrip tarif")
    row.locator("select[name$='.owner']").select_option("teamlead")
    row.locator("input[name$='.due_date']").fill("2026-01-12")
    page.click("#complete")
    done(tl, "Rencana tindakan")

    scheduler.notifications(web.runtime)
    qmr.go("/inbox")
    qmr.page.click("header a.bell")
    qmr.page.locator("ul.notes a", has_text="Persetujuan rencana tindakan").first.click()
    page = qmr.page
    page.wait_for_selector("#earlier")
    assert "Perbarui skrip tarif" in page.locator("#earlier").inner_text()
    qmr.shot("daily-2-approval-shows-the-plan")
    if page.locator("#claim").count():
        page.click("#claim")
    page.check("input[name='f.plan_approved'][value=true]")
    page.fill("#signature-password", "secret-pass")
    page.click("#complete")
    done(qmr, "Persetujuan rencana tindakan")

    open_from_roles(tl, "Pelaksanaan tindakan")
    tl.page.fill("textarea[name='f.implementation_report']", "Skrip diperbarui dan disosialisasikan")
    tl.page.click("#complete")
    done(tl, "Pelaksanaan tindakan")

    qmr.go(f"/cases/{instance_id}")
    page = qmr.page
    assert "menunggu Masa tunggu verifikasi sampai" in page.locator("#waits-for").inner_text()
    page.click("#dates summary")
    wait_form = page.locator("form.date-form", has_text="Masa tunggu verifikasi")
    wait_form.locator("input[name=reason]").fill("Rekaman tapping ulang sudah tersedia")
    qmr.shot("daily-3-qmr-moves-the-waiting-period-on")
    wait_form.locator("button[value=fire_now]").click()
    page.wait_for_selector(".flash.info")
    assert "Pewaktu dijalankan sekarang" in page.content()

    open_from_roles(qc, "Verifikasi efektivitas")
    qc.page.check("input[name='f.effective'][value=true]")
    qc.page.fill("textarea[name='f.verification_note']", "Tapping ulang: informasi tarif sudah benar")
    qc.page.fill("#signature-password", "secret-pass")
    qc.page.click("#complete")
    qc.page.wait_for_selector(".flash.info")
    qc.go(f"/cases/{instance_id}")
    status = qc.page.locator("#case-status").text_content()
    assert status == "selesai: Ditutup", status
    history = qc.page.locator("#history").inner_text()
    assert "menjalankan pewaktu sekarang" in history and "Rekaman tapping ulang sudah tersedia" in history
    qc.shot("daily-4-closed-as-effective")


def _fits_a_phone(person: Staff) -> tuple[int, int]:
    width = person.page.evaluate("() => document.documentElement.scrollWidth")
    header = person.page.evaluate("() => document.querySelector('header.top').getBoundingClientRect().height")
    return width, header


def test_the_inbox_task_and_case_pages_read_in_english_on_a_phone(
    web: WebEnv,
    chromium: Any,  # noqa: F811
    live: str,  # noqa: F811
) -> None:
    instance_id = start_nc(web)
    triage = task_of(web, instance_id, "nc_triage")
    person = Staff(chromium, live, "qmr")
    person.context.close()
    person.context = chromium.new_context(
        viewport={"width": 375, "height": 740}, locale="en-US", is_mobile=True
    )
    person.page = person.context.new_page()
    person.page.on("pageerror", lambda exc: person.errors.append(str(exc)))
    page = person.page
    page.goto(live + "/login")
    page.fill("input[name=username]", "qmr")
    page.fill("input[name=password]", "secret-pass")
    page.click("button.primary")
    person.accept_statement()
    page.click("button[name=lang][value=en]")
    page.wait_for_selector("html[lang=en]")
    for path, name in (
        ("/inbox?scope=roles", "inbox"),
        (f"/tasks/{triage.id}", "task"),
        (f"/cases/{instance_id}", "case"),
    ):
        person.go(path)
        page.wait_for_load_state("networkidle")
        width, header = _fits_a_phone(person)
        person.shot(f"daily-5-phone-english-{name}")
        wide = page.evaluate(
            "() => [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > 376)"
            ".slice(0, 5).map(e => e.tagName + '.' + e.className + '#' + e.id + ' ' + Math.round(e.getBoundingClientRect().right))"
        )
        assert width <= 375, f"{path} is {width} px wide: {wide}"
        assert header <= 120, f"{path} header takes {header} px"
    assert page.locator("#case-status").text_content() == "QMR triage"
    person.close()


def test_a_team_leader_hands_out_the_sites_tasks_in_bulk(web: WebEnv, staff: Any) -> None:  # noqa: F811
    for _ in range(3):
        start_nc(web)
    tl = staff("teamlead")
    tl.go("/inbox?scope=oversee")
    page = tl.page
    assert page.locator("#tab-oversee").inner_text() == "Lokasi saya"
    page.check("[data-tick-all]")
    assert page.locator("input[name=task_ids]:checked").count() == 3
    page.select_option("#bulk select[name=assignee]", "qmr")
    tl.shot("daily-6-team-leader-bulk-hand-out")
    page.click("#bulk button[value=assign]")
    page.wait_for_selector(".flash.info")
    assert "3 tugas diberikan kepada Qmr." in page.content()
    page.goto(tl.base + "/inbox?scope=oversee&assignee=qmr")
    assert page.locator("table.tasks tbody tr").count() == 3
