"""Script tasks, conditions, timer and DMN expressions, run in a restricted environment.

SpiffWorkflow's default engine is plain ``exec``/``eval``: a diagram could ``import os``.
Ours compiles with RestrictedPython (no imports, no dunder or underscore names, no
``open``/``eval``/``exec``), gives only a short list of builtins, and stops any script
that runs longer than its time limit.
"""

from __future__ import annotations

import ast
import builtins
import functools
import operator
import sys
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from types import CodeType, ModuleType
from typing import Any

from RestrictedPython import compile_restricted_eval, compile_restricted_exec, safe_builtins
from RestrictedPython.Eval import default_guarded_getitem, default_guarded_getiter
from RestrictedPython.Guards import (
    full_write_guard,
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    safer_getattr,
)
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment

from .clock import Clock, SystemClock
from .errors import ScriptError

SCRIPT_FILENAME = "<mutu-script>"
MAX_RANGE = 100_000


class ScriptTimeout(BaseException):
    """Raised inside a script past its deadline; a BaseException so ``except Exception`` can't eat it."""


_INPLACE = {
    "+=": operator.iadd,
    "-=": operator.isub,
    "*=": operator.imul,
    "/=": operator.itruediv,
    "//=": operator.ifloordiv,
    "%=": operator.imod,
    "|=": operator.ior,
    "&=": operator.iand,
}


def _inplacevar(op: str, x: Any, y: Any) -> Any:
    fn = _INPLACE.get(op)
    if fn is None:
        raise ScriptError(f"operator {op} is not allowed in scripts")
    return fn(x, y)


def _limited_range(*args: int) -> range:
    result = range(*args)
    if len(result) > MAX_RANGE:
        raise ScriptError(f"range of more than {MAX_RANGE} items")
    return result


def _safe_pow(base: Any, exp: Any) -> Any:
    if isinstance(exp, int | float) and abs(exp) > 1000:
        raise ScriptError("exponent too large")
    return base**exp


_EXTRA_BUILTINS: dict[str, Any] = {
    name: getattr(builtins, name)
    for name in (
        "min",
        "max",
        "sum",
        "any",
        "all",
        "sorted",
        "reversed",
        "enumerate",
        "dict",
        "list",
        "map",
        "filter",
        "round",
        "abs",
    )
}
_BUILTINS = {**safe_builtins, **_EXTRA_BUILTINS}
_BUILTINS["range"] = _limited_range
for _name in ("compile", "__import__", "open", "eval", "exec", "getattr", "setattr", "delattr"):
    _BUILTINS.pop(_name, None)


class _Refuser(ast.NodeVisitor):
    """Give a plain reason for what RestrictedPython would refuse less clearly."""

    def visit_Import(self, node: ast.AST) -> None:
        raise ScriptError("import is not allowed in scripts")

    visit_ImportFrom = visit_Import

    def visit_Pow(self, node: ast.AST) -> None:  # rewritten to _safe_pow by _PowRewriter
        return None


class _PowRewriter(ast.NodeTransformer):
    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        self.generic_visit(node)
        if isinstance(node.op, ast.Pow):
            call = ast.Call(
                func=ast.Name(id="mutu_pow", ctx=ast.Load()),
                args=[node.left, node.right],
                keywords=[],
            )
            return ast.copy_location(call, node)
        return node


@functools.lru_cache(maxsize=4096)
def _compile(source: str, mode: str) -> CodeType:
    try:
        tree = ast.parse(source, mode=mode)
    except SyntaxError as exc:
        raise ScriptError(f"syntax error on line {exc.lineno}: {exc.msg}") from None
    _Refuser().visit(tree)
    tree = ast.fix_missing_locations(_PowRewriter().visit(tree))
    compiler = compile_restricted_exec if mode == "exec" else compile_restricted_eval
    result = compiler(tree, filename=SCRIPT_FILENAME)
    if result.errors:
        raise ScriptError("; ".join(result.errors))
    assert result.code is not None
    return result.code


def check_expression(source: str, mode: str = "eval") -> str | None:
    """Return why ``source`` would be refused as an expression, or None when it compiles."""
    try:
        _compile(source, mode)
    except ScriptError as exc:
        return str(exc)
    return None


def check_script(source: str) -> str | None:
    """Return why a script task's code would be refused, or None."""
    return check_expression(source, "exec")


class RestrictedEnvironment(BasePythonScriptEngineEnvironment):
    """A SpiffWorkflow script environment whose code cannot leave its sandbox."""

    def __init__(self, clock: Clock | None = None, timeout_seconds: float = 2.0) -> None:
        self.clock = clock or SystemClock()
        self.timeout_seconds = timeout_seconds
        super().__init__(self._helpers())

    def _helpers(self) -> dict[str, Any]:
        return {
            "now": lambda: self.clock.now(),
            "today": lambda: self.clock.now().date(),
            "timedelta": timedelta,
            "date": date,
            "datetime": datetime,
        }

    def _globals(self, external: dict[str, Any] | None) -> dict[str, Any]:
        env: dict[str, Any] = {
            "__builtins__": _BUILTINS,
            "_getattr_": safer_getattr,
            "_getitem_": default_guarded_getitem,
            "_getiter_": default_guarded_getiter,
            "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
            "_unpack_sequence_": guarded_unpack_sequence,
            "_write_": full_write_guard,
            "_inplacevar_": _inplacevar,
            "mutu_pow": _safe_pow,
        }
        env.update(self.globals)
        env.update(external or {})
        return env

    def evaluate(self, expression: str, context: dict[str, Any], external_context: dict | None = None) -> Any:
        code = _compile(expression.strip(), "eval")
        env = self._globals(external_context)
        env.update(context)
        return self._run(lambda: eval(code, env))  # noqa: S307 - restricted code object

    def execute(self, script: str, context: dict[str, Any], external_context: dict | None = None) -> bool:
        code = _compile(script, "exec")
        env = self._globals(external_context)
        injected = dict(env)
        env.update(context)
        self._run(lambda: exec(code, env))  # noqa: S102 - restricted code object
        for key in list(context):
            if key not in env:
                del context[key]
        for key, value in env.items():
            if key.startswith("_") or (key in injected and injected[key] is value):
                continue
            if callable(value) or isinstance(value, ModuleType):
                continue
            context[key] = value
        return True

    def call_service(self, context: dict[str, Any], **kwargs: Any) -> Any:
        raise ScriptError("service tasks are not enabled in Mutu")

    def _run(self, fn: Callable[[], Any]) -> Any:
        deadline = time.monotonic() + self.timeout_seconds
        previous = sys.gettrace()

        def local_trace(frame, event, arg):  # type: ignore[no-untyped-def]
            if time.monotonic() > deadline:
                raise ScriptTimeout(f"script ran longer than {self.timeout_seconds:g} s")
            return local_trace

        def global_trace(frame, event, arg):  # type: ignore[no-untyped-def]
            if frame.f_code.co_filename == SCRIPT_FILENAME:
                # Per-opcode events: `while True: pass` emits no line events on 3.11.
                frame.f_trace_opcodes = True
                return local_trace(frame, event, arg)
            return None

        sys.settrace(global_trace)
        try:
            return fn()
        except ScriptTimeout as exc:
            raise ScriptError(str(exc)) from None
        finally:
            sys.settrace(previous)


class RestrictedScriptEngine(PythonScriptEngine):
    """PythonScriptEngine over RestrictedEnvironment; service tasks go to our operator registry."""

    def __init__(
        self, clock: Clock | None = None, timeout_seconds: float = 2.0, services: Any = None
    ) -> None:
        super().__init__(environment=RestrictedEnvironment(clock, timeout_seconds))
        self.services = services

    def validate(self, expression: str) -> None:
        ast.parse(expression)

    def call_service(self, task, operation_name=None, operation_params=None, **kwargs):  # type: ignore[no-untyped-def]
        if self.services is None:
            raise ScriptError("service tasks are not enabled in Mutu")
        try:
            return self.services.call(operation_name, operation_params or {})
        except ScriptError as exc:
            # Name the element, as script tasks do: the incident shows where it failed.
            raise WorkflowTaskException(str(exc), task=task, exception=exc) from exc
