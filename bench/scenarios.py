"""Scenario benchmark: every scenario of the library run against drafts, as a publish runs them.

For each of the five processes a draft is opened from the version in effect, and all of its
scenarios run in a sandbox (``engine.draft_scenarios``). A cold round starts with no sandbox
kept (the sandbox deploys the library into memory first, as after a save); a warm round
reuses it (as a second run of the same draft). The same-run baseline is the deploy of the
library alone, into a fresh in-memory database.

Prints one JSON object per figure and, last, a summary with ``scenarios_ms`` (cold, the
five processes together; target < 2000), ``warm_ms``, ``deploy_ms`` and their ratio.

    python bench/scenarios.py           # 7 rounds
    python bench/scenarios.py --quick   # 3 rounds
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[0] = str(ROOT)

from engine import bundle, draft_scenarios, drafts  # noqa: E402
from engine.clock import SystemClock  # noqa: E402
from engine.db import make_engine, make_session_factory, session_scope  # noqa: E402
from engine.deploy import read_sources  # noqa: E402
from engine.identity import create_user, ensure_builtin_roles  # noqa: E402
from engine.migrate import upgrade  # noqa: E402
from engine.models import ProcessDraft  # noqa: E402
from engine.registry import load_registry  # noqa: E402
from engine.runtime import ProcessEngine  # noqa: E402
from engine.sandbox import Sandbox  # noqa: E402

PROCESSES = (
    "nonconformity",
    "release_monitoring",
    "requirement_change",
    "supplier_procurement",
    "supplier_reevaluation",
)


def emit(obj: dict) -> None:
    print(json.dumps(obj), flush=True)


def ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    rounds = 3 if args.quick else 7
    with tempfile.TemporaryDirectory() as tmp:
        db = make_engine(f"sqlite:///{Path(tmp) / 'bench.sqlite3'}")
        upgrade(db)
        sessions = make_session_factory(db)
        engine = ProcessEngine(load_registry(ROOT / "workflows"), SystemClock())
        with session_scope(sessions) as session:
            ensure_builtin_roles(session)
            qmr = create_user(session, "qmr", "bench-pass-1", ["qmr"], engine.clock.now())
            engine.deploy(session, read_sources([ROOT / "bpmn"], 5_000_000))
            ids = [drafts.create(session, engine, key, qmr, engine.clock.now()).id for key in PROCESSES]
        cold, warm, deploys, count, failed = [], [], [], 0, 0
        library = bundle.library_files(ROOT / "bpmn", ROOT / "workflows")
        for _ in range(rounds):
            start = time.perf_counter()
            Sandbox(library, operators=engine.registry.operators).close()
            deploys.append(time.perf_counter() - start)
            for kept in (False, True):
                if not kept:
                    draft_scenarios._KEPT.clear()
                start = time.perf_counter()
                count = failed = 0
                with session_scope(sessions) as session:
                    for draft_id in ids:
                        results = draft_scenarios.run(engine, session, session.get(ProcessDraft, draft_id))
                        count += len(results)
                        failed += sum(not r["passed"] for r in results)
                (warm if kept else cold).append(time.perf_counter() - start)
        emit({"figure": "deploy_library_in_memory", "median_ms": ms(deploys), "rounds": rounds})
        emit(
            {
                "figure": "scenarios_cold",
                "median_ms": ms(cold),
                "min_ms": round(min(cold) * 1000, 1),
                "max_ms": round(max(cold) * 1000, 1),
                "scenarios": count,
            }
        )
        emit({"figure": "scenarios_warm", "median_ms": ms(warm), "scenarios": count})
        emit(
            {
                "summary": "scenarios",
                "scenarios": count,
                "failed": failed,
                "scenarios_ms": ms(cold),
                "warm_ms": ms(warm),
                "deploy_ms": ms(deploys),
                "ratio_to_deploy": round(statistics.median(cold) / statistics.median(deploys), 2),
                "target_ms": 2000,
                "met": ms(cold) < 2000 and failed == 0,
            }
        )
        db.dispose()


if __name__ == "__main__":
    main()
