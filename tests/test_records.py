"""The records side from the engine: monitoring results from the release-monitoring steps, the
registers, the reports and the evidence pack, counted by hand against the data put in."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from engine import agents, audit, packs, register_writes, registers, reports
from engine.errors import InvalidState, NotAuthorized, ValidationFailed
from engine.models import CaseRecord
from engine.models_records import EvidencePack, MonitoringResult
from engine.models_registers import SupplierAction
from tests.test_release_monitoring_scenarios import RmCase

TODAY = date(2026, 1, 20)


def pdf_text(content: bytes, out_dir) -> tuple[str, int]:  # type: ignore[no-untyped-def]
    """The text of a PDF, with each page rendered to PNG beside it (what a reader would see)."""
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(content)
    texts = []
    for i, page in enumerate(document, start=1):
        page.render(scale=1.5).to_pil().save(out_dir / f"page-{i}.png")
        texts.append(page.get_textpage().get_text_range())
    return " ".join(" ".join(texts).split()), len(document)


def monitored(session, library, people):  # type: ignore[no-untyped-def]
    people.agent.team = "Tim Melati"
    case = RmCase(session, library, people)
    case.checks(tapping=62, mystery=90, behaviour=70)  # 1001's tapping and 1002's Propper fail
    return case


def test_each_check_of_a_monitoring_step_is_one_result_row(session, library, people):
    monitored(session, library, people)
    rows = session.execute(select(MonitoringResult).order_by(MonitoringResult.id)).scalars().all()
    got = [(r.method, r.agent_code, r.score, r.passed) for r in rows]
    assert got == [
        ("tapping", "1001", 62, False),
        ("tapping", "1002", 91, True),
        ("mystery_shopping", "1001", 90, True),
        ("mystery_shopping", "1002", 88, True),
        ("propper_test", "1002", 70, False),  # the lowest of product 90, procedure 85, behaviour 70
        ("individual", "1001", None, True),
        ("individual", "1002", None, True),
    ]
    first = rows[0]
    assert (first.site, first.service, first.period) == ("Bandung", "147", "2026-01")
    assert (first.online_name, first.team, first.checked_by) == ("Agent", "Tim Melati", "qc")
    assert rows[-1].checked_by == "teamlead"


def test_monitoring_pass_rates_by_method_month_site_and_team(session, library, people):
    monitored(session, library, people)
    period = reports.Period(date(2026, 1, 1), date(2026, 1, 31))
    figures = reports.monitoring(session, people.qmr, period)
    by_method = {r["key"][0]: (r["checks"], r["passed"], r["percent"]) for r in figures["by_method"]}
    assert by_method == {
        "individual": (2, 2, 100.0),
        "mystery_shopping": (2, 2, 100.0),
        "propper_test": (1, 0, 0.0),
        "tapping": (2, 1, 50.0),
    }
    assert {tuple(r["key"]): r["checks"] for r in figures["by_team"]}[("Tim Melati", "tapping")] == 1
    assert figures["lowest_agents"][0]["key"][0] == "1001"  # 2 of 3 passed, against 3 of 4 for 1002
    other = reports.monitoring(session, people.qmr, reports.Period(date(2026, 2, 1), date(2026, 2, 28)))
    assert other["by_method"] == []
    with pytest.raises(NotAuthorized):
        reports.monitoring(session, people.agent, period)


def test_the_nonconformity_figures_against_hand_counted_cases(session, library, people, clock):
    monitored(session, library, people)  # raises two nonconformities (1001 tapping, 1002 Propper)
    cases = (
        session.execute(
            select(CaseRecord)
            .where(CaseRecord.process_key == "nonconformity")
            .order_by(CaseRecord.instance_id)
        )
        .scalars()
        .all()
    )
    assert len(cases) == 2
    start = cases[0].opened_at
    # Hand-made history: the first closed after 20 days (on time for a major: 45), re-opened once.
    cases[0].severity, cases[0].closed_at, cases[0].reopened = "major", start + timedelta(days=20), 1
    cases[1].severity = "critical"
    session.flush()
    period = reports.Period(start.date() - timedelta(days=1), start.date() + timedelta(days=1))
    figures = reports.nonconformity(session, people.qmr, period)
    assert (figures["opened"], figures["closed"], figures["still_open"]) == (2, 1, 1)
    assert figures["closed_on_time"] == {
        "closed": 1,
        "on_time": 1,
        "percent": 100.0,
        "target_percent": 90,
        "met": True,
        "target_days": reports.DEFAULT_TARGETS,
    }
    assert figures["time_to_close_days"] == {"mean": 20.0, "median": 20.0}
    assert figures["effective_first_check"]["effective"] == 0  # it was re-opened
    assert figures["reopened"] == 1
    by_source = {r["key"]: (r["opened"], r["closed"]) for r in figures["by"]["source"]}
    assert by_source == {"propper_test": (1, 0), "tapping": (1, 1)}
    ages = {b["bucket"]: b["count"] for b in figures["open_by_age"]}
    assert ages == {"0-7": 2, "8-30": 0, "31-90": 0, ">90": 0}  # the first closed after the period
    other_site = reports.nonconformity(session, people.qmr, period, site="Bogor")
    assert other_site["opened"] == 0
    bogor_tl = people.tl
    bogor_tl.site = "Bogor"
    assert reports.nonconformity(session, bogor_tl, period, site="Bandung")["opened"] == 0  # own site only


def test_the_agent_page_gathers_everything_about_one_code(session, library, people):
    monitored(session, library, people)
    page = agents.profile(session, people.qmr, "1001", TODAY)
    assert (page["online_name"], page["site"], page["team"]) == ("Agent", "Bandung", "Tim Melati")
    methods = {m["method"]: (m["checks"], m["passed"]) for m in page["monitoring"]["by_method"]}
    assert methods == {"individual": (1, 1), "mystery_shopping": (1, 1), "tapping": (1, 0)}
    assert page["monitoring"]["trend"][0]["period"] == "2026-01"
    assert page["nonconformities"]["total"] == 1 and page["nonconformities"]["open"] == 1
    assert agents.profile(session, people.agent, "1001", TODAY)["agent_code"] == "1001"  # one's own
    with pytest.raises(NotAuthorized):
        agents.profile(session, people.agent2, "1001", TODAY)
    with pytest.raises(NotAuthorized):
        agents.profile(session, people.client, "1001", TODAY)


def test_registers_log_communications_and_a_complaint_raises_a_linked_case(session, library, people, clock):
    now = clock.now()
    base = {"client": "Telkom", "channel": "email", "site": "Bandung", "service": "147"}
    register_writes.log_communication(
        session,
        people.qmr,
        {**base, "on_date": "2026-01-05", "kind": "agreement", "summary": "SLA baru"},
        now,
    )
    complaint = register_writes.log_communication(
        session,
        people.qmr,
        {**base, "on_date": "2026-01-07", "kind": "complaint", "summary": "Agen kasar"},
        now,
    )
    with pytest.raises(ValidationFailed):
        register_writes.log_communication(session, people.qmr, {**base, "kind": "complaint"}, now)
    with pytest.raises(NotAuthorized):
        register_writes.log_communication(
            session,
            people.agent,
            {**base, "on_date": "2026-01-07", "kind": "feedback", "summary": "baik sekali"},
            now,
        )
    instance_id = register_writes.raise_from_complaint(session, library, people.qmr, complaint.id, now)
    with pytest.raises(InvalidState):
        register_writes.raise_from_complaint(session, library, people.qmr, complaint.id, now)
    case = session.get(CaseRecord, instance_id)
    assert case.source == "customer_complaint" and case.site == "Bandung"
    page = registers.page(session, people.qmr, "communications", {}, TODAY)
    assert page.total == 2
    assert [r["kind"] for r in page.rows] == ["complaint", "agreement"]  # newest first
    assert page.rows[0]["nc_number"] == case.number
    assert registers.page(session, people.qmr, "communications", {"kind": "agreement"}, TODAY).total == 1
    assert registers.page(session, people.qmr, "communications", {"q": "kasar"}, TODAY).total == 1
    assert not audit.verify(session, register_writes.chain("communications"))
    with pytest.raises(NotAuthorized):
        registers.page(session, people.client, "communications", {}, TODAY)


def test_preservation_attendance_says_who_missed_it(session, people, clock):
    now = clock.now()
    activity = register_writes.plan_activity(
        session,
        people.tl,
        {"kind": "sop_refresh", "title": "Penyegaran SOP 147", "site": "Bandung", "planned_on": "2026-01-10"},
        now,
    )
    page = registers.page(session, people.qmr, "preservation", {}, TODAY)
    assert page.rows[0]["state"] == "due" and page.rows[0]["expected"] == 2  # the site's two agents
    register_writes.record_attendance(
        session, people.tl, activity.id, {"held_on": "2026-01-12", "present": "1001"}, now
    )
    row = registers.page(session, people.qmr, "preservation", {}, TODAY).rows[0]
    assert (row["state"], row["attended"], row["missed"]) == ("held", 1, 1)
    training = agents.profile(session, people.qmr, "1002", TODAY)["training"]
    assert training[0]["attended"] is False


def test_tools_show_an_overdue_verification(session, people, clock):
    now = clock.now()
    tool = register_writes.add_tool(
        session,
        people.qc,
        {
            "name": "Rekaman Avaya",
            "kind": "recording",
            "site": "Bandung",
            "interval_days": 30,
            "verified_on": "2025-11-01",
        },
        now,
    )
    row = registers.page(session, people.qmr, "tools", {}, TODAY).rows[0]
    assert (row["due_on"], row["state"]) == ("2025-12-01", "overdue")
    assert registers.page(session, people.qmr, "tools", {"state": "overdue"}, TODAY).total == 1
    register_writes.verify_tool(
        session, people.qc, tool.id, {"verified_on": "2026-01-02", "note": "sesuai"}, now
    )
    row = registers.page(session, people.qmr, "tools", {}, TODAY).rows[0]
    assert (row["due_on"], row["state"]) == ("2026-02-01", "due_soon")  # within 14 days


def test_supplier_corrective_actions_are_followed_to_verification(session, people, clock):
    now = clock.now()
    action = SupplierAction(
        supplier_name="PT Headset", number="SCAR-1", description="cacat", status="open", opened_at=now
    )
    session.add(action)
    session.flush()
    with pytest.raises(InvalidState):
        register_writes.verify_action(session, people.qmr, action.id, {"effective": True, "note": "ok"}, now)
    register_writes.close_action(session, people.procurement, action.id, {"note": "diganti semua"}, now)
    with pytest.raises(NotAuthorized):
        register_writes.verify_action(
            session, people.procurement, action.id, {"effective": True, "note": "ok"}, now
        )
    register_writes.verify_action(
        session, people.qmr, action.id, {"effective": False, "note": "masih cacat"}, now
    )
    assert action.status == "open"
    register_writes.close_action(session, people.procurement, action.id, {"note": "diganti lagi"}, now)
    register_writes.verify_action(session, people.qmr, action.id, {"effective": True, "note": "baik"}, now)
    assert action.status == "verified" and action.verified_by_id == people.qmr.id


def test_requirements_keep_their_versions(session, people, clock):
    now = clock.now()
    data = {"code": "PKS 4.2", "source": "customer_pks", "text": "Salam pembuka dalam 3 detik"}
    register_writes.add_requirement(session, people.qmr, data, now)
    register_writes.add_requirement(session, people.qmr, {**data, "text": "Salam pembuka dalam 2 detik"}, now)
    row = registers.page(session, people.qmr, "requirements", {"q": "PKS"}, TODAY).rows[0]
    assert (row["version"], row["text"]) == (2, "Salam pembuka dalam 2 detik")


def test_a_month_pack_holds_the_report_the_rows_and_its_hash_in_the_chain(
    session, library, people, db, tmp_path
):
    monitored(session, library, people)
    first, last = packs.period_bounds("2026-01", None, None)
    assert (first, last) == (date(2026, 1, 1), date(2026, 1, 31))
    pack = packs.request(session, people.qc, first, last, "Bandung", "147", "en", library.clock.now())
    session.flush()
    factory = lambda: session  # noqa: E731 - the test's own transaction stands in for the job's
    session.commit = session.flush  # type: ignore[method-assign]
    session.close = lambda: None  # type: ignore[method-assign]
    assert packs.run_pending(factory, tmp_path, library.clock.now) == 1
    pack = session.get(EvidencePack, pack.id)
    assert (pack.status, pack.progress, pack.rows) == ("done", 100, 7)
    archive = zipfile.ZipFile(io.BytesIO(pack.content))
    assert sorted(archive.namelist()) == ["checks.csv", "manifest.json", "nonconformities.csv", "report.pdf"]
    lines = archive.read("checks.csv").decode("utf-8-sig").splitlines()
    assert len(lines) == 8
    assert "2026-01,tapping,Bandung,147,1001,Agent,62,0,qc,2026-01-05,RM-2026-0001" in lines
    text, pages = pdf_text(archive.read("report.pdf"), tmp_path)
    assert pages >= 1 and (tmp_path / "page-1.png").stat().st_size > 10_000
    assert "Service monitoring evidence pack" in text and "Pass rates by method" in text
    assert "Tapping 2 1 50.0" in text and "Propper test 1 0 0.0" in text  # the key figures
    assert "1001 Agent 62 failed qc" in text
    import hashlib

    assert hashlib.sha256(pack.content).hexdigest() == pack.sha256
    event = session.execute(
        select(audit.AuditEvent).where(audit.AuditEvent.chain == packs.PACK_CHAIN)
    ).scalar_one()
    assert event.data["sha256"] == pack.sha256 and event.data["checks"] == 7
    assert datetime.now(UTC) > pack.finished_at - timedelta(days=3650)
    assert session.execute(select(EvidencePack)).scalars().all() == [pack]


def test_a_whole_month_of_figures_is_cached_until_a_step_changes_one_of_its_cases(session, library, people):
    from engine import report_cache
    from engine.models_records import ReportCache

    monitored(session, library, people)
    january = reports.Period(date(2026, 1, 1), date(2026, 1, 31))  # a whole month: cached
    assert reports.nonconformity(session, people.qmr, january)["closed"] == 0
    assert session.execute(select(ReportCache)).scalars().one().month == "2026-01"
    case = (
        session.execute(
            select(CaseRecord)
            .where(CaseRecord.process_key == "nonconformity")
            .order_by(CaseRecord.instance_id)
        )
        .scalars()
        .first()
    )
    case.closed_at = case.opened_at + timedelta(days=3)
    session.flush()
    assert reports.nonconformity(session, people.qmr, january)["closed"] == 0  # nothing moved the counter
    report_cache.bump(session, "nonconformity", case.opened_at)  # what the step writer does
    figures = reports.nonconformity(session, people.qmr, january)
    assert figures["closed"] == 1 and figures["time_to_close_days"]["median"] == 3.0
    bogor = reports.nonconformity(session, people.qmr, january, site="Bogor")  # its own scope
    assert bogor["opened"] == 0


def test_the_supplier_register_keeps_each_score_with_its_case(session, people, clock):
    from engine.models_registers import Supplier, SupplierScore
    from engine.services import default_services

    services = default_services()
    with services.bound(session, clock.now(), None):
        services.call(
            "supplier_evaluate",
            {"name": {"value": "PT Headset"}, "score": {"value": 82}, "approved": {"value": True}},
        )
        services.call("supplier_rate", {"name": {"value": "PT Headset"}, "quality": {"value": 40}})
        services.call(
            "supplier_evaluate",
            {"name": {"value": "PT Kabel"}, "score": {"value": 50}, "approved": {"value": False}},
        )
    session.flush()
    supplier = session.execute(select(Supplier).where(Supplier.name == "PT Headset")).scalar_one()
    history = session.execute(
        select(SupplierScore.score, SupplierScore.reason).order_by(SupplierScore.id)
    ).all()
    assert [tuple(h) for h in history] == [(82, "evaluation"), (61, "delivery"), (50, "evaluation")]
    page = registers.page(session, people.qmr, "suppliers", {}, TODAY)
    assert [(r["name"], r["state"], r["score"]) for r in page.rows] == [
        ("PT Headset", "probation", 61),  # approved, but under 70 after a poor delivery
        ("PT Kabel", "not_approved", 50),
    ]
    assert registers.page(session, people.qmr, "suppliers", {"state": "probation"}, TODAY).total == 1
    assert supplier.score == 61
    with pytest.raises(NotAuthorized):
        registers.page(session, people.tl, "suppliers", {}, TODAY)


def test_a_pack_left_running_by_a_killed_process_is_taken_up_again(session, people, clock, tmp_path):
    first, last = packs.period_bounds("2026-01", None, None)
    pack = packs.request(session, people.qc, first, last, None, None, "id", clock.now())
    pack.status, pack.started_at, pack.progress = "running", clock.now(), 30  # its builder died
    session.flush()
    factory = lambda: session  # noqa: E731 - the test's own transaction stands in for the job's
    session.commit = session.flush  # type: ignore[method-assign]
    session.close = lambda: None  # type: ignore[method-assign]
    assert packs.run_pending(factory, tmp_path, clock.now) == 0  # still within its time
    later = clock.now() + packs.STALE + timedelta(seconds=1)
    assert packs.run_pending(factory, tmp_path, lambda: later) == 1
    assert session.get(EvidencePack, pack.id).status == "done"


def test_a_period_of_centuries_costs_what_its_cases_cost(session, library, people):
    monitored(session, library, people)
    ages = reports.Period(date(1, 1, 1), date(9999, 12, 31))
    figures = reports.nonconformity(session, people.qmr, ages)
    assert figures["opened"] == 2 and figures["period"] == {"from": "0001-01-01", "to": "9999-12-31"}
    from engine.models_records import ReportCache

    assert len(session.execute(select(ReportCache)).scalars().all()) <= 1  # the one month with cases
