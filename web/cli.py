"""The ``mutu`` entry point: the engine's commands plus ``serve``, which needs the web app."""

from __future__ import annotations

import click
from werkzeug.serving import WSGIRequestHandler, run_simple

from engine.cli import Ctx, command, main
from engine.scheduler import start_background
from web import create_app


class _QuietHandler(WSGIRequestHandler):
    """Werkzeug's handler without its ``Server`` banner: no version for a prober to read."""

    def send_header(self, keyword: str, value: str) -> None:
        if keyword.lower() != "server":
            super().send_header(keyword, value)


@command(main, "serve")
def serve_cmd(obj: Ctx, as_json: bool) -> None:
    """Serve the web app on MUTU_HOST:MUTU_PORT with the timer scheduler running beside it."""
    rt = obj.runtime
    scheduler = start_background(rt)
    try:
        poll = rt.settings.timer_poll_seconds
        click.echo(f"Mutu on http://{rt.settings.host}:{rt.settings.port} (scheduler every {poll:g}s)")
        run_simple(
            rt.settings.host,
            rt.settings.port,
            create_app(runtime=rt),
            threaded=True,
            request_handler=_QuietHandler,
        )
    finally:
        scheduler.shutdown(wait=False)


__all__ = ["main"]
