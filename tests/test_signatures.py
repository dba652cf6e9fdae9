"""E-signatures and the audit chain over every record: signed steps, comments, files, statements."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from engine import audit, signatures, workspace
from engine.errors import NotAuthorized
from engine.models import AuditEvent, HumanTask, User
from engine.signin import LoginThrottled, sign_in
from tests.web_support import PASSWORD, ROOT

STEPS = json.loads((ROOT / "workflows/nonconformity/scenarios/mayor_efektif.json").read_text())
WHO = {
    "nc_triage": "qmr",
    "nc_acknowledge": "agent",
    "nc_contain": "teamlead",
    "nc_rca": "teamlead",
    "nc_plan": "teamlead",
}


def user(session, username: str) -> User:  # type: ignore[no-untyped-def]
    return session.execute(select(User).where(User.username == username)).unique().scalar_one()


def open_task(session, instance_id: int, bpmn_id: str) -> HumanTask:  # type: ignore[no-untyped-def]
    return session.execute(
        select(HumanTask).where(
            HumanTask.instance_id == instance_id, HumanTask.bpmn_id == bpmn_id, HumanTask.status == "open"
        )
    ).scalar_one()


def case_at_approval(web) -> int:  # type: ignore[no-untyped-def]
    """A major finding driven to the QMR's (signed) approval of the action plan."""
    engine = web.runtime.engine
    with web.session() as s:
        start = {**STEPS["start"]["data"]}
        instance = engine.start(s, "nonconformity", user(s, "qc"), start).instance
        for step in STEPS["steps"][1:6]:
            row = open_task(s, instance.id, step["task"])
            data = dict(step["data"])
            if step["task"] == "nc_plan":
                data["actions"] = [{**a, "owner": "teamlead"} for a in data["actions"]]
            engine.complete(s, row.id, user(s, WHO[step["task"]]), data)
        s.commit()
        return instance.id


def test_a_signed_step_needs_a_fresh_confirmation_by_the_person_completing_it(web):  # type: ignore[no-untyped-def]
    engine, clock = web.runtime.engine, web.clock
    case = case_at_approval(web)
    with web.session() as s:
        approve, qmr, director = open_task(s, case, "nc_approve"), user(s, "qmr"), user(s, "director")
        data = {"plan_approved": True, "approval_comments": "Rencana memadai"}
        with pytest.raises(signatures.SignatureRequired):
            engine.complete(s, approve.id, qmr, data)
        with pytest.raises(NotAuthorized):  # another person's confirmation signs nothing
            engine.complete(
                s, approve.id, qmr, data, signature=signatures.witnessed(director, clock.now(), "sandbox")
            )
        old = signatures.Confirmation(qmr.id, clock.now() - timedelta(minutes=6), "password")
        with pytest.raises(signatures.SignatureRequired):
            engine.complete(s, approve.id, qmr, data, signature=old)
        with pytest.raises(signatures.SignatureRefused):
            signatures.confirm(s, qmr, "not-my-password", clock.now())
        confirmed = signatures.confirm(s, qmr, PASSWORD, clock.now())
        engine.complete(s, approve.id, qmr, data, signature=confirmed)
        s.commit()
        signed = s.execute(
            select(AuditEvent).where(AuditEvent.instance_id == case, AuditEvent.kind == "signed")
        ).scalar_one()
        assert signed.bpmn_id == "nc_approve" and signed.actor_username == "qmr"
        assert signed.data["meaning"] == "approved" and signed.data["method"] == "password"
        assert signed.data["name"] == qmr.full_name or signed.data["name"] == "qmr"
        assert signed.data["data_sha256"] == signatures.data_hash(data)
        assert audit.verify(s) == []


def test_wrong_signature_passwords_count_towards_the_sign_in_lockout(web):  # type: ignore[no-untyped-def]
    with web.session() as s:
        qmr = user(s, "qmr")
        for _ in range(5):
            with pytest.raises(signatures.SignatureRefused):
                signatures.confirm(s, qmr, "guess", web.clock.now())
            s.commit()
        with pytest.raises(LoginThrottled):
            sign_in(s, "qmr", PASSWORD, web.clock.now())
        with pytest.raises(LoginThrottled):  # and no more guesses through signatures either
            signatures.confirm(s, qmr, PASSWORD, web.clock.now())


def test_the_approval_page_asks_for_the_password_and_the_history_shows_the_signature(web):  # type: ignore[no-untyped-def]
    case = case_at_approval(web)
    qmr = web.client("qmr")
    with web.session() as s:
        approve = open_task(s, case, "nc_approve")
    page = qmr.get(f"/tasks/{approve.id}").get_data(as_text=True)
    assert 'id="signature"' in page and 'name="signature_password"' in page and "disetujui" in page
    form = {"f.plan_approved": "true", "f.approval_comments": "Rencana memadai"}
    wrong = qmr.post(f"/tasks/{approve.id}", {**form, "signature_password": "salah"})
    html = wrong.get_data(as_text=True)
    assert wrong.status_code == 403 and 'id="signature-error"' in html and "Kata sandi salah" in html
    assert "Rencana memadai" in html  # what was typed stays
    missing = qmr.post(f"/tasks/{approve.id}", form)
    assert missing.status_code == 422 and "Masukkan kata sandi" in missing.get_data(as_text=True)
    with web.session() as s:
        assert open_task(s, case, "nc_approve").id == approve.id  # still open
    done = qmr.post(f"/tasks/{approve.id}", {**form, "signature_password": PASSWORD})
    assert done.status_code == 302, done.get_data(as_text=True)
    history = qmr.get(f"/cases/{case}").get_data(as_text=True)
    assert "menandatangani sebagai disetujui" in history and "Sidik data yang ditandatangani" in history
    qmr.post("/language", {"lang": "en", "next": f"/cases/{case}"})
    english = qmr.get(f"/cases/{case}").get_data(as_text=True)
    assert "signed as approved" in english


def test_the_api_and_the_cli_sign_with_the_password(web, tmp_path):  # type: ignore[no-untyped-def]
    from tests.test_api import api_for

    case = case_at_approval(web)
    api = api_for(web, "qmr")
    with web.session() as s:
        approve = open_task(s, case, "nc_approve")
    body: dict[str, Any] = {"data": {"plan_approved": True}}
    refused = api.call("POST", f"/tasks/{approve.id}/complete", {**body, "signature": {"password": "x"}})
    assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "signature_refused"
    missing = api.call("POST", f"/tasks/{approve.id}/complete", body)
    assert missing.status_code == 422 and missing.get_json()["error"]["code"] == "signature_required"
    # The CLI asks for the password with --sign; without it the step is refused with one line.
    from web.cli import main

    env = {"MUTU_DATABASE_URL": web.runtime.settings.database_url}
    runner = CliRunner()
    args = ["complete", str(approve.id), "--as", "qmr", "--data", json.dumps(body["data"])]
    unsigned = runner.invoke(main, args, env=env)
    assert unsigned.exit_code != 0 and "signed" in unsigned.output
    signed = runner.invoke(main, [*args, "--sign"], env=env, input=PASSWORD + "\n")
    assert signed.exit_code == 0, signed.output
    with web.session() as s:
        assert s.get(HumanTask, approve.id).status == "completed"


def test_comments_evidence_and_statements_join_the_audit_chain(web, tmp_path):  # type: ignore[no-untyped-def]
    case = case_at_approval(web)
    with web.session() as s:
        qmr = user(s, "qmr")
        workspace.add_comment(s, case, qmr, "Mohon lampirkan rekaman", web.clock.now())
        png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
        workspace.store_attachment(
            s, tmp_path, "bukti.png", png, qmr, web.clock.now(), max_bytes=1 << 20, instance_id=case
        )
        s.commit()
        kinds = s.execute(
            select(AuditEvent.kind).where(AuditEvent.instance_id == case).order_by(AuditEvent.seq)
        ).scalars()
        assert [k for k in kinds if k in ("commented", "evidence_added")] == ["commented", "evidence_added"]
        assert audit.verify(s) == []
    qc = web.client("qc")  # signed in and accepted the statement: on the user's own chain
    with web.session() as s:
        qc_id = user(s, "qc").id
        accepted = s.execute(
            select(AuditEvent).where(
                AuditEvent.chain == f"user:{qc_id}", AuditEvent.kind == "statement_accepted"
            )
        ).scalar_one()
        assert accepted.data["text_version"] and len(accepted.data["sha256"]) == 64
    page = qc.get(f"/cases/{case}").get_data(as_text=True)
    assert "menambahkan komentar" in page and "bukti.png" in page
