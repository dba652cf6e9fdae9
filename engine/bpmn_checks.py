"""The checks of one BPMN document before it is parsed: ids, timers, conditions, scripts, operators.

Whatever the restricted script language would refuse when a case reaches it is refused here,
at deploy, with the file and element it is in.
"""

from __future__ import annotations

import ast
import re

from lxml import etree
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition

from .errors import Problem
from .scripting import check_expression, check_script

RESERVED_IDS = frozenset({"Start", "End", "Root"})
MAX_ID, MAX_PROCESS_ID, MAX_NAME = 150, 100, 300
FORM_PROPERTY = "formJsonSchemaFilename"
NS = {
    "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
    "spiffworkflow": "http://spiffworkflow.org/bpmn/schema/1.0/core",
}
MAX_RETRIES, MAX_BACKOFF_BASE = 50, 60  # past these a worker would retry a dead call for days
_ISO_LIKE = re.compile(r"^(R\d*/)?P[0-9YMWDTHS.,]+$|^\d{4}-\d{2}-\d{2}", re.IGNORECASE)


def _element_id(node: etree._Element) -> str | None:
    while node is not None:
        if node.get("id"):
            return node.get("id")
        node = node.getparent()
    return None


def check_ids(name: str, root: etree._Element, problems: list[Problem]) -> None:
    seen: set[str] = set()
    for node in root.iter():
        # Only BPMN and DMN elements and their diagram shapes (the OMG's namespaces) carry
        # document ids; an extension's "id"
        # (a SpiffWorkflow service parameter, a Camunda property) is a name of its own.
        if not isinstance(node.tag, str) or "omg.org/spec/" not in (etree.QName(node).namespace or ""):
            continue
        ident = node.get("id")
        if ident is None:
            continue
        if ident in RESERVED_IDS:
            problems.append(
                Problem(
                    name,
                    ident,
                    f"id {ident!r} collides with SpiffWorkflow's internal task names; rename it",
                )
            )
        if ident in seen:
            problems.append(Problem(name, ident, f"duplicate id {ident!r}"))
        seen.add(ident)
        # The inbox, timer and case tables keep ids and names in bounded columns.
        limit = MAX_PROCESS_ID if etree.QName(node).localname == "process" else MAX_ID
        if len(ident) > limit:
            problems.append(Problem(name, ident[:40] + "…", f"an id may have at most {limit} characters"))
        if len(node.get("name") or "") > MAX_NAME:
            problems.append(Problem(name, ident[:40], f"a name may have at most {MAX_NAME} characters"))


def _timer_problem(kind: str, expression: str | None) -> str | None:
    expr = (expression or "").strip()
    if not expr:
        return f"timer {kind} has no expression"
    try:
        tree = ast.parse(expr, mode="eval")
    except SyntaxError:
        if _ISO_LIKE.match(expr):
            return f'timer expression {expr} must be quoted: "{expr}"'
        return f"timer expression {expr!r} is not a valid expression"
    body = tree.body
    if isinstance(body, ast.Name) and _ISO_LIKE.match(expr):
        return f'timer expression {expr} must be quoted: "{expr}"'
    if isinstance(body, ast.Constant):
        if not isinstance(body.value, str):
            return f"timer expression {expr!r} must give ISO 8601 text"
        try:
            if kind == "timeDuration":
                TimerEventDefinition.parse_iso_duration(body.value)
            elif kind == "timeDate":
                TimerEventDefinition.parse_time_or_duration(body.value)
            else:
                TimerEventDefinition.parse_iso_recurring_interval(body.value)
        except Exception:
            return f"timer value {body.value!r} is not a valid ISO 8601 {kind[4:].lower()}"
        return None
    refusal = check_expression(expr)
    return f"timer expression {expr!r}: {refusal}" if refusal else None


def check_bpmn(name: str, root: etree._Element, problems: list[Problem], warnings: list[Problem]) -> None:
    for timer in root.iterfind(".//bpmn:timerEventDefinition", NS):
        owner = _element_id(timer.getparent())
        children = [c for c in timer if isinstance(c.tag, str)]
        if not children:
            problems.append(Problem(name, owner, "timer has no timeDate, timeDuration or timeCycle"))
        for child in children:
            problem = _timer_problem(etree.QName(child).localname, child.text)
            if problem:
                problems.append(Problem(name, owner, problem))
    # Whatever the sandbox would refuse when a case reaches it is refused now, at deploy.
    for cond in root.iterfind(".//bpmn:conditionExpression", NS):
        refusal = check_expression((cond.text or "").strip() or "True")
        if refusal:
            problems.append(Problem(name, _element_id(cond), f"condition: {refusal}"))
    for prop in root.iterfind(".//spiffworkflow:property", NS):
        if prop.get("name") == "due" and prop.get("value"):
            refusal = check_expression(prop.get("value", "").strip())
            if refusal:
                problems.append(Problem(name, _element_id(prop), f"due date expression: {refusal}"))
    scripts = [
        *root.iterfind(".//bpmn:scriptTask/bpmn:script", NS),
        *root.iterfind(".//spiffworkflow:preScript", NS),
        *root.iterfind(".//spiffworkflow:postScript", NS),
    ]
    for script in scripts:
        text = script.text or ""
        try:
            ast.parse(text)
        except SyntaxError as exc:
            problems.append(
                Problem(name, _element_id(script), f"script syntax error line {exc.lineno}: {exc.msg}")
            )
            continue
        refusal = check_script(text)
        if refusal:
            problems.append(Problem(name, _element_id(script), f"script refused: {refusal}"))


def check_services(
    name: str, root: etree._Element, services: frozenset[str], problems: list[Problem]
) -> None:
    for op in root.iterfind(
        ".//bpmn:serviceTask/bpmn:extensionElements/spiffworkflow:serviceTaskOperator", NS
    ):
        if op.get("id") not in services:
            known = ", ".join(sorted(services)) or "none"
            problems.append(
                Problem(
                    name,
                    _element_id(op.getparent()),
                    f"no service operator {op.get('id')!r} (known: {known})",
                )
            )
        retry = op.find("spiffworkflow:retry", NS)
        if retry is not None:
            _check_retry(name, op, retry, problems)


def _check_retry(name: str, op: etree._Element, retry: etree._Element, problems: list[Problem]) -> None:
    """Retries 0..50 and a backoff base 1..60 s; the schema already refuses a non-integer."""
    for attr, low, high in (("retries", 0, MAX_RETRIES), ("backoff_base", 1, MAX_BACKOFF_BASE)):
        raw = retry.get(attr)
        if raw is None:
            continue
        try:
            value = int(raw)
        except ValueError:
            value = low - 1
        if not low <= value <= high:
            why = f"retry {attr} must be {low} to {high}, not {raw!r}"
            problems.append(Problem(name, _element_id(op.getparent()), why))
