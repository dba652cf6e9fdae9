"""Run by test_crash: complete a task, write everything, then stop before COMMIT until killed."""

from __future__ import annotations

import sys
import time

from engine.clock import ManualClock
from engine.db import make_engine, make_session_factory, session_scope
from engine.identity import get_user
from engine.registry import load_registry
from engine.runtime import ProcessEngine
from tests.conftest import DATA


def pause(point: str, ctx: dict) -> None:
    if point == "written":
        print("PAUSED", flush=True)
        time.sleep(600)


def main() -> None:
    url, task_id = sys.argv[1], int(sys.argv[2])
    engine = ProcessEngine(load_registry(DATA / "workflows"), ManualClock(), hook=pause)
    sessions = make_session_factory(make_engine(url))
    with session_scope(sessions) as session:
        data = {"description": "Killed mid-way", "severity_hint": "major", "site": "Semarang"}
        engine.complete(session, task_id, get_user(session, "qc"), data)


if __name__ == "__main__":
    main()
