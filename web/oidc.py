"""``/login/oidc``: sign in through the organisation's identity provider (Authlib), when set."""

from __future__ import annotations

from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.flask_client import OAuth
from flask import Blueprint, Flask, abort, current_app, flash, redirect, url_for
from flask_babel import gettext as _

from engine import idp
from engine.errors import NotAuthorized

from .auth import _safe_next, begin_session
from .core import db, now, runtime

bp = Blueprint("oidc", __name__)


def init(app: Flask) -> None:
    settings = app.extensions["mutu"].settings
    if not settings.oidc_issuer:
        return
    app.config["MUTU_OIDC_ROLE_MAP"] = idp.parse_role_map(settings.oidc_role_map)
    oauth = app.extensions["mutu_oauth"] = OAuth(app)  # one per app: its own provider's metadata
    oauth.register(
        "idp",
        client_id=settings.oidc_client_id,
        client_secret=settings.oidc_client_secret,
        server_metadata_url=settings.oidc_issuer.rstrip("/") + "/.well-known/openid-configuration",
        client_kwargs={"scope": f"openid email profile {settings.oidc_groups_claim}".strip()},
    )


def enabled() -> bool:
    return bool(runtime().settings.oidc_issuer)


@bp.get("/login/oidc")
def start():  # type: ignore[no-untyped-def]
    if not enabled():
        abort(404)
    return (
        current_app.extensions["mutu_oauth"]
        .create_client("idp")
        .authorize_redirect(url_for("oidc.callback", _external=True))
    )


@bp.get("/login/oidc/callback")
def callback():  # type: ignore[no-untyped-def]
    if not enabled():
        abort(404)
    settings = runtime().settings
    try:
        token = current_app.extensions["mutu_oauth"].create_client("idp").authorize_access_token()
    except OAuthError as exc:
        flash(
            _("The sign-in with your organisation account did not complete: %(why)s", why=exc.error), "error"
        )
        return redirect(url_for("auth.login"))
    claims = token.get("userinfo") or {}
    try:
        user = idp.user_from_claims(
            db(), dict(claims), current_app.config["MUTU_OIDC_ROLE_MAP"], settings.oidc_groups_claim, now()
        )
    except NotAuthorized:
        db().rollback()
        flash(_("Your organisation account gives you no role in Mutu. Ask the QMR."), "error")
        return redirect(url_for("auth.login"))
    begin_session(user)
    return redirect(_safe_next(None))
