"""The scenario runner against drafts: sandbox isolation, the first difference, and what blocks a publish."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from engine import draft_scenarios, drafts, scenarios
from engine.models import AuditEvent, CaseCounter, HumanTask, ProcessInstance, ProcessVersion, Timer
from tests.scenario import library_files

BPMN = "bpmn/nonconformity.bpmn"
EFFECTIVE = "workflows/nonconformity/scenarios/mayor_efektif.json"
BROKEN = ("effective == False</bpmn:conditionExpression>", "effective == True</bpmn:conditionExpression>")


def _counts(session) -> dict[str, int]:  # type: ignore[no-untyped-def]
    return {
        model.__name__: session.execute(select(func.count()).select_from(model)).scalar_one()
        for model in (ProcessInstance, AuditEvent, CaseCounter, HumanTask, Timer, ProcessVersion)
    }


def _draft(session, library, people):  # type: ignore[no-untyped-def]
    return drafts.create(session, library, "nonconformity", people.qmr, library.clock.now())


def _put(session, library, people, draft, path, text):  # type: ignore[no-untyped-def]
    drafts.put_file(session, draft.id, path, text, draft.revision, people.qmr, library.clock.now())


def test_a_sandbox_run_leaves_cases_numbers_audit_and_inboxes_alone(session, library, people):
    library.start(
        session,
        "nonconformity",
        people.qc,
        {"source": "tapping", "site": "Bandung", "service": "147", "description": "Temuan nyata"},
    )
    draft = _draft(session, library, people)
    before = _counts(session)
    results = draft_scenarios.run(library, session, draft)
    assert [r["passed"] for r in results] == [True] * 4
    assert {r["name"] for r in results} >= {"Mayor, efektif pada verifikasi pertama"}
    assert _counts(session) == before
    [counter] = session.execute(select(CaseCounter)).scalars()
    assert counter.value == 1  # the real case kept its number; the sandbox's cases had their own


def test_a_broken_gateway_fails_the_scenario_at_the_step_after_it(session, library, people):
    draft = _draft(session, library, people)
    _put(session, library, people, draft, BPMN, draft.files[BPMN].replace(*BROKEN))
    [result] = draft_scenarios.run(library, session, draft, [EFFECTIVE])
    assert not result["passed"]
    steps = json.loads(draft.files[EFFECTIVE])["steps"]
    diff = result["difference"]
    assert steps[diff["step"] - 1]["task"] == "nc_verify"  # the verification step, reported 1-based
    assert diff["element"] == "nc_verify" and "open: nc_rca" in diff["actual"]
    assert "nc_reopen" in result["completed"] and "nc_f_not_effective" in result["flows"]


def test_a_failing_scenario_blocks_publishing_until_it_is_fixed_or_removed_with_a_note(
    session, library, people
):
    draft = _draft(session, library, people)
    _put(session, library, people, draft, BPMN, draft.files[BPMN].replace(*BROKEN))
    with pytest.raises(drafts.PublishRefused) as refused:
        drafts.publish(session, library, draft.id, people.qmr, "Ubah gerbang", library.clock.now())
    [problem] = [p for p in refused.value.problems if p["file"] == EFFECTIVE]
    assert "fails at step" in problem["message"] and problem["element"] == "nc_verify"
    others = {p["file"] for p in refused.value.problems} - {EFFECTIVE}
    _put(session, library, people, draft, EFFECTIVE, None)
    for path in others:
        _put(session, library, people, draft, path, None)
    with pytest.raises(drafts.PublishRefused, match="scenario problem") as unexplained:
        drafts.publish(session, library, draft.id, people.qmr, "Ubah gerbang", library.clock.now())
    assert all("say why in a note" in p["message"] for p in unexplained.value.problems)
    notes = {path: "Alur verifikasi diganti" for path in {EFFECTIVE, *others}}
    version = drafts.publish(
        session, library, draft.id, people.qmr, "Ubah gerbang", library.clock.now(), scenario_notes=notes
    )
    event = (
        session.execute(
            select(AuditEvent).where(AuditEvent.kind == "version_published").order_by(AuditEvent.id.desc())
        )
        .scalars()
        .first()
    )
    assert version.version == 2
    assert "scenario mayor_efektif.json removed: Alur verifikasi diganti" in event.data["changes"]


def test_a_fixed_draft_publishes_with_its_scenarios_passing(session, library, people):
    draft = _draft(session, library, people)
    _put(session, library, people, draft, BPMN, draft.files[BPMN].replace(*BROKEN))
    _put(session, library, people, draft, BPMN, draft.files[BPMN].replace(BROKEN[1], BROKEN[0]))
    form = json.loads(draft.files["workflows/nonconformity/forms/triase.json"])
    form["title"] = "Triase oleh QMR"
    _put(session, library, people, draft, "workflows/nonconformity/forms/triase.json", json.dumps(form))
    assert drafts.publish(session, library, draft.id, people.qmr, "Judul", library.clock.now()).version == 2


def test_bad_scenario_files_say_what_is_wrong(scenario_sandbox):
    bad = scenarios.run(scenario_sandbox, "nonconformity", {"name": "x", "steps": [{"wait": "soon"}]})
    assert not bad.passed and "does not match" in bad.difference["actual"]
    huge = scenarios.run(
        scenario_sandbox,
        "nonconformity",
        {"name": "x", "start": {"data": {}}, "steps": [{"wait": "P99999Y"}]},
    )
    assert not huge.passed
    no_task = scenarios.run(
        scenario_sandbox,
        "nonconformity",
        {
            "name": "x",
            "start": json.loads(library_files()[EFFECTIVE])["start"],
            "steps": [{"task": "nc_verify", "data": {}}],
        },
    )
    assert no_task.difference == {
        "step": 1,
        "element": "nc_verify",
        "expected": "task nc_verify open",
        "actual": "open: nc_triage",
    }
    assert no_task.open[0]["bpmn_id"] == "nc_triage" and no_task.active == ["nc_triage"]


def test_a_refused_step_is_a_difference_when_the_form_accepts_it(scenario_sandbox):
    start = json.loads(library_files()[EFFECTIVE])["start"]
    step = {"task": "nc_triage", "data": {"is_nonconformity": False, "rejection_reason": "Sesuai"}}
    result = scenarios.run(
        scenario_sandbox,
        "nonconformity",
        {"name": "x", "start": start, "steps": [{**step, "refused": ["x"]}]},
    )
    assert result.difference["expected"] == "the form refuses: x"
