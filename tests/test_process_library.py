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


def _layout(path):  # type: ignore[no-untyped-def]
    from lxml import etree

    ns = {
        "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
        "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
        "dc": "http://www.omg.org/spec/DD/20100524/DC",
        "di": "http://www.omg.org/spec/DD/20100524/DI",
    }
    root = etree.parse(str(path)).getroot()
    kinds = {
        e.get("id"): etree.QName(e).localname for e in root.iter() if isinstance(e.tag, str) and e.get("id")
    }

    def bounds(node):  # type: ignore[no-untyped-def]
        return tuple(float(node.get(k)) for k in ("x", "y", "width", "height"))

    shapes, labels, edges = {}, {}, {}
    for shape in root.iterfind(".//bpmndi:BPMNShape", ns):
        element = shape.get("bpmnElement")
        if kinds.get(element) not in ("lane", "participant"):
            shapes[element] = bounds(shape.find("dc:Bounds", ns))
        label = shape.find("bpmndi:BPMNLabel/dc:Bounds", ns)
        if label is not None:
            labels[element] = bounds(label)
    for edge in root.iterfind(".//bpmndi:BPMNEdge", ns):
        element = edge.get("bpmnElement")
        edges[element] = [(float(w.get("x")), float(w.get("y"))) for w in edge.iterfind("di:waypoint", ns)]
        label = edge.find("bpmndi:BPMNLabel/dc:Bounds", ns)
        if label is not None:
            labels[element] = bounds(label)
    named = {e.get("id") for e in root.iter(f"{{{ns['bpmn']}}}sequenceFlow") if e.get("name")}
    flows = {
        e.get("id"): (e.get("sourceRef"), e.get("targetRef"))
        for e in root.iter(f"{{{ns['bpmn']}}}sequenceFlow")
    }
    return shapes, labels, edges, named, flows


def _overlap(a, b) -> bool:  # type: ignore[no-untyped-def]
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


@pytest.mark.parametrize("path", sorted((ROOT / "bpmn").glob("*.bpmn")), ids=lambda p: p.stem)
def test_diagram_labels_sit_clear_of_shapes_and_of_each_other(path):  # type: ignore[no-untyped-def]
    shapes, labels, edges, named, flows = _layout(path)
    problems = [f"flow {f} has a name but no label position" for f in sorted(named - labels.keys())]
    for element, label in labels.items():
        problems += [
            f"label of {element} over {o}" for o, s in shapes.items() if o != element and _overlap(label, s)
        ]
    items = sorted(labels.items())
    for i, (a, box_a) in enumerate(items):
        problems += [
            f"labels of {a} and {b} overlap" for b, box_b in items[i + 1 :] if _overlap(box_a, box_b)
        ]
    for flow, points in edges.items():  # a straight flow never runs through a shape between its ends
        if len(points) == 2 and flow in flows:
            (x0, y0), (x1, y1) = points
            line = (min(x0, x1), min(y0, y1) - 0.5, abs(x1 - x0) or 1, abs(y1 - y0) or 1)
            problems += [
                f"flow {flow} runs through {o}"
                for o, s in shapes.items()
                if o not in flows[flow] and _overlap(line, s)
            ]
    assert problems == []
