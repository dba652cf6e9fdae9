"""Asynchronous service tasks: queued by the step that reaches them, called by a worker,
retried with backoff, an incident when the retries are spent, and never called twice."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from engine import case_status
from engine.deploy import SourceFile
from engine.errors import DeployError, ScriptError
from engine.models import AuditEvent, Incident, ServiceJob, Timer
from engine.models_registers import Supplier
from engine.registry import ProcessGlue
from engine.service_jobs import claim_due
from tests.helpers import assert_inbox_matches, open_tasks, task_by_bpmn

ASYNC = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
    id="a_defs" targetNamespace="http://mutu.example/bpmn">
  <bpmn:process id="{key}" name="Asynchronous call" isExecutable="true">
    <bpmn:startEvent id="a_start"><bpmn:outgoing>a1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="fill" name="Fill in"><bpmn:extensionElements><spiffworkflow:properties><spiffworkflow:property name="formJsonSchemaFilename" value="fill.json" /></spiffworkflow:properties></bpmn:extensionElements><bpmn:incoming>a1</bpmn:incoming><bpmn:outgoing>a2</bpmn:outgoing></bpmn:userTask>
    <bpmn:serviceTask id="call" name="Ask the supplier portal">
      <bpmn:extensionElements>
        <spiffworkflow:properties><spiffworkflow:property name="async" value="true" /></spiffworkflow:properties>
        <spiffworkflow:serviceTaskOperator id="{operator}" resultVariable="answer">
          <spiffworkflow:parameters><spiffworkflow:parameter id="name" type="any" value="supplier" /></spiffworkflow:parameters>
          <spiffworkflow:retry retries="2" backoff_base="3" />
        </spiffworkflow:serviceTaskOperator>
      </bpmn:extensionElements>
      <bpmn:incoming>a2</bpmn:incoming><bpmn:outgoing>a3</bpmn:outgoing>
    </bpmn:serviceTask>
    <bpmn:boundaryEvent id="call_late" attachedToRef="call">
      <bpmn:outgoing>a_late</bpmn:outgoing>
      <bpmn:timerEventDefinition><bpmn:timeDuration>"PT1H"</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:userTask id="check" name="Check the answer"><bpmn:incoming>a3</bpmn:incoming><bpmn:outgoing>a4</bpmn:outgoing></bpmn:userTask>
    <bpmn:userTask id="late" name="Chase the portal"><bpmn:incoming>a_late</bpmn:incoming><bpmn:outgoing>a5</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="a_end"><bpmn:incoming>a4</bpmn:incoming><bpmn:incoming>a5</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="a1" sourceRef="a_start" targetRef="fill" />
    <bpmn:sequenceFlow id="a2" sourceRef="fill" targetRef="call" />
    <bpmn:sequenceFlow id="a3" sourceRef="call" targetRef="check" />
    <bpmn:sequenceFlow id="a_late" sourceRef="call_late" targetRef="late" />
    <bpmn:sequenceFlow id="a4" sourceRef="check" targetRef="a_end" />
    <bpmn:sequenceFlow id="a5" sourceRef="late" targetRef="a_end" />
  </bpmn:process>
</bpmn:definitions>
"""


class Portal:
    """An operator that fails its first ``failures`` calls; each call writes a supplier row."""

    def __init__(self, failures: int = 0) -> None:
        self.failures, self.calls = failures, 0

    def __call__(self, binding: Any, params: dict[str, Any]) -> dict[str, Any]:
        self.calls += 1
        row = Supplier(
            name=f"{params['name']} #{self.calls}", approved=False, deliveries=0, updated_at=binding.now
        )
        binding.session.add(row)
        binding.session.flush()
        if self.calls <= self.failures:
            raise ScriptError(f"the portal did not answer (call {self.calls})")
        return {"price": 1200, "call": self.calls}


FILL = {"type": "object", "properties": {"supplier": {"type": "string"}}}


def deploy_async(session, engine, portal: Portal, mark: bool = True) -> None:  # type: ignore[no-untyped-def]
    engine.services.operators["portal_price"] = portal
    engine.registry.add(ProcessGlue(key="async_call", forms={"fill.json": FILL}))
    xml = ASYNC.format(key="async_call", operator="portal_price")
    if not mark:
        xml = xml.replace('<spiffworkflow:property name="async" value="true" />', "")
    engine.deploy(session, [SourceFile("async_call.bpmn", xml.encode())])


def start_to_call(session, engine, people):  # type: ignore[no-untyped-def]
    inst = engine.start(session, "async_call", people.qc).instance
    engine.complete(session, task_by_bpmn(session, inst.id, "fill").id, people.qc, {"supplier": "PT Sinar"})
    return inst


def job_of(session, inst) -> ServiceJob:  # type: ignore[no-untyped-def]
    return session.execute(select(ServiceJob).where(ServiceJob.instance_id == inst.id)).scalar_one()


def run_next(session, engine) -> str | None:  # type: ignore[no-untyped-def]
    job = claim_due(session, engine.clock.now(), set())
    return None if job is None else engine.run_service_job(session, job)


def suppliers(session) -> list[str]:  # type: ignore[no-untyped-def]
    return sorted(session.execute(select(Supplier.name)).scalars())


def test_the_step_that_reaches_it_only_queues_it_and_a_worker_completes_it(session, engine, people):
    portal = Portal()
    deploy_async(session, engine, portal)
    inst = start_to_call(session, engine, people)
    job = job_of(session, inst)
    assert (job.status, job.element_id, job.attempts, job.retries, job.backoff_base) == (
        "waiting",
        "call",
        0,
        2,
        3,
    )
    assert portal.calls == 0 and open_tasks(session, inst.id) == []  # the user's step did not wait for it
    assert engine.element_states(inst)["active"] == ["call", "call_late"]
    assert run_next(session, engine) == "done"
    session.refresh(job)
    assert (job.status, job.attempts, portal.calls) == ("done", 1, 1)
    assert [t.bpmn_id for t in open_tasks(session, inst.id)] == ["check"]
    assert_inbox_matches(session, engine, inst)
    workflow = engine._load(inst)
    assert workflow.last_task.data["answer"] == {"price": 1200, "call": 1} or any(
        t.data.get("answer") == {"price": 1200, "call": 1} for t in workflow.get_tasks()
    )
    assert run_next(session, engine) is None  # done: a second run finds nothing to claim
    assert engine.run_service_job(session, job) == "skipped" and portal.calls == 1
    assert session.execute(select(Timer.status).where(Timer.instance_id == inst.id)).scalars().all() == [
        "cancelled"
    ]


def test_a_failing_call_is_retried_with_backoff_then_becomes_an_incident(session, engine, people, clock):
    portal = Portal(failures=3)
    deploy_async(session, engine, portal)
    inst = start_to_call(session, engine, people)
    assert run_next(session, engine) == "retry"
    job = job_of(session, inst)
    assert job.attempts == 1 and job.due_at == clock.now() + timedelta(seconds=3)
    assert "the portal did not answer (call 1)" in job.last_error
    assert suppliers(session) == []  # what the failed call wrote is taken back
    [waits] = [
        w for w in case_status.status_of(session, engine, inst).as_dict()["waiting"] if w["kind"] == "service"
    ]
    assert (waits["bpmn_id"], waits["name"], waits["attempts"]) == ("call", "Ask the supplier portal", 1)
    assert waits["due"] == job.due_at.isoformat() and "call 1" in waits["error"]  # the case says why and when
    assert run_next(session, engine) is None  # not due yet
    clock.advance(timedelta(seconds=3))
    assert run_next(session, engine) == "retry"
    session.refresh(job)
    assert job.due_at == clock.now() + timedelta(seconds=9)  # 3 ** attempts
    clock.advance(timedelta(seconds=9))
    assert run_next(session, engine) == "incident"
    session.refresh(inst)
    session.refresh(job)
    assert inst.status == "incident" and job.status == "failed" and job.attempts == 3
    incident = session.execute(select(Incident).where(Incident.instance_id == inst.id)).scalar_one()
    assert incident.element_id == "call" and "call 3" in incident.message
    assert engine.element_states(inst)["incident"] == ["call"]
    # The manager's retry calls once more, in the retry's own step.
    done = engine.retry(session, inst.id, people.qmr)
    assert done.incident is None and portal.calls == 4
    session.refresh(job)
    assert (job.status, job.attempts) == ("done", 4)
    assert [t.bpmn_id for t in open_tasks(session, inst.id)] == ["check"]
    assert suppliers(session) == ["PT Sinar #4"]  # one call's writes: the one that succeeded
    kinds = [
        e.kind
        for e in session.execute(
            select(AuditEvent).where(AuditEvent.instance_id == inst.id).order_by(AuditEvent.id)
        ).scalars()
    ]
    assert "incident" in kinds and "retried" in kinds


def test_a_boundary_timer_ends_the_wait_and_the_job_is_never_called(session, engine, people, clock):
    portal = Portal()
    deploy_async(session, engine, portal)
    inst = start_to_call(session, engine, people)
    [timer] = session.execute(select(Timer).where(Timer.instance_id == inst.id)).scalars().all()
    clock.advance(timedelta(hours=1, seconds=1))
    assert engine.fire_timer(session, timer.id) is True
    assert [t.bpmn_id for t in open_tasks(session, inst.id)] == ["late"]
    assert run_next(session, engine) == "cancelled" and portal.calls == 0
    assert job_of(session, inst).status == "cancelled"


@pytest.mark.parametrize("action", ["suspend", "cancel"])
def test_a_suspended_case_waits_and_a_cancelled_one_drops_its_job(session, engine, people, clock, action):
    portal = Portal()
    deploy_async(session, engine, portal)
    inst = start_to_call(session, engine, people)
    getattr(engine, action)(session, inst.id, people.qmr)
    outcome = run_next(session, engine)
    assert portal.calls == 0
    if action == "suspend":
        assert outcome == "paused" and job_of(session, inst).due_at > clock.now()
        engine.resume(session, inst.id, people.qmr)
        clock.advance(timedelta(minutes=2))
        assert run_next(session, engine) == "done" and portal.calls == 1
    else:
        assert outcome == "cancelled" and job_of(session, inst).status == "cancelled"


def test_a_service_task_without_the_mark_still_runs_inside_the_step(session, engine, people):
    portal = Portal()
    deploy_async(session, engine, portal, mark=False)
    inst = start_to_call(session, engine, people)
    assert portal.calls == 1 and [t.bpmn_id for t in open_tasks(session, inst.id)] == ["check"]
    assert session.execute(select(ServiceJob)).scalars().all() == []


@pytest.mark.parametrize(
    ("retry", "said"),
    [
        ('retries="-1"', "retry retries must be 0 to 50, not '-1'"),
        ('retries="100000"', "retry retries must be 0 to 50, not '100000'"),
        ('backoff_base="0"', "retry backoff_base must be 1 to 60, not '0'"),
        ('retries="two"', "retry retries must be 0 to 50, not 'two'"),
    ],
)
def test_a_retry_out_of_bounds_is_refused_at_deploy_with_its_element(session, engine, retry, said):
    engine.services.operators["portal_price"] = Portal()
    engine.registry.add(ProcessGlue(key="async_call", forms={"fill.json": FILL}))
    xml = ASYNC.format(key="async_call", operator="portal_price").replace(
        'retries="2" backoff_base="3"', retry
    )
    with pytest.raises(DeployError) as refused:
        engine.deploy(session, [SourceFile("async_call.bpmn", xml.encode())])
    assert [(p.element, p.message) for p in refused.value.problems] == [("call", said)]
