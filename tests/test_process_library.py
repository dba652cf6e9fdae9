"""The process library in bpmn/: deploys without warnings, and bpmn-js finds every shape and edge."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from engine.deploy import read_sources
from engine.registry import load_registry
from engine.runtime import ProcessEngine

ROOT = Path(__file__).resolve().parent.parent
NS = {
    "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
    "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
}
FLOW_NODES = (
    "startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent", "task",
    "userTask", "manualTask", "scriptTask", "serviceTask", "sendTask", "receiveTask", "businessRuleTask",
    "callActivity", "subProcess", "exclusiveGateway", "parallelGateway", "inclusiveGateway", "eventBasedGateway",
)  # fmt: skip
LIBRARY = sorted((ROOT / "bpmn").glob("*.bpmn"))
EXPECTED = {
    "nonconformity",
    "requirement_change",
    "supplier_procurement",
    "supplier_reevaluation",
    "release_monitoring",
    "process_change",
}


def test_the_whole_library_deploys_without_problems_or_warnings(session, clock):
    engine = ProcessEngine(load_registry(ROOT / "workflows"), clock)
    result = engine.deploy(session, read_sources([ROOT / "bpmn"], 5_000_000))
    assert {v.process_key for v in result.created} == EXPECTED
    assert result.warnings == []


@pytest.mark.parametrize("path", LIBRARY, ids=[p.stem for p in LIBRARY])
def test_every_element_has_a_shape_or_edge(path):
    root = etree.parse(str(path)).getroot()
    needs_shape = {
        el.get("id")
        for kind in (*FLOW_NODES, "lane", "participant")
        for el in root.iterfind(f".//bpmn:{kind}", NS)
    }
    needs_edge = {el.get("id") for el in root.iterfind(".//bpmn:sequenceFlow", NS)}
    shapes = {el.get("bpmnElement") for el in root.iterfind(".//bpmndi:BPMNShape", NS)}
    edges = {el.get("bpmnElement") for el in root.iterfind(".//bpmndi:BPMNEdge", NS)}
    assert needs_shape - shapes == set(), "flow nodes without a shape"
    assert needs_edge - edges == set(), "sequence flows without an edge"
    for edge in root.iterfind(".//bpmndi:BPMNEdge", NS):
        assert len(edge.findall("{http://www.omg.org/spec/DD/20100524/DI}waypoint")) >= 2


@pytest.mark.parametrize("path", LIBRARY, ids=[p.stem for p in LIBRARY])
def test_every_task_is_named_and_in_a_mapped_lane(path):
    root = etree.parse(str(path)).getroot()
    process = root.find(".//bpmn:process", NS)
    assert process.find("bpmn:documentation", NS) is not None, "the process documents itself in English"
    in_lane = {ref.text for ref in root.iterfind(".//bpmn:flowNodeRef", NS)}
    for kind in ("userTask", "manualTask", "scriptTask", "businessRuleTask", "sendTask"):
        for el in root.iterfind(f".//bpmn:{kind}", NS):
            assert el.get("name"), f"{el.get('id')} has no name"
            assert el.get("id") in in_lane, f"{el.get('id')} is in no lane"
