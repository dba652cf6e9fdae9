"""Staff journeys in real Chromium (Playwright) against a real server; screenshots in test-artifacts/.

Without Chromium or Playwright these skip with the reason; with MUTU_REQUIRE_BROWSER=1 (CI)
they fail instead.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from werkzeug.serving import make_server

from engine.identity import get_user
from engine.models import HumanTask
from tests.web_support import MAJOR_TRIAGE, PNG, REPORT, WebEnv

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SHOTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "screenshots"
pytestmark = pytest.mark.parametrize("committed_db", ["sqlite"], indirect=True)


def _unavailable() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright is not installed (pip install playwright)"
    return None


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    why = _unavailable()
    if why:
        if os.environ.get("MUTU_REQUIRE_BROWSER") == "1":
            pytest.fail(f"MUTU_REQUIRE_BROWSER=1 but {why}")
        pytest.skip(why)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def live(web: WebEnv) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, web.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)


class Staff:
    """One person's browser tab."""

    def __init__(self, chromium: Any, base: str, username: str):
        self.context = chromium.new_context(viewport={"width": 1360, "height": 900}, locale="id-ID")
        self.page = self.context.new_page()
        self.base = base
        self.errors: list[str] = []
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.goto(base + "/login")
        self.page.fill("input[name=username]", username)
        self.page.fill("input[name=password]", "secret-pass")
        self.page.click("button.primary")

    def accept_statement(self) -> None:
        assert "/confidentiality" in self.page.url
        self.page.check("input[name=accept]")
        self.page.click("button.primary")

    def go(self, path: str) -> Any:
        return self.page.goto(self.base + path)

    def shot(self, name: str) -> None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)

    def close(self) -> None:
        assert not self.errors, self.errors
        self.context.close()


@pytest.fixture
def staff(chromium: Any, live: str) -> Iterator[Any]:
    opened: list[Staff] = []

    def open_as(username: str, accept: bool = True) -> Staff:
        person = Staff(chromium, live, username)
        if accept:
            person.accept_statement()
        opened.append(person)
        return person

    yield open_as
    for person in opened:
        person.close()


def start_nc(web: WebEnv) -> int:
    with web.session() as s:
        return web.runtime.engine.start(s, "nonconformity", get_user(s, "qc"), dict(REPORT)).instance.id


def task_of(web: WebEnv, instance_id: int, bpmn_id: str) -> HumanTask:
    with web.session() as s:
        return s.execute(
            select(HumanTask).where(
                HumanTask.instance_id == instance_id, HumanTask.bpmn_id == bpmn_id, HumanTask.status == "open"
            )
        ).scalar_one()


def complete(web: WebEnv, instance_id: int, bpmn_id: str, username: str, data: dict[str, Any]) -> None:
    row = task_of(web, instance_id, bpmn_id)
    with web.session() as s:
        web.runtime.engine.complete(s, row.id, get_user(s, username), data)


def test_qc_accepts_the_statement_and_raises_a_nonconformity_with_evidence(web, staff, tmp_path):  # type: ignore[no-untyped-def]
    qc = staff("qc", accept=False)
    assert "Pernyataan kerahasiaan" in qc.page.content()
    qc.accept_statement()
    qc.page.click("header nav >> text=Mulai")
    qc.page.click("a[data-process=nonconformity]")
    page = qc.page
    page.select_option("select[name='f.source']", "tapping")
    page.select_option("select[name='f.service']", "147")
    page.select_option("select[name='f.site']", "Bandung")
    page.fill("input[name='f.agent_code']", "1001")
    page.fill("textarea[name='f.description']", "Agen memberi informasi tarif yang salah kepada pelanggan")
    evidence = tmp_path / "rekaman-tapping.png"
    evidence.write_bytes(PNG)
    page.set_input_files("input[type=file][name='f.evidence']", str(evidence))
    page.click("#start")
    page.wait_for_selector("#summary")
    text = page.content()
    assert "NC-2026-0001" in text and "rekaman-tapping.png" in text and "Kasus NC-2026-0001 dimulai." in text
    qc.shot("1-qc-raised-nonconformity")


def test_qmr_claims_the_triage_from_my_roles_and_completes_it(web, staff):  # type: ignore[no-untyped-def]
    start_nc(web)
    qmr = staff("qmr")
    qmr.page.click("#tab-roles")
    row = qmr.page.locator("table.tasks tr", has_text="Triase QMR")
    row.locator("button", has_text="Ambil").click()
    page = qmr.page
    assert "Anda mengambil" in page.content()
    page.check("input[name='f.is_nonconformity'][value=true]")
    page.select_option("select[name='f.impact']", "sedang")
    page.check("input[name='f.repeated'][value=false]")
    page.click("#complete")
    page.wait_for_selector(".flash.info")
    assert "“Triase QMR” selesai." in page.content()
    qmr.shot("2-qmr-completed-triage")


def test_a_validation_error_shows_beside_its_field_and_keeps_the_input(web, staff):  # type: ignore[no-untyped-def]
    qc = staff("qc")
    qc.go("/start/nonconformity")
    page = qc.page
    page.select_option("select[name='f.source']", "mystery_shopping")
    page.select_option("select[name='f.service']", "108")
    page.select_option("select[name='f.site']", "Malang")
    page.fill("textarea[name='f.description']", "Terlalu")
    page.click("#start")
    error = page.locator("[data-key=description] .field-error")
    assert error.inner_text().strip() == "Isi minimal 10 karakter."
    assert page.input_value("textarea[name='f.description']") == "Terlalu"
    assert page.input_value("select[name='f.site']") == "Malang"
    assert page.locator("[data-key=site] .field-error").count() == 0
    qc.shot("3-validation-error-beside-field")


def test_the_team_leader_finds_the_action_in_my_tasks(web, staff):  # type: ignore[no-untyped-def]
    instance_id = start_nc(web)
    complete(web, instance_id, "nc_triage", "qmr", MAJOR_TRIAGE)
    contain = task_of(web, instance_id, "nc_contain")
    qmr = staff("qmr")
    qmr.go(f"/tasks/{contain.id}")
    qmr.page.select_option("select[name=assignee]", "teamlead")
    qmr.page.click("form.assign button")
    assert "diberikan kepada" in qmr.page.content()
    tl = staff("teamlead")
    tl.go("/inbox?scope=mine")
    link = tl.page.locator("a.task-link", has_text="Koreksi segera")
    assert link.count() == 1
    assert tl.page.locator("header [data-count=mine]").inner_text() == "1"
    link.click()
    tl.page.fill("textarea[name='f.correction']", "Agen langsung dikoreksi dan diberi tahu tarif yang benar")
    tl.page.click("#complete")
    tl.page.wait_for_selector(".flash.info")
    assert "“Koreksi segera” selesai." in tl.page.content()
    tl.shot("4-team-leader-action-from-my-tasks")


def test_an_agent_opening_another_users_task_gets_403(web, staff):  # type: ignore[no-untyped-def]
    instance_id = start_nc(web)
    triage = task_of(web, instance_id, "nc_triage")
    agent = staff("agent2")
    response = agent.go(f"/tasks/{triage.id}")
    assert response.status == 403
    assert "Tugas atau kasus ini tidak terbuka untuk Anda." in agent.page.content()
    agent.shot("5-agent-forbidden-task")


def test_the_case_page_shows_the_diagram_with_the_active_task_marked(web, staff):  # type: ignore[no-untyped-def]
    instance_id = start_nc(web)
    complete(web, instance_id, "nc_triage", "qmr", MAJOR_TRIAGE)
    qmr = staff("qmr")
    qmr.go(f"/cases/{instance_id}")
    qmr.page.wait_for_selector("#diagram[data-ready=true]")
    marked = qmr.page.locator(".djs-element.mutu-active")
    ids = sorted(marked.nth(i).get_attribute("data-element-id") for i in range(marked.count()))
    assert ids == ["nc_acknowledge", "nc_contain"]
    assert qmr.page.locator(".djs-element.mutu-done[data-element-id=nc_triage]").count() == 1
    qmr.shot("6-case-diagram-active-marked")


def test_the_same_page_in_both_languages(web, staff):  # type: ignore[no-untyped-def]
    instance_id = start_nc(web)
    triage = task_of(web, instance_id, "nc_triage")
    qmr = staff("qmr")
    qmr.go(f"/tasks/{triage.id}")
    page = qmr.page
    assert page.locator("h1").inner_text() == "Triase QMR"
    assert (
        "Merupakan ketidaksesuaian?" in page.content()
        and page.locator("#complete").inner_text() == "Selesaikan"
    )
    qmr.shot("7a-task-page-indonesian")
    page.click("button[name=lang][value=en]")
    page.wait_for_selector("html[lang=en]")
    assert page.locator("h1").inner_text() == "QMR triage"
    assert "Is it a nonconformity?" in page.content() and page.locator("#complete").inner_text() == "Complete"
    assert page.locator("select[name='f.impact'] option").nth(0).inner_text() == "— choose —"
    qmr.shot("7b-task-page-english")


def test_an_action_plan_takes_rows_added_and_removed_in_the_page(web, staff):  # type: ignore[no-untyped-def]
    instance_id = start_nc(web)
    complete(web, instance_id, "nc_triage", "qmr", MAJOR_TRIAGE)
    complete(web, instance_id, "nc_acknowledge", "agent", {"acknowledged": True})
    complete(web, instance_id, "nc_contain", "teamlead", {"correction": "Pelanggan ditelepon ulang"})
    complete(
        web,
        instance_id,
        "nc_rca",
        "teamlead",
        {
            "method": "5_whys",
            "whys": ["Skrip lama", "Belum diperbarui"],
            "root_cause": "Skrip belum diperbarui",
        },
    )
    plan = task_of(web, instance_id, "nc_plan")
    tl = staff("teamlead")
    tl.go(f"/tasks/{plan.id}")
    page = tl.page
    rows = page.locator("fieldset.rows tbody tr.row")
    assert rows.count() == 1  # minItems: one empty row to start with
    page.click("fieldset.rows .add-row")
    page.click("fieldset.rows .add-row")
    assert rows.count() == 3
    for i, (what, due) in enumerate([("Perbarui skrip tarif", "2026-01-12"), ("Dihapus", "2026-01-13"),
                                     ("Pelatihan ulang agen", "2026-01-14")]):  # fmt: skip
        rows.nth(i).locator("input[name$='.action']").fill(what)
        rows.nth(i).locator("select[name$='.owner']").select_option("teamlead")
        rows.nth(i).locator("input[name$='.due_date']").fill(due)
    rows.nth(1).locator(".remove-row").click()
    names = [rows.nth(i).locator("input[name$='.action']").get_attribute("name") for i in range(rows.count())]
    assert names == ["f.actions.0.action", "f.actions.1.action"]  # renumbered after the removal
    tl.shot("8-action-plan-rows")
    page.click("#complete")
    page.wait_for_selector(".flash.info")
    with web.session() as s:
        from engine.models import AuditEvent

        event = s.execute(
            select(AuditEvent).where(AuditEvent.instance_id == instance_id, AuditEvent.bpmn_id == "nc_plan")
        ).scalar_one()
        assert [a["action"] for a in event.data["data"]["actions"]] == [
            "Perbarui skrip tarif",
            "Pelatihan ulang agen",
        ]
