"""Build the pieces an edge needs (database, sessions, engine) from settings, in one place."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from .clock import Clock, SystemClock
from .db import make_engine, make_session_factory
from .registry import Registry, load_registry
from .runtime import ProcessEngine
from .settings import Settings


@dataclass
class Runtime:
    settings: Settings
    db: Engine
    sessions: sessionmaker[Session]
    engine: ProcessEngine


def build_runtime(
    settings: Settings, clock: Clock | None = None, registry: Registry | None = None
) -> Runtime:
    db = make_engine(settings.database_url, echo=settings.sql_echo)
    engine = ProcessEngine(
        registry if registry is not None else load_registry(settings.workflows_dir),
        clock or SystemClock(),
        zone=settings.zone,
        script_timeout=settings.script_timeout_seconds,
        memory_mb=settings.script_memory_mb,
    )
    return Runtime(settings, db, make_session_factory(db), engine)
