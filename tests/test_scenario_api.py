"""The form editor's and scenario recorder's routes of /api/v1, on both databases."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from engine.models import AuditEvent, CaseCounter, ProcessInstance
from tests.test_api import api_for

TRIAGE = "workflows/nonconformity/forms/triase.json"
EFFECTIVE = "workflows/nonconformity/scenarios/mayor_efektif.json"
BPMN = "bpmn/nonconformity.bpmn"


def _draft(api):  # type: ignore[no-untyped-def]
    return api.call("POST", "/processes/nonconformity/drafts", {}).get_json()


def _counts(web) -> tuple[int, int, int]:  # type: ignore[no-untyped-def]
    with web.session() as s:
        return tuple(  # type: ignore[return-value]
            s.execute(select(func.count()).select_from(m)).scalar_one()
            for m in (ProcessInstance, AuditEvent, CaseCounter)
        )


def test_scenarios_run_against_a_draft_and_report_the_first_difference(web):  # type: ignore[no-untyped-def]
    qmr, tl = api_for(web, "qmr"), api_for(web, "teamlead")
    draft = _draft(qmr)
    before = _counts(web)
    run = qmr.call("POST", f"/drafts/{draft['id']}/scenarios/run", {})
    assert run.status_code == 200
    body = run.get_json()
    assert body["passed"] is True and len(body["scenarios"]) == 4
    assert {"name", "passed", "difference", "path", "completed", "flows"} <= set(body["scenarios"][0])
    assert _counts(web) == before  # nothing of the sandbox reached the real database
    assert tl.call("POST", f"/drafts/{draft['id']}/scenarios/run", {}).status_code == 403
    broken = draft["files"][BPMN].replace(
        "effective == False</bpmn:conditionExpression>", "effective == True</bpmn:conditionExpression>"
    )
    put = qmr.call("PUT", f"/drafts/{draft['id']}/files/{BPMN}", {"text": broken, "revision": 1})
    assert put.status_code == 200
    one = qmr.call("POST", f"/drafts/{draft['id']}/scenarios/run", {"paths": [EFFECTIVE]}).get_json()
    [result] = one["scenarios"]
    assert one["passed"] is False and result["passed"] is False
    assert result["difference"]["element"] == "nc_verify" and "nc_rca" in result["difference"]["actual"]
    assert qmr.call("POST", f"/drafts/{draft['id']}/scenarios/run", {"paths": "x"}).status_code == 400
    refused = qmr.call("POST", f"/drafts/{draft['id']}/publish", {"note": "Gerbang diubah"})
    assert refused.status_code == 422
    assert any(p["file"] == EFFECTIVE for p in refused.get_json()["error"]["problems"])


def test_a_scenario_is_recorded_form_by_form_and_saved_as_a_draft_file(web):  # type: ignore[no-untyped-def]
    qmr = api_for(web, "qmr")
    draft = _draft(qmr)
    recorded = json.loads(draft["files"][EFFECTIVE])
    headers = {"Authorization": f"Bearer {qmr.token}"}
    doc = {"name": "Rekaman", "steps": []}
    start = {f"f.{k}": v for k, v in recorded["start"]["data"].items()}
    out = qmr.c.post(
        f"/api/v1/drafts/{draft['id']}/scenarios/step",
        data={"scenario": json.dumps(doc), "task": "", "form": "laporan.json", **start},
        headers=headers,
    )
    assert out.status_code == 200, out.get_json()
    state = out.get_json()["state"]
    assert [t["bpmn_id"] for t in state["open"]] == ["nc_triage"] and state["active"] == ["nc_triage"]
    doc = out.get_json()["scenario"]
    empty = qmr.c.post(
        f"/api/v1/drafts/{draft['id']}/scenarios/step",
        data={"scenario": json.dumps(doc), "task": "nc_triage", "form": "triase.json", "lang": "en"},
        headers=headers,
    )
    assert empty.status_code == 422 and "is_nonconformity" in empty.get_json()["errors"]
    assert "Is it a nonconformity?" in empty.get_json()["html"]
    done = qmr.c.post(
        f"/api/v1/drafts/{draft['id']}/scenarios/step",
        data={
            "scenario": json.dumps(doc),
            "task": "nc_triage",
            "form": "triase.json",
            "f.is_nonconformity": "false",
            "f.rejection_reason": "Sesuai prosedur",
        },
        headers=headers,
    ).get_json()
    assert done["state"]["status"] == "completed" and done["scenario"]["steps"][0]["data"] == {
        "is_nonconformity": False,
        "rejection_reason": "Sesuai prosedur",
    }
    replay = qmr.call("POST", f"/drafts/{draft['id']}/scenarios/replay", {"scenario": done["scenario"]})
    assert replay.get_json()["passed"] is True and replay.get_json()["ends"] == ["nc_end_rejected"]
    path = "workflows/nonconformity/scenarios/rekaman.json"
    text = json.dumps({**done["scenario"], "expect": {"status": "completed"}})
    assert (
        qmr.call("PUT", f"/drafts/{draft['id']}/files/{path}", {"text": text, "revision": 1}).status_code
        == 200
    )
    names = [
        s["name"]
        for s in qmr.call("POST", f"/drafts/{draft['id']}/scenarios/run", {}).get_json()["scenarios"]
    ]
    assert "Rekaman" in names
    bad = qmr.c.post(f"/api/v1/drafts/{draft['id']}/scenarios/step", data={"scenario": "{"}, headers=headers)
    assert bad.status_code == 400
    nested = "[" * 100_000 + "]" * 100_000
    deep = qmr.c.post(
        f"/api/v1/drafts/{draft['id']}/scenarios/step", data={"scenario": nested}, headers=headers
    )
    assert deep.status_code == 400


def test_the_form_preview_and_where_a_name_is_used(web):  # type: ignore[no-untyped-def]
    qmr = api_for(web, "qmr")
    draft = _draft(qmr)
    schema = json.loads(draft["files"][TRIAGE])
    schema["properties"]["client_note"] = {
        "type": "string",
        "title": "Catatan",
        "x-mutu": {"title_en": "Note"},
    }
    schema["required"].append("client_note")
    for lang, word in (("id", "Catatan"), ("en", "Note")):
        out = qmr.call(
            "POST", f"/drafts/{draft['id']}/forms/preview", {"schema": schema, "lang": lang}
        ).get_json()
        assert out["problem"] is None and word in out["html"] and 'name="f.client_note"' in out["html"]
    wrong = qmr.call(
        "POST", f"/drafts/{draft['id']}/forms/preview", {"schema": {"type": "object", "required": 3}}
    ).get_json()
    assert wrong["html"] == "" and "not a valid JSON Schema" in wrong["problem"]
    assert (
        qmr.call("POST", f"/drafts/{draft['id']}/forms/preview", {"schema": [], "lang": "fr"}).status_code
        == 400
    )
    uses = qmr.call("GET", f"/drafts/{draft['id']}/uses?name=is_nonconformity&form={TRIAGE}").get_json()[
        "uses"
    ]
    assert uses == ["condition of nc_f_not_nc (bpmn/nonconformity.bpmn)"]
    assert qmr.call("GET", f"/drafts/{draft['id']}/uses").status_code == 400


def test_a_message_from_outside_starts_or_reaches_cases_and_needs_a_sender_role(web):  # type: ignore[no-untyped-def]
    qmr, qc = api_for(web, "qmr"), api_for(web, "qc")
    body = {
        "name": "nonconformity",
        "payload": {
            "source": "customer_complaint",
            "site": "Bandung",
            "service": "147",
            "description": "Keluhan via tiket",
        },
    }
    assert qc.call("POST", "/messages", body).status_code == 403
    sent = qmr.call("POST", "/messages", body)
    assert sent.status_code == 202, sent.get_json()
    [started] = sent.get_json()["started"]
    case = qmr.call("GET", f"/cases/{started}").get_json()
    assert case["process_key"] == "nonconformity"
    nobody = qmr.call("POST", "/messages", {"name": "no_such_message", "payload": {}})
    assert nobody.status_code == 404 and nobody.get_json()["error"]["code"] == "message_undelivered"
    assert qmr.call("POST", "/messages", {"name": "x", "correlation": {"k": 1}}).status_code == 400
    deep: dict = {}
    for _ in range(40):
        deep = {"d": deep}
    too_deep = qmr.call("POST", "/messages", {"name": "nonconformity", "payload": deep})
    assert too_deep.status_code == 400 and "nested" in too_deep.get_json()["error"]["message"]
