"""``/api/v1`` on a real database: tokens, the statement, processes, tasks, cases, errors, OpenAPI."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from tests.web_support import PASSWORD
from tests.web_support import REPORT as BASE_REPORT

REPORT = {**BASE_REPORT, "customer_name": "Budi Santoso"}


class Api:
    def __init__(self, client: Any, token: str | None = None):
        self.c, self.token = client, token

    def call(self, method: str, url: str, body: Any = None) -> Any:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return self.c.open("/api/v1" + url, method=method, json=body, headers=headers)


def api_for(web, username: str, accept: bool = True) -> Api:  # type: ignore[no-untyped-def]
    client = web.app.test_client()
    response = client.post("/api/v1/token", json={"username": username, "password": PASSWORD})
    assert response.status_code == 201, response.get_json()
    api = Api(client, response.get_json()["token"])
    if accept:
        assert api.call("POST", "/confidentiality", {"accept": True, "version": "2026-1"}).status_code == 200
    return api


def test_tokens_authenticate_expire_and_revoke(web):  # type: ignore[no-untyped-def]
    client = web.app.test_client()
    assert Api(client).call("GET", "/tasks").status_code == 401
    bad = client.post("/api/v1/token", json={"username": "qc", "password": "nope"})
    assert bad.status_code == 401 and bad.get_json()["error"]["code"] == "bad_credentials"
    assert client.post("/api/v1/token", data="x").get_json()["error"]["code"] == "bad_request"
    api = api_for(web, "qc", accept=False)
    refused = api.call("GET", "/tasks")
    assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "statement_not_accepted"
    assert api.call("GET", "/confidentiality").get_json()["accepted"] is False
    api.call("POST", "/confidentiality", {"accept": True, "version": "2026-1"})
    assert api.call("GET", "/tasks").status_code == 200
    # A cookie session does not stand in for the token (the API has no CSRF protection).
    assert Api(client).call("GET", "/tasks").status_code == 401
    web.clock.advance(timedelta(hours=9))
    expired = api.call("GET", "/tasks")
    assert expired.status_code == 401 and expired.get_json()["error"]["code"] == "unauthenticated"
    fresh = api_for(web, "qc")
    assert fresh.call("DELETE", "/token").status_code == 204
    assert fresh.call("GET", "/tasks").status_code == 401


def test_start_claim_complete_and_history(web):  # type: ignore[no-untyped-def]
    qc, qmr = api_for(web, "qc"), api_for(web, "qmr")
    processes = {p["key"]: p for p in qc.call("GET", "/processes").get_json()["items"]}
    assert (
        processes["nonconformity"]["may_start"] and processes["nonconformity"]["start_schema"]["properties"]
    )
    assert processes["requirement_change"]["may_start"] is False
    started = qc.call("POST", "/processes/nonconformity/start", {"data": REPORT})
    assert started.status_code == 201, started.get_json()
    body = started.get_json()
    assert body["number"] == "NC-2026-0001" and body["status"] == "running"
    instance_id = body["instance_id"]

    roles = qmr.call("GET", "/tasks?scope=roles").get_json()
    assert roles["total"] == 1 and roles["items"][0]["bpmn_id"] == "nc_triage"
    assert roles["items"][0]["case"]["number"] == "NC-2026-0001"
    task_id = roles["items"][0]["id"]
    detail = qmr.call("GET", f"/tasks/{task_id}").get_json()
    assert detail["schema"]["properties"]["is_nonconformity"]["type"] == "boolean"
    assert qmr.call("POST", f"/tasks/{task_id}/claim").get_json()["assignee_id"] is not None
    assert qmr.call("GET", "/tasks?scope=mine").get_json()["total"] == 1

    invalid = qmr.call("POST", f"/tasks/{task_id}/complete", {"data": {"is_nonconformity": "ya"}})
    assert invalid.status_code == 422
    error = invalid.get_json()["error"]
    assert error["code"] == "validation_failed" and "is_nonconformity" in error["fields"]
    ok = qmr.call(
        "POST",
        f"/tasks/{task_id}/complete",
        {"data": {"is_nonconformity": True, "impact": "sedang", "repeated": False}},
    )
    assert ok.status_code == 200 and {t["bpmn_id"] for t in ok.get_json()["new_tasks"]} >= {"nc_contain"}
    twice = qmr.call("POST", f"/tasks/{task_id}/complete", {"data": {}})
    assert twice.status_code == 409 and twice.get_json()["error"]["code"] in ("conflict", "invalid_state")

    case = qmr.call("GET", f"/cases/{instance_id}").get_json()
    assert case["number"] == "NC-2026-0001" and case["status"] == "running"
    assert {t["bpmn_id"] for t in case["open_tasks"]} == {"nc_contain", "nc_acknowledge"}
    history = qmr.call("GET", f"/cases/{instance_id}/history").get_json()["items"]
    assert [e["kind"] for e in history][:3] == ["started", "claimed", "completed"]
    assert history[2]["actor"] == "qmr" and history[2]["agent_code"] == "3001"


def test_authorisation_and_masking(web):  # type: ignore[no-untyped-def]
    qc, agent2, tl = api_for(web, "qc"), api_for(web, "agent2"), api_for(web, "teamlead")
    instance_id = qc.call("POST", "/processes/nonconformity/start", {"data": REPORT}).get_json()[
        "instance_id"
    ]
    qmr = api_for(web, "qmr")
    task_id = qmr.call("GET", "/tasks?scope=roles").get_json()["items"][0]["id"]
    assert agent2.call("GET", f"/tasks/{task_id}").status_code == 403
    assert agent2.call("POST", f"/tasks/{task_id}/claim").status_code == 403
    assert agent2.call("POST", f"/tasks/{task_id}/complete", {"data": {}}).status_code == 403
    assert agent2.call("GET", f"/cases/{instance_id}").status_code == 403
    assert agent2.call("GET", "/cases").get_json()["total"] == 0
    refused = agent2.call("POST", "/processes/requirement_change/start", {"data": {}})
    assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "not_authorized"
    qmr.call(
        "POST",
        f"/tasks/{task_id}/complete",
        {"data": {"is_nonconformity": True, "impact": "sedang", "repeated": False}},
    )
    seen_by_tl = tl.call("GET", f"/cases/{instance_id}").get_json()
    assert seen_by_tl["fields"].get("customer_name") in (None, "••••••")
    history = tl.call("GET", f"/cases/{instance_id}/history").get_json()["items"]
    assert history[0]["data"]["data"]["customer_name"] == "••••••"
    assert (
        qc.call("GET", f"/cases/{instance_id}/history").get_json()["items"][0]["data"]["data"][
            "customer_name"
        ]
        == "Budi Santoso"
    )


def test_bad_requests_are_json_errors(web):  # type: ignore[no-untyped-def]
    qc = api_for(web, "qc")
    assert qc.call("GET", "/tasks?scope=everything").status_code == 400
    assert qc.call("GET", "/tasks?per_page=1000").status_code == 400
    assert qc.call("GET", "/tasks?sort=random").status_code == 400
    missing = qc.call("POST", "/processes/nosuch/start", {"data": {}})
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "not_found"
    invalid = qc.call("POST", "/processes/nonconformity/start", {"data": {"source": "tapping"}})
    assert invalid.status_code == 422 and "description" in invalid.get_json()["error"]["fields"]
    assert qc.call("POST", "/processes/nonconformity/start", {"data": [1]}).status_code == 400
    assert qc.call("GET", "/nosuch").get_json()["error"]["code"] == "not_found"
    assert qc.call("GET", "/cases/424242").status_code == 404


def test_inbox_pages_and_filters(web):  # type: ignore[no-untyped-def]
    qc = api_for(web, "qc")
    for i in range(30):
        qc.call(
            "POST", "/processes/nonconformity/start", {"data": {**REPORT, "site": ["Bogor", "Malang"][i % 2]}}
        )
    qmr = api_for(web, "qmr")
    page1 = qmr.call("GET", "/tasks?scope=roles&per_page=20").get_json()
    page2 = qmr.call("GET", "/tasks?scope=roles&per_page=20&page=2").get_json()
    assert page1["total"] == 30 and len(page1["items"]) == 20 and len(page2["items"]) == 10
    assert not {t["id"] for t in page1["items"]} & {t["id"] for t in page2["items"]}
    assert qmr.call("GET", "/tasks?scope=roles&site=Bogor").get_json()["total"] == 15
    assert qmr.call("GET", "/tasks?scope=roles&q=NC-2026-0007").get_json()["total"] == 1
    cases = qmr.call("GET", "/cases?site=Malang&per_page=5").get_json()
    assert cases["total"] == 15 and len(cases["items"]) == 5


def test_openapi_documents_every_route(web):  # type: ignore[no-untyped-def]
    from openapi_spec_validator import validate

    doc = web.app.test_client().get("/api/v1/openapi.json").get_json()
    validate(doc)  # a valid OpenAPI 3.1 document, not only a JSON object
    assert (
        doc["openapi"].startswith("3.1")
        and doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    )
    documented = {path for path in doc["paths"]}
    for rule in web.app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/"):
            path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule.removeprefix("/api/v1"))
            assert path in documented, path
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                assert method.lower() in doc["paths"][path], (path, method)


def test_hourly_housekeeping_forgets_closed_drafts_expired_tokens_and_old_failures(web):  # type: ignore[no-untyped-def]
    from sqlalchemy import func, select

    from engine.models_signin import ApiToken, LoginFailure
    from engine.models_workspace import TaskDraft
    from engine.scheduler import periodic_job_definitions, tidy

    assert {j.id for j in periodic_job_definitions(web.runtime)} == {
        "fire-due-timers",
        "housekeeping",
        "notifications",
        "digests",
        "trend-rules",
        "evidence-packs",
        "exports",
        "service-tasks",
        "messages",
    }
    qc, qmr = api_for(web, "qc"), api_for(web, "qmr")
    qc.call("POST", "/processes/nonconformity/start", {"data": REPORT})
    task_id = qmr.call("GET", "/tasks?scope=roles").get_json()["items"][0]["id"]
    page = web.client("qmr")
    page.post(f"/tasks/{task_id}", {"action": "draft", "f.impact": "sedang"})
    web.app.test_client().post("/api/v1/token", json={"username": "qc", "password": "wrong"})
    qmr.call(
        "POST",
        f"/tasks/{task_id}/complete",
        {"data": {"is_nonconformity": True, "impact": "sedang", "repeated": False}},
    )
    web.clock.advance(timedelta(hours=9))
    assert tidy(web.runtime) == {
        "drafts": 1,
        "tokens": 2,
        "login_failures": 1,
        "sessions": 1,
        "idempotency_keys": 0,
        "finished_jobs": 0,
    }
    with web.session() as s:
        for table in (TaskDraft, LoginFailure, ApiToken):
            assert s.execute(select(func.count()).select_from(table)).scalar_one() == 0
