"""Engine benchmark: time per task completion against an in-memory SpiffWorkflow baseline.

Baseline and databases take turns round by round; each ratio is the median over rounds
of that round's engine median divided by the same round's baseline median, so a slow
moment of the machine weighs on both sides. Prints one JSON object per measurement
and, last, one summary object with
``baseline_ms``, ``sqlite_ms``, ``sqlite_ratio``, ``postgres_ms``, ``postgres_ratio``, each
ratio's ``_spread`` (first and third quartile of the round ratios), its ``_ci95`` (a 95 %
bootstrap interval of the median) and ``scale_ratio``
(per-completion time with many instances stored over few).

    python bench/engine.py           # full: 100,000 instances for the scale figure
    python bench/engine.py --quick   # under a minute: 10,000 instances, fewer repetitions
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Run as a script, this file's folder comes first on sys.path and its name would hide
# the ``engine`` package; put the project root there instead.
sys.path[0] = str(ROOT)

from SpiffWorkflow import TaskState  # noqa: E402
from SpiffWorkflow.bpmn import BpmnWorkflow  # noqa: E402
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer  # noqa: E402
from SpiffWorkflow.spiff.parser import SpiffBpmnParser  # noqa: E402
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG  # noqa: E402
from sqlalchemy import insert, select, text  # noqa: E402

from bench.pg import scratch_database  # noqa: E402
from engine.clock import ManualClock  # noqa: E402
from engine.db import make_engine, make_session_factory, session_scope  # noqa: E402
from engine.deploy import SourceFile  # noqa: E402
from engine.identity import create_user  # noqa: E402
from engine.migrate import upgrade  # noqa: E402
from engine.models import CaseRecord, HumanTask, ProcessInstance, User  # noqa: E402
from engine.registry import load_registry  # noqa: E402
from engine.runtime import ProcessEngine  # noqa: E402

DATA = Path(__file__).resolve().parent / "data"
BPMN = DATA / "bench_case.bpmn"
STEPS: list[tuple[str, dict]] = [
    ("record", {"description": "Agent quoted the old tariff", "site": "Bandung"}),
    ("triage", {"valid": True}),
    ("contain", {"note": "call-back made"}),
    ("acknowledge", {"ack": True}),
    ("plan", {"actions": [{"what": "refresher", "owner": "teamlead"}]}),
    ("approve", {"approved": True}),
    ("implement", {"done": True}),
    ("verify", {"effective": True}),
]


def emit(obj: dict) -> None:
    print(json.dumps(obj), flush=True)


class Baseline:
    """Plain SpiffWorkflow in memory: deserialize, complete, run, serialize, per completion."""

    def __init__(self) -> None:
        parser = SpiffBpmnParser()
        parser.add_bpmn_file(str(BPMN))
        self.spec = parser.get_spec("bench_case")
        self.serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG))

    def run_cases(self, reps: int) -> list[float]:
        times: list[float] = []
        for _ in range(reps):
            workflow = BpmnWorkflow(self.spec)
            workflow.do_engine_steps()
            state = self.serializer.serialize_json(workflow)
            for name, data in STEPS:
                t0 = time.perf_counter()
                workflow = self.serializer.deserialize_json(state)
                task = workflow.get_next_task(state=TaskState.READY, spec_name=name)
                task.data.update(data)
                task.run()
                workflow.do_engine_steps()
                state = self.serializer.serialize_json(workflow)
                times.append(time.perf_counter() - t0)
        return times


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def interval(ratios: list[float], draws: int = 2000) -> tuple[float, float]:
    """A 95 % bootstrap interval of the median ratio: how far the reported figure itself may be
    off, to tell a target met from noise (the spread says how far to trust a single round)."""
    rng = random.Random(9001)  # the same resampling every run: two runs differ by their data only
    medians = sorted(statistics.median(rng.choices(ratios, k=len(ratios))) for _ in range(draws))
    return medians[int(draws * 0.025)], medians[int(draws * 0.975) - 1]


def spread(ratios: list[float]) -> tuple[float, float]:
    """The middle half of the per-round ratios (first to third quartile): how far to trust one."""
    if len(ratios) < 4:
        return min(ratios), max(ratios)
    quartiles = statistics.quantiles(ratios, n=4)
    return quartiles[0], quartiles[2]


class Target:
    """One database with the bench process deployed and a user in every lane's role."""

    def __init__(self, url: str) -> None:
        self.db = make_engine(url)
        upgrade(self.db)
        self.sessions = make_session_factory(self.db)
        self.engine = ProcessEngine(load_registry(DATA / "workflows"), ManualClock())
        with session_scope(self.sessions) as session:
            user = create_user(
                session,
                "bench",
                "bench-pass",
                ["quality_control", "qmr", "team_leader", "agent"],
                self.engine.clock.now(),
                agent_code="9999",
                site="Bandung",
            )
            self.user_id = user.id
            self.engine.deploy(session, [SourceFile(BPMN.name, BPMN.read_bytes())])

    def start(self) -> tuple[int, float]:
        t0 = time.perf_counter()
        with session_scope(self.sessions) as session:
            inst = self.engine.start(session, "bench_case", session.get(User, self.user_id)).instance
        return inst.id, time.perf_counter() - t0

    def task_id(self, instance_id: int, bpmn_id: str) -> int:
        with session_scope(self.sessions) as session:
            return session.execute(
                select(HumanTask.id).where(
                    HumanTask.instance_id == instance_id,
                    HumanTask.bpmn_id == bpmn_id,
                    HumanTask.status == "open",
                )
            ).scalar_one()

    def complete(self, task_id: int, data: dict) -> float:
        t0 = time.perf_counter()
        with session_scope(self.sessions) as session:
            self.engine.complete(session, task_id, session.get(User, self.user_id), data)
        return time.perf_counter() - t0

    def run_cases(self, reps: int) -> tuple[list[float], list[float]]:
        """Seconds per completion and per start over ``reps`` whole cases."""
        completes: list[float] = []
        starts: list[float] = []
        for _ in range(reps):
            inst, elapsed = self.start()
            starts.append(elapsed)
            for name, data in STEPS:
                completes.append(self.complete(self.task_id(inst, name), data))
        return completes, starts

    def fill(self, total: int) -> None:
        """Store ``total`` instances waiting at triage: copies of one real instance, inserted in bulk."""
        inst_id, _ = self.start()
        self.complete(self.task_id(inst_id, "record"), STEPS[0][1])
        with session_scope(self.sessions) as session:
            have = session.execute(text("select count(*) from process_instance")).scalar()
            proto = session.get(ProcessInstance, inst_id)
            tasks = list(session.execute(select(HumanTask).where(HumanTask.instance_id == inst_id)).scalars())
            case = session.get(CaseRecord, inst_id)
            inst_cols = {
                c.key: getattr(proto, c.key) for c in ProcessInstance.__table__.columns if c.key != "id"
            }
            task_cols = [
                {c.key: getattr(t, c.key) for c in HumanTask.__table__.columns if c.key != "id"}
                for t in tasks
            ]
            case_cols = {c.key: getattr(case, c.key) for c in CaseRecord.__table__.columns}
        remaining = total - have
        batch = 2000
        while remaining > 0:
            n = min(batch, remaining)
            with session_scope(self.sessions) as session:
                ids = (
                    session.execute(
                        insert(ProcessInstance).returning(ProcessInstance.id),
                        [dict(inst_cols) for _ in range(n)],
                    )
                    .scalars()
                    .all()
                )
                session.execute(insert(HumanTask), [{**t, "instance_id": i} for i in ids for t in task_cols])
                session.execute(insert(CaseRecord), [{**case_cols, "instance_id": i} for i in ids])
            remaining -= n

    def count(self) -> int:
        with session_scope(self.sessions) as session:
            return session.execute(text("select count(*) from process_instance")).scalar()

    def close(self) -> None:
        self.db.dispose()


def postgres_url() -> str | None:
    return scratch_database("mutu_bench", emit)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions, 10,000 instances")
    args = parser.parse_args()
    rounds = 8 if args.quick else 80
    per_round = 2 if args.quick else 3
    big = 10_000 if args.quick else 100_000
    small = 1_000

    with tempfile.TemporaryDirectory() as tmp:
        # Baseline and databases take turns, round by round, so that a slow moment of the
        # machine weighs on both sides of each ratio alike.
        base = Baseline()
        targets = {"sqlite": Target(f"sqlite:///{tmp}/bench.sqlite3")}
        pg = postgres_url()
        if pg is not None:
            targets["postgres"] = Target(pg)
        samples: dict[str, list[float]] = {"baseline": []}
        starts: dict[str, list[float]] = {}
        paired: dict[str, list[float]] = {}  # per round: engine median / baseline median
        base.run_cases(2)
        for target in targets.values():
            target.run_cases(2)  # warm caches
        for _ in range(rounds):
            round_base = base.run_cases(per_round * 2)
            samples["baseline"] += round_base
            for name, target in targets.items():
                done, begun = target.run_cases(per_round)
                samples.setdefault(name, []).extend(done)
                starts.setdefault(name, []).extend(begun)
                paired.setdefault(name, []).append(statistics.median(done) / statistics.median(round_base))
        base_ms = median_ms(samples["baseline"])
        emit({"measure": "baseline_in_memory", "ms_per_completion": round(base_ms, 3)})
        summary: dict[str, object] = {"baseline_ms": round(base_ms, 3), "quick": args.quick}
        for name in ("sqlite", "postgres"):
            if name not in targets:
                summary.update({f"{name}_ms": None, f"{name}_ratio": None})
                continue
            ms, start_ms = median_ms(samples[name]), median_ms(starts[name])
            ratio = statistics.median(paired[name])
            emit(
                {
                    "measure": name,
                    "ms_per_completion": round(ms, 3),
                    "ms_per_start": round(start_ms, 3),
                    "round_ratios": [round(r, 3) for r in paired[name]],
                }
            )
            low, high = spread(paired[name])
            below, above = interval(paired[name])
            summary.update(
                {
                    f"{name}_ms": round(ms, 3),
                    f"{name}_ratio": round(ratio, 3),
                    f"{name}_ratio_spread": [round(low, 3), round(high, 3)],
                    f"{name}_ratio_ci95": [round(below, 3), round(above, 3)],
                    f"{name}_start_ms": round(start_ms, 3),
                }
            )
        if "postgres" in targets:
            targets.pop("postgres").close()

        targets["sqlite"].close()

        # Two databases, one with few cases stored and one with many, taking turns.
        few = Target(f"sqlite:///{tmp}/few.sqlite3")
        many = Target(f"sqlite:///{tmp}/many.sqlite3")
        few.fill(small)
        t0 = time.perf_counter()
        many.fill(big)
        emit({"measure": "fill", "instances": many.count(), "seconds": round(time.perf_counter() - t0, 1)})
        scale: dict[str, list[float]] = {"few": [], "many": []}
        few.run_cases(2)
        many.run_cases(2)
        for _ in range(rounds):
            scale["few"] += few.run_cases(per_round)[0]
            scale["many"] += many.run_cases(per_round)[0]
        at_small, at_big = median_ms(scale["few"]), median_ms(scale["many"])
        for target, ms in ((few, at_small), (many, at_big)):
            emit({"measure": "sqlite_scale", "instances": target.count(), "ms_per_completion": round(ms, 3)})
            target.close()
        summary.update(
            scale_small_ms=round(at_small, 3),
            scale_big_ms=round(at_big, 3),
            scale_instances=big,
            scale_ratio=round(at_big / at_small, 3),
        )
    emit(summary)


if __name__ == "__main__":
    main()
