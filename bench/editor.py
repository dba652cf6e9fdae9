"""Editor benchmark: the check of the nonconformity draft, and the editor page in Chromium.

1. The server-side check of a draft of ``nonconformity`` (deploy checks, names, timers with
   sample values), against the deploy checks alone as the same-run baseline.
2. The editor page with the library's largest diagram, from navigation to an interactive
   modeler (``#editor[data-ready]``), against the staff case page with its viewer as the
   baseline; and the size of the editor's bundle.

Prints one JSON object per figure and, last, a summary with ``check_ms`` (target < 300) and
``editor_load_ms`` (target < 1500).

    python bench/editor.py           # 15 checks, 7 page loads
    python bench/editor.py --quick   # 5 checks, 3 page loads
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[0] = str(ROOT)  # not bench/: its http.py would hide the standard library's http

from werkzeug.serving import make_server  # noqa: E402

from engine import drafts  # noqa: E402
from engine.clock import SystemClock  # noqa: E402
from engine.context import Runtime  # noqa: E402
from engine.db import make_engine, make_session_factory, session_scope  # noqa: E402
from engine.deploy import check, read_sources  # noqa: E402
from engine.identity import create_user, ensure_builtin_roles  # noqa: E402
from engine.migrate import upgrade  # noqa: E402
from engine.policy import STATEMENT, STATEMENT_VERSION  # noqa: E402
from engine.registry import load_registry  # noqa: E402
from engine.runtime import ProcessEngine  # noqa: E402
from engine.settings import Settings  # noqa: E402
from engine.signin import accept_statement  # noqa: E402
from web import create_app  # noqa: E402

BUNDLE = ROOT / "web" / "static" / "vendor" / "editor" / "editor.js"
CHROMIUM = "/usr/bin/chromium"


def emit(obj: dict) -> None:
    print(json.dumps(obj), flush=True)


def median_ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000, 1)


def setup(workdir: Path) -> tuple[Runtime, int]:
    url = f"sqlite:///{workdir / 'bench.sqlite3'}"
    db = make_engine(url)
    upgrade(db)
    settings = Settings.from_env(environ={}, database_url=url, secret_key="bench", secure_cookies=False)
    engine = ProcessEngine(load_registry(ROOT / "workflows"), SystemClock())
    runtime = Runtime(settings, db, make_session_factory(db), engine)
    with session_scope(runtime.sessions) as session:
        ensure_builtin_roles(session)
        qmr = create_user(session, "qmr", "bench-pass-1", ["qmr"], engine.clock.now(), agent_code="3001")
        accept_statement(session, qmr, STATEMENT_VERSION, STATEMENT["id"], engine.clock.now(), "bench")
        engine.deploy(session, read_sources([ROOT / "bpmn"], 5_000_000))
        draft = drafts.create(session, engine, "nonconformity", qmr, engine.clock.now())
        draft_id = draft.id
    return runtime, draft_id


def bench_check(runtime: Runtime, draft_id: int, rounds: int) -> dict:
    engine = runtime.engine
    with session_scope(runtime.sessions) as session:
        from engine.models import ProcessDraft

        files = dict(session.get(ProcessDraft, draft_id).files)
    from engine import bundle

    sources, registry = bundle.split(files)
    base, full = [], []
    for _ in range(rounds):
        t0 = time.perf_counter()
        check(sources, registry, engine.services.names())
        base.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        problems = drafts.check_files(engine, "nonconformity", files).problems
        full.append(time.perf_counter() - t0)
    assert problems == [], problems
    out = {"figure": "check", "check_ms": median_ms(full), "baseline_deploy_check_ms": median_ms(base)}
    out["ratio"] = round(out["check_ms"] / out["baseline_deploy_check_ms"], 2)
    out["spread_ms"] = [round(min(full) * 1000, 1), round(max(full) * 1000, 1)]
    return out


def bench_page(runtime: Runtime, draft_id: int, rounds: int) -> dict | None:
    if not Path(CHROMIUM).exists():
        emit({"figure": "editor_load", "skipped": f"no Chromium at {CHROMIUM}"})
        return None
    from playwright.sync_api import sync_playwright

    app = create_app(runtime=runtime)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base_url = f"http://127.0.0.1:{server.server_port}"
    with session_scope(runtime.sessions) as session:
        from engine.identity import get_user

        case = runtime.engine.start(
            session,
            "nonconformity",
            get_user(session, "qmr"),
            {
                "source": "tapping",
                "service": "147",
                "site": "Bandung",
                "agent_code": "",
                "description": "Benchmark: informasi tarif yang salah",
            },
        ).instance.id
    loads, baseline = [], []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=CHROMIUM,
                args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
            )
            page = browser.new_page(viewport={"width": 1360, "height": 900})
            page.goto(base_url + "/login")
            page.fill("input[name=username]", "qmr")
            page.fill("input[name=password]", "bench-pass-1")
            page.click("button.primary")
            for _ in range(rounds + 1):  # the first load warms the caches and is not counted
                t0 = time.perf_counter()
                page.goto(f"{base_url}/cases/{case}")
                page.wait_for_selector(".djs-container svg", timeout=30_000)
                baseline.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                page.goto(f"{base_url}/drafts/{draft_id}/edit")
                page.wait_for_selector("#editor[data-ready='1']", timeout=30_000)
                loads.append(time.perf_counter() - t0)
            browser.close()
    finally:
        server.shutdown()
    loads, baseline = loads[1:], baseline[1:]
    out = {
        "figure": "editor_load",
        "editor_load_ms": median_ms(loads),
        "baseline_case_page_ms": median_ms(baseline),
        "bundle_bytes": BUNDLE.stat().st_size,
        "spread_ms": [round(min(loads) * 1000, 1), round(max(loads) * 1000, 1)],
    }
    out["ratio"] = round(out["editor_load_ms"] / out["baseline_case_page_ms"], 2)
    return out


def main() -> None:
    import logging

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request in the JSON output
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        runtime, draft_id = setup(Path(tmp))
        checked = bench_check(runtime, draft_id, 5 if args.quick else 15)
        emit(checked)
        loaded = bench_page(runtime, draft_id, 3 if args.quick else 7)
        if loaded:
            emit(loaded)
        summary = {"summary": "editor", "check_ms": checked["check_ms"], "check_target_ms": 300}
        if loaded:
            summary.update(
                editor_load_ms=loaded["editor_load_ms"],
                editor_load_target_ms=1500,
                bundle_bytes=loaded["bundle_bytes"],
            )
        emit(summary)


if __name__ == "__main__":
    main()
