"""Run a step's constant write statements on the driver's cursor, compiled once per dialect.

SQLAlchemy's execution of a Core statement (its cache key, parameter processing, the result
and its events) cost 30 to 90 µs more than SQLite took to run it, and a completion runs five
to eight of them: more than the rest of the engine's work beyond SpiffWorkflow's own. These
statements are constant and take bound parameters only, so their SQL and the type processors
of their parameters are fixed for a dialect. Here they are compiled once, and the driver is
handed the processed parameters within the session's transaction. Errors come out as
SQLAlchemy's own (``IntegrityError``, ``OperationalError``) with ``connection_invalidated``
set where the server is gone, and such a connection and its pool are dropped as SQLAlchemy
drops them, so the edges' 409 and 503 answers stay the same.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Table, insert
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import ClauseElement

_MISSING = object()


@dataclass(frozen=True)
class _Compiled:
    sql: str
    names: tuple[str, ...]  # parameter keys, in the SQL's order where the driver is positional
    keys: tuple[str, ...] | None  # the SQL's names for them where it is not (None: positional)
    processors: tuple[Callable[[Any], Any] | None, ...]
    fixed: tuple[Any, ...]  # a value bound in the statement itself, or _MISSING: the caller's
    results: tuple[Callable[[Any], Any] | None, ...] = ()  # a SELECT's column processors

    def parameters(self, values: dict[str, Any]) -> Any:
        out = []
        for name, process, fixed in zip(self.names, self.processors, self.fixed, strict=True):
            value = values[name] if fixed is _MISSING else values.get(name, fixed)
            out.append(value if process is None else process(value))
        return tuple(out) if self.keys is None else dict(zip(self.keys, out, strict=True))


class Prepared:
    """A constant statement and its compiled form for each dialect it met (an INSERT: for each
    set of columns it was given, as SQLAlchemy's ``insert(table)`` takes the values' keys)."""

    __slots__ = ("statement", "_inserting", "_compiled")

    def __init__(self, statement: ClauseElement) -> None:
        self.statement = statement
        self._inserting = bool(getattr(statement, "is_insert", False))
        self._compiled: dict[tuple[str, tuple[str, ...] | None], _Compiled] = {}

    @classmethod
    def insert(cls, table: Table) -> Prepared:
        """A plain INSERT of the columns each call gives, as SQLAlchemy's ``insert(table)``."""
        return cls(insert(table))

    def compiled(self, dialect: Dialect, values: dict[str, Any]) -> _Compiled:
        key = (f"{dialect.name}+{dialect.driver}", tuple(values) if self._inserting else None)
        found = self._compiled.get(key)
        if found is None:
            found = self._compiled[key] = self._compile(dialect, key[1])
        return found

    def _compile(self, dialect: Dialect, keys: tuple[str, ...] | None) -> _Compiled:
        column_keys = None if keys is None else list(keys)
        table = getattr(self.statement, "table", None)
        if isinstance(table, Table):
            # A Python-side default or onupdate is computed by SQLAlchemy's execution, which
            # this path skips: refuse such a statement rather than write a row without it.
            if column_keys is not None:
                given = set(column_keys)
                computed = [c.key for c in table.columns if c.key not in given and c.default is not None]
            else:
                computed = [c.key for c in table.columns if c.onupdate is not None]
            if computed:
                raise ValueError(f"{table.name}: columns {computed} need SQLAlchemy's defaults")
        compiled = self.statement.compile(dialect=dialect, column_keys=column_keys)
        positional = compiled.positiontup is not None
        names = tuple(compiled.positiontup) if positional else tuple(compiled.binds)
        binds = [compiled.binds[name] for name in names]
        if any(bind.expanding for bind in binds):
            raise ValueError("an expanding (IN) parameter changes the SQL with each call")
        escaped = getattr(compiled, "escaped_bind_names", None) or {}
        selected = getattr(self.statement, "selected_columns", None) if not self._inserting else None
        return _Compiled(
            sql=compiled.string,
            names=names,
            keys=None if positional else tuple(escaped.get(n, n) for n in names),
            processors=tuple(b.type.dialect_impl(dialect).bind_processor(dialect) for b in binds),
            fixed=tuple(_MISSING if b.required or b.callable else b.value for b in binds),
            results=tuple(c.type.dialect_impl(dialect).result_processor(dialect, None) for c in selected)
            if selected is not None and getattr(self.statement, "is_select", False)
            else (),
        )


def execute(session: Session, prepared: Prepared, values: dict[str, Any]) -> int:
    """Run a statement in the session's transaction; its row count."""
    return _run(session, prepared, values, fetch=False)[0]


def execute_returning(session: Session, prepared: Prepared, values: dict[str, Any]) -> tuple[int, Any]:
    """Run a statement with RETURNING; its row count and first row (None: no row)."""
    return _run(session, prepared, values, fetch=True)


def fetch_first(session: Session, prepared: Prepared, values: dict[str, Any]) -> tuple[Any, ...] | None:
    """A SELECT's first row, its values processed as SQLAlchemy's result would (None: no row).

    As the ORM's query would, it first flushes what the session holds unwritten."""
    if session.autoflush:
        session.flush()
    conn = session.connection()
    compiled = prepared.compiled(conn.dialect, values)
    params = compiled.parameters(values)
    with _translated(conn, compiled.sql, params) as cursor:
        cursor.execute(compiled.sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    return tuple(v if p is None else p(v) for v, p in zip(row, compiled.results, strict=True))


def execute_many(session: Session, prepared: Prepared, rows: Sequence[dict[str, Any]]) -> None:
    if not rows:
        return
    conn = session.connection()
    compiled = prepared.compiled(conn.dialect, rows[0])
    params = [compiled.parameters(row) for row in rows]
    with _translated(conn, compiled.sql, params) as cursor:
        cursor.executemany(compiled.sql, params)


def _run(session: Session, prepared: Prepared, values: dict[str, Any], *, fetch: bool) -> tuple[int, Any]:
    conn = session.connection()
    compiled = prepared.compiled(conn.dialect, values)
    params = compiled.parameters(values)
    with _translated(conn, compiled.sql, params) as cursor:
        cursor.execute(compiled.sql, params)
        if not fetch:
            return cursor.rowcount, None
        rows = cursor.fetchall()  # all of them: SQLite counts a RETURNING's rows as they are read
        return cursor.rowcount, rows[0] if rows else None


class _translated:
    """A cursor of the session's connection whose driver errors leave as SQLAlchemy's."""

    __slots__ = ("conn", "sql", "params", "cursor")

    def __init__(self, conn: Connection, sql: str, params: Any) -> None:
        self.conn, self.sql, self.params = conn, sql, params

    def __enter__(self) -> Any:
        self.cursor = self.conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        return self.cursor

    def __exit__(self, kind: Any, exc: BaseException | None, _tb: Any) -> bool:
        self.cursor.close()
        dialect = self.conn.dialect
        if exc is None or not isinstance(exc, dialect.loaded_dbapi.Error):
            return False
        dbapi_connection = self.conn.connection.dbapi_connection
        down = bool(dialect.is_disconnect(exc, dbapi_connection, self.cursor))  # type: ignore[arg-type]
        if down:
            # As SQLAlchemy does on a lost connection: this one is dropped, and the pool's
            # others, opened before the server went away, are not handed out again.
            self.conn.invalidate(exc)
            self.conn.engine.dispose(close=False)
        raise DBAPIError.instance(
            self.sql,
            self.params,
            exc,  # type: ignore[arg-type]
            dialect.loaded_dbapi.Error,
            connection_invalidated=down,
            dialect=dialect,
        ) from exc
