"""Sign-in through an OpenID Connect provider started here, on loopback: groups become roles and sites."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
import requests
from flask import Flask, jsonify, redirect, request
from joserfc import jwt
from joserfc.jwk import RSAKey
from sqlalchemy import select
from werkzeug.serving import make_server

from engine.clock import ManualClock
from engine.context import Runtime
from engine.models import User
from engine.registry import load_registry
from engine.runtime import ProcessEngine
from engine.settings import Settings
from tests.flow_coverage import ROOT

CLIENT_ID, SECRET = "mutu-web", "mutu-secret-for-tests"
ROLE_MAP = '{"cc-qmr": "qmr", "cc-tl-bogor": "team_leader@Bogor"}'


class Provider:
    """The least of an OIDC provider: discovery, JWKS, an authorize that approves, a token endpoint."""

    def __init__(self) -> None:
        self.key = RSAKey.generate_key(2048, parameters={"kid": "k1", "use": "sig", "alg": "RS256"})
        self.codes: dict[str, dict[str, Any]] = {}
        self.person: dict[str, Any] = {}
        app = Flask("idp")

        @app.get("/.well-known/openid-configuration")
        def discovery():  # type: ignore[no-untyped-def]
            return jsonify(
                issuer=self.base,
                authorization_endpoint=f"{self.base}/authorize",
                token_endpoint=f"{self.base}/token",
                jwks_uri=f"{self.base}/jwks",
                response_types_supported=["code"],
                subject_types_supported=["public"],
                id_token_signing_alg_values_supported=["RS256"],
            )

        @app.get("/jwks")
        def jwks():  # type: ignore[no-untyped-def]
            return jsonify(keys=[self.key.as_dict(private=False)])

        @app.get("/authorize")
        def authorize():  # type: ignore[no-untyped-def]
            args = request.args
            assert args["client_id"] == CLIENT_ID and "openid" in args["scope"]
            code = uuid.uuid4().hex
            self.codes[code] = {"nonce": args.get("nonce"), "redirect_uri": args["redirect_uri"]}
            return redirect(f"{args['redirect_uri']}?{urlencode({'code': code, 'state': args['state']})}")

        @app.post("/token")
        def token():  # type: ignore[no-untyped-def]
            form = request.form
            asked = self.codes.pop(form["code"], None)
            if asked is None:
                return jsonify(error="invalid_grant"), 400
            now = int(time.time())
            claims = {"iss": self.base, "aud": CLIENT_ID, "iat": now, "exp": now + 300, "nonce": asked["nonce"],
                      **self.person}  # fmt: skip
            id_token = jwt.encode({"alg": "RS256", "kid": "k1"}, claims, self.key)
            return jsonify(access_token="at", token_type="Bearer", expires_in=300, id_token=id_token)

        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.base = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(5)


@pytest.fixture
def provider():  # type: ignore[no-untyped-def]
    found = Provider()
    yield found
    found.stop()


@pytest.fixture
def app(committed_db, provider, tmp_path: Path):  # type: ignore[no-untyped-def]
    from web import create_app

    settings = Settings.from_env(
        {},
        database_url=committed_db.url,
        secret_key="test",
        upload_dir=tmp_path / "up",
        secure_cookies=False,
        oidc_issuer=provider.base,
        oidc_client_id=CLIENT_ID,
        oidc_client_secret=SECRET,
        oidc_role_map=ROLE_MAP,
    )
    engine = ProcessEngine(load_registry(ROOT / "workflows"), ManualClock())
    application = create_app(runtime=Runtime(settings, committed_db.engine, committed_db.sessions, engine))
    application.config.update(TESTING=True)
    return application


def sign_in(app, provider, person):  # type: ignore[no-untyped-def]
    provider.person = person
    client = app.test_client()
    assert 'id="oidc-login"' in client.get("/login").get_data(as_text=True)
    out = client.get("/login/oidc")
    assert out.status_code == 302 and out.location.startswith(provider.base + "/authorize")
    back = requests.get(out.location, allow_redirects=False, timeout=5)  # the browser at the provider
    assert back.status_code == 302
    parts = urlsplit(back.headers["Location"])
    done = client.get(f"{parts.path}?{parts.query}")
    return client, done


def test_a_provider_account_signs_in_with_the_roles_and_site_its_groups_give(app, provider, committed_db):
    person = {"sub": "u-17", "preferred_username": "Rina.TL", "name": "Rina", "email": "rina@cc.example",
              "groups": ["cc-tl-bogor", "unrelated"]}  # fmt: skip
    client, done = sign_in(app, provider, person)
    assert done.status_code == 302 and done.location.endswith("/inbox")
    assert client.get("/confidentiality").status_code == 200  # signed in: the statement comes first
    with committed_db.sessions() as s:
        user = s.execute(select(User).where(User.username == "rina.tl")).unique().scalar_one()
        assert user.role_keys == {"team_leader"} and user.site == "Bogor" and user.email == "rina@cc.example"
    # The groups are the truth at every sign-in: moved to the QMR's group, the role follows.
    sign_in(app, provider, {**person, "groups": ["cc-qmr"]})
    with committed_db.sessions() as s:
        user = s.execute(select(User).where(User.username == "rina.tl")).unique().scalar_one()
        assert user.role_keys == {"qmr"} and user.site is None


def test_an_account_without_a_mapped_group_gets_no_way_in(app, provider):  # type: ignore[no-untyped-def]
    client, done = sign_in(
        app, provider, {"sub": "u-9", "preferred_username": "tamu", "groups": ["visitors"]}
    )
    assert done.status_code == 302 and done.location.endswith("/login")
    assert "tidak memberi peran di Mutu" in client.get("/login").get_data(as_text=True)
    assert client.get("/inbox").status_code == 302  # still signed out


def test_a_forged_callback_is_refused(app):  # type: ignore[no-untyped-def]
    client = app.test_client()
    forged = client.get("/login/oidc/callback?code=nope&state=made-up")
    assert forged.status_code == 302 and forged.location.endswith("/login")
    assert "Masuk dengan akun organisasi tidak selesai" in client.get("/login").get_data(as_text=True)


def test_without_a_provider_the_routes_are_not_there(web):  # type: ignore[no-untyped-def]
    assert web.app.test_client().get("/login/oidc").status_code == 404
    assert 'id="oidc-login"' not in web.app.test_client().get("/login").get_data(as_text=True)
