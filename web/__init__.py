"""The Flask app factory: one blueprint per area; the engine stays Flask-free."""

from __future__ import annotations

import contextlib
import hmac
import logging
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask, g, jsonify, make_response, redirect, render_template, request, session, url_for
from flask_babel import Babel
from flask_babel import gettext as _
from flask_login import LoginManager, current_user
from flask_wtf.csrf import CSRFError, CSRFProtect
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, PendingRollbackError
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from engine import logs, signin
from engine import metrics as engine_metrics
from engine.context import Runtime, build_runtime
from engine.errors import MutuError
from engine.migrate import head_revision
from engine.models import User
from engine.settings import Settings

from . import core, errors_words, guards, values

HERE = Path(__file__).resolve().parent
# Pages that work before sign-in or before the confidentiality statement is accepted.
OPEN_ENDPOINTS = {
    "auth.login",
    "auth.set_language",
    "static",
    "healthz",
    "alive",
    "metrics",
    "oidc.start",
    "oidc.callback",
}
PRE_STATEMENT_ENDPOINTS = OPEN_ENDPOINTS | {"auth.logout", "auth.confidentiality"}


def _locale() -> str:
    chosen = session.get("lang")
    if chosen in core.LANGUAGES:
        return chosen
    if current_user and current_user.is_authenticated and current_user.language in core.LANGUAGES:
        return current_user.language
    return "id"


def create_app(config: dict[str, Any] | None = None, runtime: Runtime | None = None) -> Flask:
    """Build the app; tests pass ``config`` (settings overrides) or a ready ``runtime``."""
    rt = runtime or build_runtime(Settings.from_env(**(config or {})))
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=rt.settings.secret_key,
        # Evidence files on one form, plus the form itself.
        MAX_CONTENT_LENGTH=rt.settings.max_evidence_bytes * 5 + 1024 * 1024,
        PERMANENT_SESSION_LIFETIME=timedelta(minutes=rt.settings.session_minutes),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=rt.settings.secure_cookies,
        REMEMBER_COOKIE_SECURE=rt.settings.secure_cookies,
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session
        BABEL_DEFAULT_LOCALE="id",
        BABEL_DEFAULT_TIMEZONE=rt.settings.time_zone,
        BABEL_TRANSLATION_DIRECTORIES=str(HERE / "translations"),
    )
    app.extensions["mutu"] = rt
    if rt.settings.proxy_hops:
        # Behind a proxy every client has its address: trust exactly the hops configured, so
        # sign-in throttles count real clients and nobody can pose as another by a header.
        hops = rt.settings.proxy_hops
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]
    app.json = guards.StrictJSONProvider(app)
    app.url_map.converters["int"] = guards.RowIdConverter  # before any route is added
    Babel(app, locale_selector=_locale)
    csrf = CSRFProtect(app)

    login = LoginManager(app)
    login.login_view = "auth.login"
    login.login_message = None
    login.session_protection = "basic"

    idle = timedelta(minutes=rt.settings.session_minutes)

    @login.user_loader
    def load_user(user_id: str) -> User | None:
        """The user of a live server-side session: signing out or idling past the limit ends it."""
        token = session.get(auth.SESSION_KEY)
        if not isinstance(token, str) or not user_id.isascii() or not user_id.isdigit():
            return None
        db = core.db()
        user = signin.web_session_user(db, token, int(user_id), core.now(), idle)
        if db.dirty or db.deleted:
            db.commit()  # the session's last-seen time (or its end), before the view does anything
        return user

    from . import (  # noqa: F401 - they add to api.bp
        api,
        auth,
        case_links,
        cases,
        cases_api,
        editor_api,
        editor_forms,
        messages_api,
        notifications,
        oidc,
        oversight,
        processes,
        records,
        records_api,
        tasks,
        timing,
    )

    app.register_blueprint(auth.bp)
    app.register_blueprint(tasks.bp)
    app.register_blueprint(cases.bp)
    app.register_blueprint(processes.bp)
    app.register_blueprint(notifications.bp)
    app.register_blueprint(records.bp)
    app.register_blueprint(oidc.bp)
    oidc.init(app)
    app.register_blueprint(api.bp)
    csrf.exempt(api.bp)  # bearer tokens only: no cookie, so no cross-site request to forge
    app.teardown_appcontext(core.close_db)

    app.before_request(guards.refuse_nul)

    @app.before_request
    def trace():  # type: ignore[no-untyped-def]
        """A request id (the proxy's X-Request-Id when it sent a sane one) and the case, for the logs."""
        given = request.headers.get("X-Request-Id", "")
        ok = 0 < len(given) <= 64 and all(ch.isascii() and (ch.isalnum() or ch in "-_.") for ch in given)
        g.request_id = given if ok else uuid.uuid4().hex[:16]
        g.started = time.perf_counter()
        args = request.view_args or {}
        logs.context.set(
            {"request_id": g.request_id, "case": args.get("instance_id"), "task": args.get("task_id")}
        )

    @app.before_request
    def gate():  # type: ignore[no-untyped-def]
        endpoint = request.endpoint or ""
        if endpoint.startswith("api.") or endpoint in OPEN_ENDPOINTS or request.path.startswith("/api/"):
            return None
        if not current_user.is_authenticated:
            return login.unauthorized()
        logs.context.set({**(logs.context.get() or {}), "user": current_user.username})
        if endpoint not in PRE_STATEMENT_ENDPOINTS and not auth.statement_accepted():
            return redirect(url_for("auth.confidentiality", next=request.full_path.rstrip("?")))
        return None

    access = logging.getLogger("mutu.request")

    @app.after_request
    def headers(response):  # type: ignore[no-untyped-def]
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; font-src 'self' data:; "
            "style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; form-action 'self'",
        )
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if request.endpoint != "static":
            response.headers["Cache-Control"] = "no-store"  # evidence downloads too
        if rt.settings.secure_cookies:
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        response.headers.pop("Server", None)
        if "request_id" in g:
            response.headers["X-Request-Id"] = g.request_id
            quiet = request.endpoint in ("static", "healthz", "alive", "metrics")
            if not quiet and access.isEnabledFor(logging.INFO):  # else: nothing to write
                found = logs.context.get() or {}
                if current_user and current_user.is_authenticated:
                    logs.context.set({**found, "user": current_user.username})
                access.info(
                    "%s %s %s",
                    request.method,
                    request.path,
                    response.status_code,
                    extra={
                        "method": request.method,
                        "path": request.path,
                        "status": response.status_code,
                        "ms": round((time.perf_counter() - g.started) * 1000, 1),
                    },
                )
        return response

    @app.context_processor
    def helpers() -> dict[str, Any]:
        return {
            "lang": core.lang,
            "process_label": core.process_label,
            "task_label": core.task_label,
            "local_time": core.local_time,
            "local_date": core.local_date,
            "age": core.age,
            "due_in": core.due_in,
            "is_overdue": core.is_overdue,
            "nav_counts": tasks.nav_counts,
            "unread_notifications": notifications.unread,
            "severity_word": values.severity_word,
            "role_label": values.role_label,
        }

    def error_page(status: int, title: str, message: str, **extra: Any) -> Any:
        if core.wants_json():
            return jsonify(error={"code": extra.get("code", str(status)), "message": message}), status
        return render_template("error.html", status=status, title=title, message=message, **extra), status

    @app.errorhandler(MutuError)
    def mutu_error(exc: MutuError):  # type: ignore[no-untyped-def]
        titles = {
            403: _("Not allowed"),
            404: _("Not found"),
            409: _("Someone was faster"),
            422: _("Not valid"),
            429: _("Too many attempts"),
        }
        message = str(exc)
        if not core.wants_json() and core.lang() != "en":
            # The engine words its reasons in English; an Indonesian page says it in Indonesian.
            message = errors_words.mutu_message(exc)
        return error_page(
            exc.http_status, titles.get(exc.http_status, _("Cannot do that")), message, code=exc.code
        )

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError):  # type: ignore[no-untyped-def]
        return error_page(
            400, _("The form expired"), _("Reload the page and send the form again."), code="csrf"
        )

    def unreadable_user() -> None:
        """The database is away or busy, so the error page cannot read the signed-in user: it
        shows none (the sign-in itself stays), and nothing of it asks the broken session."""
        with contextlib.suppress(Exception):
            core.db().rollback()
        g._login_user = login.anonymous_user()

    @app.errorhandler(DBAPIError)
    def busy(exc: DBAPIError):  # type: ignore[no-untyped-def]
        if "locked" in str(exc.orig) or "busy" in str(exc.orig):
            unreadable_user()
            # Not a conflict with another user's change: the database stayed busy past its
            # timeout. Say so, and when to try again.
            response = make_response(
                error_page(503, _("Busy"), _("The case is busy; try again."), code="busy")
            )
            response.headers["Retry-After"] = "1"
            return response
        if guards.database_down(exc):
            # A restart or a network cut: nothing was written, the client may simply retry.
            unreadable_user()
            response = make_response(
                error_page(
                    503, _("Not available"), _("The database is not answering; try again shortly."),
                    code="unavailable",
                )
            )  # fmt: skip
            response.headers["Retry-After"] = "2"
            return response
        raise exc

    @app.errorhandler(PendingRollbackError)
    def rolled_back(exc: PendingRollbackError):  # type: ignore[no-untyped-def]
        """A statement of this request failed before (the database went away mid-flush): the
        transaction is gone and nothing of it was written, so the client may simply retry."""
        unreadable_user()
        response = make_response(
            error_page(
                503, _("Not available"), _("The database is not answering; try again shortly."),
                code="unavailable",
            )
        )  # fmt: skip
        response.headers["Retry-After"] = "2"
        return response

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):  # type: ignore[no-untyped-def]
        status = exc.code or 500
        message = _("The upload is too large.") if status == 413 else (exc.description or exc.name)
        title = exc.name
        if not core.wants_json():
            title, message = errors_words.http_words(exc, message)
        return error_page(status, title, message, code=exc.name.lower().replace(" ", "_"))

    head = head_revision()

    @app.get("/healthz")
    def healthz():  # type: ignore[no-untyped-def]
        """Ready: the database answers and its schema is this code's. A load balancer sends work only then."""
        try:
            at = core.db().execute(text("select version_num from alembic_version")).scalar()
        except DBAPIError as exc:
            with contextlib.suppress(DBAPIError):
                core.db().rollback()
            response = jsonify(
                status="not ready", alive=True, ready=False, reason=str(exc.orig).splitlines()[0][:200]
            )
            response.status_code, response.headers["Retry-After"] = 503, "2"
            return response
        if at != head:
            response = jsonify(
                status="not ready", alive=True, ready=False, reason=f"schema at {at}, code needs {head}"
            )
            response.status_code, response.headers["Retry-After"] = 503, "30"
            return response
        return jsonify(status="ok", alive=True, ready=True, schema=at)

    @app.get("/metrics")
    def metrics():  # type: ignore[no-untyped-def]
        """Prometheus: a bearer token when MUTU_METRICS_TOKEN is set, else only from this machine."""
        token = rt.settings.metrics_token
        if token:
            given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
            if not hmac.compare_digest(given.encode(), token.encode()):
                return error_page(
                    401, _("Not allowed"), _("The metrics need their bearer token."), code="unauthenticated"
                )
        elif request.remote_addr not in ("127.0.0.1", "::1") or request.headers.get("X-Forwarded-For"):
            # A proxy on this machine makes every client look local: what it forwards is not.
            return error_page(
                403, _("Not allowed"), _("The metrics are read from this machine only."), code="forbidden"
            )
        body = engine_metrics.exposition(rt.sessions)
        return app.response_class(body, mimetype="text/plain; version=0.0.4; charset=utf-8")

    @app.get("/healthz/live")
    def alive():  # type: ignore[no-untyped-def]
        """Alive: the process answers (no database); restart it only when this fails."""
        return jsonify(status="alive", alive=True)

    @app.get("/")
    def home():  # type: ignore[no-untyped-def]
        return redirect(url_for("tasks.inbox"))

    return app
