"""The ``mutu`` CLI end to end on a real SQLite file: JSON out, one-line errors, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"


@pytest.fixture
def mutu(tmp_path):
    env = {
        **os.environ,
        "MUTU_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.sqlite3'}",
        "MUTU_WORKFLOWS_DIR": str(DATA / "workflows"),
        "MUTU_ADMIN_PASSWORD": "",
    }

    def run(*args: str, ok: bool = True):
        proc = subprocess.run(
            [sys.executable, "-m", "engine.cli", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if ok:
            assert proc.returncode == 0, proc.stderr
        return proc

    return run


def as_json(proc):
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_cli_journey(mutu, tmp_path):
    boot = as_json(mutu("db", "upgrade", "--json"))
    assert boot["admin_created"] is True and len(boot["admin_password"]) >= 12
    assert as_json(mutu("db", "upgrade", "--json"))["admin_created"] is False  # idempotent
    mutu("users", "add", "qc", "--role", "quality_control", "--agent-code", "2001", "--password", "pw-qc-123")
    mutu(
        "users", "add", "qc.bogor", "--role", "quality_control", "--site", "Bogor", "--password", "pw-qc-456"
    )
    mutu("users", "add", "qmr", "--role", "qmr", "--agent-code", "3001", "--password", "pw-qmr-123")

    deployed = as_json(mutu("deploy", str(DATA / "bpmn"), "--json"))
    assert sorted(v["process"] for v in deployed["created"]) == ["review", "verification"]
    assert as_json(mutu("deploy", str(DATA / "bpmn"), "--json"))["created"] == []

    data = json.dumps({"description": "Wrong tariff", "severity_hint": "major", "site": "Bogor"})
    # The confidentiality gate (manual 8.5.3) holds on the command line as on the web.
    gated = mutu("tasks", "--as", "qmr", "--json", ok=False)
    assert gated.returncode == 1 and as_json(gated)["error"] == "statement_not_accepted"
    for who in ("qc", "qc.bogor", "qmr"):
        assert as_json(mutu("statement", "--as", who, "--accept", "--json"))["accepted"] is True
    started = as_json(mutu("start", "review", "--as", "qc", "--json"))
    inst = started["instance_id"]
    tasks = as_json(mutu("tasks", "--as", "qc", "--instance", str(inst), "--json"))
    assert [(t["bpmn_id"], t["lane"]) for t in tasks] == [("raise", "Quality Control")]
    task_id = str(tasks[0]["id"])

    bad = mutu("complete", task_id, "--as", "qc", "--data", '{"description": 5}', ok=False)
    assert bad.returncode == 1 and len(bad.stderr.strip().splitlines()) == 1
    assert "form data is not valid" in bad.stderr

    notjson = mutu("complete", task_id, "--as", "qc", "--data", "{nope", ok=False)
    assert notjson.returncode == 1 and notjson.stderr.startswith("error: --data is not JSON")

    forged = mutu("complete", task_id, "--as", "qc", "--data", '{"completed_by": {}}', "--json", ok=False)
    assert as_json(forged)["errors"] == {"completed_by": ["is not a field of this form"]}

    mutu("claim", task_id, "--as", "qc")
    done = as_json(mutu("complete", task_id, "--as", "qc", "--data", data, "--json"))
    assert done["status"] == "running" and done["new_tasks"][0]["bpmn_id"] == "triage"

    twice = mutu("complete", task_id, "--as", "qc", "--data", data, "--json", ok=False)
    assert twice.returncode == 1 and as_json(twice)["error"] == "conflict"

    shown = as_json(mutu("instance", "show", str(inst), "--as", "qmr", "--json"))
    assert shown["status"] == "running" and shown["case"]["severity"] == "major"
    assert [t["bpmn_id"] for t in shown["open_tasks"]] == ["triage"]

    assert as_json(mutu("audit", "verify", "--json")) == {"ok": True}
    assert as_json(mutu("scheduler", "--once", "--json")) == {"fired": 0}


def test_cli_errors_are_one_line(mutu, tmp_path):
    mutu("db", "upgrade")
    bad = tmp_path / "bad.bpmn"
    bad.write_text("<not-closed")
    proc = mutu("deploy", str(bad), ok=False)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        "error: deploy refused, 1 problem(s): bad.bpmn: not well-formed XML: "
        "Couldn't find end of Start Tag not-closed (line 1)"
    ]
    gated = mutu("start", "nothing", "--as", "admin", ok=False)
    assert gated.stderr.strip() == (
        "error: admin has not accepted the confidentiality statement (version 2026-1)"
    )
    mutu("statement", "--as", "admin", "--accept")
    missing = mutu("start", "nothing", "--as", "admin", ok=False)
    assert missing.stderr.strip() == "error: no process 'nothing' is deployed"
    nobody = mutu("tasks", "--as", "ghost", ok=False)
    assert nobody.stderr.strip() == "error: no user named 'ghost'"
    boom = tmp_path / "boom.bpmn"
    boom.write_text(BOOM)
    mutu("deploy", str(boom))
    failed = mutu("start", "boom", "--as", "admin", ok=False)
    [line] = failed.stderr.strip().splitlines()  # the engine's own log of the incident stays quiet
    assert line.startswith("error: instance ") and "has an incident at divide: " in line
    assert "division by zero" in line and " object at 0x" not in line


BOOM = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="boom_defs"
    targetNamespace="http://mutu.example/bpmn">
  <bpmn:process id="boom" name="Boom" isExecutable="true">
    <bpmn:startEvent id="boom_start"><bpmn:outgoing>b1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:scriptTask id="divide" name="Divide"><bpmn:incoming>b1</bpmn:incoming>
      <bpmn:outgoing>b2</bpmn:outgoing><bpmn:script>x = 1 / 0</bpmn:script></bpmn:scriptTask>
    <bpmn:endEvent id="boom_end"><bpmn:incoming>b2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="b1" sourceRef="boom_start" targetRef="divide" />
    <bpmn:sequenceFlow id="b2" sourceRef="divide" targetRef="boom_end" />
  </bpmn:process>
</bpmn:definitions>
"""


def test_bad_setting_stops_start_up_with_one_line(mutu, tmp_path):
    env = {**os.environ, "MUTU_PORT": "eighty", "MUTU_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"}
    proc = subprocess.run(
        [sys.executable, "-m", "engine.cli", "db", "upgrade"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    assert proc.stderr.strip() == "error: MUTU_PORT: 'eighty' is not a valid int"
