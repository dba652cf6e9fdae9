"""Long-lived cases: the cost of a step at rework loop 1 and loop 30, and the stored state per loop.

A nonconformity found not effective at verification is reopened: root cause, plan, approval,
actions, the waiting period and verification again. Thirty such loops run on a SQLite file,
once as Mutu runs them (finished history compacted out of the tree, ``engine/prune.py``) and
once with compaction off, as the baseline measured in the same run.

Prints one JSON object per run and, last, a summary with ``ratio_loop30`` (loop 30's median
step against loop 1's; target at most 1.2) and ``state_bytes_per_loop``.

    python bench/loops.py           # 30 loops
    python bench/loops.py --quick   # 12 loops
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[0] = str(ROOT)

from sqlalchemy import select  # noqa: E402

from engine import bundle, prune, signatures  # noqa: E402
from engine.db import make_engine  # noqa: E402
from engine.migrate import upgrade  # noqa: E402
from engine.models import HumanTask, ProcessInstance  # noqa: E402
from engine.registry import load_registry  # noqa: E402
from engine.sandbox import Sandbox, worker_for  # noqa: E402
from engine.timers import due_timer_ids  # noqa: E402

REPORT = {"source": "tapping", "service": "147", "site": "Bandung", "description": "Informasi tarif salah"}
LOOP = [
    ("nc_rca", {"method": "5_whys", "whys": ["a", "b"], "root_cause": "Skrip lama"}),
    ("nc_plan", {"actions": [{"action": "Perbarui skrip", "owner": "teamlead", "due_date": "2026-01-12"}]}),
    ("nc_approve", {"plan_approved": True}),
    ("nc_implement", {"implementation_report": "Skrip diperbarui"}),
]


DEFAULT_KEEP = prune.KEEP


def emit(obj: dict) -> None:
    print(json.dumps(obj), flush=True)


def run(loops: int, keep: int, workdir: Path) -> dict:
    db = make_engine(f"sqlite:///{workdir / f'loops-{keep}.sqlite3'}")
    upgrade(db)
    prune.KEEP = keep
    files = bundle.library_files(ROOT / "bpmn", ROOT / "workflows")
    sandbox = Sandbox(files, bind=db, operators=load_registry(ROOT / "workflows").operators)
    engine, clock = sandbox.engine, sandbox.clock
    per_loop: list[list[float]] = []
    sizes: list[int] = []
    with sandbox.fresh() as session:
        from engine.sandbox import person

        qc = person(session, "quality_control", "Bandung")
        person(session, "team_leader", "Bandung", username="teamlead")  # the plan's action owner
        inst = engine.start(session, "nonconformity", qc, dict(REPORT)).instance

        def do(bpmn_id: str, data: dict) -> float:
            row = session.execute(
                select(HumanTask).where(
                    HumanTask.instance_id == inst.id, HumanTask.status == "open", HumanTask.bpmn_id == bpmn_id
                )
            ).scalar_one()
            actor = worker_for(session, row)
            start = time.perf_counter()
            signed = signatures.witnessed(actor, clock.now(), "sandbox")  # as a scenario signs
            result = engine.complete(session, row.id, actor, data, signature=signed)
            session.commit()
            assert result.incident is None, result.incident.message
            return time.perf_counter() - start

        do("nc_triage", {"is_nonconformity": True, "impact": "sedang", "repeated": False})
        do("nc_contain", {"correction": "Dikoreksi"})
        for loop in range(loops):
            times = [do(bpmn_id, data) for bpmn_id, data in LOOP]
            clock.advance(timedelta(days=30, minutes=1))
            for timer_id in due_timer_ids(session, clock.now(), 100):
                engine.fire_timer(session, timer_id)
            session.commit()
            last = loop == loops - 1
            times.append(do("nc_verify", {"effective": last, "verification_note": "Cek ulang"}))
            per_loop.append(times)
            sizes.append(len(session.get(ProcessInstance, inst.id).state_json))
    sandbox.close()
    db.dispose()
    first, final = statistics.median(per_loop[0]), statistics.median(per_loop[-1])
    return {
        "compaction": keep < 10**6,
        "loops": loops,
        "loop1_ms": round(first * 1000, 2),
        f"loop{loops}_ms": round(final * 1000, 2),
        "ratio": round(final / first, 2),
        "state_bytes_loop1": sizes[0],
        "state_bytes_last": sizes[-1],
        "state_bytes_per_loop": round((sizes[-1] - sizes[0]) / max(loops - 1, 1), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    loops = 12 if parser.parse_args().quick else 30
    with tempfile.TemporaryDirectory() as tmp:
        base = run(loops, 10**9, Path(tmp))
        emit({"figure": "rework_loops_without_compaction", **base})
        mutu = run(loops, DEFAULT_KEEP, Path(tmp))
        emit({"figure": "rework_loops", **mutu})
    emit(
        {
            "summary": "long_lived_cases",
            "loops": loops,
            "ratio_loop_last": mutu["ratio"],
            "ratio_without_compaction": base["ratio"],
            "state_bytes_per_loop": mutu["state_bytes_per_loop"],
            "state_bytes_per_loop_without": base["state_bytes_per_loop"],
            "target_ratio": 1.2,
            "met": mutu["ratio"] <= 1.2,
        }
    )


if __name__ == "__main__":
    main()
