"""Hostile input against the record pages and API: every answer a 4xx with a reason, never a 5xx."""

from __future__ import annotations

import pytest

from tests.test_api import api_for

pytestmark = pytest.mark.parametrize("committed_db", ["sqlite"], indirect=True)

BIG = "9" * 30


def test_out_of_range_ids_and_odd_filters_are_not_found_or_refused(web):  # type: ignore[no-untyped-def]
    qmr = web.client("qmr")
    for path in (
        f"/registers/tools/{BIG}",
        f"/registers/suppliers/{BIG}",
        f"/evidence-packs/{BIG}",
        f"/evidence-packs/{BIG}/download",
        f"/cases/{BIG}/record.pdf",
        "/agents/" + "1" * 25,
        "/agents/abc",
        "/registers/nothing",
        "/registers/tools?state=%00",
        "/registers/communications?from=2026-99-99&to=x",
        "/reports?from=2026-02-31",
        "/reports?from=0000-01-01",
        "/registers/communications?q=" + "%25_" * 100,
    ):
        answer = qmr.get(path)
        assert answer.status_code < 500, (path, answer.status_code)
    assert qmr.post(f"/registers/communications/{BIG}/raise").status_code < 500
    assert qmr.post(f"/registers/preservation/{BIG}", {"f.held_on": "2026-01-01"}).status_code < 500
    assert qmr.post(f"/registers/suppliers/actions/{BIG}/close", {"f.note": "xxxx"}).status_code < 500
    assert qmr.post("/evidence-packs", {"period": "2026-13"}).status_code < 500
    assert qmr.post("/evidence-packs", {"period": "2026-01", "site": "Mars"}).status_code < 500
    api = api_for(web, "qmr")
    for path in (f"/evidence-packs/{BIG}", "/agents/" + "x" * 30, "/registers/tools?page=0"):
        assert api.call("GET", path).status_code < 500, path


def test_what_people_type_into_registers_is_shown_as_text(web):  # type: ignore[no-untyped-def]
    qmr = web.client("qmr")
    script = "<script>alert(1)</script>"
    qmr.post(
        "/registers/communications",
        {"f.client": script, "f.on_date": "2026-01-07", "f.channel": "email", "f.kind": "feedback",
         "f.site": "Bandung", "f.summary": "=HYPERLINK(\"http://x\")" + script},
    )  # fmt: skip
    page = qmr.get("/registers/communications").get_data(as_text=True)
    assert script not in page and "&lt;script&gt;" in page
    exported = qmr.get("/registers/communications?format=csv").get_data(as_text=True)
    assert "'=HYPERLINK" in exported  # a spreadsheet does not run it
