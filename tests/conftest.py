"""Test fixtures: a real database (SQLite, and PostgreSQL when it answers), one transaction per test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from engine.clock import ManualClock
from engine.db import make_engine, make_session_factory
from engine.deploy import SourceFile
from engine.identity import ensure_builtin_roles, hash_password
from engine.migrate import upgrade
from engine.models import User
from engine.policy import SITE_HELD_ROLES
from engine.registry import load_registry
from engine.runtime import ProcessEngine
from tests.scenario import library  # noqa: F401 - a fixture for every scenario module

DATA = Path(__file__).parent / "data"
PG_URL = os.environ.get("MUTU_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
_PASSWORD_HASH: str | None = None


def postgres_available() -> tuple[bool, str]:
    try:
        probe = create_engine(PG_URL)
        with probe.connect() as conn:
            conn.execute(text("select 1"))
        probe.dispose()
        return True, ""
    except Exception as exc:  # noqa: BLE001 - any failure means "not here"
        return False, f"PostgreSQL not reachable at {PG_URL}: {str(exc).splitlines()[0]}"


def require_postgres() -> None:
    ok, why = postgres_available()
    if not ok:
        if os.environ.get("MUTU_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"MUTU_REQUIRE_POSTGRES=1 but {why}")
        pytest.skip(why)


def scratch_postgres_url(kind: str) -> str:
    """A database of this test run's own (named by process id), so parallel runs never collide."""
    url = make_url(PG_URL)
    name = f"{url.database}_{kind}_{os.getpid()}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def drop_postgres(url: str) -> None:
    name = make_url(url).database
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def reset_postgres(url: str) -> None:
    eng = create_engine(url, isolation_level="AUTOCOMMIT")
    with eng.connect() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    eng.dispose()


@pytest.fixture(scope="session")
def sqlite_db(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    path = tmp_path_factory.mktemp("db") / "suite.sqlite3"
    eng = make_engine(f"sqlite:///{path}")
    upgrade(eng)
    yield eng
    eng.dispose()


@pytest.fixture(scope="session")
def postgres_db():  # type: ignore[no-untyped-def]
    require_postgres()
    url = scratch_postgres_url("suite")
    eng = make_engine(url)
    upgrade(eng)
    yield eng
    eng.dispose()
    drop_postgres(url)


@pytest.fixture(scope="session")
def committed_postgres_url():  # type: ignore[no-untyped-def]
    require_postgres()
    url = scratch_postgres_url("committed")
    yield url
    drop_postgres(url)


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def scenario_sandbox(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    """The seed library deployed once in a sandbox: in memory, or on a PostgreSQL database of its own."""
    from engine.sandbox import Sandbox
    from tests.scenario import library_files, library_operators

    if request.param == "sqlite":
        sandbox = Sandbox(library_files(), operators=library_operators())
        yield sandbox
        sandbox.close()
        return
    require_postgres()
    url = scratch_postgres_url("sandbox")
    eng = make_engine(url)
    upgrade(eng)
    sandbox = Sandbox(library_files(), bind=eng, operators=library_operators())
    yield sandbox
    sandbox.close()
    eng.dispose()
    drop_postgres(url)


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    """The migrated database engine, once per backend."""
    return request.getfixturevalue(f"{request.param}_db")


@pytest.fixture
def session(db) -> Iterator[Session]:  # type: ignore[no-untyped-def]
    """A session inside a transaction that is rolled back after the test."""
    connection = db.connect()
    outer = connection.begin()
    sess = Session(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    try:
        yield sess
    finally:
        sess.close()
        outer.rollback()
        connection.close()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def registry():  # type: ignore[no-untyped-def]
    return load_registry(DATA / "workflows")


@pytest.fixture
def engine(registry, clock) -> ProcessEngine:  # type: ignore[no-untyped-def]
    return ProcessEngine(registry, clock, script_timeout=1.0)


def password_hash() -> str:
    global _PASSWORD_HASH
    if _PASSWORD_HASH is None:
        _PASSWORD_HASH = hash_password("secret-pass")
    return _PASSWORD_HASH


def make_user(
    session: Session, username: str, *roles: str, agent_code: str | None = None, site: str | None = None
) -> User:
    """Insert a user cheaply (one argon2 hash per test run); site-held roles default to Bandung."""
    all_roles = ensure_builtin_roles(session)
    user = User(
        username=username,
        password_hash=password_hash(),
        agent_code=agent_code,
        online_name=username.title(),
        full_name=username.title(),
        active=True,
        created_at=ManualClock().now(),
        roles=[all_roles[r] for r in roles],
        site=site or ("Bandung" if SITE_HELD_ROLES & set(roles) else None),
    )
    session.add(user)
    session.flush()
    return user


@dataclass
class People:
    qc: User
    qmr: User
    tl: User
    agent: User
    agent2: User
    director: User
    admin: User
    client: User
    ops: User
    procurement: User


def make_people(session: Session) -> People:
    return People(
        qc=make_user(session, "qc", "quality_control", agent_code="2001"),
        qmr=make_user(session, "qmr", "qmr", agent_code="3001"),
        tl=make_user(session, "teamlead", "team_leader", agent_code="4001"),
        agent=make_user(session, "agent", "agent", agent_code="1001"),
        agent2=make_user(session, "agent2", "agent", agent_code="1002"),
        director=make_user(session, "director", "director", agent_code="5001"),
        admin=make_user(session, "admin", "admin"),
        client=make_user(session, "client", "client_liaison"),
        ops=make_user(session, "ops", "operations_manager", agent_code="6001"),
        procurement=make_user(session, "procurement", "procurement", agent_code="7001"),
    )


@pytest.fixture
def people(session: Session) -> People:
    return make_people(session)


def source(name: str) -> SourceFile:
    path = DATA / "bpmn" / name
    return SourceFile(path.name, path.read_bytes())


def review_files() -> list[SourceFile]:
    return [source("review.bpmn"), source("verification.bpmn"), source("severity.dmn")]


@pytest.fixture
def deployed(session: Session, engine: ProcessEngine):  # type: ignore[no-untyped-def]
    return engine.deploy(session, review_files())


@dataclass
class CommittedDb:
    url: str
    engine: object
    sessions: object


@pytest.fixture(params=["sqlite", "postgres"])
def committed_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[CommittedDb]:
    """A database whose transactions really commit (threads, subprocesses, the scheduler)."""
    if request.param == "postgres":
        url = request.getfixturevalue("committed_postgres_url")
        reset_postgres(url)
    else:
        url = f"sqlite:///{tmp_path / 'committed.sqlite3'}"
    eng = make_engine(url)
    upgrade(eng)
    yield CommittedDb(url, eng, make_session_factory(eng))
    eng.dispose()


# Fixtures of the web tests; imported last, since they build on the helpers above.
from tests.web_support import web  # noqa: E402,F401
