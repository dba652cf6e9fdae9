"""Sign in and out, the confidentiality statement (manual 8.5.3) and the language switch."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from engine import signin
from engine.models import User
from engine.policy import STATEMENT, STATEMENT_VERSION, has_accepted
from engine.signin import BadCredentials, LoginThrottled, accept_statement, sign_in

from .core import LANGUAGES, db, lang, now, runtime, safe_path

SESSION_KEY = "sid"  # the cookie's handle on its server-side session row

bp = Blueprint("auth", __name__)


def statement_accepted() -> bool:
    """Checked once per session against the database, then remembered in the session."""
    if session.get("statement") == STATEMENT_VERSION:
        return True
    if has_accepted(db(), current_user, STATEMENT_VERSION):
        session["statement"] = STATEMENT_VERSION
        return True
    return False


def _safe_next(target: str | None) -> str:
    """Only a path on this site, so a crafted link cannot send a user elsewhere after sign-in."""
    return safe_path(target, url_for("tasks.inbox"))


def begin_session(user: User) -> None:
    """A server-side session for ``user`` (committed), and a fresh cookie that names only it."""
    token = signin.open_web_session(db(), user, now())
    db().commit()
    session.clear()
    session.permanent = True
    session[SESSION_KEY] = token
    login_user(user)
    if user.language:
        session["lang"] = user.language


@bp.route("/login", methods=["GET", "POST"])
def login():  # type: ignore[no-untyped-def]
    if current_user.is_authenticated:
        return redirect(url_for("tasks.inbox"))
    error, status = None, 200
    username = request.form.get("username", "")
    if request.method == "POST":
        settings = runtime().settings
        try:
            user = sign_in(
                db(),
                username,
                request.form.get("password", ""),
                now(),
                remote_addr=request.remote_addr,
                max_failures=settings.login_max_failures,
                max_failures_per_address=settings.login_max_failures_per_address,
                window=timedelta(minutes=settings.login_lockout_minutes),
            )
        except LoginThrottled as exc:
            db().commit()
            error, status = _("Too many failed attempts. Try again in %(n)s minutes.", n=exc.minutes), 429
        except BadCredentials:
            db().commit()
            error, status = _("Unknown username or wrong password."), 401
        else:
            begin_session(user)
            return redirect(_safe_next(request.args.get("next")))
    return render_template(
        "login.html", error=error, username=username, oidc_enabled=bool(runtime().settings.oidc_issuer)
    ), status


@bp.post("/logout")
@login_required
def logout():  # type: ignore[no-untyped-def]
    """End the session on the server too: a copy of the cookie is worth nothing afterwards."""
    signin.close_web_session(db(), session.get(SESSION_KEY))
    db().commit()
    logout_user()
    session.clear()
    flash(_("You have signed out."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/confidentiality", methods=["GET", "POST"])
@login_required
def confidentiality():  # type: ignore[no-untyped-def]
    text = STATEMENT[lang()]
    if request.method == "POST":
        if request.form.get("accept") != "yes":
            flash(_("You need to accept the statement to work with case data."), "error")
            return render_template("confidentiality.html", text=text, version=STATEMENT_VERSION), 400
        accept_statement(db(), current_user, STATEMENT_VERSION, text, now(), request.remote_addr)
        db().commit()
        session["statement"] = STATEMENT_VERSION
        return redirect(_safe_next(request.args.get("next")))
    if statement_accepted():
        return redirect(url_for("tasks.inbox"))
    return render_template("confidentiality.html", text=text, version=STATEMENT_VERSION)


@bp.post("/language")
def set_language():  # type: ignore[no-untyped-def]
    choice = request.form.get("lang", "")
    if choice not in LANGUAGES:
        abort(400, _("Unknown language."))
    session["lang"] = choice
    if current_user.is_authenticated:
        user = db().get(User, current_user.id)
        if user is not None:
            user.language = choice
            db().commit()
    return redirect(
        _safe_next(request.form.get("next") or (request.referrer and urlsplit(request.referrer).path) or None)
    )
