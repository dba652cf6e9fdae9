"""SpiffWorkflow glue: safe XML loading, the parser, and a serializer that leaves the spec out.

Instance state is stored without its spec (about a quarter of the size); the spec
objects come from the process version, parsed once per process and cached.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import orjson
from lxml import etree
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.parser.util import full_tag
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter
from SpiffWorkflow.bpmn.specs import BpmnProcessSpec
from SpiffWorkflow.bpmn.util.event import BpmnEvent
from SpiffWorkflow.spiff.parser import VALIDATOR, SpiffBpmnParser
from SpiffWorkflow.spiff.parser.task_spec import ServiceTaskParser
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.spiff.serializer.task_spec import ServiceTaskConverter
from SpiffWorkflow.spiff.specs.defaults import ServiceTask
from SpiffWorkflow.task import Task

from .spiff_ids import CachedIdTaskConverter, task_id

HISTORY = "mutu_history"  # the same key as prune.HISTORY; spiff.py imports no module of ours but spiff_ids

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
DMN_NAMESPACES = {
    "http://www.omg.org/spec/DMN/20151101/dmn.xsd",
    "https://www.omg.org/spec/DMN/20191111/MODEL/",
    "http://www.omg.org/spec/DMN/20180521/MODEL/",
    "https://www.omg.org/spec/DMN/20230324/MODEL/",
}

# Entities off, no network, no DTD loading, no gigantic trees: refuse XXE and entity bombs.
SAFE_XML_PARSER = etree.XMLParser(
    resolve_entities=False,
    no_network=True,
    load_dtd=False,
    dtd_validation=False,
    huge_tree=False,
    remove_blank_text=False,
)


class XmlRefused(ValueError):
    """The bytes are not XML we are willing to read."""

    def __init__(self, message: str, line: int | None = None) -> None:
        self.line = line
        super().__init__(message if line is None else f"{message} (line {line})")


def parse_xml(content: bytes | str) -> etree._Element:
    """Parse untrusted XML; any DOCTYPE is refused, since BPMN and DMN never need one."""
    data = content.encode("utf-8") if isinstance(content, str) else content
    head = data[:4096].lower()
    if b"<!doctype" in head or b"<!entity" in data.lower():
        raise XmlRefused("DOCTYPE and ENTITY declarations are not allowed")
    try:
        root = etree.fromstring(data, parser=SAFE_XML_PARSER)
    except etree.XMLSyntaxError as exc:
        message = re.sub(r"(,? line \d+)*(, column \d+)?$", "", exc.msg.strip())
        raise XmlRefused(f"not well-formed XML: {message}", exc.lineno) from None
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise XmlRefused("DOCTYPE and ENTITY declarations are not allowed")
    return root


def bpmn_roots(files: dict[str, str]) -> Iterator[tuple[str, etree._Element]]:
    """(path, parsed root) of each BPMN file of a bundle that parses; the draft check reports the rest."""
    for path, text in files.items():
        if not path.endswith(".bpmn"):
            continue
        try:
            yield path, parse_xml(text)
        except XmlRefused:
            continue


def document_kind(root: etree._Element) -> str | None:
    """Return 'bpmn', 'dmn' or None for an unknown document."""
    qname = etree.QName(root)
    if qname.localname != "definitions":
        return None
    if qname.namespace == BPMN_NS:
        return "bpmn"
    if qname.namespace in DMN_NAMESPACES:
        return "dmn"
    return None


class DeferredServiceTask(ServiceTask):
    """A service task the diagram marks asynchronous (property ``async`` = ``true``).

    It waits, STARTED, instead of calling its operator inside the step that reached it; a
    worker calls the operator later, retried with backoff (``spiffworkflow:retry``), and
    completes it in a step of its own (``engine.service_jobs``).
    """

    def _execute(self, task: Any) -> bool | None:
        return None


class _ServiceTaskParser(ServiceTaskParser):
    def create_task(self) -> ServiceTask:
        properties = self.parse_extensions().get("properties") or {}
        if str(properties.get("async", "")).strip().lower() in ("true", "yes", "1"):
            self.spec_class = DeferredServiceTask
        return super().create_task()


class MutuParser(SpiffBpmnParser):
    OVERRIDE_PARSER_CLASSES = {
        **SpiffBpmnParser.OVERRIDE_PARSER_CLASSES,
        full_tag("serviceTask"): (_ServiceTaskParser, ServiceTask),
    }


def new_parser() -> SpiffBpmnParser:
    return MutuParser(validator=VALIDATOR)


class _StatelessSpecConverter(BpmnWorkflowConverter):
    """Leave ``spec`` and ``subprocess_specs`` out of the dict; take them as arguments back."""

    def to_dict(self, workflow: BpmnWorkflow) -> dict[str, Any]:  # type: ignore[override]
        dct = super(BpmnWorkflowConverter, self).to_dict(workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(  # type: ignore[override]
        self,
        dct: dict[str, Any],
        spec: BpmnProcessSpec | None = None,
        subprocess_specs: dict[str, BpmnProcessSpec] | None = None,
        **_: Any,
    ) -> BpmnWorkflow:
        if spec is None:
            return super().from_dict(dct)
        workflow = self.target_class(spec, subprocess_specs or {}, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], task_id, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(task_id(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


def _make_serializer(stateless: bool) -> BpmnWorkflowSerializer:
    config = dict(SPIFF_CONFIG)
    config[DeferredServiceTask] = ServiceTaskConverter
    config[Task] = CachedIdTaskConverter
    if stateless:
        config[BpmnWorkflow] = _StatelessSpecConverter
    registry = BpmnWorkflowSerializer.configure(config)
    return BpmnWorkflowSerializer(registry)


FULL_SERIALIZER = _make_serializer(stateless=False)
STATE_SERIALIZER = _make_serializer(stateless=True)
SERIALIZER_VERSION = STATE_SERIALIZER.VERSION


def spec_to_json(spec: BpmnProcessSpec, subprocess_specs: dict[str, BpmnProcessSpec]) -> str:
    """Serialize a process spec and the specs it calls, canonically (sorted keys)."""
    dct = {
        "spec": FULL_SERIALIZER.to_dict(spec),
        "subprocess_specs": {k: FULL_SERIALIZER.to_dict(v) for k, v in subprocess_specs.items()},
    }
    return json.dumps(dct, sort_keys=True, separators=(",", ":"))


def spec_from_json(text: str) -> tuple[BpmnProcessSpec, dict[str, BpmnProcessSpec]]:
    dct = json.loads(text)
    spec = FULL_SERIALIZER.from_dict(dct["spec"])
    subs = {k: FULL_SERIALIZER.from_dict(v) for k, v in dct["subprocess_specs"].items()}
    return spec, subs


def dump_state(workflow: BpmnWorkflow) -> str:
    """Serialize instance state without its spec, as compact JSON."""
    registry = STATE_SERIALIZER.registry
    registry._encoder_mode = True
    try:
        dct = STATE_SERIALIZER.to_dict(workflow)
        past = getattr(workflow, HISTORY, None)
        if past:  # what compaction dropped from the tree (see ``prune``)
            dct[HISTORY] = past
        return _encode(dct)
    finally:
        registry._encoder_mode = False


# orjson writes the state in a tenth of the time the json module takes. It hands dates,
# dataclasses and subclasses of built-in types to SpiffWorkflow's encoder (``default``), as
# the json module does; whatever else it cannot write exactly so (keys that are not strings,
# integers beyond 64 bits) goes to the json module, which writes it as before. A NaN in case
# data is written as null (JSON has no NaN); one the json module wrote earlier reads back.
_STATE_ENCODER = STATE_SERIALIZER._encoder_cls(separators=(",", ":"))
_ORJSON_OPTIONS = (
    orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_SUBCLASS
)


def _encode(dct: dict[str, Any]) -> str:
    try:
        return orjson.dumps(dct, default=_STATE_ENCODER.default, option=_ORJSON_OPTIONS).decode()
    except TypeError:  # orjson's JSONEncodeError is one too
        return _STATE_ENCODER.encode(dct)


def _decode(text: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:  # NaN, or an integer beyond 64 bits, that the json module wrote
        return json.loads(text)


def load_state(
    text: str,
    serializer_version: str,
    spec: BpmnProcessSpec,
    subprocess_specs: dict[str, BpmnProcessSpec],
) -> BpmnWorkflow:
    """Restore an instance from state JSON and the version's cached spec objects."""
    dct = _decode(text)
    past = dct.pop(HISTORY, None)
    if serializer_version != SERIALIZER_VERSION:
        dct[STATE_SERIALIZER.VERSION_KEY] = serializer_version
        STATE_SERIALIZER.migrate(dct)
    workflow = STATE_SERIALIZER.from_dict(dct, spec=spec, subprocess_specs=subprocess_specs)
    if past:
        setattr(workflow, HISTORY, past)
    return workflow


def dump_event(event: Any) -> str:
    """A thrown BpmnEvent as JSON, as SpiffWorkflow writes a workflow's pending events."""
    return json.dumps(STATE_SERIALIZER.registry.convert(event), separators=(",", ":"))


def load_event(text: str) -> Any:
    """The event back; a ValueError or TypeError when the text is not one SpiffWorkflow wrote."""
    event = STATE_SERIALIZER.registry.restore(json.loads(text))
    if not isinstance(event, BpmnEvent):
        raise TypeError(f"not a BPMN event: {type(event).__name__}")
    return event
