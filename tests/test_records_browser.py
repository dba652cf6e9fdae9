"""The records side in real Chromium: the QMR reads the dashboard and an agent's page; the client
liaison downloads a month's evidence pack and cannot open a nonconformity. Screenshots in
test-artifacts/screenshots/records-*.png."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import pytest

from engine import packs
from tests.test_browser import chromium, live, staff, start_nc  # noqa: F401 - fixtures
from tests.web_support import WebEnv

pytestmark = pytest.mark.parametrize("committed_db", ["sqlite"], indirect=True)


def test_the_qmr_reads_the_dashboard_and_an_agents_page(web: WebEnv, staff: Any) -> None:  # noqa: F811
    start_nc(web)
    qmr = staff("qmr")
    qmr.go("/reports")
    page = qmr.page
    page.wait_for_selector("#kpi-figures")
    assert page.locator("#fig-opened").inner_text() == "1"
    assert page.locator("#chart-source svg rect.bar").count() == 1
    assert "Dasbor mutu" in page.content()
    qmr.shot("records-1-dashboard")
    page.fill("#agent-search", "1001")
    page.press("#agent-search", "Enter")
    page.wait_for_selector("#agent-identity")
    assert page.url.endswith("/agents/1001")
    assert page.locator("#agent-cases tbody tr").count() == 1
    qmr.shot("records-2-agent-page")


def test_the_client_liaison_downloads_a_months_pack_and_cannot_open_a_case(web: WebEnv, staff: Any) -> None:  # noqa: F811
    instance_id = start_nc(web)
    qc = staff("qc")
    qc.go("/evidence-packs")
    qc.page.fill("#pack-request input[name=period]", "2026-01")
    qc.page.click("#pack-request button")
    qc.page.wait_for_selector("#pack-state")
    assert qc.page.locator("#pack-state").get_attribute("data-status") == "queued"
    qc.shot("records-3-pack-in-progress")
    assert packs.run_pending(web.runtime.sessions, web.runtime.settings.upload_dir, web.clock.now) == 1
    client = staff("client")
    client.go("/evidence-packs")
    with client.page.expect_download() as download:
        client.page.locator("#pack-rows a.download").first.click()
    content = Path(download.value.path()).read_bytes()
    assert "report.pdf" in zipfile.ZipFile(io.BytesIO(content)).namelist()
    client.shot("records-4-client-packs")
    answer = client.go(f"/cases/{instance_id}")
    assert answer.status in (403, 404)
    client.shot("records-5-client-refused-a-case")
    client.errors.clear()  # the refused case page is the point of this step
