"""The form editor and the scenario recorder in real Chromium, as the QMR uses them."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from engine.models import ProcessDraft
from tests.test_browser import chromium, live, start_nc, task_of  # noqa: F401 - fixtures
from tests.test_browser import staff as staff  # noqa: F401
from tests.test_editor_browser import fill_entry, open_group, select_element
from tests.web_support import ROOT

pytestmark = __import__("pytest").mark.parametrize("committed_db", ["sqlite"], indirect=True)
EFFECTIVE = json.loads((ROOT / "workflows/nonconformity/scenarios/mayor_efektif.json").read_text())


def open_editor(person: Any) -> None:
    person.go("/processes/nonconformity")
    person.page.click("#open-editor")
    person.page.wait_for_selector("#editor[data-ready='1']", timeout=30_000)


def fill_form(form: Any, data: dict[str, Any], prefix: str = "f.") -> None:
    """Fill a rendered task form as a person would: radios, selects, lines, rows."""
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, bool):
            form.locator(f"input[name='{name}'][value='{'true' if value else 'false'}']").check()
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            for i, row in enumerate(value):
                if i:
                    form.locator(f"fieldset[data-field='{key}'] .add-row").click()
                fill_form(form, row, f"{name}.{i}.")
        elif isinstance(value, list):
            form.locator(f"[name='{name}']").fill("\n".join(value))
        else:
            field = form.locator(f"[name='{name}']")
            if field.evaluate("e => e.tagName") == "SELECT":
                field.select_option(str(value))
            else:
                field.fill(str(value))


def remove_failing_scenarios(page: Any, note: str) -> None:
    page.wait_for_selector("#scenario-list li.scenario.error", timeout=30_000)
    page.once("dialog", lambda d: d.accept(note))
    while page.locator("#scenario-list li.scenario.error").count():
        page.once("dialog", lambda d: d.accept(note))
        page.locator("#scenario-list li.scenario.error button[aria-label]").first.click()


def approve(staff: Any, version: int) -> None:
    director = staff("director")
    director.go("/inbox?scope=roles")
    director.page.click("a.task-link >> text=Setujui perubahan proses")
    director.page.select_option("select[name='f.decision']", "approve")
    # The Director's approval is signed: a wrong password is refused and nothing is taken.
    director.page.fill("#signature-password", "bukan-sandi-saya")
    director.page.click("#complete")
    director.page.wait_for_selector("#signature-error")
    assert "Kata sandi salah" in director.page.inner_text("#signature-error")
    director.shot("signature-1-wrong-password-refused")
    director.page.select_option("select[name='f.decision']", "approve")
    director.page.fill("#signature-password", "secret-pass")
    director.shot("signature-2-director-signs")
    director.page.click("#complete")
    director.page.wait_for_selector(".flash")


def test_the_qmr_adds_a_required_field_sees_it_in_both_languages_and_staff_get_it(web, staff):  # type: ignore[no-untyped-def]
    qmr = staff("qmr")
    open_editor(qmr)
    page = qmr.page
    page.click("#files button[data-path='workflows/nonconformity/forms/triase.json']")
    page.wait_for_selector("#form-designer .fd-field", timeout=10_000)
    page.click("#delete-form")  # the triage task uses this form: it stays, and the reason says so
    page.wait_for_selector("#status.error >> text=nc_triage")
    assert page.locator("#files button[data-path='workflows/nonconformity/forms/triase.json']").count() == 1
    page.click("#form-designer .fd-add")
    card = page.locator(".fd-field[data-name='field_1']")
    card.locator(".fd-key").fill("client_note")
    card.locator(".fd-key").press("Tab")
    card = page.locator(".fd-field[data-name='client_note']")
    card.locator("label:has-text('Label (Indonesia)') input").fill("Catatan untuk klien")
    card.locator("label:has-text('Label (Inggris)') input").fill("Note for the client")
    card.locator("label:has-text('Wajib') input").check()
    # Moved up by keyboard to sit second, after the decision itself.
    card = page.locator(".fd-field[data-name='client_note']")
    for _ in range(3):
        card.focus()
        card.press("Alt+ArrowUp")
        card = page.locator(".fd-field[data-name='client_note']")
    names = page.eval_on_selector_all(
        "#form-designer > .fd-edit > .fd-list > .fd-fields > .fd-field", "els => els.map(e => e.dataset.name)"
    )
    assert names[:2] == ["is_nonconformity", "client_note"]
    page.wait_for_selector(".fd-preview label:has-text('Catatan untuk klien') .req", timeout=10_000)
    qmr.shot("forms-1-field-added-preview-id")
    page.click(".fd-langs button[data-lang='en']")
    page.wait_for_selector(".fd-preview label:has-text('Note for the client')", timeout=10_000)
    assert "Is it a nonconformity?" in page.inner_text(".fd-preview")
    qmr.shot("forms-2-preview-en")
    # The raw JSON Schema view shows the same field, and a typing mistake there is marked at once.
    page.click(".fd-tabs button >> text=JSON Schema")
    text = page.input_value(".fd-json")
    assert '"client_note"' in text and "client_note" in json.loads(text)["required"]
    page.fill(".fd-json", text[:-5])
    page.wait_for_selector(".fd-json.invalid")
    page.fill(".fd-json", text)
    page.wait_for_function("() => !document.querySelector('.fd-json.invalid')")
    # The process settings open as a form beside their JSON, and both say the same.
    page.click("#files button[data-path='workflows/nonconformity/process.json']")
    page.wait_for_selector("#glue textarea[name='objective']", timeout=10_000)
    page.fill("#glue textarea[name='objective']", "Setiap ketidaksesuaian dikoreksi dan diverifikasi.")
    page.wait_for_function(
        "() => document.querySelector('#json').value.includes('dikoreksi dan diverifikasi')"
    )
    assert page.is_visible("#glue [data-name='startable_by'] input[value='quality_control']")
    qmr.shot("forms-2b-process-settings")
    # The recorded scenarios never filled the new field: publishing is refused until they are
    # updated or removed with a note.
    page.click("#check")
    page.wait_for_function("() => !document.querySelector('#problems li.error')", timeout=20_000)
    if page.is_visible("#ack-row"):
        page.check("#ack")
    page.fill("#note", "Triase mencatat pesan untuk klien (wajib)")
    page.click("#publish")
    remove_failing_scenarios(page, "Triase kini mewajibkan catatan untuk klien")
    page.click("#publish")
    page.wait_for_selector("#published:not([hidden])", timeout=30_000)
    qmr.shot("forms-3-published")
    approve(staff, 2)

    case = start_nc(web)
    triage = task_of(web, case, "nc_triage")
    qmr.go(f"/tasks/{triage.id}")
    assert "Catatan untuk klien" in page.content()
    page.locator("input[name='f.is_nonconformity'][value='false']").check()
    page.fill("textarea[name='f.rejection_reason']", "Sesuai prosedur")
    page.click("#complete")
    page.wait_for_selector(".field.has-error[data-key='client_note']")
    qmr.shot("forms-4-staff-form-refuses-empty")
    page.fill("input[name='f.client_note']", "Klien diberi tahu via email")
    page.click("#complete")
    page.wait_for_selector(".flash")
    with web.session() as s:
        from engine.models import HumanTask, ProcessVersion

        assert s.get(HumanTask, triage.id).status == "completed"
        newest = s.execute(select(ProcessVersion).order_by(ProcessVersion.id.desc())).scalars().first()
        assert newest.glue["objective"] == "Setiap ketidaksesuaian dikoreksi dan diverifikasi."


def test_the_qmr_records_a_scenario_breaks_a_gateway_sees_it_fail_and_fixes_it(web, staff):  # type: ignore[no-untyped-def]
    qmr = staff("qmr")
    open_editor(qmr)
    page = qmr.page
    page.click("#record-scenario")
    page.wait_for_selector("#recorder form[data-task='start']", timeout=20_000)
    page.fill("#sc-name", "Mayor direkam: efektif")
    page.fill("#sc-name-en", "Recorded major: effective")
    fill_form(page.locator("#recorder form[data-task='start']"), EFFECTIVE["start"]["data"])
    page.click("#sc-start")
    for step in EFFECTIVE["steps"]:
        if "refused" in step:
            continue
        if "wait" in step:
            if page.locator(".sc-skip").count():
                page.click(".sc-skip >> nth=0")
                page.wait_for_selector(".sc-task[data-task='nc_verify']", timeout=20_000)
            continue
        page.click(f".sc-task[data-task='{step['task']}']")
        form = page.locator(f"#recorder form[data-task='{step['task']}']")
        form.wait_for(timeout=10_000)
        fill_form(form, step["data"])
        if step["task"] == "nc_implement":
            qmr.shot("scenarios-1-recording")
        form.locator(".sc-complete").click()
        page.wait_for_function(
            "(t) => !document.querySelector(`#recorder form[data-task='${t}']`)",
            arg=step["task"],
            timeout=20_000,
        )
    page.wait_for_selector(".sc-status[data-status='completed']", timeout=20_000)
    assert page.locator("g.djs-element.mutu-done").count() > 5
    qmr.shot("scenarios-2-recorded-path")
    page.click("#sc-save")
    page.wait_for_selector("#scenario-list li[data-path$='mayor_direkam_efektif.json']", timeout=20_000)
    with web.session() as s:
        draft = s.execute(select(ProcessDraft)).scalars().first()
        saved = json.loads(draft.files["workflows/nonconformity/scenarios/mayor_direkam_efektif.json"])
    assert saved["expect"]["status"] == "completed" and saved["steps"][-1]["task"] == "nc_verify"

    # A broken gateway: effective cases would be reopened.
    select_element(page, "nc_f_not_effective")
    open_group(page, "mutu")
    fill_entry(page, "mutu-condition", "effective == True", code=True)
    page.click("#run-scenarios")
    failed = page.locator("#scenario-list li[data-path$='mayor_direkam_efektif.json'].error")
    failed.wait_for(timeout=30_000)
    assert "[nc_verify]" in failed.inner_text()
    page.click("#scenario-list li[data-path$='mayor_direkam_efektif.json'] button.link")
    page.wait_for_selector("g.djs-element.mutu-error[data-element-id='nc_verify']", timeout=10_000)
    qmr.shot("scenarios-3-fails-at-verification")

    select_element(page, "nc_f_not_effective")
    open_group(page, "mutu")
    fill_entry(page, "mutu-condition", "effective == False", code=True)
    page.click("#run-scenarios")
    page.wait_for_selector("#editor[data-scenarios='passed']", timeout=30_000)
    assert page.locator("#scenario-list li.scenario.error").count() == 0
    qmr.shot("scenarios-4-all-pass")
    page.click("#check")
    page.wait_for_function("() => !document.querySelector('#problems li.error')", timeout=20_000)
    if page.is_visible("#ack-row"):
        page.check("#ack")
    page.fill("#note", "Skenario mayor direkam sebagai uji sebelum terbit")
    page.click("#publish")
    page.wait_for_selector("#published:not([hidden])", timeout=30_000)
