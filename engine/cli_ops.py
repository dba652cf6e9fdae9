"""``mutu`` commands for running Mutu: the scheduler, demo data, the settings list."""

from __future__ import annotations

import click

from .cli import Ctx, _emit, command, main
from .db import session_scope
from .settings import describe


@command(main, "scheduler")
@click.option("--once", is_flag=True, help="Fire what is due now and exit.")
def scheduler_cmd(obj: Ctx, as_json: bool, once: bool) -> None:
    """Run the timer scheduler (fires what fell due while it was down, then keeps polling)."""
    from .scheduler import run_forever, tick

    rt = obj.runtime
    if once:
        fired = tick(rt)
        _emit(as_json, {"fired": fired}, f"fired {fired} timer(s)")
        return
    run_forever(rt)


@command(main, "worker")
@click.option("--concurrency", default=2, show_default=True, help="Jobs run side by side.")
def worker_cmd(obj: Ctx, as_json: bool, concurrency: int) -> None:
    """Run a Celery worker for notifications, mail and digests (needs MUTU_BROKER_URL)."""
    from .errors import MutuError
    from .worker import run_worker

    settings = obj.runtime.settings
    if not settings.broker_url:
        raise MutuError(
            "mutu worker needs MUTU_BROKER_URL (redis://host:6379/0); without it the scheduler does the work"
        )
    run_worker(settings, concurrency)


@main.group()
def demo() -> None:
    """Demo data for trying Mutu out."""


@command(demo, "load")
def demo_load(obj: Ctx, as_json: bool) -> None:
    """Create demo accounts (password mutu-demo) and cases where none exist; never wipes anything."""
    from .demo import load_demo_cases, load_demo_users

    rt = obj.runtime
    with session_scope(rt.sessions) as session:
        created = load_demo_users(session, rt.engine.clock)
    with session_scope(rt.sessions) as session:
        cases = load_demo_cases(session, rt.engine)
    text = f"demo users created: {', '.join(created) or 'none (already there)'}"
    text += f"; demo cases started: {len(cases)}"
    _emit(as_json, {"created": created, "cases": cases}, text)


@command(main, "settings")
def settings_cmd(obj: Ctx, as_json: bool) -> None:
    """List every MUTU_* setting with its default and meaning."""
    rows = describe()
    _emit(
        as_json,
        [dict(zip(("name", "default", "doc"), r, strict=True)) for r in rows],
        "\n".join(f"{n}={d}\t{doc}" for n, d, doc in rows),
    )
