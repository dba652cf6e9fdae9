"""HTTP benchmark: starts, completions and inbox pages through /api/v1 of a real gunicorn server.

Each database (SQLite with WAL, then PostgreSQL) gets a fresh schema, the benchmark process
and 50,000 open tasks in a role queue (copies of one real instance's rows, inserted in
bulk), then a separate gunicorn process serves the app. One client on this machine times,
round by round, a trivial request (GET /healthz, the baseline), a start, a completion of
the task that start created, and a page of 25 tasks from "my roles" (the 50,000-task
queue, with its total count). Prints one JSON object per database and, last, one summary
with ``complete_ms``, ``start_ms``, ``inbox_ms`` and the same with a ``pg_`` prefix.

    python bench/http.py           # full: 50,000 open tasks, 300 of each request
    python bench/http.py --quick   # 5,000 open tasks, 60 of each request
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Run as a script, this file's folder comes first on sys.path, and this file's name would
# hide the standard library's ``http`` package; put the project root there instead.
sys.path[0] = str(ROOT)

import argparse  # noqa: E402
import http.client  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from datetime import UTC, datetime, timedelta  # noqa: E402
from typing import Any  # noqa: E402

from sqlalchemy import insert, text  # noqa: E402

from bench.pg import prototype_rows, scratch_database  # noqa: E402
from engine.clock import SystemClock  # noqa: E402
from engine.db import make_engine, make_session_factory, session_scope  # noqa: E402
from engine.deploy import SourceFile  # noqa: E402
from engine.identity import create_user  # noqa: E402
from engine.migrate import upgrade  # noqa: E402
from engine.models import CaseRecord, HumanTask, ProcessInstance  # noqa: E402
from engine.registry import load_registry  # noqa: E402
from engine.runtime import ProcessEngine  # noqa: E402

BPMN = Path(__file__).resolve().parent / "data" / "http_case.bpmn"
PASSWORD = "bench-password-1"
TARGETS = {"complete_ms": 4.0, "start_ms": 6.0, "inbox_ms": 30.0, "pg_complete_ms": 6.0, "pg_start_ms": 6.0,
           "pg_inbox_ms": 30.0}  # fmt: skip


def emit(obj: dict[str, Any]) -> None:
    print(json.dumps(obj), flush=True)


def prepare(url: str, open_tasks: int) -> None:
    """Schema, users, the process, and ``open_tasks`` unclaimed QMR tasks spread over due dates."""
    db = make_engine(url)
    upgrade(db)
    sessions = make_session_factory(db)
    engine = ProcessEngine(load_registry(ROOT / "workflows"), SystemClock())
    with session_scope(sessions) as session:
        user = create_user(
            session, "bench", PASSWORD, ["qmr"], datetime.now(UTC), agent_code="99001", online_name="Bench"
        )
        engine.deploy(session, [SourceFile(BPMN.name, BPMN.read_bytes())], user)
        proto_id = engine.start(session, "http_case", user, {}).instance.id
    inst_cols, task_cols, case_cols = prototype_rows(sessions, proto_id)
    task_cols.update(role_key="qmr", lane="QMR", assignee_id=None, has_owners=False)
    now = datetime.now(UTC)
    done = 0
    while done < open_tasks:
        n = min(2000, open_tasks - done)
        with session_scope(sessions) as session:
            ids = (
                session.execute(insert(ProcessInstance).returning(ProcessInstance.id), [dict(inst_cols)] * n)
                .scalars()
                .all()
            )
            session.execute(
                insert(HumanTask),
                [
                    {**task_cols, "instance_id": i, "due_at": now + timedelta(hours=(done + k) % 2000 - 500)}
                    for k, i in enumerate(ids)
                ],
            )
            session.execute(
                insert(CaseRecord),
                [{**case_cols, "instance_id": i, "number": f"HC-{done + k:06d}"} for k, i in enumerate(ids)],
            )
        done += n
    if db.dialect.name == "postgresql":  # what autovacuum does to a live database after such a load
        with db.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
            conn.execute(text("CHECKPOINT"))  # so the load's dirty pages are not flushed mid-measurement
    db.dispose()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``gunicorn web.wsgi:app`` in its own process, one sync worker, on a free port."""

    def __init__(self, url: str, workdir: Path):
        self.port = free_port()
        env = {
            **os.environ,
            "MUTU_DATABASE_URL": url,
            "MUTU_SECRET_KEY": "bench-secret",
            "MUTU_UPLOAD_DIR": str(workdir / "uploads"),
        }
        gunicorn = Path(sys.executable).with_name("gunicorn")
        self.proc = subprocess.Popen(
            [
                str(gunicorn),
                "-w",
                "1",
                "-b",
                f"127.0.0.1:{self.port}",
                "--log-level",
                "warning",
                "web.wsgi:app",
            ],
            cwd=ROOT,
            env=env,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if self.request("GET", "/healthz")[0] == 200:
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("gunicorn did not answer /healthz within 60 s")

    def request(self, method: str, path: str, body: Any = None, token: str | None = None) -> tuple[int, Any]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        conn.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
        response = conn.getresponse()
        raw = response.read()
        conn.close()
        return response.status, (json.loads(raw) if raw else None)

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(30)


def timed(
    server: Server, method: str, path: str, body: Any, token: str | None, expect: int
) -> tuple[float, Any]:
    t0 = time.perf_counter()
    status, payload = server.request(method, path, body, token)
    elapsed = (time.perf_counter() - t0) * 1000
    if status != expect:
        raise RuntimeError(f"{method} {path}: HTTP {status}: {payload}")
    return elapsed, payload


def measure(
    label: str, url: str, open_tasks: int, rounds: int, per_round: int, workdir: Path
) -> dict[str, Any]:
    t0 = time.perf_counter()
    prepare(url, open_tasks)
    fill_s = time.perf_counter() - t0
    server = Server(url, workdir)
    try:
        _, tok = timed(
            server, "POST", "/api/v1/token", {"username": "bench", "password": PASSWORD}, None, 201
        )
        token = tok["token"]
        timed(server, "POST", "/api/v1/confidentiality", {"accept": True, "version": "2026-1"}, token, 200)
        samples: dict[str, list[float]] = {"healthz": [], "start": [], "complete": [], "inbox": []}
        ratios: dict[str, list[float]] = {"start": [], "complete": [], "inbox": []}
        total_seen = None
        for _ in range(rounds + 1):  # the first round warms caches and is not counted
            got: dict[str, list[float]] = {k: [] for k in samples}
            for _ in range(per_round):
                got["healthz"].append(timed(server, "GET", "/healthz", None, None, 200)[0])
                ms, started = timed(
                    server, "POST", "/api/v1/processes/http_case/start", {"data": {}}, token, 201
                )
                got["start"].append(ms)
                task_id = started["new_tasks"][0]["id"]
                got["complete"].append(
                    timed(server, "POST", f"/api/v1/tasks/{task_id}/complete", {"data": {}}, token, 200)[0]
                )
                ms, page = timed(server, "GET", "/api/v1/tasks?scope=roles&per_page=25", None, token, 200)
                got["inbox"].append(ms)
                total_seen = page["total"]
            if _ == 0:
                continue
            for key, values in got.items():
                samples[key].extend(values)
            base = statistics.median(got["healthz"])
            for key in ratios:
                ratios[key].append(statistics.median(got[key]) / base)
    finally:
        server.stop()
    result = {
        "database": label,
        "open_tasks_in_queue": total_seen,
        "fill_seconds": round(fill_s, 1),
        "requests_each": rounds * per_round,
        "healthz_ms": round(statistics.median(samples["healthz"]), 3),
    }
    for key in ("start", "complete", "inbox"):
        result[f"{key}_ms"] = round(statistics.median(samples[key]), 3)
        result[f"{key}_p90_ms"] = round(statistics.quantiles(samples[key], n=10)[-1], 3)
        result[f"{key}_ratio_to_healthz"] = round(statistics.median(ratios[key]), 2)
    emit(result)
    return result


def postgres_url() -> str | None:
    return scratch_database("mutu_bench_http", emit)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5,000 open tasks, fewer requests")
    args = parser.parse_args()
    open_tasks = 5_000 if args.quick else 50_000
    rounds, per_round = (6, 10) if args.quick else (10, 30)
    summary: dict[str, Any] = {"open_tasks": open_tasks}
    with tempfile.TemporaryDirectory(prefix="mutu-bench-http-") as tmp:
        work = Path(tmp)
        lite = measure("sqlite", f"sqlite:///{work / 'bench.sqlite3'}", open_tasks, rounds, per_round, work)
        for key in ("complete_ms", "start_ms", "inbox_ms", "healthz_ms"):
            summary[key] = lite[key]
        pg = postgres_url()
        if pg:
            result = measure("postgres", pg, open_tasks, rounds, per_round, work)
            for key in ("complete_ms", "start_ms", "inbox_ms", "healthz_ms"):
                summary[f"pg_{key}"] = result[key]
        else:
            for key in ("complete_ms", "start_ms", "inbox_ms", "healthz_ms"):
                summary[f"pg_{key}"] = None
    summary["targets_met"] = {
        key: (summary[key] is not None and summary[key] < limit) for key, limit in TARGETS.items()
    }
    emit(summary)


if __name__ == "__main__":
    main()
