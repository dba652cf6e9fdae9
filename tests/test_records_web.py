"""The record pages and their API as each role meets them, on a real app and database."""

from __future__ import annotations

import io
import zipfile

from engine import packs
from tests.test_api import api_for
from tests.test_records import pdf_text
from tests.test_web import raise_nc


def test_registers_as_pages_with_filters_exports_and_forms(web):  # type: ignore[no-untyped-def]
    qmr = web.client("qmr")
    assert qmr.get("/registers").status_code == 200
    added = qmr.post(
        "/registers/communications",
        {"f.client": "Telkom", "f.on_date": "2026-01-07", "f.channel": "email", "f.kind": "complaint",
         "f.site": "Bandung", "f.service": "147", "f.summary": "Agen menutup telepon"},
    )  # fmt: skip
    assert added.status_code == 302
    bad = qmr.post("/registers/communications", {"f.client": "T", "f.kind": "complaint"})
    assert bad.status_code == 422 and bad.get_data(as_text=True).count('class="field-error"') >= 3
    page = qmr.get("/registers/communications?kind=complaint").get_data(as_text=True)
    assert "Agen menutup telepon" in page and "/raise" in page
    row_id = int(page.split("/registers/communications/")[1].split("/")[0])
    raised = qmr.post(f"/registers/communications/{row_id}/raise")
    assert raised.status_code == 302 and "/cases/" in raised.location
    csv = qmr.get("/registers/communications?format=csv")
    assert csv.status_code == 200 and "Telkom" in csv.get_data(as_text=True)
    xlsx = qmr.get("/registers/communications?format=xlsx")
    import openpyxl

    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.data)).active
    assert sheet.cell(2, 2).value == "Telkom" and sheet.max_row == 2
    assert web.client("agent").get("/registers/communications").status_code == 403
    assert web.client("client").get("/registers/suppliers").status_code == 403
    api = api_for(web, "qmr")
    listed = api.call("GET", "/registers/communications?kind=complaint").get_json()
    assert listed["total"] == 1 and listed["items"][0]["nc_number"].startswith("NC-")
    assert api.call("GET", "/registers/nothing").status_code == 404


def test_dashboard_agent_page_and_case_record_pdf(web, tmp_path):  # type: ignore[no-untyped-def]
    qc, qmr = web.client("qc"), web.client("qmr")
    instance_id = raise_nc(qc)
    page = qmr.get("/reports").get_data(as_text=True)
    assert 'id="fig-opened">1<' in page and "<svg" in page
    assert qmr.get("/reports?csv=source").status_code == 200
    api = api_for(web, "qmr")
    figures = api.call("GET", "/reports/nonconformity?from=2025-01-01&to=2027-12-31").get_json()
    assert figures["opened"] == 1 and figures["still_open"] == 1
    assert api.call("GET", "/reports/nonconformity?from=bad").status_code == 422
    assert web.client("agent").get("/reports").status_code == 403
    agent = qmr.get("/agents/1001").get_data(as_text=True)
    assert "Agent" in agent and 'id="agent-cases"' in agent
    assert qmr.get("/agents?code=1001").location.endswith("/agents/1001")
    assert web.client("agent2").get("/agents/1001").status_code == 403
    assert api.call("GET", "/agents/1001").get_json()["agent_code"] == "1001"
    pdf = qmr.get(f"/cases/{instance_id}/record.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    text, pages = pdf_text(pdf.data, tmp_path)
    assert pages >= 2 and "Rekaman lengkap kasus" in text and "Riwayat" in text and "Diagram" in text


def test_the_client_liaison_downloads_a_pack_and_cannot_open_a_case(web):  # type: ignore[no-untyped-def]
    qc = web.client("qc")
    instance_id = raise_nc(qc)
    api = api_for(web, "qc")
    made = api.call("POST", "/evidence-packs", {"period": "2026-01", "site": "Bandung"})
    assert made.status_code == 202
    pack_id = made.get_json()["id"]
    assert api.call("GET", f"/evidence-packs/{pack_id}").status_code == 202  # not built yet
    assert packs.run_pending(web.runtime.sessions, web.runtime.settings.upload_dir, web.clock.now) == 1
    client = web.client("client")
    listing = client.get("/evidence-packs").get_data(as_text=True)
    assert f"/evidence-packs/{pack_id}/download" in listing
    zipped = client.get(f"/evidence-packs/{pack_id}/download")
    assert zipped.status_code == 200
    assert "report.pdf" in zipfile.ZipFile(io.BytesIO(zipped.data)).namelist()
    assert client.get(f"/cases/{instance_id}").status_code in (403, 404)
    assert client.post("/evidence-packs", {"period": "2026-01"}).status_code == 403
    assert api.call("POST", "/evidence-packs", {"period": "2026-13x"}).status_code == 400


def test_a_large_export_is_made_off_the_web_workers_with_progress(web):  # type: ignore[no-untyped-def]
    from dataclasses import replace

    from engine import export_jobs

    qmr = web.client("qmr")
    for day in ("2026-01-05", "2026-01-06"):
        qmr.post(
            "/registers/communications",
            {"f.client": "Telkom", "f.on_date": day, "f.channel": "email", "f.kind": "feedback",
             "f.site": "Bandung", "f.summary": f"Umpan balik {day}"},
        )  # fmt: skip
    web.runtime.settings = replace(web.runtime.settings, export_inline_rows=1)
    asked = qmr.get("/registers/communications?format=csv")
    assert asked.status_code == 302 and "/exports/" in asked.location
    job_path = asked.location.split("localhost")[-1]
    waiting = qmr.get(job_path).get_data(as_text=True)
    assert 'data-status="queued"' in waiting and 'http-equiv="refresh"' in waiting
    assert web.client("director").get(job_path).status_code == 404  # the requester's alone
    assert export_jobs.run_pending(web.runtime.sessions, web.clock.now) == 1
    assert 'data-status="done"' in qmr.get(job_path).get_data(as_text=True)
    content = qmr.get(job_path + "?download=1").get_data(as_text=True)
    assert content.count("\n") == 3 and "Umpan balik 2026-01-06" in content  # header and two rows
