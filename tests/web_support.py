"""A real web app on a real, committing database with the process library deployed, for page and API tests."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from engine.clock import ManualClock
from engine.context import Runtime
from engine.db import session_scope
from engine.deploy import read_sources
from engine.registry import load_registry
from engine.runtime import ProcessEngine
from engine.settings import Settings
from tests.conftest import make_people, make_user
from tests.flow_coverage import ROOT
from tests.helpers import NC_REPORT
from web import create_app

PASSWORD = "secret-pass"  # what tests.conftest.make_user gives everyone
REPORT = NC_REPORT
MAJOR_TRIAGE = {"is_nonconformity": True, "impact": "sedang", "repeated": False}
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 64


@dataclass
class WebEnv:
    app: Flask
    runtime: Runtime
    clock: ManualClock

    def client(self, username: str | None = None, *, accept: bool = True) -> Browser:
        browser = Browser(self.app.test_client())
        if username:
            browser.login(username)
            if accept:
                browser.accept_statement()
        return browser

    def session(self) -> Any:
        return session_scope(self.runtime.sessions)


class Browser:
    """A test client that signs in and sends each form with its CSRF token, like a browser."""

    def __init__(self, client: FlaskClient):
        self.c = client
        self.token: str | None = None

    def _refresh_token(self, response: Any) -> None:
        if not response.mimetype.startswith("text/html"):
            return
        found = re.search(r'name="csrf_token" value="([^"]+)"', response.get_data(as_text=True))
        if found:
            self.token = found.group(1)

    def get(self, url: str, **kw: Any) -> Any:
        response = self.c.get(url, **kw)
        self._refresh_token(response)
        return response

    def post(self, url: str, data: dict[str, Any] | None = None, **kw: Any) -> Any:
        if self.token is None:
            self.get("/login")
        payload = {"csrf_token": self.token, **(data or {})}
        response = self.c.post(url, data=payload, **kw)
        self._refresh_token(response)
        return response

    def login(self, username: str, password: str = PASSWORD) -> Any:
        self.get("/login")
        response = self.post("/login", {"username": username, "password": password})
        self.token = None
        self.get("/confidentiality")
        return response

    def accept_statement(self) -> Any:
        return self.post("/confidentiality", {"accept": "yes"})


def task_ids(html: str) -> list[int]:
    return [int(x) for x in re.findall(r'href="/tasks/(\d+)" class="task-link"', html)]


@pytest.fixture
def web(committed_db, tmp_path: Path) -> WebEnv:  # type: ignore[no-untyped-def]
    clock = ManualClock()
    settings = Settings.from_env(
        environ={},
        database_url=committed_db.url,
        secret_key="test-secret",
        upload_dir=tmp_path / "uploads",
        max_evidence_bytes=64 * 1024,
        secure_cookies=False,
    )
    engine = ProcessEngine(load_registry(ROOT / "workflows"), clock, script_timeout=1.0)
    runtime = Runtime(settings, committed_db.engine, committed_db.sessions, engine)
    with session_scope(runtime.sessions) as session:
        make_people(session)
        make_user(session, "teamlead.bogor", "team_leader", agent_code="4002", site="Bogor")
        engine.deploy(session, read_sources([ROOT / "bpmn"], 5_000_000))
    app = create_app(runtime=runtime)
    app.config.update(TESTING=True)
    return WebEnv(app, runtime, clock)
