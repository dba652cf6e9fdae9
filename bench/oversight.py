"""The supervisor view ("all work" for the QMR, "my site" for a team leader) over 50,000 open tasks.

Each database gets a fresh schema and 50,000 open tasks spread over the four sites, several
roles and due dates, a tenth of them claimed (copies of one real instance's rows, inserted
in bulk). The app runs in this process; a signed-in test client times, round by round, the
baseline (GET /healthz) and a page of the view as the QMR, as a team leader, and as the QMR
filtered to overdue tasks of one site: whole pages, template and count included. Prints one
JSON object per database and, last, a summary with medians, spreads and ratios.

    python bench/oversight.py           # 50,000 open tasks, 10 rounds of 20 pages
    python bench/oversight.py --quick   # 5,000 open tasks, 5 rounds of 10
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[0] = str(ROOT)

import argparse  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from datetime import UTC, datetime, timedelta  # noqa: E402
from typing import Any  # noqa: E402

from sqlalchemy import insert, text  # noqa: E402

from bench.pg import prototype_rows, scratch_database  # noqa: E402
from engine.clock import SystemClock  # noqa: E402
from engine.context import Runtime  # noqa: E402
from engine.db import make_engine, make_session_factory, session_scope  # noqa: E402
from engine.deploy import SourceFile  # noqa: E402
from engine.identity import create_user  # noqa: E402
from engine.migrate import upgrade  # noqa: E402
from engine.models import CaseRecord, HumanTask, ProcessInstance  # noqa: E402
from engine.policy import SITES, STATEMENT, STATEMENT_VERSION  # noqa: E402
from engine.registry import load_registry  # noqa: E402
from engine.runtime import ProcessEngine  # noqa: E402
from engine.settings import Settings  # noqa: E402
from engine.signin import accept_statement  # noqa: E402

BPMN = Path(__file__).resolve().parent / "data" / "http_case.bpmn"
PASSWORD = "bench-password-1"
TARGET_MS = 50.0
ROLES = ("qmr", "team_leader", "quality_control", "operations_manager")
PAGES = {
    "qmr_page_ms": ("qmr.bench", "/inbox?scope=oversee"),
    "team_leader_page_ms": ("tl.bench", "/inbox?scope=oversee"),
    "qmr_filtered_ms": ("qmr.bench", "/inbox?scope=oversee&site=Malang&due=overdue&sort=-due"),
}


def emit(obj: dict[str, Any]) -> None:
    print(json.dumps(obj), flush=True)


def prepare(url: str, open_tasks: int) -> tuple[Any, Any, ProcessEngine]:
    db = make_engine(url)
    upgrade(db)
    sessions = make_session_factory(db)
    engine = ProcessEngine(load_registry(ROOT / "workflows"), SystemClock())
    now = datetime.now(UTC)
    with session_scope(sessions) as session:
        qmr = create_user(session, "qmr.bench", PASSWORD, ["qmr"], now, agent_code="99001", online_name="QMR")
        tl = create_user(
            session, "tl.bench", PASSWORD, ["team_leader"], now, agent_code="99002", site="Malang"
        )
        for user in (qmr, tl):
            accept_statement(session, user, STATEMENT_VERSION, STATEMENT["id"], now, None)
        engine.deploy(session, [SourceFile(BPMN.name, BPMN.read_bytes())], qmr)
        proto_id = engine.start(session, "http_case", qmr, {}).instance.id
        holder = qmr.id
    inst_cols, task_cols, case_cols = prototype_rows(sessions, proto_id)
    done = 0
    while done < open_tasks:
        n = min(2000, open_tasks - done)
        with session_scope(sessions) as session:
            ids = session.execute(
                insert(ProcessInstance).returning(ProcessInstance.id), [dict(inst_cols)] * n
            )
            ids = ids.scalars().all()
            rows = []
            for k, i in enumerate(ids):
                j = done + k
                rows.append(
                    {
                        **task_cols,
                        "instance_id": i,
                        "role_key": ROLES[j % len(ROLES)],
                        "lane": ROLES[j % len(ROLES)],
                        "site": SITES[j % len(SITES)],
                        "assignee_id": holder if j % 10 == 0 else None,
                        "has_owners": False,
                        "due_at": now + timedelta(hours=j % 2000 - 500),
                    }
                )
            session.execute(insert(HumanTask), rows)
            session.execute(
                insert(CaseRecord),
                [
                    {
                        **case_cols,
                        "instance_id": i,
                        "number": f"OV-{done + k:06d}",
                        "site": SITES[(done + k) % 4],
                    }
                    for k, i in enumerate(ids)
                ],
            )
        done += n
    if db.dialect.name == "postgresql":
        with db.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    return db, sessions, engine


def signed_in(app: Any, username: str) -> Any:
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    response = client.post("/login", data={"csrf_token": token, "username": username, "password": PASSWORD})
    assert response.status_code == 302, response.status_code
    return client


def measure(name: str, url: str, open_tasks: int, rounds: int, per_round: int, work: Path) -> dict[str, Any]:
    from web import create_app

    db, sessions, engine = prepare(url, open_tasks)
    settings = Settings.from_env(
        {}, database_url=url, secret_key="bench", upload_dir=work / "uploads", secure_cookies=False
    )
    app = create_app(runtime=Runtime(settings, db, sessions, engine))
    clients = {user: signed_in(app, user) for user, _path in PAGES.values()}
    anonymous = app.test_client()
    times: dict[str, list[float]] = {key: [] for key in ("baseline_ms", *PAGES)}
    per_round_medians: dict[str, list[float]] = {key: [] for key in times}
    for _ in range(rounds):
        for key in times:
            samples = []
            for _ in range(per_round):
                client, path = (
                    (anonymous, "/healthz")
                    if key == "baseline_ms"
                    else (clients[PAGES[key][0]], PAGES[key][1])
                )
                started = time.perf_counter()
                response = client.get(path)
                samples.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200, (path, response.status_code)
            times[key] += samples
            per_round_medians[key].append(statistics.median(samples))
    total = clients["qmr.bench"].get("/inbox?scope=oversee").get_data(as_text=True)
    shown = re.search(r"([\d.,]+) tugas", total)
    result: dict[str, Any] = {
        "database": name,
        "open_tasks": open_tasks,
        "tasks_shown": shown.group(1) if shown else None,
    }
    for key, samples in times.items():
        result[key] = round(statistics.median(samples), 2)
        result[f"{key}_spread"] = [
            round(min(per_round_medians[key]), 2),
            round(max(per_round_medians[key]), 2),
        ]
    for key in PAGES:
        result[key.replace("_ms", "_ratio")] = round(result[key] / result["baseline_ms"], 2)
    db.dispose()
    emit(result)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5,000 open tasks, fewer pages")
    args = parser.parse_args()
    open_tasks = 5_000 if args.quick else 50_000
    rounds, per_round = (5, 10) if args.quick else (10, 20)
    summary: dict[str, Any] = {"open_tasks": open_tasks, "target_ms": TARGET_MS}
    with tempfile.TemporaryDirectory(prefix="mutu-bench-oversight-") as tmp:
        work = Path(tmp)
        lite = measure("sqlite", f"sqlite:///{work / 'bench.sqlite3'}", open_tasks, rounds, per_round, work)
        pg_url = scratch_database("mutu_bench_oversight", emit)
        pg = measure("postgres", pg_url, open_tasks, rounds, per_round, work) if pg_url else None
    for prefix, found in (("", lite), ("pg_", pg)):
        for key in PAGES:
            summary[prefix + key] = found[key] if found else None
    summary["targets_met"] = {
        prefix + key: summary[prefix + key] is not None and summary[prefix + key] < TARGET_MS
        for prefix in ("", "pg_")
        for key in PAGES
    }
    emit(summary)


if __name__ == "__main__":
    main()
