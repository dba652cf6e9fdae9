"""``process_change``: the Director approves a published version (now or from a date) or returns it."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import select

from engine import drafts, paths
from engine.models import ProcessInstance, ProcessVersion
from tests.flow_coverage import taken
from tests.scenario import Case, library_files

FORM = "workflows/nonconformity/forms/triase.json"


def publish(session, library, people, title: str) -> tuple[Case, ProcessVersion]:  # type: ignore[no-untyped-def]
    draft = drafts.create(session, library, "nonconformity", people.qmr, library.clock.now())
    form = json.loads(draft.files[FORM])
    form["title"] = title
    text = json.dumps(form, ensure_ascii=False, indent=2)
    drafts.put_file(session, draft.id, FORM, text, 1, people.qmr, library.clock.now())
    version = drafts.publish(session, library, draft.id, people.qmr, f"Judul: {title}", library.clock.now())
    change = (
        session.execute(
            select(ProcessInstance)
            .where(ProcessInstance.process_key == "process_change")
            .order_by(ProcessInstance.id.desc())
        )
        .scalars()
        .first()
    )
    return Case.adopt(session, library, change), version


def approve_from_a_date(session, library, people) -> Case:  # type: ignore[no-untyped-def]
    case, version = publish(session, library, people, "Triase QMR")
    later = (library.clock.now() + timedelta(days=10)).date().isoformat()
    case.do("pc_approve", people.director, {"decision": "approve", "effective_date": later})
    session.refresh(version)
    assert version.state == "approved" and version.effective_from > library.clock.now()
    assert library.latest_version(session, "nonconformity").version == 1  # scheduled, not yet in effect
    library.clock.advance(timedelta(days=11))
    assert library.latest_version(session, "nonconformity").version == version.version
    assert case.instance.status == "completed"
    return case


def return_it(session, library, people) -> Case:  # type: ignore[no-untyped-def]
    case, version = publish(session, library, people, "T")
    case.do("pc_approve", people.director, {"decision": "return", "return_reason": "Judul terlalu singkat"})
    session.refresh(version)
    assert version.state == "returned"
    return case


def test_approved_from_a_later_date(session, library, people):  # type: ignore[no-untyped-def]
    approve_from_a_date(session, library, people)


def test_returned_with_a_reason(session, library, people):  # type: ignore[no-untyped-def]
    return_it(session, library, people)


def test_every_flow_of_the_process_change_diagram_is_taken(session, library, people):  # type: ignore[no-untyped-def]
    """Runs both paths itself, so it passes alone as well as after the scenarios above."""
    files = library_files()
    done = set()
    for case in (approve_from_a_date(session, library, people), return_it(session, library, people)):
        done |= taken(library, session, case.instance, files)
    flows = set(paths.diagram_flows(files, "process_change").values())
    assert sorted(flows - done) == [], "flows never taken"
