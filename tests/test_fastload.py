"""Rows read on the driver become the session's objects exactly as the ORM's loader leaves them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import inspect, select, text, update
from sqlalchemy.orm import Session

from engine import signin
from engine.models import HumanTask, ProcessInstance, User
from engine.runtime.locks import lock_instance, lock_task
from tests.helpers import task_by_bpmn

NOW = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)


def columns(obj: object) -> dict:
    return {a.key: getattr(obj, a.key) for a in inspect(obj).mapper.column_attrs}


def orm_copy(session: Session, model: type, ident: int) -> dict:
    """The same row through the ORM, in a session of its own."""
    with Session(session.get_bind()) as other:
        return columns(other.get(model, ident))


def test_a_tokens_user_is_a_clean_persistent_user_of_the_session(session: Session, people) -> None:
    token, _ = signin.issue_token(session, people.qc, NOW, timedelta(hours=1))
    session.commit()
    session.expunge_all()
    user, accepted, answer = signin.user_for_token(session, token, NOW, "2026-1", "key-1")
    assert (accepted, answer) == (False, None)
    state = inspect(user)
    assert state.persistent and user in session and not session.dirty
    assert columns(user) == orm_copy(session, User, people.qc.id)
    assert user.created_at.tzinfo is not None and user.active is True  # the column types' own values
    assert user.role_keys == {"quality_control"} and [r.key for r in user.roles] == ["quality_control"]
    assert session.get(User, user.id) is user  # the identity map holds it: no second load
    user.full_name = "Renamed"  # a change flushes as any loaded object's does
    session.flush()
    assert session.execute(select(User.full_name).where(User.id == user.id)).scalar() == "Renamed"


def test_a_token_whose_user_the_session_holds_gives_that_user(session: Session, people) -> None:
    token, _ = signin.issue_token(session, people.tl, NOW, timedelta(hours=1))
    session.flush()
    user, _, _ = signin.user_for_token(session, token, NOW)
    assert user is people.tl
    revoked = signin.user_for_token(session, "not-" + token, NOW)
    assert revoked == (None, False, None)


def test_the_lock_loads_the_task_and_instance_the_orm_loads(session, engine, deployed, people) -> None:
    inst = engine.start(session, "review", people.qc).instance
    task_id = task_by_bpmn(session, inst.id, "raise").id
    session.commit()
    session.expunge_all()
    instance, task = lock_task(session, task_id)
    assert columns(instance) == orm_copy(session, ProcessInstance, inst.id)
    assert columns(task) == orm_copy(session, HumanTask, task_id)
    assert inspect(instance).persistent and inspect(task).persistent and not session.dirty
    version = instance.process_version
    assert inspect(version).persistent and version.id == instance.process_version_id
    assert version.name  # a column the lock did not read loads on access
    assert task.owners == [] and instance.started_at.tzinfo is not None
    assert lock_task(session, task_id + 10_000) is None and lock_instance(session, inst.id + 10_000) is None


def test_the_lock_refreshes_what_the_session_holds_from_the_stored_row(
    session, engine, deployed, people
) -> None:
    inst = engine.start(session, "review", people.qc).instance
    task = task_by_bpmn(session, inst.id, "raise")
    session.commit()
    # Stored behind the session's back, as another worker's committed step would be:
    session.connection().execute(
        update(HumanTask.__table__)
        .where(HumanTask.__table__.c.id == task.id)
        .values(name="Changed elsewhere")
    )
    session.connection().execute(
        text("UPDATE process_instance SET status = 'suspended' WHERE id = :i"), {"i": inst.id}
    )
    inst.status_before_suspend = "running"  # in memory only: the ORM flushes it before its query
    locked, locked_task = lock_task(session, task.id)
    assert locked is inst and locked_task is task  # the same objects, refreshed
    assert (inst.status, task.name, inst.status_before_suspend) == (
        "suspended",
        "Changed elsewhere",
        "running",
    )
    assert not session.dirty
    again = lock_instance(session, inst.id)
    assert again is inst and inst.process_version.id == inst.process_version_id


def test_a_held_case_whose_version_the_session_let_go_gets_one_it_can_load(
    session, engine, deployed, people
) -> None:
    inst = engine.start(session, "review", people.qc).instance
    session.commit()
    session.expunge(inst.process_version)  # the case stays held, its version does not
    again = lock_instance(session, inst.id)
    assert again is inst and inspect(inst.process_version).persistent
    assert inst.process_version.name  # a column the lock did not read, loaded through the session
