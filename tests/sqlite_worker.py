"""Run by test_sqlite_processes: start cases and complete their first step, as one of several processes."""

from __future__ import annotations

import sys

from engine.clock import ManualClock
from engine.db import make_engine, make_session_factory, session_scope
from engine.errors import Conflict
from engine.identity import get_user
from engine.models import HumanTask
from engine.registry import load_registry
from engine.runtime import ProcessEngine
from tests.conftest import DATA

RAISE = {"description": "Salah tarif", "severity_hint": "minor", "site": "Bandung"}


def main() -> None:
    url, count = sys.argv[1], int(sys.argv[2])
    engine = ProcessEngine(load_registry(DATA / "workflows"), ManualClock())
    sessions = make_session_factory(make_engine(url))
    errors: dict[str, int] = {}
    done = 0
    for _ in range(count):
        try:
            with session_scope(sessions) as session:
                qc = get_user(session, "qc")
                inst = engine.start(session, "review", qc).instance
                row = session.query(HumanTask).filter_by(instance_id=inst.id, bpmn_id="raise").one()
                task_id = row.id
            with session_scope(sessions) as session:
                engine.complete(session, task_id, get_user(session, "qc"), RAISE)
            done += 1
        except (Conflict, Exception) as exc:  # noqa: BLE001 - every failure is counted and reported
            key = type(exc).__name__
            errors[key] = errors.get(key, 0) + 1
    print(f"DONE {done} ERRORS {errors}", flush=True)


if __name__ == "__main__":
    main()
