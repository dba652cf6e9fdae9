"""Deploy: versions, immutability, and refusals with clear reasons."""

from __future__ import annotations

import pytest

from engine.deploy import SourceFile
from engine.errors import DeployError
from tests.conftest import review_files, source
from tests.helpers import task_by_bpmn

MINI = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
    id="mini_defs" targetNamespace="http://mutu.example/bpmn">
  <bpmn:process id="{pid}" name="Mini" isExecutable="{executable}">
    <bpmn:startEvent id="{start_id}"><bpmn:outgoing>m1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="{task_id}" name="{task_name}">{task_ext}
      <bpmn:incoming>m1</bpmn:incoming><bpmn:outgoing>m2</bpmn:outgoing>
    </bpmn:userTask>{extra}
    <bpmn:endEvent id="mini_end"><bpmn:incoming>m2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="m1" sourceRef="{start_id}" targetRef="{task_id}" />
    <bpmn:sequenceFlow id="m2" sourceRef="{task_id}" targetRef="mini_end" />
  </bpmn:process>
</bpmn:definitions>
"""


def mini(name="mini.bpmn", **kw) -> SourceFile:
    values = {
        "pid": "mini",
        "executable": "true",
        "start_id": "mini_start",
        "task_id": "mini_task",
        "task_name": "Do it",
        "task_ext": "",
        "extra": "",
    }
    values.update(kw)
    return SourceFile(name, MINI.format(**values).encode())


def problems_of(session, engine, *files) -> list[str]:
    with pytest.raises(DeployError) as info:
        engine.deploy(session, list(files))
    return [str(p) for p in info.value.problems]


def test_identical_content_is_the_same_version_and_changes_make_a_new_one(session, engine):
    first = engine.deploy(session, [mini()])
    assert [(v.process_key, v.version) for v in first.created] == [("mini", 1)]
    again = engine.deploy(session, [mini()])
    assert again.created == [] and [v.version for v in again.unchanged] == [1]
    changed = engine.deploy(session, [mini(task_name="Do it now")])
    assert [v.version for v in changed.created] == [2]
    assert first.created[0].spec_json != changed.created[0].spec_json


def test_running_instance_keeps_its_version(session, engine, people):
    engine.deploy(session, [mini()])
    old = engine.start(session, "mini", people.qc).instance
    engine.deploy(session, [mini(task_name="Renamed")])
    new = engine.start(session, "mini", people.qc).instance
    assert old.process_version.version == 1 and new.process_version.version == 2
    # The old instance still runs on version 1 and completes there.
    task = task_by_bpmn(session, old.id, "mini_task")
    assert task.name == "Do it"
    assert engine.complete(session, task.id, people.qc, {}).instance.status == "completed"
    assert task_by_bpmn(session, new.id, "mini_task").name == "Renamed"


def test_task_without_lane_goes_to_the_starter(session, engine, people):
    engine.deploy(session, [mini()])
    inst = engine.start(session, "mini", people.qc).instance
    task = task_by_bpmn(session, inst.id, "mini_task")
    assert task.lane is None and task.assignee_id == people.qc.id


def test_not_xml_is_refused(session, engine):
    assert problems_of(session, engine, SourceFile("bad.bpmn", b"this is not <xml")) == [
        "bad.bpmn: not well-formed XML: Start tag expected, '<' not found (line 1)"
    ]


def test_entity_bomb_is_refused(session, engine):
    bomb = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL">&lol3;</bpmn:definitions>"""
    assert problems_of(session, engine, SourceFile("bomb.bpmn", bomb)) == [
        "bomb.bpmn: DOCTYPE and ENTITY declarations are not allowed"
    ]


def test_external_entity_is_refused(session, engine):
    xxe = b"""<?xml version="1.0"?>
<!DOCTYPE d [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL">&xxe;</bpmn:definitions>"""
    problems = problems_of(session, engine, SourceFile("xxe.bpmn", xxe))
    assert problems == ["xxe.bpmn: DOCTYPE and ENTITY declarations are not allowed"]


def test_reserved_ids_are_refused(session, engine):
    problems = problems_of(session, engine, mini(start_id="Start", task_id="End"))
    assert any("[Start]" in p and "internal task names" in p for p in problems)
    assert any("[End]" in p for p in problems)


def test_duplicate_ids_are_refused(session, engine):
    dup = mini(extra='\n    <bpmn:task id="mini_task" name="again" />')
    assert any("duplicate id 'mini_task'" in p for p in problems_of(session, engine, dup))


def test_ids_of_extension_elements_need_not_be_unique(session, engine):
    """Camunda Modeler writes ``camunda:property id=...`` on many elements; only BPMN ids count."""
    props = (
        '<bpmn:extensionElements xmlns:camunda="http://camunda.org/schema/1.0/bpmn"><camunda:properties>'
        '<camunda:property id="description" name="d" value="x" /></camunda:properties></bpmn:extensionElements>'
    )
    camunda = mini(task_ext=props, extra=f'\n    <bpmn:task id="mini_note" name="note">{props}</bpmn:task>')
    assert [v.process_key for v in engine.deploy(session, [camunda]).created] == ["mini"]


def test_print_in_a_script_is_refused_at_deploy_with_the_reason(session, engine):
    script = (
        '\n    <bpmn:scriptTask id="mini_say" name="Say"><bpmn:script>print("hello")</bpmn:script>'
        "</bpmn:scriptTask>"
    )
    [problem] = [p for p in problems_of(session, engine, mini(extra=script)) if "print" in p]
    assert "[mini_say]" in problem and "set a variable instead" in problem


def test_no_executable_process_is_refused(session, engine):
    problems = problems_of(session, engine, mini(executable="false"))
    assert problems == ['mini.bpmn: no executable process (isExecutable="true")']


def test_unquoted_and_invalid_timer_expressions_are_refused(session, engine):
    timer = """
    <bpmn:boundaryEvent id="late" attachedToRef="mini_task">
      <bpmn:timerEventDefinition id="late_def"><bpmn:timeDuration>{expr}</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>"""
    unquoted = problems_of(session, engine, mini(extra=timer.format(expr="P14D")))
    assert unquoted == ['mini.bpmn [late]: timer expression P14D must be quoted: "P14D"']
    invalid = problems_of(session, engine, mini(extra=timer.format(expr='"fourteen days"')))
    assert invalid == ["mini.bpmn [late]: timer value 'fourteen days' is not a valid ISO 8601 duration"]


def test_missing_form_is_refused(session, engine):
    ext = """
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="formJsonSchemaFilename" value="nope.json" />
      </spiffworkflow:properties></bpmn:extensionElements>"""
    problems = problems_of(session, engine, mini(task_ext=ext))
    assert problems == ["mini.bpmn [mini_task]: form 'nope.json' does not exist in workflows/mini/forms/"]


def test_not_bpmn_is_refused(session, engine):
    problems = problems_of(session, engine, SourceFile("x.bpmn", b"<html><body/></html>"))
    assert problems == ["x.bpmn: not a BPMN 2.0 or DMN definitions document"]


def test_xsd_violations_name_the_line(session, engine):
    bad = MINI.replace("<bpmn:incoming>m1</bpmn:incoming>", "<bpmn:bogus/>")
    problems = problems_of(
        session,
        engine,
        SourceFile(
            "xsd.bpmn",
            bad.format(
                pid="mini", executable="true", start_id="s", task_id="t", task_name="n", task_ext="", extra=""
            ),
        ),
    )
    assert len(problems) == 1 and "xsd.bpmn" in problems[0] and "line" in problems[0]


def test_missing_called_process_is_refused(session, engine):
    files = [f for f in review_files() if f.name != "verification.bpmn"]
    problems = problems_of(session, engine, *files)
    assert any("verification" in p for p in problems)


def test_unmapped_lane_is_a_warning_and_admin_only(session, engine, people):
    lanes = MINI.replace(
        "<bpmn:startEvent",
        '<bpmn:laneSet id="ls"><bpmn:lane id="l1" name="Night shift"><bpmn:flowNodeRef>mini_task</bpmn:flowNodeRef>'
        "</bpmn:lane></bpmn:laneSet>\n    <bpmn:startEvent",
        1,
    )
    src = SourceFile(
        "lanes.bpmn",
        lanes.format(
            pid="mini",
            executable="true",
            start_id="mini_start",
            task_id="mini_task",
            task_name="n",
            task_ext="",
            extra="",
        ).encode(),
    )
    result = engine.deploy(session, [src])
    assert [str(w) for w in result.warnings] == [
        "lanes.bpmn [Night shift]: lane 'Night shift' names no role; its tasks are open to admins only until it is mapped"
    ]
    inst = engine.start(session, "mini", people.qc).instance
    task = task_by_bpmn(session, inst.id, "mini_task")
    assert task.role_key is None
    from engine.errors import NotAuthorized

    with pytest.raises(NotAuthorized, match="maps to no role"):
        engine.complete(session, task.id, people.qc, {})
    engine.complete(session, task.id, people.admin, {})


def test_dmn_and_bpmn_deploy_together(session, engine):
    result = engine.deploy(session, review_files())
    assert sorted(v.process_key for v in result.created) == ["review", "verification"]
    review = next(v for v in result.created if v.process_key == "review")
    assert set(review.source_files) == {"review.bpmn", "verification.bpmn", "severity.dmn"}
    assert review.lane_roles == {
        "Quality Control": "quality_control",
        "QMR": "qmr",
        "Team Leader": "team_leader",
        "Agent": "agent",
        "Verifier": "qmr",
    }
    assert source("review.bpmn").content.decode() == review.source_files["review.bpmn"]


def test_unknown_service_operator_is_refused(session, engine):
    service = """
    <bpmn:serviceTask id="lookup">
      <bpmn:extensionElements><spiffworkflow:serviceTaskOperator id="send_sms" resultVariable="r" /></bpmn:extensionElements>
    </bpmn:serviceTask>"""
    problems = problems_of(session, engine, mini(extra=service))
    assert len(problems) == 1 and problems[0].startswith(
        "mini.bpmn [lookup]: no service operator 'send_sms' (known: supplier_"
    )


OWNED_FORM = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="o_defs" targetNamespace="http://mutu.example/bpmn">
  <bpmn:process id="scripted" name="Owned names" isExecutable="true">
    <bpmn:startEvent id="o_start"><bpmn:outgoing>o1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:scriptTask id="o_calc" name="Calculate"><bpmn:incoming>o1</bpmn:incoming><bpmn:outgoing>o2</bpmn:outgoing>
      <bpmn:script>{script}</bpmn:script></bpmn:scriptTask>
    <bpmn:userTask id="fill" name="Fill in">
      <bpmn:extensionElements><spiffworkflow:properties><spiffworkflow:property name="formJsonSchemaFilename" value="fill.json" /></spiffworkflow:properties></bpmn:extensionElements>
      <bpmn:incoming>o2</bpmn:incoming><bpmn:outgoing>o3</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="o_end"><bpmn:incoming>o3</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="o1" sourceRef="o_start" targetRef="o_calc" />
    <bpmn:sequenceFlow id="o2" sourceRef="o_calc" targetRef="fill" />
    <bpmn:sequenceFlow id="o3" sourceRef="fill" targetRef="o_end" />
  </bpmn:process>
</bpmn:definitions>"""


@pytest.mark.parametrize(
    "field, script, reason",
    [
        ("completed_by", "total = 1", "'completed_by', but the engine writes it"),
        ("lane_owners", "total = 1", "'lane_owners', but the engine writes it"),
        ("case_number", "total = 1", "'case_number', but the engine writes it"),
        ("total", "total = 1", "'total', but o_calc sets it"),
    ],
)
def test_a_form_declaring_a_name_the_engine_or_diagram_writes_is_refused(session, field, script, reason):
    from engine.registry import ProcessGlue, Registry
    from engine.runtime import ProcessEngine

    form = {"type": "object", "properties": {field: {"type": "string"}, "note": {"type": "string"}}}
    registry = Registry()
    registry.add(ProcessGlue(key="scripted", forms={"fill.json": form}))
    engine = ProcessEngine(registry)
    bundle = SourceFile("owned.bpmn", OWNED_FORM.format(script=script).encode())
    with pytest.raises(DeployError) as info:
        engine.deploy(session, [bundle])
    assert [p.element for p in info.value.problems] == ["fill"]
    assert reason in str(info.value) and "rename the field" in str(info.value)


def test_a_script_setting_what_only_the_engine_writes_is_refused(session, engine):
    bundle = SourceFile("owned.bpmn", OWNED_FORM.format(script="completed_by = {}").encode())
    with pytest.raises(DeployError, match="script sets 'completed_by', which only the engine writes"):
        engine.deploy(session, [bundle])


def test_glue_may_not_map_the_case_number(session):
    from engine.registry import ProcessGlue, Registry
    from engine.runtime import ProcessEngine

    registry = Registry()
    form = {"type": "object", "properties": {"note": {"type": "string"}}}
    registry.add(ProcessGlue(key="scripted", forms={"fill.json": form}, case_fields={"number": "note"}))
    bundle = SourceFile("owned.bpmn", OWNED_FORM.format(script="total = 1").encode())
    with pytest.raises(DeployError, match="may not map 'number'"):
        ProcessEngine(registry).deploy(session, [bundle])


def test_ids_and_names_longer_than_their_columns_are_refused(session, engine):
    long_id = "t" + "x" * 160
    bundle = mini(task_id=long_id, task_name="N" * 301)
    problems = problems_of(session, engine, bundle)
    assert any("an id may have at most 150 characters" in p for p in problems)
    assert any("a name may have at most 300 characters" in p for p in problems)
