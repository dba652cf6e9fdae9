"""Run by test_schedulers: one `mutu scheduler` pass after another until nothing is due, on the real clock."""

from __future__ import annotations

import sys
import time

from engine.clock import SystemClock
from engine.db import make_engine, make_session_factory
from engine.registry import Registry
from engine.runtime import ProcessEngine
from engine.scheduler import fire_due_timers


def main() -> None:
    url, slow = sys.argv[1], float(sys.argv[2]) if len(sys.argv) > 2 else 0.0
    engine = ProcessEngine(Registry(), SystemClock(), hook=(lambda *_: time.sleep(slow)) if slow else None)
    sessions = make_session_factory(make_engine(url))
    total, idle = 0, 0
    print("READY", flush=True)
    while idle < 3:
        fired = fire_due_timers(sessions, engine, 50)
        total += fired
        idle = idle + 1 if fired == 0 else 0
        if fired == 0:
            time.sleep(0.05)
    print(f"FIRED {total}", flush=True)


if __name__ == "__main__":
    main()
