"""The process owners' routes of /api/v1: versions, bundles, drafts, check, publish, moving cases."""

from __future__ import annotations

import io
import json
import zipfile

from tests.test_api import REPORT, api_for
from tests.web_support import PASSWORD

BPMN = "bpmn/nonconformity.bpmn"
TRIAGE = "workflows/nonconformity/forms/triase.json"


def _zip(files: dict[str, str]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
    return out.getvalue()


def _upload(api, key: str, data: bytes):  # type: ignore[no-untyped-def]
    return api.c.post(
        f"/api/v1/processes/{key}/drafts",
        data=data,
        content_type="application/zip",
        headers={"Authorization": f"Bearer {api.token}"},
    )


def test_versions_bundles_and_drafts_round_trip(web):  # type: ignore[no-untyped-def]
    qmr, tl = api_for(web, "qmr"), api_for(web, "teamlead")
    versions = qmr.call("GET", "/processes/nonconformity/versions").get_json()["items"]
    assert [(v["version"], v["state"]) for v in versions] == [(1, "in_effect")]
    assert set(versions[0]) >= {"version", "state", "note", "prepared_by", "approved_by", "effective_from"}
    assert tl.call("GET", "/processes/nonconformity/versions").status_code == 200  # other roles read versions
    zipped = qmr.c.get(
        "/api/v1/processes/nonconformity/versions/1/bundle", headers={"Authorization": f"Bearer {qmr.token}"}
    )
    assert zipped.status_code == 200 and zipped.mimetype == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(zipped.data)).namelist()
    assert BPMN in names and TRIAGE in names and "workflows/nonconformity/process.json" in names
    # The same zip uploaded again is a draft with the same files.
    draft = _upload(qmr, "nonconformity", zipped.data)
    assert draft.status_code == 201
    body = draft.get_json()
    assert body["revision"] == 1 and set(body["files"]) == set(names)
    assert _upload(tl, "nonconformity", zipped.data).status_code == 403
    empty = qmr.call("POST", "/processes/nonconformity/drafts", {}).get_json()
    assert empty["base_version"] == 1 and BPMN in empty["files"]
    fetched = qmr.call("GET", f"/drafts/{empty['id']}").get_json()
    assert fetched["files"] == empty["files"]
    assert tl.call("GET", f"/drafts/{empty['id']}").status_code == 403


def test_a_stale_revision_is_a_409_naming_who_saved_first(web):  # type: ignore[no-untyped-def]
    qmr, admin = api_for(web, "qmr"), api_for(web, "admin")
    draft = qmr.call("POST", "/processes/nonconformity/drafts", {}).get_json()
    form = json.loads(draft["files"][TRIAGE])
    form["title"] = "Triase oleh QMR"
    saved = qmr.call(
        "PUT", f"/drafts/{draft['id']}/files/{TRIAGE}", {"text": json.dumps(form), "revision": 1}
    )
    assert saved.status_code == 200 and saved.get_json()["revision"] == 2
    stale = admin.call("PUT", f"/drafts/{draft['id']}/files/{TRIAGE}", {"text": "{}", "revision": 1})
    assert stale.status_code == 409 and "qmr saved it" in stale.get_json()["error"]["message"]
    assert (
        json.loads(qmr.call("GET", f"/drafts/{draft['id']}").get_json()["files"][TRIAGE])["title"]
        == "Triase oleh QMR"
    )
    bad_json = qmr.call("PUT", f"/drafts/{draft['id']}/files/{TRIAGE}", {"text": "{nope", "revision": 2})
    assert bad_json.status_code == 400 and "not JSON" in bad_json.get_json()["error"]["message"]
    outside = qmr.call("PUT", f"/drafts/{draft['id']}/files/etc/passwd", {"text": "x", "revision": 2})
    assert outside.status_code == 400 and "not a bundle path" in outside.get_json()["error"]["message"]
    gone = qmr.call(
        "DELETE",
        f"/drafts/{draft['id']}/files/workflows/nonconformity/forms/verifikasi.json",
        {"revision": 2},
    )
    assert gone.status_code == 200
    problems = qmr.call("POST", f"/drafts/{draft['id']}/check").get_json()["problems"]
    assert any(p["severity"] == "error" and "verifikasi.json" in p["message"] for p in problems)


def test_bad_bundles_are_refused_with_every_problem(web):  # type: ignore[no-untyped-def]
    qmr = api_for(web, "qmr")
    assert _upload(qmr, "nonconformity", b"not a zip").get_json()["error"]["code"] == "deploy_rejected"
    hostile = (
        '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]>'
        '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL">&b;</bpmn:definitions>'
    )
    for files in (
        {BPMN: "this is not XML"},
        {BPMN: hostile},
        {"../../evil.bpmn": "<x/>"},
    ):
        response = _upload(qmr, "nonconformity", _zip(files))
        if response.status_code == 201:  # the draft takes it; the check names the problem
            problems = qmr.call("POST", f"/drafts/{response.get_json()['id']}/check").get_json()["problems"]
            assert problems and all(p["severity"] == "error" and p["file"] == BPMN for p in problems), (
                problems
            )
        else:
            assert (
                response.status_code == 422 and "not a bundle path" in response.get_json()["error"]["message"]
            )
    # A bundle whose user task names a form the bundle does not have.
    zipped = qmr.c.get(
        "/api/v1/processes/nonconformity/versions/1/bundle", headers={"Authorization": f"Bearer {qmr.token}"}
    )
    files = {
        n: zipfile.ZipFile(io.BytesIO(zipped.data)).read(n).decode()
        for n in zipfile.ZipFile(io.BytesIO(zipped.data)).namelist()
    }
    del files[TRIAGE]
    draft = _upload(qmr, "nonconformity", _zip(files)).get_json()
    problems = qmr.call("POST", f"/drafts/{draft['id']}/check").get_json()["problems"]
    assert [(p["element"], p["severity"]) for p in problems] == [("nc_triage", "error")]
    refused = qmr.call("POST", f"/drafts/{draft['id']}/publish", {"note": "Tanpa formulir triase"})
    assert refused.status_code == 422 and refused.get_json()["error"]["problems"][0]["element"] == "nc_triage"


def test_publish_approve_and_move_cases_through_the_api(web):  # type: ignore[no-untyped-def]
    qc, qmr, director = api_for(web, "qc"), api_for(web, "qmr"), api_for(web, "director")
    old = qc.call("POST", "/processes/nonconformity/start", {"data": REPORT}).get_json()["instance_id"]
    draft = qmr.call("POST", "/processes/nonconformity/drafts", {}).get_json()
    form = json.loads(draft["files"][TRIAGE])
    form["title"] = "Triase QMR"
    qmr.call("PUT", f"/drafts/{draft['id']}/files/{TRIAGE}", {"text": json.dumps(form), "revision": 1})
    assert (
        api_for(web, "teamlead")
        .call("POST", f"/drafts/{draft['id']}/publish", {"note": "x" * 10})
        .status_code
        == 403
    )
    published = qmr.call("POST", f"/drafts/{draft['id']}/publish", {"note": "Judul triase diperjelas"})
    assert published.status_code == 201 and published.get_json() == {
        "version": 2,
        "state": "waiting_approval",
    }
    assert qmr.call("POST", f"/drafts/{draft['id']}/publish", {"note": "lagi"}).status_code == 409
    task = next(
        t
        for t in director.call("GET", "/tasks?scope=roles").get_json()["items"]
        if t["bpmn_id"] == "pc_approve"
    )
    # The Director's approval is signed: without the password again it is refused, with it taken.
    unsigned = director.call("POST", f"/tasks/{task['id']}/complete", {"data": {"decision": "approve"}})
    assert unsigned.status_code == 422 and unsigned.get_json()["error"]["code"] == "signature_required"
    signed = {"data": {"decision": "approve"}, "signature": {"password": PASSWORD}}
    answer = director.call("POST", f"/tasks/{task['id']}/complete", signed)
    assert answer.status_code == 200, answer.get_json()
    versions = {
        v["version"]: v for v in qmr.call("GET", "/processes/nonconformity/versions").get_json()["items"]
    }
    assert versions[2]["state"] == "in_effect" and versions[2]["approved_by"] == "director"
    assert versions[2]["prepared_by"] == "qmr" and versions[2]["note"] == "Judul triase diperjelas"
    assert versions[1]["state"] == "superseded" and versions[1]["running"] == 1
    dry = qmr.call("POST", "/processes/nonconformity/migrations", {"to": 2, "dry_run": True}).get_json()
    assert dry["moved"] == 1 and dry["items"] == [
        {"instance_id": old, "from_version": 1, "moved": True, "reason": None}
    ]
    assert qmr.call("GET", f"/cases/{old}").get_json()["process_key"] == "nonconformity"
    assert (
        api_for(web, "teamlead").call("POST", "/processes/nonconformity/migrations", {"to": 2}).status_code
        == 403
    )
    assert qmr.call("POST", "/processes/nonconformity/migrations", {"to": 9}).status_code == 404
    assert qmr.call("POST", "/processes/nonconformity/migrations", {"to": "2"}).status_code == 400
    moved = qmr.call("POST", "/processes/nonconformity/migrations", {"to": 2, "instances": [old]}).get_json()
    assert moved["moved"] == 1
    assert qmr.call("GET", "/processes/nonconformity/versions").get_json()["items"][0]["running"] == 1


def test_restore_an_old_version_and_see_the_changes_before_publishing(web):  # type: ignore[no-untyped-def]
    qmr = api_for(web, "qmr")
    draft = qmr.call("POST", "/processes/nonconformity/drafts", {}).get_json()
    form = json.loads(draft["files"][TRIAGE])
    form["title"] = "Triase QMR"
    form["properties"]["note_qmr"] = {"type": "string", "title": "Catatan QMR"}
    qmr.call("PUT", f"/drafts/{draft['id']}/files/{TRIAGE}", {"text": json.dumps(form), "revision": 1})
    checked = qmr.call("POST", f"/drafts/{draft['id']}/check").get_json()
    assert (
        f"{TRIAGE}: field 'note_qmr' added" in checked["changes"]
        and f"{TRIAGE}: title changed" in checked["changes"]
    )
    broken = draft["files"][BPMN].replace(">is_nonconformity == False<", ">is_nonconformty == False<")
    qmr.call("PUT", f"/drafts/{draft['id']}/files/{BPMN}", {"text": broken, "revision": 2})
    problems = qmr.call("POST", f"/drafts/{draft['id']}/check").get_json()["problems"]
    assert [(p["element"], p["severity"]) for p in problems if p["severity"] == "error"] == [
        ("nc_f_not_nc", "error")
    ]  # the flow, not its gateway
    restored = qmr.call("POST", "/processes/nonconformity/drafts", {"from_version": 1})
    assert restored.status_code == 201 and restored.get_json()["files"][TRIAGE] != json.dumps(form)
    assert qmr.call("POST", "/processes/nonconformity/drafts", {"from_version": 7}).status_code == 404
    assert qmr.call("POST", "/processes/nonconformity/drafts", {"from_version": "1"}).status_code == 400


def test_a_bundle_imports_from_the_browser_and_each_version_shows_its_changes(web):  # type: ignore[no-untyped-def]
    qmr, page = api_for(web, "qmr"), web.client("qmr")
    zipped = qmr.c.get(
        "/api/v1/processes/nonconformity/versions/1/bundle", headers={"Authorization": f"Bearer {qmr.token}"}
    ).data
    imported = page.post(
        "/processes/nonconformity/import",
        {"bundle": (io.BytesIO(zipped), "nc.zip")},
        content_type="multipart/form-data",
    )
    assert (
        imported.status_code == 302
        and "/drafts/" in imported.location
        and imported.location.endswith("/edit")
    )
    editor = page.get(imported.location)
    assert editor.status_code == 200 and 'id="editor-data"' in editor.get_data(as_text=True)
    refused = page.post(
        "/processes/nonconformity/import",
        {"bundle": (io.BytesIO(b"nope"), "x.zip")},
        content_type="multipart/form-data",
    )
    assert refused.status_code == 302 and "not a zip file" in page.get(refused.location).get_data(
        as_text=True
    )
    assert (
        web.client("teamlead")
        .post(
            "/processes/nonconformity/import",
            {"bundle": (io.BytesIO(zipped), "nc.zip")},
            content_type="multipart/form-data",
        )
        .status_code
        == 403
    )
    diff = web.client("director").get("/processes/nonconformity/versions/1/diff")
    assert diff.status_code == 200 and 'id="diff-data"' in diff.get_data(as_text=True)
    assert page.get("/processes/nonconformity/versions/9/diff").status_code == 404
    catalogue = page.get("/processes").get_data(as_text=True)
    assert "Persetujuan perubahan proses" in catalogue and "8.3" in catalogue and "Tidak berlaku" in catalogue
