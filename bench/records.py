# ruff: noqa: E501 - the bulk rows of realistic shape read best one row a line
"""The records side with a realistic history: register pages, the dashboard, an agent's page and
a month's evidence pack for four sites, at 10,000 and 100,000 cases.

Each size gets a fresh SQLite database (and PostgreSQL when it answers, with ``--postgres``)
with N nonconformity and monitoring cases, ten audit events a case (1,000,000 at 100,000),
two completed tasks a case, four monitoring results a monitoring case, and registers of the
size a contact center keeps. Pages are whole requests through the app; the baseline is GET
/healthz in the same run. Prints one JSON object per size and a summary with the growth.

    python bench/records.py            # 10,000 and 100,000 cases
    python bench/records.py --quick    # 2,000 and 10,000 cases
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[0] = str(ROOT)

import argparse  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from datetime import UTC, date, datetime, timedelta  # noqa: E402
from typing import Any  # noqa: E402

from sqlalchemy import insert, select, text  # noqa: E402

from bench.oversight import PASSWORD, signed_in  # noqa: E402
from bench.pg import scratch_database  # noqa: E402
from engine import packs  # noqa: E402
from engine.clock import SystemClock  # noqa: E402
from engine.context import Runtime  # noqa: E402
from engine.db import make_engine, make_session_factory, session_scope  # noqa: E402
from engine.identity import create_user  # noqa: E402
from engine.migrate import upgrade  # noqa: E402
from engine.models import AuditEvent, CaseRecord, HumanTask, ProcessInstance, ProcessVersion, User  # noqa: E402
from engine.models_records import EvidencePack, MonitoringResult  # noqa: E402
from engine.models_registers import (  # noqa: E402
    Communication,
    MonitoringTool,
    PreservationActivity,
    PreservationAttendance,
    Supplier,
)
from engine.policy import SITES, STATEMENT, STATEMENT_VERSION  # noqa: E402
from engine.records import add_to_months  # noqa: E402
from engine.registry import load_registry  # noqa: E402
from engine.runtime import ProcessEngine  # noqa: E402
from engine.settings import Settings  # noqa: E402
from engine.signin import accept_statement  # noqa: E402

PAGE_TARGET_MS, AGENT_TARGET_MS, PACK_TARGET_S = 100.0, 50.0, 30.0
METHODS = ("tapping", "mystery_shopping", "propper_test", "individual")
START = datetime(2025, 1, 1, tzinfo=UTC)
PAGES = {
    "dashboard_ms": "/reports?from=2025-01-01&to=2025-12-31",
    "dashboard_site_ms": "/reports?from=2025-06-01&to=2025-06-30&site=Malang",
    "suppliers_ms": "/registers/suppliers",
    "requirements_ms": "/registers/requirements",
    "communications_ms": "/registers/communications?kind=complaint",
    "preservation_ms": "/registers/preservation?state=held",
    "tools_ms": "/registers/tools?state=overdue",
    "agent_ms": "/agents/10007",
}


def emit(obj: dict[str, Any]) -> None:
    print(json.dumps(obj), flush=True)


def fill(sessions: Any, cases: int, owner: User) -> None:
    """Bulk rows of realistic shape (no workflow runs: the records side never reads one)."""
    rng = random.Random(7)
    with session_scope(sessions) as session:
        version_id = session.execute(select(ProcessVersion.id).limit(1)).scalar_one()
        hashed = session.execute(select(User.password_hash).where(User.id == owner.id)).scalar_one()
        agents = [
            User(username=f"agent{i}", password_hash=hashed, agent_code=f"{10000 + i}", online_name=f"Agen-{i}",
                 full_name=f"Agen {i}", site=SITES[i % 4], team=f"Tim {i % 10}", active=True, created_at=START,
                 roles_cache="agent")
            for i in range(200)
        ]  # fmt: skip
        session.add_all(agents)
        session.flush()
        agent_ids = [a.id for a in agents]
    done = 0
    seq = 0
    while done < cases:
        n = min(2000, cases - done)
        with session_scope(sessions) as session:
            instances = []
            for k in range(n):
                j = done + k
                opened = START + timedelta(minutes=j * (360 * 24 * 60 // cases))  # a year, whatever the size
                recent = opened > START + timedelta(days=300)  # older cases have mostly been closed
                closed = None if recent and j % 3 == 0 else opened + timedelta(days=rng.randint(5, 80))
                instances.append(
                    {"process_key": "nonconformity" if j % 5 else "release_monitoring",
                     "process_version_id": version_id, "status": "completed" if closed else "running",
                     "state_json": "{}", "serializer_version": "1", "started_by_id": owner.id,
                     "started_at": opened, "ended_at": closed, "updated_at": opened, "lock_version": 1,
                     "audit_seq": 10, "audit_hash": "0" * 64}
                )  # fmt: skip
            ids = (
                session.execute(insert(ProcessInstance).returning(ProcessInstance.id), instances)
                .scalars()
                .all()
            )
            case_rows, events, tasks, results = [], [], [], []
            for k, (i, inst) in enumerate(zip(ids, instances, strict=True)):
                j = done + k
                site = SITES[j % 4]
                code = f"{10000 + j % 200}"
                nc = inst["process_key"] == "nonconformity"
                case_rows.append(
                    {"instance_id": i, "process_key": inst["process_key"], "number": f"B-{j:07d}",
                     "summary": f"Temuan {j}", "site": site, "service": ("147", "108", "indihome_digital")[j % 3],
                     "severity": ("minor", "major", "critical")[j % 3] if nc else None,
                     "agent_code": code if nc else None, "status": "Ditutup" if inst["ended_at"] else "Triase",
                     "source": METHODS[j % 3] if nc else None, "fields": {}, "opened_at": inst["started_at"],
                     "closed_at": inst["ended_at"], "reopened": 1 if j % 17 == 0 else 0, "updated_at": inst["started_at"]}
                )  # fmt: skip
                for e in range(10):
                    seq += 1
                    events.append(
                        {"chain": f"instance:{i}", "seq": e + 1, "instance_id": i, "kind": "completed",
                         "actor_id": agent_ids[j % 200], "actor_username": f"agent{j % 200}", "agent_code": code,
                         "online_name": f"Agen-{j % 200}", "task_guid": None, "bpmn_id": "nc_plan",
                         "data": {"name": "Rencana", "data": {"actions": [{"action": "Coaching", "owner": "x"}]}},
                         "created_at": inst["started_at"] + timedelta(hours=e), "prev_hash": "0" * 64,
                         "hash": f"{seq:064x}"}
                    )  # fmt: skip
                for t in range(2):
                    tasks.append(
                        {"instance_id": i, "task_guid": f"{i:08d}-{t}", "bpmn_id": "nc_acknowledge" if t else "nc_plan",
                         "name": "Konfirmasi temuan oleh agen" if t else "Rencana", "process_key": inst["process_key"],
                         "lane": None, "role_key": "agent", "assignee_id": agent_ids[j % 200], "form_ref": None,
                         "due_at": None, "status": "completed", "created_at": inst["started_at"],
                         "completed_by_id": agent_ids[j % 200], "completed_at": inst["started_at"] + timedelta(days=1),
                         "has_owners": False, "site": site}
                    )  # fmt: skip
                if not nc:
                    period = inst["started_at"].strftime("%Y-%m")
                    for m, method in enumerate(METHODS):
                        score = rng.randint(50, 100)
                        results.append(
                            {"instance_id": i, "period": period, "site": site, "service": "147", "method": method,
                             "agent_code": f"{10000 + (j + m) % 200}", "online_name": f"Agen-{(j + m) % 200}",
                             "team": f"Tim {(j + m) % 10}", "score": score, "passed": score >= 70, "detail": {},
                             "checked_by_id": owner.id, "checked_by": owner.username, "checked_at": inst["started_at"]}
                        )  # fmt: skip
            session.execute(insert(CaseRecord), case_rows)
            session.execute(insert(AuditEvent), events)
            session.execute(insert(HumanTask), tasks)
            if results:
                session.execute(insert(MonitoringResult), results)
                months: dict[tuple[str, ...], list[Any]] = {}
                for r in results:
                    key = (r["period"], r["site"], r["service"], r["method"], r["team"], r["agent_code"])
                    slot = months.setdefault(key, [0, 0, r["online_name"]])
                    slot[0] += 1
                    slot[1] += 1 if r["passed"] else 0
                add_to_months(session, months)
        done += n
    with session_scope(sessions) as session:
        session.execute(
            insert(Supplier),
            [{"name": f"PT Pemasok {i}", "approved": i % 7 != 0, "score": 50 + i % 50, "evaluated_at": START,
              "valid_until": START + timedelta(days=400 if i % 5 else 100), "deliveries": i % 30, "updated_at": START}
             for i in range(500)],
        )  # fmt: skip
        session.execute(
            insert(Communication),
            [{"client": "Telkom", "on_date": date(2025, 1, 1) + timedelta(days=i % 365), "channel": "email",
              "kind": ("product_info", "agreement", "feedback", "complaint")[i % 4], "summary": f"Komunikasi {i}",
              "site": SITES[i % 4], "service": "147", "logged_by_id": owner.id, "logged_at": START}
             for i in range(max(cases // 10, 100))],
        )  # fmt: skip
        activity_ids = session.execute(
            insert(PreservationActivity).returning(PreservationActivity.id),
            [{"kind": "training", "title": f"Pelatihan {i}", "site": SITES[i % 4],
              "planned_on": date(2025, 1, 1) + timedelta(days=i % 365),
              "held_on": date(2025, 1, 2) + timedelta(days=i % 365) if i % 3 else None,
              "created_by_id": owner.id, "created_at": START} for i in range(max(cases // 50, 40))],
        ).scalars().all()  # fmt: skip
        session.execute(
            insert(PreservationAttendance),
            [{"activity_id": a, "agent_code": f"{10000 + (k * 4 + n % 4) % 200}", "attended": (a + k) % 5 != 0}
             for n, a in enumerate(activity_ids) for k in range(20)],
        )  # fmt: skip
        session.execute(
            insert(MonitoringTool),
            [{"name": f"Alat {i}", "kind": "recording", "site": SITES[i % 4], "interval_days": 90,
              "verified_on": date(2025, 1, 1) + timedelta(days=i), "due_on": date(2025, 4, 1) + timedelta(days=i),
              "history": [], "updated_at": START} for i in range(200)],
        )  # fmt: skip


def prepare(url: str, cases: int) -> tuple[Any, Any, ProcessEngine, float]:
    db = make_engine(url)
    upgrade(db)
    sessions = make_session_factory(db)
    engine = ProcessEngine(load_registry(ROOT / "workflows"), SystemClock())
    now = datetime.now(UTC)
    from engine.deploy import read_sources

    with session_scope(sessions) as session:
        qmr = create_user(session, "qmr.bench", PASSWORD, ["qmr", "quality_control"], now, agent_code="99001")
        accept_statement(session, qmr, STATEMENT_VERSION, STATEMENT["id"], now, None)
        engine.deploy(session, read_sources([ROOT / "bpmn"], 5_000_000), qmr)
    with session_scope(sessions) as session:
        owner = session.execute(select(User).where(User.username == "qmr.bench")).scalar_one()
        session.expunge(owner)
    started = time.perf_counter()
    fill(sessions, cases, owner)
    seconds = time.perf_counter() - started
    if db.dialect.name == "postgresql":
        with db.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    else:
        with db.connect() as conn:
            conn.execute(text("ANALYZE"))
    return db, sessions, engine, seconds


def measure(name: str, url: str, cases: int, rounds: int, work: Path) -> dict[str, Any]:
    from web import create_app

    db, sessions, engine, fill_s = prepare(url, cases)
    settings = Settings.from_env(
        {}, database_url=url, secret_key="bench", upload_dir=work / "uploads", secure_cookies=False
    )
    app = create_app(runtime=Runtime(settings, db, sessions, engine))
    client, anonymous = signed_in(app, "qmr.bench"), app.test_client()
    times: dict[str, list[float]] = {"baseline_ms": [], **{k: [] for k in PAGES}}
    for _ in range(rounds):
        for key in times:
            path = "/healthz" if key == "baseline_ms" else PAGES[key]
            started = time.perf_counter()
            response = (anonymous if key == "baseline_ms" else client).get(path)
            times[key].append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, (path, response.status_code)
    with session_scope(sessions) as session:
        owner = session.execute(select(User).where(User.username == "qmr.bench")).scalar_one()
        pack = packs.request(
            session, owner, date(2025, 6, 1), date(2025, 6, 30), None, None, "id", datetime.now(UTC)
        )
        pack_id = pack.id
    started = time.perf_counter()
    packs.run_pending(sessions, work, lambda: datetime.now(UTC))
    pack_s = time.perf_counter() - started
    with session_scope(sessions) as session:
        done = session.get(EvidencePack, pack_id)
        pack_rows, pack_status = done.rows, done.status
        audit_events = session.execute(text("SELECT count(*) FROM audit_event")).scalar_one()
    result: dict[str, Any] = {
        "database": name,
        "cases": cases,
        "audit_events": audit_events,
        "fill_s": round(fill_s, 1),
    }
    for key, samples in times.items():
        result[key] = round(statistics.median(samples), 2)
        result[f"{key}_spread"] = [round(min(samples), 2), round(max(samples), 2)]
    for key in PAGES:
        result[key.replace("_ms", "_ratio")] = round(result[key] / result["baseline_ms"], 1)
    result.update(pack_month_four_sites_s=round(pack_s, 2), pack_checks=pack_rows, pack_status=pack_status)
    db.dispose()
    emit(result)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2,000 and 10,000 cases")
    parser.add_argument("--postgres", action="store_true", help="also on PostgreSQL (slower to fill)")
    args = parser.parse_args()
    sizes = (2_000, 10_000) if args.quick else (10_000, 100_000)
    rounds = 7 if args.quick else 15
    runs: dict[str, list[dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory(prefix="mutu-bench-records-") as tmp:
        work = Path(tmp)
        for size in sizes:
            runs.setdefault("sqlite", []).append(
                measure("sqlite", f"sqlite:///{work / f'r{size}.sqlite3'}", size, rounds, work)
            )
            if args.postgres:
                pg_url = scratch_database(f"mutu_bench_records_{size}", emit)
                if pg_url:
                    runs.setdefault("postgres", []).append(measure("postgres", pg_url, size, rounds, work))
    summary: dict[str, Any] = {
        "sizes": list(sizes),
        "targets": {"page_ms": PAGE_TARGET_MS, "agent_ms": AGENT_TARGET_MS, "pack_s": PACK_TARGET_S},
    }
    for name, found in runs.items():
        small, large = found[0], found[-1]
        summary[name] = {
            "largest": {k: large[k] for k in (*PAGES, "pack_month_four_sites_s")},
            "growth": {
                k: round(large[k] / small[k], 2) for k in (*PAGES, "pack_month_four_sites_s") if small[k]
            },
            "targets_met": all(
                large[k] < (AGENT_TARGET_MS if k == "agent_ms" else PAGE_TARGET_MS) for k in PAGES
            )
            and large["pack_month_four_sites_s"] < PACK_TARGET_S,
        }
    emit(summary)


if __name__ == "__main__":
    main()
