"""Errors inside the engine become incidents at the last wait state; retry once fixed."""

from __future__ import annotations

from xml.sax.saxutils import escape

import pytest
from sqlalchemy import select

from engine.deploy import SourceFile
from engine.errors import DeployError, InvalidState
from engine.models import AuditEvent, Incident
from tests.helpers import assert_inbox_matches, task_by_bpmn

SCRIPTED = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
    id="s_defs" targetNamespace="http://mutu.example/bpmn">
  <bpmn:process id="scripted" name="Scripted" isExecutable="true">
    <bpmn:startEvent id="s_start"><bpmn:outgoing>s1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="fill" name="Fill in">{form}<bpmn:incoming>s1</bpmn:incoming><bpmn:outgoing>s2</bpmn:outgoing></bpmn:userTask>
    <bpmn:scriptTask id="calc" name="Calculate">
      <bpmn:incoming>s2</bpmn:incoming><bpmn:outgoing>s3</bpmn:outgoing>
      <bpmn:script>{script}</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:exclusiveGateway id="route"><bpmn:incoming>s3</bpmn:incoming>
      <bpmn:outgoing>s_big</bpmn:outgoing><bpmn:outgoing>s_small</bpmn:outgoing></bpmn:exclusiveGateway>
    <bpmn:userTask id="big" name="Big"><bpmn:incoming>s_big</bpmn:incoming><bpmn:outgoing>s4</bpmn:outgoing></bpmn:userTask>
    <bpmn:userTask id="small" name="Small"><bpmn:incoming>s_small</bpmn:incoming><bpmn:outgoing>s5</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="s_end"><bpmn:incoming>s4</bpmn:incoming><bpmn:incoming>s5</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="s1" sourceRef="s_start" targetRef="fill" />
    <bpmn:sequenceFlow id="s2" sourceRef="fill" targetRef="calc" />
    <bpmn:sequenceFlow id="s3" sourceRef="calc" targetRef="route" />
    <bpmn:sequenceFlow id="s_big" sourceRef="route" targetRef="big">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">total &gt; 100</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="s_small" sourceRef="route" targetRef="small">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">total &lt; 10</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="s4" sourceRef="big" targetRef="s_end" />
    <bpmn:sequenceFlow id="s5" sourceRef="small" targetRef="s_end" />
  </bpmn:process>
</bpmn:definitions>
"""


FILL_FORM = (
    "<bpmn:extensionElements><spiffworkflow:properties><spiffworkflow:property "
    'name="formJsonSchemaFilename" value="fill.json" /></spiffworkflow:properties></bpmn:extensionElements>'
)


def deploy_script(session, engine, script: str):
    return engine.deploy(
        session,
        [SourceFile("scripted.bpmn", SCRIPTED.format(script=escape(script), form=FILL_FORM).encode())],
    )


def run_to_script(session, engine, people, script: str, data: dict):
    deploy_script(session, engine, script)
    inst = engine.start(session, "scripted", people.qc).instance
    fill = task_by_bpmn(session, inst.id, "fill")
    result = engine.complete(session, fill.id, people.qc, data)
    return inst, fill, result


@pytest.mark.parametrize(
    "script, expected",
    [
        ("__import__('os').system('true')", '"__import__" is an invalid variable name'),
        ("x = ().__class__.__base__.__subclasses__()", '"__subclasses__" is an invalid attribute name'),
        ("data = open('/etc/passwd').read()", "'open' is not available in scripts"),
        ("import os\ntotal = 1", "import is not allowed"),
        ("total = eval('1 + 1')", "is not available in scripts"),
        ("print(total)", "'print' is not available in scripts"),
        ("raise SystemExit(3)", "'SystemExit' is not available in scripts"),
        ("total = (10**1000)**1000", "a power would be too large"),
        ("total = 'a' * (10000*10000)", "a repetition would be too large"),
    ],
)
def test_script_escapes_are_refused_at_deploy(session, engine, script, expected):
    with pytest.raises(DeployError) as info:
        deploy_script(session, engine, script)
    assert any(expected in str(p) and p.element == "calc" for p in info.value.problems), info.value


@pytest.mark.parametrize(
    "script, amount, expected",
    [
        ("while True:\n    pass", 1, "script ran longer than"),
        ("total = (10**amount)**amount", 1000, "a power would be too large"),
        ("total = len('a' * (amount*amount))", 10000, "a repetition would be too large"),
        ("x = 2\nfor i in range(amount):\n    x = x * x", 100, "a product would be too large"),
        ("total = sum([[1]] * amount, [])", 10, "sum() adds numbers"),
        ("total = len('ab'.ljust(amount ** 3))", 1000, "needed more memory than a step may use"),
    ],
)
def test_runaway_scripts_become_incidents(session, engine, people, script, amount, expected):
    inst, fill, result = run_to_script(session, engine, people, script, {"amount": amount})
    assert result.incident is not None
    assert result.incident.element_id == "calc"
    assert expected in result.incident.message
    assert inst.status == "incident"
    # Rolled back to the last wait state: the user task is still ready and still in the inbox.
    assert task_by_bpmn(session, inst.id, "fill").id == fill.id
    assert_inbox_matches(session, engine, inst)


def test_missing_variable_and_gateway_without_match_are_incidents_and_retry_resolves(session, engine, people):
    inst, fill, result = run_to_script(session, engine, people, "total = amount * 2", {})
    assert "amount" in result.incident.message  # missing variable
    # The user completes again with corrected data: the incident resolves.
    result = engine.complete(session, fill.id, people.qc, {"amount": 20})
    assert result.incident is not None and result.incident.element_id == "route"  # 40: no flow matches
    assert "route" in result.incident.element_id
    result = engine.complete(session, fill.id, people.qc, {"amount": 100})
    assert result.incident is None
    assert inst.status == "running"
    assert task_by_bpmn(session, inst.id, "big")
    open_incidents = session.execute(
        select(Incident).where(Incident.instance_id == inst.id, Incident.resolved_at.is_(None))
    ).all()
    assert open_incidents == []


def test_retry_after_fixing_the_process_version(session, engine, people):
    inst, fill, result = run_to_script(session, engine, people, "total = amount * 2", {"amount": 20})
    assert result.incident.element_id == "route"  # 40 matches no flow
    again = engine.retry(session, inst.id, people.qmr)  # nothing fixed yet: fails the same way
    assert again.incident is not None and inst.status == "incident"
    # The QMR deploys a fixed script, moves the instance to it and retries.
    deploy_script(session, engine, "total = amount * 10")
    engine.migrate(session, inst.id, people.qmr)
    assert inst.process_version.version == 2
    fixed = engine.retry(session, inst.id, people.qmr)
    assert fixed.incident is None and inst.status == "running"
    assert task_by_bpmn(session, inst.id, "big")
    kinds = [
        e.kind for e in session.execute(select(AuditEvent).where(AuditEvent.instance_id == inst.id)).scalars()
    ]
    assert kinds.count("incident") == 2 and kinds.count("retried") == 2 and "migrated" in kinds


def test_migration_refused_when_completed_work_changed(session, engine, people):
    deploy_script(session, engine, "total = 1")
    inst = engine.start(session, "scripted", people.qc).instance
    engine.complete(session, task_by_bpmn(session, inst.id, "fill").id, people.qc, {})
    assert task_by_bpmn(session, inst.id, "small")  # calc ran with total = 1
    deploy_script(session, engine, "total = 2")
    with pytest.raises(InvalidState, match="calc already ran and was changed"):
        engine.migrate(session, inst.id, people.qmr)


def test_retry_without_incident_is_refused(session, engine, people):
    deploy_script(session, engine, "total = 1")
    inst = engine.start(session, "scripted", people.qc).instance
    with pytest.raises(InvalidState, match="no open incident"):
        engine.retry(session, inst.id, people.qmr)


def test_script_results_reach_the_gateway(session, engine, people):
    inst, _fill, result = run_to_script(session, engine, people, "total = sum([amount, 1, 2])", {"amount": 1})
    assert result.incident is None
    assert task_by_bpmn(session, inst.id, "small")


THROWER = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="t_defs" targetNamespace="http://mutu.example/bpmn">
  <bpmn:message id="t_msg" name="{target}" />
  <bpmn:process id="thrower" name="Thrower" isExecutable="true">
    <bpmn:startEvent id="t_start"><bpmn:outgoing>t1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="t_fill" name="Fill">{form}<bpmn:incoming>t1</bpmn:incoming><bpmn:outgoing>t2</bpmn:outgoing></bpmn:userTask>
    <bpmn:sendTask id="t_send" name="Send" messageRef="t_msg">
      <bpmn:extensionElements><spiffworkflow:messagePayload>{{"note": note}}</spiffworkflow:messagePayload></bpmn:extensionElements>
      <bpmn:incoming>t2</bpmn:incoming><bpmn:outgoing>t3</bpmn:outgoing>
    </bpmn:sendTask>
    <bpmn:endEvent id="t_end"><bpmn:incoming>t3</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="t1" sourceRef="t_start" targetRef="t_fill" />
    <bpmn:sequenceFlow id="t2" sourceRef="t_fill" targetRef="t_send" />
    <bpmn:sequenceFlow id="t3" sourceRef="t_send" targetRef="t_end" />
  </bpmn:process>
</bpmn:definitions>
"""


def test_a_message_nobody_receives_is_an_incident_and_starts_nothing(session, engine, people, clock):
    from datetime import timedelta

    from engine import message_jobs
    from engine.models import Incident, ProcessInstance

    engine.deploy(
        session, [SourceFile("thrower.bpmn", THROWER.format(target="ghost", form=FILL_FORM).encode())]
    )
    inst = engine.start(session, "thrower", people.qc).instance
    result = engine.complete(
        session, task_by_bpmn(session, inst.id, "t_fill").id, people.qc, {"note": "hello"}
    )
    assert result.incident is None  # the step sent it; a worker finds nobody receives it
    for _ in range(message_jobs.RETRIES + 1):
        message_jobs.drain(session, engine)
        clock.advance(timedelta(seconds=30))
    [incident] = session.execute(select(Incident).where(Incident.instance_id == inst.id)).scalars()
    assert "no deployed process receives message 'ghost'" in incident.message
    assert (incident.element_id, incident.element_name) == ("t_send", "Send")  # where the diagram marks it
    assert session.execute(select(ProcessInstance.process_key)).scalars().all() == ["thrower"]
    assert session.get(ProcessInstance, inst.id).status == "incident"


def test_a_message_named_after_a_process_starts_it_with_the_payload(session, engine, people):
    from engine import message_jobs
    from engine.models import ProcessInstance
    from tests.test_deploy import mini

    engine.deploy(
        session, [SourceFile("thrower.bpmn", THROWER.format(target="mini", form=FILL_FORM).encode()), mini()]
    )
    inst = engine.start(session, "thrower", people.qc).instance
    result = engine.complete(
        session, task_by_bpmn(session, inst.id, "t_fill").id, people.qc, {"note": "hello"}
    )
    assert result.incident is None and result.instance.status == "completed"
    message_jobs.drain(session, engine)
    [started] = session.execute(
        select(ProcessInstance).where(ProcessInstance.process_key == "mini")
    ).scalars()
    workflow = engine._load(started)
    [task] = [t for t in workflow.get_tasks() if t.task_spec.bpmn_id == "mini_task"]
    assert task.data["note"] == "hello" and task.data["raised_by"] == {
        "process_key": "thrower",
        "instance_id": inst.id,
    }


EARLY = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="e_defs" targetNamespace="http://mutu.example/bpmn">
  <bpmn:process id="early" name="Fails at once" isExecutable="true">
    <bpmn:startEvent id="e_start"><bpmn:outgoing>e1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:scriptTask id="e_calc" name="Calculate"><bpmn:incoming>e1</bpmn:incoming><bpmn:outgoing>e2</bpmn:outgoing>
      <bpmn:script>total = missing + 1</bpmn:script></bpmn:scriptTask>
    <bpmn:userTask id="e_fill" name="Fill in"><bpmn:incoming>e2</bpmn:incoming><bpmn:outgoing>e3</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="e_end"><bpmn:incoming>e3</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="e1" sourceRef="e_start" targetRef="e_calc" />
    <bpmn:sequenceFlow id="e2" sourceRef="e_calc" targetRef="e_fill" />
    <bpmn:sequenceFlow id="e3" sourceRef="e_fill" targetRef="e_end" />
  </bpmn:process>
</bpmn:definitions>"""


def test_a_start_that_fails_at_once_is_still_listed_as_a_case(session, engine, people):
    from engine.models import CaseRecord

    engine.deploy(session, [SourceFile("early.bpmn", EARLY.encode())])
    result = engine.start(session, "early", people.qc, {})
    assert result.incident is not None and result.incident.element_id == "e_calc"
    case = session.get(CaseRecord, result.instance.id)
    assert case is not None and case.status == "incident" and case.process_key == "early"
    result = engine.retry(session, result.instance.id, people.admin)
    assert result.incident is not None  # still failing: the case row is kept, not duplicated
    assert session.get(CaseRecord, result.instance.id).status == "incident"


def test_an_incident_speaks_plainly_and_never_shows_an_object_repr():
    from engine.runtime.writes import _describe

    exc = ValueError("cannot continue <SpiffWorkflow.bpmn.util.event.BpmnEvent object at 0x7f3a2b1c9d50>")
    assert _describe(exc) == "cannot continue BpmnEvent"
