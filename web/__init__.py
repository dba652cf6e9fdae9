"""The Flask app factory. Pages arrive area by area as blueprints; the engine stays Flask-free."""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify, render_template_string
from sqlalchemy import func, select, text

from engine.context import Runtime, build_runtime
from engine.db import session_scope
from engine.models import ProcessInstance, ProcessVersion
from engine.settings import Settings

STATUS_PAGE = """<!doctype html>
<html lang="id"><head><meta charset="utf-8"><title>Mutu</title>
<style>body{font-family:system-ui,sans-serif;margin:2rem;max-width:48rem;color:#1d2733}
table{border-collapse:collapse}td,th{padding:.3rem .8rem;border-bottom:1px solid #ddd;text-align:left}</style>
</head><body>
<h1>Mutu</h1>
<p>Mesin proses BPMN untuk sistem mutu ISO 9001 contact center Telkom.
 <span lang="en">(BPMN engine for the ISO 9001 quality system of the Telkom contact centers.)</span></p>
<h2>Proses terpasang <small>(deployed processes)</small></h2>
{% if processes %}<table><tr><th>Proses</th><th>Kunci</th><th>Versi</th><th>Kasus berjalan</th></tr>
{% for p in processes %}<tr><td>{{ p.name }}</td><td><code>{{ p.key }}</code></td><td>{{ p.version }}</td>
<td>{{ p.running }}</td></tr>{% endfor %}</table>
{% else %}<p>Belum ada proses. Jalankan <code>mutu deploy bpmn/</code>.</p>{% endif %}
</body></html>"""


def create_app(config: dict[str, Any] | None = None, runtime: Runtime | None = None) -> Flask:
    """Build the app; tests pass ``config`` or a ready ``runtime`` to override settings."""
    settings = Settings.from_env(**(config or {}))
    rt = runtime or build_runtime(settings)
    app = Flask(__name__)
    app.config.update(SECRET_KEY=rt.settings.secret_key, MAX_CONTENT_LENGTH=rt.settings.max_upload_bytes)
    app.extensions["mutu"] = rt

    @app.get("/healthz")
    def healthz():  # type: ignore[no-untyped-def]
        with session_scope(rt.sessions) as session:
            session.execute(text("select 1"))
        return jsonify(status="ok")

    @app.get("/")
    def status():  # type: ignore[no-untyped-def]
        with session_scope(rt.sessions) as session:
            latest = (
                select(ProcessVersion.process_key, func.max(ProcessVersion.version).label("version"))
                .group_by(ProcessVersion.process_key)
                .subquery()
            )
            rows = session.execute(
                select(ProcessVersion.name, ProcessVersion.process_key, ProcessVersion.version).join(
                    latest,
                    (latest.c.process_key == ProcessVersion.process_key)
                    & (latest.c.version == ProcessVersion.version),
                )
            ).all()
            running = dict(
                session.execute(
                    select(ProcessInstance.process_key, func.count())
                    .where(ProcessInstance.status == "running")
                    .group_by(ProcessInstance.process_key)
                ).all()
            )
        processes = [{"name": n, "key": k, "version": v, "running": running.get(k, 0)} for n, k, v in rows]
        return render_template_string(STATUS_PAGE, processes=processes)

    return app
