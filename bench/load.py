"""Load: clients start the 8-user-task benchmark process and complete every task over /api/v1.

gunicorn serves the app with ``--workers`` sync workers on a fresh database; ``--clients``
threads, each with its own user and token, run whole cases for ``--duration`` seconds, each
request with an Idempotency-Key (a lost answer is retried safely). At the end an integrity
check counts, for every acknowledged completion, its audit events (lost: none, doubled:
more than one) and compares the inbox and timer rows with the stored workflows. The
baseline, measured in the same run, is GET /healthz/live. The last line is one JSON object.

    python bench/load.py                                   # 8 clients, 60 s, 2 workers, both databases
    python bench/load.py --quick                           # 4 clients, 15 s
    python bench/load.py --clients 8 --workers 4 --database postgres --duration 30
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[0] = str(ROOT)

import argparse  # noqa: E402
import http.client  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from collections import Counter  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from typing import Any  # noqa: E402

from sqlalchemy import func, select  # noqa: E402

from bench.engine import BPMN, DATA, STEPS  # noqa: E402
from bench.http import free_port  # noqa: E402
from bench.pg import scratch_database  # noqa: E402
from engine.clock import SystemClock  # noqa: E402
from engine.db import make_engine, make_session_factory, session_scope  # noqa: E402
from engine.deploy import SourceFile  # noqa: E402
from engine.identity import create_user  # noqa: E402
from engine.migrate import upgrade  # noqa: E402
from engine.models import AuditEvent, HumanTask, ProcessInstance, Timer  # noqa: E402
from engine.projection import pending  # noqa: E402
from engine.registry import load_registry  # noqa: E402
from engine.runtime import ProcessEngine  # noqa: E402

PASSWORD = "load-password-1"
DATA_OF = dict(STEPS)
# The targets: 40 instances a second under load; one client alone, a whole case
# (start and eight completions) within these milliseconds, half the time or more.
TARGETS = {"instances_per_s": 40.0, "one_client_instance_ms": {"sqlite": 40.0, "postgres": 60.0}}


def emit(obj: dict[str, Any]) -> None:
    print(json.dumps(obj), flush=True)


def prepare(url: str, clients: int) -> None:
    db = make_engine(url)
    upgrade(db)
    engine = ProcessEngine(load_registry(DATA / "workflows"), SystemClock())
    with session_scope(make_session_factory(db)) as session:
        for i in range(clients):
            create_user(
                session, f"load{i}", PASSWORD, ["quality_control", "qmr", "team_leader", "agent"],
                datetime.now(UTC), agent_code=f"88{i:03d}", site="Bandung",
            )  # fmt: skip
        engine.deploy(session, [SourceFile(BPMN.name, BPMN.read_bytes())])
    db.dispose()


class Gunicorn:
    def __init__(self, url: str, workers: int, work: Path) -> None:
        self.port = free_port()
        env = {
            **os.environ,
            "MUTU_DATABASE_URL": url,
            "MUTU_SECRET_KEY": "load-secret",
            "MUTU_UPLOAD_DIR": str(work / "uploads"),
            "MUTU_WORKFLOWS_DIR": str(DATA / "workflows"),
            "MUTU_LOG_LEVEL": "WARNING",
        }
        gunicorn = Path(sys.executable).with_name("gunicorn")
        args = [str(gunicorn), "-w", str(workers), "-b", f"127.0.0.1:{self.port}", "--log-level", "warning"]
        self.proc = subprocess.Popen([*args, "web.wsgi:app"], cwd=ROOT, env=env)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if self.call("GET", "/healthz")[0] == 200:
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("gunicorn did not become ready within 60 s")

    def call(
        self, method: str, path: str, body: Any = None, token: str | None = None, key: str | None = None
    ):  # type: ignore[no-untyped-def]
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if key:
            headers["Idempotency-Key"] = key
        conn.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
        response = conn.getresponse()
        raw = response.read()
        conn.close()
        return response.status, (json.loads(raw) if raw else None)

    def workers(self) -> list[int]:
        found = subprocess.run(["pgrep", "-P", str(self.proc.pid)], capture_output=True, text=True)
        return [int(p) for p in found.stdout.split()]

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(30)


RETRY_FOR_S = 20.0


def restart_database(duration: float, stop: threading.Event) -> list[float]:
    """Restart PostgreSQL halfway through the run; return how long it was away (seconds)."""
    if stop.wait(duration / 2):
        return []
    command = os.environ.get("MUTU_BENCH_PG_RESTART") or (
        "pg_ctlcluster --skip-systemctl-redirect "
        + sorted(os.listdir("/etc/postgresql"))[-1]
        + " main restart"
    )
    started = time.monotonic()
    subprocess.run(command, shell=True, check=True, capture_output=True, timeout=120)
    return [round(time.monotonic() - started, 2)]


class Client(threading.Thread):
    def __init__(self, server: Gunicorn, index: int, until: float) -> None:
        super().__init__(daemon=True)
        self.server, self.index, self.until = server, index, until
        self.latencies: list[float] = []
        self.errors: Counter[int] = Counter()
        self.completed: list[int] = []  # acknowledged completions, by task id
        self.instances = 0
        self.instance_ms: list[float] = []  # a whole case: its start and all eight completions

    def timed(self, method: str, path: str, body: Any = None, token: str | None = None, retry: bool = True):  # type: ignore[no-untyped-def]
        key = uuid.uuid4().hex if method == "POST" and token else None
        give_up = time.monotonic() + RETRY_FOR_S  # a database restart takes a few seconds
        while True:
            started = time.perf_counter()
            try:
                status, payload = self.server.call(method, path, body, token, key)
            except OSError:  # a worker killed or restarting: the key makes the retry safe
                self.errors[0] += 1
                if time.monotonic() > give_up:
                    return 0, None
                time.sleep(0.1)
                continue
            self.latencies.append((time.perf_counter() - started) * 1000)
            if status < 300:
                return status, payload
            self.errors[status] += 1
            if not retry or status not in (503, 429) or time.monotonic() > give_up:
                return status, payload
            time.sleep(0.2 if status == 503 else 0.05)  # 503: the database is away (Retry-After)

    def run(self) -> None:
        status, tok = self.timed(
            "POST", "/api/v1/token", {"username": f"load{self.index}", "password": PASSWORD}
        )
        token = tok["token"]
        self.timed("POST", "/api/v1/confidentiality", {"accept": True, "version": "2026-1"}, token)
        while time.monotonic() < self.until:
            began = time.perf_counter()
            status, started = self.timed("POST", "/api/v1/processes/bench_case/start", {"data": {}}, token)
            if status != 201:
                continue
            todo = list(started["new_tasks"])
            while todo:
                task = todo.pop(0)
                data = DATA_OF.get(task["bpmn_id"], {})
                status, step = self.timed(
                    "POST", f"/api/v1/tasks/{task['id']}/complete", {"data": data}, token
                )
                if status == 200:
                    self.completed.append(task["id"])
                    todo.extend(step["new_tasks"])
            self.instances += 1
            self.instance_ms.append((time.perf_counter() - began) * 1000)


def integrity(url: str, acknowledged: list[int]) -> dict[str, int]:
    """Each acknowledged completion exactly once in the audit trail; inbox and timers as stored."""
    db = make_engine(url)
    sessions = make_session_factory(db)
    engine = ProcessEngine(load_registry(DATA / "workflows"), SystemClock())
    with session_scope(sessions) as session:
        guid_of = dict(session.execute(select(HumanTask.id, HumanTask.task_guid)).all())
        counts = dict(
            session.execute(
                select(AuditEvent.task_guid, func.count())
                .where(AuditEvent.kind == "completed")
                .group_by(AuditEvent.task_guid)
            ).all()
        )
        lost = sum(1 for t in acknowledged if counts.get(guid_of.get(t), 0) == 0)
        doubled = sum(1 for n in counts.values() if n > 1)
        mismatched = 0
        for instance in session.execute(select(ProcessInstance)).scalars():
            waits = pending(engine._load(instance))
            open_rows = set(
                session.execute(
                    select(HumanTask.task_guid).where(
                        HumanTask.instance_id == instance.id, HumanTask.status == "open"
                    )
                ).scalars()
            )
            timers = set(
                session.execute(
                    select(Timer.task_guid).where(Timer.instance_id == instance.id, Timer.status == "waiting")
                ).scalars()
            )
            if open_rows != set(waits.ready) or timers != set(waits.timers):
                mismatched += 1
    db.dispose()
    return {"lost": lost, "doubled": doubled, "mismatched_instances": mismatched}


def killer(server: Gunicorn, kills: int, duration: float, stop: threading.Event) -> list[int]:
    """SIGKILL one gunicorn worker at even intervals (gunicorn starts another): answers get lost."""
    killed: list[int] = []
    for _ in range(kills):
        if stop.wait(duration / (kills + 1)):
            break
        pids = server.workers()
        if pids:
            os.kill(pids[0], signal.SIGKILL)
            killed.append(pids[0])
    return killed


def measure(
    name: str,
    url: str,
    clients: int,
    workers: int,
    duration: float,
    work: Path,
    kills: int = 0,
    restart: bool = False,
) -> dict[str, Any]:
    prepare(url, clients)
    server = Gunicorn(url, workers, work)
    try:
        baseline = []
        for _ in range(50):
            started = time.perf_counter()
            server.call("GET", "/healthz/live")
            baseline.append((time.perf_counter() - started) * 1000)
        began = time.monotonic()
        threads = [Client(server, i, began + duration) for i in range(clients)]
        for t in threads:
            t.start()
        stop, killed = threading.Event(), []
        chaos = threading.Thread(
            target=lambda: killed.extend(killer(server, kills, duration, stop)), daemon=True
        )
        chaos.start()
        restarted: list[float] = []
        outage = threading.Thread(
            target=lambda: restarted.extend(restart_database(duration, stop)), daemon=True
        )
        if restart:
            outage.start()
        for t in threads:
            t.join(duration + 120)
        stop.set()
        chaos.join(5)
        if restart:
            outage.join(130)
        elapsed = time.monotonic() - began
    finally:
        server.stop()
    latencies = sorted(x for t in threads for x in t.latencies)
    cases = sorted(x for t in threads for x in t.instance_ms)
    errors: Counter[int] = Counter()
    for t in threads:
        errors.update(t.errors)
    acknowledged = [x for t in threads for x in t.completed]
    instances = sum(t.instances for t in threads)
    result: dict[str, Any] = {
        "database": name,
        "clients": clients,
        "workers": workers,
        "seconds": round(elapsed, 1),
        "instances": instances,
        "instances_per_s": round(instances / elapsed, 2),
        "completions_per_s": round(len(acknowledged) / elapsed, 1),
        "p50_ms": round(statistics.median(latencies), 1) if latencies else None,
        "p95_ms": round(latencies[int(len(latencies) * 0.95) - 1], 1) if latencies else None,
        "instance_p50_ms": round(statistics.median(cases), 1) if cases else None,
        "instance_p95_ms": round(cases[int(len(cases) * 0.95) - 1], 1) if cases else None,
        "baseline_ms": round(statistics.median(baseline), 2),
        "errors": {str(k): v for k, v in sorted(errors.items())},  # 0: the connection dropped
        "workers_killed": len(killed),
        "database_restarted_s": restarted[0] if restart and restarted else None,
        **integrity(url, acknowledged),
    }
    result["p95_ratio"] = round((result["p95_ms"] or 0) / result["baseline_ms"], 1)
    emit(result)
    return result


def _met(run: dict[str, Any]) -> bool:
    if run["clients"] == 1:
        return (run["instance_p50_ms"] or 1e9) < TARGETS["one_client_instance_ms"][run["database"]]
    return run["instances_per_s"] >= TARGETS["instances_per_s"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--database", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--quick", action="store_true", help="4 clients for 15 s")
    parser.add_argument(
        "--kill-workers", type=int, default=0, help="SIGKILL this many gunicorn workers during the run"
    )
    parser.add_argument(
        "--restart-db",
        action="store_true",
        help="restart PostgreSQL halfway through its run (MUTU_BENCH_PG_RESTART, else pg_ctlcluster)",
    )
    args = parser.parse_args()
    if args.quick:
        args.clients, args.duration = 4, 15.0
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="mutu-bench-load-") as tmp:
        work = Path(tmp)
        if args.database in ("sqlite", "both"):
            runs.append(
                measure(
                    "sqlite",
                    f"sqlite:///{work / 'load.sqlite3'}",
                    args.clients,
                    args.workers,
                    args.duration,
                    work,
                    args.kill_workers,
                )
            )
        if args.database in ("postgres", "both"):
            url = scratch_database("mutu_bench_load", emit)
            if url:
                runs.append(
                    measure(
                        "postgres",
                        url,
                        args.clients,
                        args.workers,
                        args.duration,
                        work,
                        args.kill_workers,
                        args.restart_db,
                    )
                )
    last = runs[-1]
    summary = {
        **{
            k: last[k]
            for k in ("instances_per_s", "completions_per_s", "p95_ms", "errors", "lost", "doubled")
        },
        "runs": [
            {
                k: r[k]
                for k in (
                    "database",
                    "instances_per_s",
                    "completions_per_s",
                    "p95_ms",
                    "instance_p50_ms",
                    "errors",
                    "lost",
                    "doubled",
                    "mismatched_instances",
                )
            }
            for r in runs
        ],
        "targets_met": {r["database"]: _met(r) for r in runs},
    }
    emit(summary)


if __name__ == "__main__":
    main()
