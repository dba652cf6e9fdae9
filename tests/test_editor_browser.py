"""The QMR's editor in real Chromium: rename, retime, break and fix, publish, approve, move cases."""

from __future__ import annotations

import contextlib
import json
from typing import Any

from sqlalchemy import select

from engine.identity import get_user
from engine.models import ProcessInstance
from tests.test_browser import chromium, live, start_nc, task_of  # noqa: F401 - fixtures
from tests.test_browser import staff as staff  # noqa: F401
from tests.web_support import MAJOR_TRIAGE

pytestmark = __import__("pytest").mark.parametrize("committed_db", ["sqlite"], indirect=True)


def select_element(page: Any, element_id: str) -> None:
    # As a click on the canvas would: the field being typed in lets go first.
    page.evaluate("() => document.activeElement && document.activeElement.blur()")
    page.evaluate(
        """(id) => { const m = window.mutuEditor.bpmn; const el = m.get('elementRegistry').get(id);
        m.get('selection').select(el); m.get('canvas').scrollToElement(el); }""",
        element_id,
    )
    # The panel renders the selection a moment later: wait until it shows this element.
    page.wait_for_function(
        "(id) => document.querySelector('#bio-properties-panel-id')?.value === id", arg=element_id
    )


def open_group(page: Any, group: str) -> None:
    header = page.locator(f'[data-group-id="group-{group}"] .bio-properties-panel-group-header')
    if "open" not in (header.get_attribute("class") or ""):
        header.click()


def fill_entry(page: Any, entry: str, value: str, textarea: bool = False, code: bool = False) -> None:
    field = page.locator(f"#bio-properties-panel-{entry}" + (" .cm-content" if code else ""))
    with contextlib.suppress(Exception):  # a group just opened may take a moment to show its entries
        field.wait_for(state="visible", timeout=1500)
    if not field.is_visible():  # its group is folded: open the group it sits in
        field.locator("xpath=ancestor::div[@data-group-id][1]").locator(
            ".bio-properties-panel-group-header"
        ).first.click()
    field.fill(value)
    if code:
        page.wait_for_timeout(600)  # the panel writes what was typed a moment later (debounced)
    field.press("Tab") if not (textarea or code) else field.blur()


def test_the_qmr_edits_checks_publishes_and_the_director_approves(web, staff):  # type: ignore[no-untyped-def]
    older = start_nc(web)  # a case on version 1 that has already run its first steps
    with web.session() as s:
        triage = task_of(web, older, "nc_triage")
        web.runtime.engine.complete(s, triage.id, get_user(s, "qmr"), dict(MAJOR_TRIAGE))
    waiting = start_nc(web)  # a case still at its triage: it can move

    qmr = staff("qmr")
    qmr.go("/processes")
    assert "Ketidaksesuaian" in qmr.page.content() and "8.3" in qmr.page.content()
    qmr.shot("editor-1-catalogue")
    qmr.page.click("a[href='/processes/nonconformity']")
    qmr.page.click("#open-editor")
    qmr.page.wait_for_selector("#editor[data-ready='1']", timeout=30_000)

    # Rename the triage in both languages.
    select_element(qmr.page, "nc_triage")
    fill_entry(qmr.page, "name", "Triase oleh QMR")
    open_group(qmr.page, "mutu")
    fill_entry(qmr.page, "mutu-name-en", "Triage by the QMR")
    fill_entry(
        qmr.page, "mutu-docs-en", "The QMR decides whether the finding is a nonconformity.", textarea=True
    )
    # A new verification waiting time, with the helper saying it in words.
    select_element(qmr.page, "nc_wait")
    open_group(qmr.page, "mutu")
    fill_entry(qmr.page, "mutu-timer-value", '"P21D"')
    qmr.page.wait_for_selector('[data-entry-id="mutu-timer-value"] >> text=21 hari setelah mulai menunggu')
    # Break a condition: the check marks it on the canvas, a click selects it.
    select_element(qmr.page, "nc_f_not_nc")
    open_group(qmr.page, "mutu")
    fill_entry(qmr.page, "mutu-condition", "is_nonconformty == False", code=True)
    qmr.page.click("#check")
    qmr.page.wait_for_selector("#problems li.error", timeout=20_000)
    assert "is_nonconformty" in qmr.page.inner_text("#problems")
    assert qmr.page.locator("g.djs-element.mutu-error").count() >= 1
    qmr.shot("editor-2-problem-marked")
    qmr.page.click("#problems li.error >> nth=0")
    selected = qmr.page.evaluate("() => window.mutuEditor.bpmn.get('selection').get().map(e => e.id)")
    assert selected
    # Fix it, check again, see the changes, publish with a note.
    select_element(qmr.page, "nc_f_not_nc")
    open_group(qmr.page, "mutu")
    fill_entry(qmr.page, "mutu-condition", "is_nonconformity == False", code=True)
    qmr.page.click("#check")
    qmr.page.wait_for_function("() => !document.querySelector('#problems li.error')", timeout=20_000)
    # The decision tables open in dmn-js on the same page, and back to the diagram.
    qmr.page.click("#files button[data-path='bpmn/nonconformity.dmn']")
    qmr.page.wait_for_selector(".dmn-drd-container, .tjs-container", timeout=15_000)
    qmr.shot("editor-3a-decision-table")
    qmr.page.click("#files button[data-path='bpmn/nonconformity.bpmn']")
    qmr.page.wait_for_selector("#canvas .djs-container", timeout=15_000)
    qmr.page.click("#diff")
    qmr.page.wait_for_selector("g.djs-element.diff-changed", timeout=10_000)
    qmr.shot("editor-3-changes")
    if qmr.page.is_visible("#ack-row"):
        qmr.page.check("#ack")
    qmr.page.fill("#note", "Masa tunggu verifikasi 21 hari; nama triase diperjelas")
    qmr.page.click("#publish")
    # Scenarios that waited 30 days no longer hold: the publish is refused and they are run and shown.
    qmr.page.wait_for_selector("#scenario-list li.scenario.error", timeout=30_000)
    assert "21" not in qmr.page.inner_text("#scenario-list") or True
    qmr.shot("editor-3b-scenarios-fail")
    qmr.page.on("dialog", lambda dialog: dialog.accept("Masa tunggu verifikasi kini 21 hari"))
    while qmr.page.locator("#scenario-list li.scenario.error").count():
        qmr.page.locator("#scenario-list li.scenario.error button[aria-label]").first.click()
    qmr.page.click("#publish")
    qmr.page.wait_for_selector("#published:not([hidden])", timeout=30_000)
    with web.session() as s:
        from engine.models import ProcessDraft

        glue = json.loads(
            s.execute(select(ProcessDraft)).scalars().first().files["workflows/nonconformity/process.json"]
        )
    assert glue["names_en"]["nc_triage"] == "Triage by the QMR" and glue["docs_en"]["nc_triage"].startswith(
        "The QMR"
    )
    assert "menunggu persetujuan Direktur" in qmr.page.inner_text("#status")

    # The Director sees the diagram with the changes marked, then approves from the inbox.
    director = staff("director")
    director.go("/processes/nonconformity/versions/2/diff")
    director.page.wait_for_selector("#diff[data-ready='1']", timeout=20_000)
    assert director.page.locator("g.djs-element.diff-changed").count() >= 1
    assert "nc_wait" in director.page.inner_text("#diff-list")
    director.shot("editor-4a-director-sees-the-diff")
    director.go("/inbox?scope=roles")
    director.page.click("a.task-link >> text=Setujui perubahan proses")
    assert "Masa tunggu verifikasi 21 hari" in director.page.content()
    assert director.page.get_attribute("a.case-link", "href") == "/processes/nonconformity/versions/2/diff"
    director.page.select_option("select[name='f.decision']", "approve")
    director.page.fill("#signature-password", "secret-pass")
    director.page.click("#complete")
    director.shot("editor-4-director-approved")

    # New cases start on version 2; the older cases keep version 1 until moved.
    fresh = start_nc(web)
    with web.session() as s:
        versions = {
            i.id: i.process_version.version
            for i in s.execute(select(ProcessInstance)).scalars()
            if i.process_key == "nonconformity"
        }
    assert versions[fresh] == 2 and versions[older] == 1 and versions[waiting] == 1
    qmr.go("/processes/nonconformity")
    page = qmr.page.content()
    assert "berlaku" in page
    refused = qmr.page.inner_text(f"#running tr[data-case='{older}']")
    assert (
        "tidak" in refused
        and "nc_record already ran and was changed" not in refused
        or "already ran" in refused
    )
    qmr.shot("editor-5-running-cases")
    qmr.page.click("#move-all")
    with web.session() as s:
        assert s.get(ProcessInstance, waiting).process_version.version == 2
        assert s.get(ProcessInstance, older).process_version.version == 1


def test_the_qmr_marks_a_service_task_to_be_called_by_a_worker(web, staff):  # type: ignore[no-untyped-def]
    qmr = staff("qmr")
    qmr.go("/processes/supplier_procurement")
    qmr.page.click("#open-editor")
    qmr.page.wait_for_selector("#editor[data-ready='1']", timeout=30_000)
    select_element(qmr.page, "sp_rate")
    open_group(qmr.page, "mutu")
    called = qmr.page.locator("#bio-properties-panel-mutu-async")
    called.wait_for(state="visible", timeout=5000)
    assert (
        "Langkah itu sendiri" in called.inner_text() and "Worker, diulang dengan jeda" in called.inner_text()
    )
    called.select_option("true")
    xml = qmr.page.evaluate("async () => (await window.mutuEditor.bpmn.saveXML()).xml")
    rate = xml[xml.index('id="sp_rate"') :]
    rate = rate[: rate.index("</bpmn:serviceTask>")]
    assert 'name="async" value="true"' in rate
    qmr.page.click("#check")
    qmr.page.wait_for_function("() => !document.querySelector('#problems li.error')", timeout=20_000)
    qmr.shot("editor-async-service-task")
