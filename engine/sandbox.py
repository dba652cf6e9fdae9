"""A sandbox: the real engine on a database of its own, for running scenarios against a draft.

Nothing a sandbox does reaches real cases, case numbers, registers, the audit trail or an
inbox, by construction: it deploys the draft into an in-memory SQLite database (or, for the
suite, into a transaction on the test database that is rolled back) and acts through
people it makes for the purpose. Each scenario runs inside a savepoint that is rolled back
after it, so scenarios never see each other's cases and every one starts numbering at 1.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, create_engine, event, select
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool

from . import bundle, paths, people_fields
from .clock import ManualClock
from .identity import ensure_builtin_roles
from .models import HumanTask, User, all_tables
from .policy import NAMED_ONLY_ROLES, SITE_HELD_ROLES, SITES
from .runtime import ProcessEngine

# Sandbox people can never sign in: no argon2 hash matches this.
NO_PASSWORD = "!sandbox"
DEFAULT_START = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)


def memory_database() -> Engine:
    """An empty in-memory SQLite database with Mutu's tables, alive as long as the engine."""
    eng = create_engine("sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False})

    @event.listens_for(eng, "connect")
    def _on_connect(dbapi_connection, _record):  # type: ignore[no-untyped-def]
        dbapi_connection.isolation_level = None

    @event.listens_for(eng, "begin")
    def _on_begin(conn):  # type: ignore[no-untyped-def]
        conn.exec_driver_sql("BEGIN")

    all_tables().create_all(eng)
    return eng


class Sandbox:
    """The files of a draft (and of the processes it sends messages to), deployed apart."""

    def __init__(
        self,
        files: dict[str, str],
        *,
        bind: Engine | None = None,
        operators: dict[str, Any] | None = None,
        start_at: datetime | None = None,
        script_timeout: float = 2.0,
    ) -> None:
        self._own = bind is None
        self.bind = bind if bind is not None else memory_database()
        self.start_at = start_at or DEFAULT_START
        self.clock = ManualClock(self.start_at)
        self.files = files
        self._flows: dict[str, dict[tuple[str, str], str]] = {}
        self.connection = self.bind.connect()
        self._outer = self.connection.begin()
        sources, registry = bundle.split(files)
        registry.operators.update(operators or {})
        self.engine = ProcessEngine(registry, self.clock, script_timeout=script_timeout)
        with self.session() as session:
            self.engine.deploy(session, sources)
            session.commit()  # into the sandbox's own outer transaction, never further

    def flows(self, process_key: str) -> dict[tuple[str, str], str]:
        """The sequence flows of a process's diagram, read once per sandbox."""
        if process_key not in self._flows:
            self._flows[process_key] = paths.diagram_flows(self.files, process_key)
        return self._flows[process_key]

    @contextmanager
    def session(self) -> Iterator[Session]:
        sess = Session(bind=self.connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
        try:
            yield sess
        finally:
            sess.close()

    @contextmanager
    def fresh(self) -> Iterator[Session]:
        """A session for one scenario; everything it wrote is undone when it ends."""
        self.clock.set(self.start_at)
        savepoint = self.connection.begin_nested()
        try:
            with self.session() as sess:
                yield sess
        finally:
            if savepoint.is_active:
                savepoint.rollback()

    def close(self) -> None:
        if self._outer.is_active:
            self._outer.rollback()
        self.connection.close()
        if self._own:
            self.bind.dispose()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def person(
    session: Session,
    role: str | None,
    site: str | None,
    *,
    username: str | None = None,
    agent_code: str | None = None,
    online_name: str | None = None,
    known: dict[str, User] | None = None,
) -> User:
    """A sandbox user holding ``role`` (at ``site`` for a site-held role), made when first needed.

    ``known`` keeps the people one scenario has met, so each step does not look them up again.
    """
    if site not in SITES:
        site = None
    if role in SITE_HELD_ROLES and site is None:
        site = SITES[1]
    name = username or f"sandbox-{role or 'admin'}-{(site or 'all').lower()}"
    if known is not None and name in known:
        return known[name]
    user = session.execute(select(User).where(User.username == name)).scalar_one_or_none()
    if user is not None:
        if known is not None:
            known[name] = user
        return user
    roles = ensure_builtin_roles(session)
    user = User(
        username=name,
        password_hash=NO_PASSWORD,
        agent_code=agent_code,
        online_name=online_name or name,
        full_name=online_name or name,
        active=True,
        created_at=DEFAULT_START,
        roles=[roles[role or "admin"]] if (role or "admin") in roles else [],
        site=site if role in SITE_HELD_ROLES else None,
    )
    session.add(user)
    session.flush()
    if known is not None:
        known[name] = user
    return user


def worker_for(session: Session, row: HumanTask, known: dict[str, User] | None = None) -> User:
    """Who works a task in a sandbox: the person it names or holds it, else one of its role."""
    if row.assignee_id is not None:
        return session.get(User, row.assignee_id)  # type: ignore[return-value]
    if row.has_owners and row.owners:
        return session.get(User, row.owners[0].user_id)  # type: ignore[return-value]
    if row.role_key and row.role_key not in NAMED_ONLY_ROLES:
        return person(session, row.role_key, row.site, known=known)
    roles = [r for r in [row.role_key, *(e.role_key for e in row.extra_roles)] if r]
    roles = [r for r in roles if r not in NAMED_ONLY_ROLES]
    return person(session, roles[0] if roles else "admin", row.site, known=known)


USERNAME = re.compile(r"^[a-z0-9._-]{1,64}$")


def named_people(
    session: Session,
    schema: dict[str, Any] | None,
    data: dict[str, Any],
    site: str | None,
    known: dict[str, User],
) -> None:
    """A person a form names (an action's owner) who does not exist yet is made, holding the
    field's first role at the case's site: a sandbox's people are made as they are needed."""
    for path, roles in people_fields.person_fields(schema).items():
        for _at, name in people_fields.values_at(data, path.split(".")):
            if not (isinstance(name, str) and USERNAME.match(name)) or name in known:
                continue
            if session.execute(select(User.id).where(User.username == name)).first() is None:
                person(session, roles[0] if roles else None, site, username=name, known=known)
