"""Scenarios: named paths through one process, run by the real engine in a sandbox.

A scenario is a file of the process's bundle (``workflows/<key>/scenarios/<name>.json``):
start data, then steps (a user task's BPMN id and what is submitted, or time moving on),
and what is expected at the end or after any step. The QMR records them by running a
draft; before a draft is published every scenario of its process runs against it, and the
suite runs the library's scenarios through this same runner.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from . import message_jobs, paths, signatures
from .errors import MutuError, ValidationFailed
from .models import CaseRecord, HumanTask, Incident, ProcessInstance, Timer
from .models_registers import Supplier
from .registry import CASE_COLUMNS
from .sandbox import Sandbox, named_people, person, worker_for
from .scenario_format import MAX_WAIT, SCHEMA, duration, problems  # noqa: F401 - SCHEMA is the format
from .timers import due_timer_ids

MAX_FIRE_ROUNDS = 50


@dataclass
class Difference(Exception):
    """Where a run first left its scenario: the step, the element, what was expected and seen."""

    step: int
    element: str | None
    expected: str
    actual: str

    def as_dict(self) -> dict[str, Any]:
        return {"step": self.step, "element": self.element, "expected": self.expected, "actual": self.actual}


@dataclass
class Result:
    name: str
    path: str
    passed: bool
    difference: dict[str, Any] | None = None
    steps_run: int = 0
    completed: list[str] = field(default_factory=list)
    active: list[str] = field(default_factory=list)
    flows: list[str] = field(default_factory=list)
    status: str | None = None
    ends: list[str] = field(default_factory=list)
    open: list[dict[str, Any]] = field(default_factory=list)
    timers: list[dict[str, Any]] = field(default_factory=list)
    case: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class _Run:
    """One scenario in one fresh sandbox session."""

    def __init__(self, sandbox: Sandbox, session: Session, process_key: str, doc: dict[str, Any]):
        self.sandbox, self.session, self.process_key, self.doc = sandbox, session, process_key, doc
        self.engine = sandbox.engine
        self.instance: ProcessInstance | None = None
        self.people: dict[str, Any] = {}
        self.known: dict[str, Any] = {}  # sandbox people met so far, by username

    def user(self, name: str | None, step: int) -> Any:
        if name is None:
            return None
        if name not in self.people:
            raise Difference(step, None, f"a person {name!r} of the scenario's people", "nobody by that name")
        return self.people[name]

    def start(self) -> None:
        for p in self.doc.get("people", []):
            self.people[p["username"]] = person(
                self.session,
                p["role"],
                p.get("site"),
                username=p["username"],
                agent_code=p.get("agent_code"),
                online_name=p.get("online_name"),
            )
        self.given(self.doc.get("given", {}))
        spec = self.doc.get("start", {})
        data, engine_data = spec.get("data", {}), spec.get("engine_data")
        try:
            version = self.engine.latest_version(self.session, self.process_key)
        except MutuError as exc:
            raise Difference(0, None, f"process {self.process_key} deployed", str(exc)) from None
        if engine_data is not None:
            starter = None
        elif "as" in spec:
            starter = self.user(spec["as"], 0)
        else:
            roles = list(version.startable_by or ()) or ["admin"]
            starter = person(self.session, roles[0], data.get("site"), known=self.known)
        try:
            result = self.engine.start(
                self.session, self.process_key, starter, dict(data), engine_data=engine_data
            )
        except ValidationFailed as exc:
            raise Difference(0, None, "the start form accepts the start data", str(exc)) from None
        except MutuError as exc:
            raise Difference(0, None, "the case starts", str(exc)) from None
        self.session.commit()
        self.instance = result.instance
        self.after(0, None)

    def given(self, given: dict[str, Any]) -> None:
        """Register rows the scenario assumes, as earlier cases would have left them."""
        now = self.sandbox.clock.now()
        for item in given.get("suppliers", []):
            self.session.add(
                Supplier(
                    name=item["name"],
                    approved=item.get("approved", True),
                    score=item.get("score"),
                    evaluated_at=now - timedelta(days=100),
                    valid_until=now + timedelta(days=item.get("valid_days", 200)),
                    deliveries=item.get("deliveries", 0),
                    updated_at=now,
                )
            )
        self.session.flush()

    def open_rows(self, bpmn_id: str | None = None) -> list[HumanTask]:
        assert self.instance is not None
        query = select(HumanTask).where(HumanTask.instance_id == self.instance.id, HumanTask.status == "open")
        if bpmn_id is not None:
            query = query.where(HumanTask.bpmn_id == bpmn_id)
        return list(self.session.execute(query.order_by(HumanTask.id)).scalars())

    def open_ids(self) -> list[str]:
        assert self.instance is not None
        return sorted(
            self.session.execute(
                select(HumanTask.bpmn_id).where(
                    HumanTask.instance_id == self.instance.id, HumanTask.status == "open"
                )
            ).scalars()
        )

    def where(self) -> str:
        assert self.instance is not None
        if self.instance.status == "incident":
            incident = self._incident()
            return f"an incident at {incident.element_id}: {incident.message}" if incident else "an incident"
        opened = self.open_ids()
        waiting = [t.bpmn_id for t in self.waiting_timers()]
        parts = []
        if opened:
            parts.append("open: " + ", ".join(opened))
        if waiting:
            parts.append("waiting for timer: " + ", ".join(waiting))
        return "; ".join(parts) or f"the case is {self.instance.status}"

    def _incident(self) -> Incident | None:
        assert self.instance is not None
        return self.session.execute(
            select(Incident)
            .where(Incident.instance_id == self.instance.id, Incident.resolved_at.is_(None))
            .order_by(Incident.id.desc())
            .limit(1)
        ).scalar_one_or_none()

    def waiting_timers(self) -> list[Timer]:
        assert self.instance is not None
        return list(
            self.session.execute(
                select(Timer)
                .where(Timer.instance_id == self.instance.id, Timer.status == "waiting")
                .order_by(Timer.fire_at, Timer.id)
            ).scalars()
        )

    def step(self, index: int, spec: dict[str, Any]) -> None:
        if "task" in spec:
            self.task(index, spec)
        elif "wait" in spec:
            self.sandbox.clock.advance(duration(spec["wait"], self.sandbox.clock.now()))
            self.fire_due()
        else:
            timers = [t for t in self.waiting_timers() if t.bpmn_id == spec["timer"]]
            if not timers:
                raise Difference(index, spec["timer"], f"timer {spec['timer']} waiting", self.where())
            if timers[0].fire_at >= self.sandbox.clock.now():
                # SpiffWorkflow counts a timer as expired only after its moment, not at it.
                self.sandbox.clock.set(timers[0].fire_at + timedelta(seconds=1))
            self.fire_due()
        self.after(index, spec.get("task") or spec.get("timer"))
        if "expect" in spec:
            self.check(index, spec["expect"], spec.get("task"))

    def task(self, index: int, spec: dict[str, Any]) -> None:
        bpmn_id = spec["task"]
        rows = self.open_rows(bpmn_id)
        if not rows:
            raise Difference(index, bpmn_id, f"task {bpmn_id} open", self.where())
        row = rows[0]
        actor = self.user(spec["as"], index) if "as" in spec else worker_for(self.session, row, self.known)
        instance = self.session.get(ProcessInstance, row.instance_id)
        schema = self.engine._version_meta(self.session, instance.process_version)[1].get(row.form_ref or "")
        named_people(self.session, schema, spec.get("data", {}), row.site, self.known)
        try:
            signed = signatures.witnessed(actor, self.engine.clock.now(), "sandbox")
            self.engine.complete(self.session, row.id, actor, dict(spec.get("data", {})), signature=signed)
            self.session.commit()
        except ValidationFailed as exc:
            self.session.rollback()
            self.known.clear()  # people made in the step went with it
            if "refused" in spec and sorted(exc.errors) == sorted(spec["refused"]):
                return
            raise Difference(index, bpmn_id, "the form accepts the data", str(exc)) from None
        except MutuError as exc:
            self.session.rollback()
            self.known.clear()  # people made in the step went with it
            raise Difference(index, bpmn_id, f"{actor.username} completes {bpmn_id}", str(exc)) from None
        if "refused" in spec:
            raise Difference(
                index, bpmn_id, "the form refuses: " + ", ".join(spec["refused"]), "the form accepted it"
            )

    def fire_due(self) -> None:
        for _ in range(MAX_FIRE_ROUNDS):  # a timer that fires may plan another that is due already
            due = due_timer_ids(self.session, self.sandbox.clock.now(), 100)
            if not due:
                break
            for timer_id in due:
                self.engine.fire_timer(self.session, timer_id)
                self.session.commit()
        self.call_services()

    def call_services(self) -> None:
        message_jobs.drain(self.session, self.engine)

    def after(self, index: int, element: str | None) -> None:
        assert self.instance is not None
        self.call_services()
        if self.instance.status == "incident":
            incident = self._incident()
            raise Difference(
                index,
                incident.element_id if incident else element,
                "the step runs without an incident",
                incident.message if incident else "an incident",
            )

    def check(self, index: int, expect: dict[str, Any], element: str | None) -> None:
        assert self.instance is not None
        if element is None:  # the end of the scenario: mark where the case stands instead
            here = self.open_ids() + [t.bpmn_id for t in self.waiting_timers()]
            element = here[0] if here else None
        if "status" in expect and self.instance.status != expect["status"]:
            raise Difference(index, element, f"the case is {expect['status']}", self.where())
        if "open" in expect and self.open_ids() != sorted(expect["open"]):
            wanted = ", ".join(sorted(expect["open"])) or "nothing"
            raise Difference(index, (expect["open"] or [element])[0], f"open: {wanted}", self.where())
        if "waits_for" in expect:
            waiting = sorted(t.bpmn_id for t in self.waiting_timers())
            if waiting != sorted(expect["waits_for"]):
                wanted = ", ".join(sorted(expect["waits_for"])) or "no timer"
                raise Difference(index, element, f"waiting for: {wanted}", self.where())
        if "ends" in expect:
            ends = paths.ended_at(self.engine._load(self.instance))
            if ends != sorted(expect["ends"]):
                raise Difference(
                    index,
                    (expect["ends"] or [element])[0],
                    "ended at " + (", ".join(sorted(expect["ends"])) or "no end event"),
                    ("ended at " + ", ".join(ends)) if ends else self.where(),
                )
        for name, wanted in expect.get("case", {}).items():
            got = self.case_values().get(name)
            if got != wanted:
                raise Difference(index, element, f"case field {name} = {wanted!r}", f"{name} = {got!r}")
        for bpmn_id, text in expect.get("due", {}).items():
            rows = [r for r in self.open_rows() if r.bpmn_id == bpmn_id]
            want = self.sandbox.clock.now() + duration(text, self.sandbox.clock.now())
            if not rows or rows[0].due_at != want:
                got = rows[0].due_at.isoformat() if rows and rows[0].due_at else "no due date"
                raise Difference(index, bpmn_id, f"{bpmn_id} due {want.isoformat()}", got)
        for key, count in expect.get("started", {}).items():
            got = self.session.execute(
                select(func.count())
                .select_from(ProcessInstance)
                .where(ProcessInstance.process_key == key, ProcessInstance.id != self.instance.id)
            ).scalar_one()
            if got != count:
                raise Difference(index, element, f"{count} {key} case(s) started", f"{got} started")

    def case_values(self) -> dict[str, Any]:
        assert self.instance is not None
        row = self.session.get(CaseRecord, self.instance.id, populate_existing=True)
        if row is None:
            return {}
        values = dict(row.fields or {})
        for column in CASE_COLUMNS:
            values[column] = getattr(row, column)
        return values

    def result(self, path: str, difference: Difference | None, steps_run: int) -> Result:
        out = Result(
            name=self.doc.get("name", path),
            path=path,
            passed=difference is None,
            difference=difference.as_dict() if difference else None,
            steps_run=steps_run,
        )
        if self.instance is None:
            return out
        workflow = self.engine._load(self.instance)
        marking = self.engine.element_states(self.instance)
        flows = self.sandbox.flows(self.instance.process_key)
        out.completed, out.active = marking["completed"], marking["active"]
        out.flows = sorted(paths.flows_taken(workflow, flows))
        out.status = self.instance.status
        out.ends = paths.ended_at(workflow)
        out.open = [
            {"bpmn_id": r.bpmn_id, "name": r.name, "form": r.form_ref, "role": r.role_key}
            for r in self.open_rows()
        ]
        out.timers = [{"bpmn_id": t.bpmn_id, "fire_at": t.fire_at.isoformat()} for t in self.waiting_timers()]
        out.case = {k: v for k, v in self.case_values().items() if v is not None}
        return out


def run(sandbox: Sandbox, process_key: str, doc: dict[str, Any], path: str = "") -> Result:
    """Run one scenario from a fresh start; the result says where it first differed, if it did."""
    found = problems(doc)
    if found:
        return Result(
            doc.get("name", path) if isinstance(doc, dict) else path,
            path,
            False,
            Difference(0, None, "a valid scenario file", "; ".join(found[:5])).as_dict(),
        )
    with sandbox.fresh() as session:
        current = _Run(sandbox, session, process_key, doc)
        steps_run, difference = 0, None
        try:
            if doc.get("start_at"):
                sandbox.clock.set(_start_at(doc["start_at"], sandbox.start_at))
            current.start()
            for index, spec in enumerate(doc["steps"], start=1):
                current.step(index, spec)
                steps_run = index
            if "expect" in doc:
                current.check(len(doc["steps"]) + 1, doc["expect"], None)
        except Difference as diff:
            difference = diff
        except MutuError as exc:
            difference = Difference(steps_run + 1, None, "the step runs", str(exc))
        return current.result(path, difference, steps_run)


def _start_at(text: str, deployed: datetime) -> datetime:
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise Difference(0, None, "start_at as an ISO date and time", text[:40]) from None
    if when.tzinfo is None or when < deployed or when - deployed > MAX_WAIT:
        raise Difference(0, None, f"start_at with a time zone, from {deployed.date()} on", text[:40])
    return when


def scenario_files(files: dict[str, str], process_key: str) -> dict[str, str]:
    prefix = f"workflows/{process_key}/scenarios/"
    return {p: t for p, t in sorted(files.items()) if p.startswith(prefix) and p.endswith(".json")}


def run_all(sandbox: Sandbox, process_key: str, files: dict[str, str] | None = None) -> list[Result]:
    """Every scenario of ``process_key`` in ``files`` (the sandbox's own by default)."""
    import json

    out = []
    for path, text in scenario_files(files if files is not None else sandbox.files, process_key).items():
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            out.append(Result(path, path, False, Difference(0, None, "a JSON file", exc.msg).as_dict()))
            continue
        out.append(run(sandbox, process_key, doc, path))
    return out
