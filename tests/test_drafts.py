"""Drafts, their check, publish with the Director's approval, versions and moving running cases."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from engine import drafts, signatures, versioning
from engine.errors import Conflict, NotAuthorized
from engine.models import AuditEvent, ProcessInstance, ProcessVersion
from engine.signatures import SignatureRequired
from tests.helpers import NC_REPORT, task_by_bpmn

BPMN = "bpmn/nonconformity.bpmn"


def _draft(session, library, people):  # type: ignore[no-untyped-def]
    return drafts.create(session, library, "nonconformity", people.qmr, library.clock.now())


def test_a_draft_starts_from_the_version_in_effect_and_saves_with_revisions(session, library, people):  # type: ignore[no-untyped-def]
    draft = _draft(session, library, people)
    assert BPMN in draft.files and "workflows/nonconformity/process.json" in draft.files
    assert any(p.startswith("workflows/nonconformity/forms/") for p in draft.files)
    text = draft.files[BPMN].replace('name="Triase QMR"', 'name="Triase oleh QMR"')
    drafts.put_file(session, draft.id, BPMN, text, 1, people.qmr, library.clock.now())
    assert draft.revision == 2
    with pytest.raises(Conflict, match="revision 2, not 1: qmr saved it"):
        drafts.put_file(session, draft.id, BPMN, text, 1, people.admin, library.clock.now())
    with pytest.raises(NotAuthorized):
        drafts.put_file(session, draft.id, BPMN, text, 2, people.director, library.clock.now())
    with pytest.raises(NotAuthorized):
        drafts.get(session, draft.id, people.tl)  # private to the editors until published
    with pytest.raises(Exception, match="not a bundle path"):
        drafts.put_file(session, draft.id, "../etc/passwd", "x", 2, people.qmr, library.clock.now())


def test_the_check_finds_what_deploy_alone_lets_through(session, library, people):  # type: ignore[no-untyped-def]
    draft = _draft(session, library, people)
    assert drafts.check_files(library, "nonconformity", draft.files).problems == []
    broken = dict(draft.files)
    broken[BPMN] = broken[BPMN].replace(
        '"P%dD" % due_days</bpmn:timeDuration>', "P%dD % due_days</bpmn:timeDuration>"
    )
    broken[BPMN] = (
        broken[BPMN]
        .replace(">named_agent != &quot;&quot;<", ">named_agnt != &quot;&quot;<")
        .replace('>named_agent != ""<', '>named_agnt != ""<')
    )
    found = drafts.check_files(library, "nonconformity", broken).problems
    messages = {(p["element"], p["message"]) for p in found if p["severity"] == "error"}
    assert any(e == "nc_overdue" and "does not evaluate with sample values" in m for e, m in messages)
    assert any("reads 'named_agnt'" in m for _e, m in messages)
    assert all(p["file"] == BPMN for p in found)
    not_xml = dict(draft.files, **{BPMN: "<bpmn:definitions"})
    [problem] = drafts.check_files(library, "nonconformity", not_xml).problems
    assert problem["severity"] == "error" and problem["file"] == BPMN and "XML" in problem["message"]


def test_publish_waits_for_the_director_then_new_cases_take_the_new_version(session, library, people):  # type: ignore[no-untyped-def]
    old_case = library.start(session, "nonconformity", people.qc, dict(NC_REPORT)).instance
    draft = _draft(session, library, people)
    triage_form = draft.files["workflows/nonconformity/forms/triase.json"].replace(
        '"title": "Triase"', '"title": "Triase QMR"'
    )
    drafts.put_file(
        session,
        draft.id,
        "workflows/nonconformity/forms/triase.json",
        triage_form,
        1,
        people.qmr,
        library.clock.now(),
    )
    with pytest.raises(Exception, match="change note"):
        drafts.publish(session, library, draft.id, people.qmr, "", library.clock.now())
    version = drafts.publish(
        session, library, draft.id, people.qmr, "Judul formulir triase", library.clock.now()
    )
    assert (version.version, version.state) == (2, "waiting_approval")
    assert library.latest_version(session, "nonconformity").version == 1  # not yet in effect
    change = session.execute(
        select(ProcessInstance).where(ProcessInstance.process_key == "process_change")
    ).scalar_one()
    approve = task_by_bpmn(session, change.id, "pc_approve")
    data = library._load(change).last_task.data
    assert data["changes"] == ["workflows/nonconformity/forms/triase.json: title changed"]
    with pytest.raises(NotAuthorized):
        library.complete(session, approve.id, people.qmr, {"decision": "approve"})
    with pytest.raises(SignatureRequired):  # the Director's approval is signed
        library.complete(session, approve.id, people.director, {"decision": "approve"})
    signed = signatures.witnessed(people.director, library.clock.now(), "sandbox")
    library.complete(session, approve.id, people.director, {"decision": "approve"}, signature=signed)
    session.refresh(version)
    assert version.state == "approved" and version.approved_by_id == people.director.id
    assert library.latest_version(session, "nonconformity").version == 2
    new_case = library.start(session, "nonconformity", people.qc, dict(NC_REPORT)).instance
    assert new_case.process_version.version == 2 and old_case.process_version.version == 1
    states = {v.version: s for v, s in versioning.states(session, "nonconformity", library.clock.now())}
    assert states == {2: "in_effect", 1: "superseded"}
    kinds = session.execute(select(AuditEvent.kind).where(AuditEvent.instance_id.is_(None))).scalars().all()
    assert "version_published" in kinds and "version_approved" in kinds
    moves = versioning.migrate_many(session, library, "nonconformity", 2, people.qmr, dry_run=True)
    assert [(m.instance_id, m.moved) for m in moves] == [(old_case.id, True)]
    session.refresh(old_case)
    assert old_case.process_version.version == 1  # a dry run moves nothing
    moves = versioning.migrate_many(session, library, "nonconformity", 2, people.qmr)
    assert moves[0].moved and session.get(ProcessInstance, old_case.id).process_version.version == 2


def test_a_returned_version_never_takes_effect(session, library, people):  # type: ignore[no-untyped-def]
    draft = _draft(session, library, people)
    form = draft.files["workflows/nonconformity/forms/triase.json"].replace(
        '"title": "Triase"', '"title": "T"'
    )
    drafts.put_file(
        session,
        draft.id,
        "workflows/nonconformity/forms/triase.json",
        form,
        1,
        people.qmr,
        library.clock.now(),
    )
    version = drafts.publish(
        session, library, draft.id, people.qmr, "Judul lebih pendek", library.clock.now()
    )
    change = session.execute(
        select(ProcessInstance).where(ProcessInstance.process_key == "process_change")
    ).scalar_one()
    approve = task_by_bpmn(session, change.id, "pc_approve")
    library.complete(
        session,
        approve.id,
        people.director,
        {"decision": "return", "return_reason": "Judul terlalu singkat"},
        signature=signatures.witnessed(people.director, library.clock.now(), "sandbox"),
    )
    session.refresh(version)
    assert version.state == "returned" and version.decision_note == "Judul terlalu singkat"
    assert library.latest_version(session, "nonconformity").version == 1


def test_moving_a_case_whose_done_work_changed_is_refused_with_the_reason(session, library, people):  # type: ignore[no-untyped-def]
    case = library.start(session, "nonconformity", people.qc, dict(NC_REPORT)).instance
    triage = task_by_bpmn(session, case.id, "nc_triage")
    library.complete(
        session, triage.id, people.qmr, {"is_nonconformity": True, "impact": "sedang", "repeated": False}
    )
    draft = _draft(session, library, people)
    changed = draft.files[BPMN].replace('case_status = "Triase"', 'case_status = "Triase baru"')
    assert changed != draft.files[BPMN]
    drafts.put_file(session, draft.id, BPMN, changed, 1, people.qmr, library.clock.now())
    drafts.publish(
        session, library, draft.id, people.qmr, "Status awal baru", library.clock.now(), publish_alone=True
    )
    [move] = versioning.migrate_many(session, library, "nonconformity", 2, people.qmr)
    assert not move.moved and "nc_record already ran and was changed" in move.reason
    with pytest.raises(NotAuthorized):
        versioning.migrate_many(session, library, "nonconformity", 2, people.tl)
    assert (
        session.execute(
            select(ProcessVersion.state).where(
                ProcessVersion.version == 2, ProcessVersion.process_key == "nonconformity"
            )
        ).scalar_one()
        == "approved"
    )
