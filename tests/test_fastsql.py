"""The step's write statements on the driver's cursor: the same rows and errors as SQLAlchemy's."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import bindparam, create_engine, insert, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from engine import fastsql
from engine.db import make_engine, make_session_factory
from engine.migrate import upgrade
from engine.models import AuditEvent, User
from engine.models_notify import NotificationEvent
from tests.conftest import PG_URL
from web.guards import database_down

EVENTS = AuditEvent.__table__
AT = datetime(2026, 12, 3, 9, 30, 15, 250000, tzinfo=UTC)


def event(seq: int, **changes: object) -> dict:
    values = {
        "chain": "test:fastsql",
        "seq": seq,
        "instance_id": None,
        "kind": "note",
        "actor_id": None,
        "actor_username": "qc",
        "agent_code": None,
        "online_name": None,
        "task_guid": None,
        "bpmn_id": "Task_1",
        "data": {"said": "déjà vu", "n": [1, 2.5, None], "nested": {"ok": True}},
        "created_at": AT,
        "prev_hash": "0" * 64,
        "hash": f"{seq:064d}",
    }
    values.update(changes)
    return values


def read(session: Session, seq: int) -> dict:
    row = session.execute(select(EVENTS).where(EVENTS.c.chain == "test:fastsql", EVENTS.c.seq == seq)).one()
    return {k: v for k, v in row._mapping.items() if k != "id"}


def test_a_prepared_insert_writes_the_row_sqlalchemy_writes(session: Session) -> None:
    fastsql.execute(session, fastsql.Prepared.insert(EVENTS), event(1))
    session.connection().execute(insert(EVENTS), event(2))
    ours, theirs = read(session, 1), read(session, 2)
    assert ours == {**theirs, "seq": 1, "hash": f"{1:064d}"}
    assert ours["created_at"] == AT  # aware UTC back, through the column's own type
    assert ours["data"]["said"] == "déjà vu"


def test_an_update_with_a_value_bound_in_the_statement_counts_its_rows(session: Session) -> None:
    notes = NotificationEvent.__table__
    rows = [
        {
            "kind": "queued",
            "task_id": None,
            "instance_id": None,
            "user_id": None,
            "created_at": AT,
            "done_at": None,
        }
    ] * 3
    fastsql.execute_many(session, fastsql.Prepared.insert(notes), rows)
    ids = sorted(session.execute(select(notes.c.id).where(notes.c.created_at == AT)).scalars())
    done = fastsql.Prepared(
        update(notes)
        .where(notes.c.created_at == bindparam("made"), notes.c.id >= bindparam("from_id"))
        .values(kind="due", done_at=bindparam("at", type_=notes.c.done_at.type))
    )
    later = datetime(2026, 12, 4, tzinfo=UTC)
    assert fastsql.execute(session, done, {"made": AT, "from_id": ids[1], "at": later}) == 2
    got = session.execute(
        select(notes.c.kind, notes.c.done_at).where(notes.c.id.in_(ids)).order_by(notes.c.id)
    )
    assert [tuple(r) for r in got] == [("queued", None), ("due", later), ("due", later)]
    assert fastsql.execute(session, done, {"made": later, "from_id": 0, "at": later}) == 0


def test_returning_gives_the_new_rows_key(session: Session) -> None:
    prepared = fastsql.Prepared(insert(EVENTS).returning(EVENTS.c.id))
    count, (first,) = fastsql.execute_returning(session, prepared, event(1))
    second = fastsql.execute_returning(session, prepared, event(2))[1][0]
    assert count == 1 and second > first
    assert session.get(AuditEvent, first).seq == 1


def test_a_duplicate_is_sqlalchemys_integrity_error_and_a_missing_value_a_key_error(session: Session) -> None:
    prepared = fastsql.Prepared.insert(EVENTS)
    fastsql.execute(session, prepared, event(1))
    with pytest.raises(IntegrityError) as caught, session.begin_nested():
        fastsql.execute(session, prepared, event(1, hash="f" * 64))
    assert "chain" in str(caught.value.orig).lower() or "unique" in str(caught.value.orig).lower()
    relabel = fastsql.Prepared(update(EVENTS).where(EVENTS.c.seq == bindparam("at_seq")).values(kind="x"))
    with pytest.raises(KeyError):
        fastsql.execute(session, relabel, {})


def test_statements_this_path_cannot_run_as_sqlalchemy_would_are_refused(session: Session) -> None:
    # ``active`` and ``full_name`` have Python-side defaults that only SQLAlchemy's execution fills in.
    users = fastsql.Prepared.insert(User.__table__)
    with pytest.raises(ValueError, match="defaults"):
        fastsql.execute(session, users, {"username": "x", "password_hash": "h", "created_at": AT})
    in_list = fastsql.Prepared(
        update(EVENTS).where(EVENTS.c.seq.in_(bindparam("seqs", expanding=True))).values(kind="x")
    )
    with pytest.raises(ValueError, match="expanding"):
        fastsql.execute(session, in_list, {"seqs": [1, 2]})


def test_a_connection_the_server_dropped_is_invalidated_and_the_pool_renewed() -> None:
    from tests.conftest import drop_postgres, require_postgres, scratch_postgres_url

    require_postgres()
    url = scratch_postgres_url("fastsql")
    eng = make_engine(url)
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        upgrade(eng)
        sessions = make_session_factory(eng)
        pool_before = eng.pool
        session = sessions()
        pid = session.execute(text("select pg_backend_pid()")).scalar()
        with admin.connect() as conn:
            conn.execute(text("select pg_terminate_backend(:pid)"), {"pid": pid})
        with pytest.raises(DBAPIError) as caught:
            fastsql.execute(session, fastsql.Prepared.insert(EVENTS), event(1))
        assert caught.value.connection_invalidated
        assert database_down(caught.value)  # so the web answers 503 with Retry-After, not 500
        session.rollback()
        session.close()
        assert eng.pool is not pool_before  # connections opened before the drop are not reused
        with sessions() as fresh, fresh.begin():
            fastsql.execute(fresh, fastsql.Prepared.insert(EVENTS), event(1))
        with sessions() as check:
            assert read(check, 1)["kind"] == "note"
    finally:
        eng.dispose()
        admin.dispose()
        drop_postgres(url)


def at_triage(session: Session, engine, people):  # type: ignore[no-untyped-def]
    """A review case raised and waiting at triage, whose completion opens two tasks."""
    from tests.helpers import task_by_bpmn

    inst = engine.start(session, "review", people.qc).instance
    raised = {
        "description": "Wrong tariff",
        "severity_hint": "major",
        "site": "Bandung",
        "agent_code": "1001",
    }
    engine.complete(session, task_by_bpmn(session, inst.id, "raise").id, people.qc, raised)
    return inst, task_by_bpmn(session, inst.id, "triage")


def test_a_completion_on_postgresql_writes_its_rows_in_one_statement_after_its_lock(
    session: Session, engine, deployed, people
) -> None:
    """The new inbox rows, their owners and notifications ride in the instance's UPDATE, and
    the ids the step hands back are those rows' ids."""
    from engine.models import HumanTask, HumanTaskOwner
    from engine.models_notify import NotificationEvent
    from tests.helpers import open_tasks, statements_sent

    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("SQLite runs each write at once, in-process")
    inst, triage = at_triage(session, engine, people)
    result, sent = statements_sent(
        lambda: engine.complete(session, triage.id, people.qmr, {"valid": True, "agent_named": "1002"})
    )
    # lock, the named owner's account, then one statement (WITH ... UPDATE) for all the writes
    assert sent == ["SELECT", "SELECT", "WITH"], sent
    opened = {t.bpmn_id: t for t in open_tasks(session, inst.id)}
    assert sorted(opened) == ["acknowledge", "contain"]
    assert sorted(t.id for t in result.new_tasks) == sorted(t.id for t in opened.values())
    assert {t.bpmn_id: t.id for t in result.new_tasks} == {k: t.id for k, t in opened.items()}
    owners = session.execute(select(HumanTaskOwner.human_task_id, HumanTaskOwner.user_id)).all()
    assert (opened["acknowledge"].id, people.agent2.id) in [tuple(o) for o in owners]
    told = session.execute(
        select(NotificationEvent.task_id, NotificationEvent.kind).where(
            NotificationEvent.instance_id == inst.id
        )
    ).all()
    assert (opened["acknowledge"].id, "assigned") in [tuple(t) for t in told]
    assert (opened["contain"].id, "queued") in [tuple(t) for t in told]
    assert session.get(HumanTask, triage.id).status == "completed"


@pytest.mark.parametrize("limits", [(16, 256), (1, 2)], ids=["folded", "past-the-limits"])
def test_a_big_step_writes_its_rows_at_once_past_the_statements_limits(
    session: Session, engine, deployed, people, monkeypatch: pytest.MonkeyPatch, limits
) -> None:
    """Past the number of rows one statement should carry, rows are written at once: the
    same inbox, owners, notifications and audit chain either way, on both databases."""
    from engine import audit, batch
    from engine.models import HumanTaskOwner
    from engine.models_notify import NotificationEvent
    from tests.helpers import open_tasks

    monkeypatch.setattr(batch, "MAX_FOLDED_INSERTS", limits[0])
    monkeypatch.setattr(batch, "MAX_QUEUED", limits[1])
    inst, triage = at_triage(session, engine, people)
    result = engine.complete(session, triage.id, people.qmr, {"valid": True, "agent_named": "1002"})
    opened = {t.bpmn_id: t.id for t in open_tasks(session, inst.id)}
    assert {t.bpmn_id: t.id for t in result.new_tasks} == opened
    owners = [tuple(o) for o in session.execute(select(HumanTaskOwner.human_task_id, HumanTaskOwner.user_id))]
    assert (opened["acknowledge"], people.agent2.id) in owners
    told = session.execute(
        select(NotificationEvent.task_id, NotificationEvent.kind).where(
            NotificationEvent.instance_id == inst.id
        )
    ).all()
    assert sorted(tuple(t) for t in told if t[0] in opened.values()) == sorted(
        [(opened["acknowledge"], "assigned"), (opened["contain"], "queued")]
    )
    assert audit.verify(session, f"instance:{inst.id}") == []
