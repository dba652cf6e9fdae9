"""Timer lag: how long after its moment a timer fires, with one and with three schedulers.

A fresh database per run; while the schedulers' timer watches run (default settings: woken
at most every second), cases are started one every 50 ms, each waiting for a timer due
1 to 4 s later, so most timers are created while the watches sleep. Lag is the stored
``fired_at - fire_at``. The baseline, measured in the same run, is one scheduler pass with
nothing due (what a poll costs). Prints one JSON object per database and scheduler count,
then a summary.

    python bench/timers.py           # 120 timers per run
    python bench/timers.py --quick   # 40
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[0] = str(ROOT)

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from datetime import UTC, datetime, timedelta  # noqa: E402
from types import SimpleNamespace  # noqa: E402
from typing import Any  # noqa: E402

from sqlalchemy import select  # noqa: E402

from bench.pg import scratch_database  # noqa: E402
from engine.clock import SystemClock  # noqa: E402
from engine.db import make_engine, make_session_factory, session_scope  # noqa: E402
from engine.deploy import SourceFile  # noqa: E402
from engine.migrate import upgrade  # noqa: E402
from engine.models import Timer  # noqa: E402
from engine.registry import load_registry  # noqa: E402
from engine.runtime import ProcessEngine  # noqa: E402
from engine.scheduler import TimerWatch, fire_due_timers  # noqa: E402
from engine.settings import Settings  # noqa: E402

BPMN = Path(__file__).resolve().parent / "data" / "timer_lag.bpmn"
TARGET_P95_MS = 1000.0


def emit(obj: dict[str, Any]) -> None:
    print(json.dumps(obj), flush=True)


def run(name: str, url: str, schedulers: int, timers: int) -> dict[str, Any]:
    db = make_engine(url)
    upgrade(db)
    sessions = make_session_factory(db)
    engine = ProcessEngine(load_registry(ROOT / "workflows"), SystemClock())
    with session_scope(sessions) as session:
        engine.deploy(session, [SourceFile(BPMN.name, BPMN.read_bytes())])
    baseline = []
    for _ in range(30):
        started = time.perf_counter()
        fire_due_timers(sessions, engine)
        baseline.append((time.perf_counter() - started) * 1000)
    settings = Settings.from_env({}, database_url=url, secret_key="bench")
    watches = [
        TimerWatch(SimpleNamespace(sessions=make_session_factory(db), engine=engine, settings=settings))
        for _ in range(schedulers)
    ]  # type: ignore[arg-type]
    for watch in watches:
        watch.start()
    try:
        for i in range(timers):
            due = datetime.now(UTC) + timedelta(seconds=1 + (i % 60) * 0.05)
            with session_scope(sessions) as session:
                engine.start(session, "timer_lag", None, engine_data={"due": due.isoformat()})
            time.sleep(0.05)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with session_scope(sessions) as session:
                rows = session.execute(select(Timer.fire_at, Timer.fired_at, Timer.status)).all()
            if all(r.status == "fired" for r in rows):
                break
            time.sleep(0.1)
    finally:
        for watch in watches:
            watch.stop()
        for watch in watches:
            watch.join(5)
    lags = sorted((r.fired_at - r.fire_at).total_seconds() * 1000 for r in rows if r.fired_at)
    result = {
        "database": name,
        "schedulers": schedulers,
        "timers": len(rows),
        "fired": len(lags),
        "lag_p50_ms": round(statistics.median(lags), 1),
        "lag_p95_ms": round(lags[int(len(lags) * 0.95) - 1], 1),
        "lag_max_ms": round(lags[-1], 1),
        "baseline_pass_ms": round(statistics.median(baseline), 2),
    }
    result["p95_ratio_to_pass"] = round(result["lag_p95_ms"] / max(result["baseline_pass_ms"], 0.01), 1)
    db.dispose()
    emit(result)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="40 timers per run")
    args = parser.parse_args()
    timers = 40 if args.quick else 120
    summary: dict[str, Any] = {"target_p95_ms": TARGET_P95_MS}
    with tempfile.TemporaryDirectory(prefix="mutu-bench-timers-") as tmp:
        for count in (1, 3):
            lite = run("sqlite", f"sqlite:///{Path(tmp) / f'timers{count}.sqlite3'}", count, timers)
            summary[f"sqlite_{count}_p95_ms"], summary[f"sqlite_{count}_max_ms"] = (
                lite["lag_p95_ms"],
                lite["lag_max_ms"],
            )
            pg_url = scratch_database(f"mutu_bench_timers_{count}", emit)
            if pg_url:
                pg = run("postgres", pg_url, count, timers)
                summary[f"pg_{count}_p95_ms"], summary[f"pg_{count}_max_ms"] = (
                    pg["lag_p95_ms"],
                    pg["lag_max_ms"],
                )
    summary["targets_met"] = {
        k: v < TARGET_P95_MS for k, v in summary.items() if k.endswith("_p95_ms") and k != "target_p95_ms"
    }
    emit(summary)


if __name__ == "__main__":
    main()
