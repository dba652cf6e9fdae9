"""Database engines and the unit-of-work session scope that the edges (web, CLI, scheduler) own."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from .errors import Conflict

log = logging.getLogger(__name__)


def make_engine(url: str, echo: bool = False) -> Engine:
    """Create an engine tuned for the database behind ``url``.

    SQLite gets WAL (readers never wait for the writer), foreign keys, a busy
    timeout, transactions that take the write lock at their start (so several processes
    queue for it instead of failing), and the pysqlite transaction fix so SAVEPOINTs and
    explicit BEGINs work as SQLAlchemy documents.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, echo=echo, connect_args={"check_same_thread": False, "timeout": 30})
        _tune_sqlite(engine)
        return engine
    _cache_step_statements()
    # Optimistic disconnect handling: no ping before every checkout (a round trip per request);
    # connections are recycled hourly, and a connection found dead invalidates the whole pool,
    # so a database restart costs one failed request, not one per pooled connection.
    return create_engine(url, echo=echo, pool_recycle=3600, pool_size=10, max_overflow=20)


def _cache_step_statements() -> None:
    """Let psycopg cache its conversion of a step's combined statement too.

    psycopg rewrites each statement's ``%(name)s`` placeholders to ``$n`` with a regular
    expression and caches the result (an LRU of 128) only for statements of at most 50
    parameters and 4 KB, to spare its cache the ever-different statements of bulk inserts.
    A step's writes ride in one statement of 50 to 150 parameters (``engine.batch``), one of
    a few dozen shapes, whose conversion took 0.1 ms of every completion. psycopg reads the limit
    at each call; where a release has no such limit, nothing changes.
    """
    try:
        from psycopg import _queries
    except ImportError:  # no psycopg: nothing to tune
        return
    if getattr(_queries, "MAX_CACHED_STATEMENT_PARAMS", 0) < 500:
        _queries.MAX_CACHED_STATEMENT_PARAMS = 500
    if getattr(_queries, "MAX_CACHED_STATEMENT_LENGTH", 0) < 16384:
        _queries.MAX_CACHED_STATEMENT_LENGTH = 16384


def _tune_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):  # type: ignore[no-untyped-def]
        # Let SQLAlchemy, not pysqlite, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA cache_size=-65536")  # 64 MiB of pages: big case tables stay hot
        cursor.execute("PRAGMA mmap_size=268435456")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):  # type: ignore[no-untyped-def]
        # Take the write lock when the transaction starts, waiting (busy_timeout) for another
        # process's writer: a deferred transaction that read first and wrote later cannot wait
        # in WAL mode and fails at once with "database is locked" when someone wrote meanwhile.
        # Straight to the driver: SQLAlchemy's execution around one constant statement costs
        # more than SQLite takes to run it, on every transaction.
        conn.connection.dbapi_connection.execute("BEGIN IMMEDIATE")


def is_postgres(session_or_engine: Session | Engine) -> bool:
    bind = session_or_engine.get_bind() if isinstance(session_or_engine, Session) else session_or_engine
    return bind.dialect.name == "postgresql"


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=True)


@contextlib.contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error, always close."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def job_lock(session: Session, name: str) -> bool:
    """Whether this transaction may run the job ``name`` now: on PostgreSQL a transaction-level
    advisory lock (another scheduler holding it means: skip this round); SQLite's write lock
    already lets one transaction write at a time."""
    if not is_postgres(session):
        return True
    import zlib

    from sqlalchemy import text

    key = zlib.crc32(f"mutu:{name}".encode())
    return bool(session.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": key}).scalar())


def run_claimed(
    factory: sessionmaker[Session],
    claim: Callable[[Session, set[int]], int | None],
    run: Callable[[Session, int], str],
    limit: int,
    what: str,
) -> dict[str, int]:
    """Claim and run up to ``limit`` rows, each in its own transaction; count the outcomes.

    ``claim`` locks the next row no other process holds and is not in the set of rows this
    pass already tried, so racing schedulers and workers take different rows and one that
    failed is not retried in a loop. A conflict or a busy database skips the row until the
    next pass; nothing of it was written.
    """
    outcomes: dict[str, int] = {}
    handled: set[int] = set()
    for _ in range(limit):
        row_id = None
        try:
            with session_scope(factory) as session:
                row_id = claim(session, handled)
                if row_id is None:
                    break
                handled.add(row_id)
                outcome = run(session, row_id)
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
        except Conflict as exc:
            log.info("%s %s skipped: %s", what, row_id, exc)
        except OperationalError as exc:
            log.warning("%s %s skipped, database busy: %s", what, row_id, exc.orig)
        except Exception:  # noqa: BLE001 - one row that cannot run must not stop the others behind it
            log.exception("%s %s failed; it is tried again on the next pass", what, row_id)
            outcomes["error"] = outcomes.get("error", 0) + 1
    return outcomes


def claim_waiting(session: Session, model: Any, now: datetime, handled: set[int]) -> Any | None:
    """The next due ``waiting`` row of a job table that no other worker holds, locked."""
    query = select(model).where(model.status == "waiting", model.due_at <= now)
    if handled:
        query = query.where(model.id.not_in(sorted(handled)))
    query = query.order_by(model.due_at, model.id).limit(1).with_for_update(skip_locked=True)
    return session.execute(query).scalar_one_or_none()


def run_waiting(
    factory: sessionmaker[Session],
    model: Any,
    now: Callable[[], datetime],
    run: Callable[[Session, Any], str],
    limit: int,
) -> dict[str, int]:
    """Run up to ``limit`` due rows of a job table, each claimed in its own transaction."""

    def claim(session: Session, handled: set[int]) -> int | None:
        row = claim_waiting(session, model, now(), handled)
        return None if row is None else row.id

    what = model.__tablename__.replace("_", " ")
    return run_claimed(
        factory, claim, lambda session, row_id: run(session, session.get(model, row_id)), limit, what
    )
