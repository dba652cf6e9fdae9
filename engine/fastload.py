"""Hand the ORM rows read on the driver as persistent objects, as its own loader leaves them.

Every API call loads its bearer token's user, and every step its locked task and instance.
Through the ORM each of those loads cost 330 to 375 µs more processor time on PostgreSQL
than the driver took to run the same SQL (130 to 175 µs): under load, a tenth of a worker's
time. Here the SELECT runs through ``fastsql`` (compiled once, its values processed as
SQLAlchemy's result processes them), and each entity's columns become an object of the
session marked loaded and clean (``make_transient_to_detached``, then ``add``): attributes
not read load on access, changes flush as usual. An object the session already holds is kept
and, where the caller asks, refreshed from the row as ``populate_existing`` would.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Column, inspect
from sqlalchemy.orm import Session, configure_mappers, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value


class Entity:
    """Where one mapped class's columns sit in a row read on the driver."""

    __slots__ = ("mapper", "keys", "start", "stop", "_pk")

    def __init__(self, model: type, columns: Sequence[Column[Any]], start: int) -> None:
        self.mapper = inspect(model)
        self.keys = tuple(self.mapper.get_property_by_column(c).key for c in columns)
        self.start, self.stop = start, start + len(columns)
        self._pk = tuple(
            self.keys.index(self.mapper.get_property_by_column(c).key) for c in self.mapper.primary_key
        )

    def held(self, session: Session, row: Sequence[Any]) -> Any | None:
        """The session's own object for this row's identity, if it holds one."""
        ident = tuple(row[self.start + i] for i in self._pk)
        return session.identity_map.get(self.mapper.identity_key_from_primary_key(ident))

    def build(self, row: Sequence[Any], **related: Any) -> Any:
        """A detached object of the row's columns (and ``related`` objects), as if just loaded."""
        if not self.mapper.configured:  # the ORM's own first query would configure them
            configure_mappers()
        obj = self.mapper.class_manager.new_instance()
        obj.__dict__.update(zip(self.keys, row[self.start : self.stop], strict=True))
        obj.__dict__.update(related)
        make_transient_to_detached(obj)
        return obj

    def held_or_added(self, session: Session, row: Sequence[Any]) -> Any:
        """The session's own object for the row as it holds it (as the ORM's query without
        ``populate_existing`` returns it), else one built from the row and added."""
        obj = self.held(session, row)
        if obj is None:
            obj = self.build(row)
            session.add(obj)
        return obj

    def refresh(self, session: Session, obj: Any, row: Sequence[Any], **related: Any) -> Any:
        """The session's own object with the row's values, its changes and unloaded parts
        dropped (as the ORM's ``populate_existing``): a lock reads what is stored, not what
        this transaction had in memory."""
        session.expire(obj)
        for key, value in zip(self.keys, row[self.start : self.stop], strict=True):
            set_committed_value(obj, key, value)
        for key, value in related.items():
            set_committed_value(obj, key, value)
        return obj

    def load(self, session: Session, row: Sequence[Any], **related: Any) -> Any:
        """The row's object in the session, refreshed if held, else built and attached."""
        held = self.held(session, row)
        if held is not None:
            return self.refresh(session, held, row, **related)
        obj = self.build(row, **related)
        session.add(obj)
        return obj


def entities(*parts: tuple[type, Sequence[Column[Any]]]) -> list[Entity]:
    """The entities of a SELECT listing each model's columns in turn."""
    out, at = [], 0
    for model, columns in parts:
        out.append(Entity(model, columns, at))
        at += len(columns)
    return out
