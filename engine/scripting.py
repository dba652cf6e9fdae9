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
# One operation may not build more than this: Python cannot stop a single C-level operation
# (a huge power, a huge repetition) once it has begun, so its size is checked before.
MAX_INT_BITS = 100_000  # about 30,000 decimal digits
MAX_ITEMS = 1_000_000  # characters of a string, items of a list or tuple
# Why some refused names are refused, said with the refusal.
_WHY_REFUSED = {
    "print": ": a script has no console; set a variable instead, and the case's data and history show it",
    "open": ": scripts cannot read or write files",
}
# Builtins a script cannot have: refused when the diagram is deployed, not when a case runs.
REFUSED_NAMES = frozenset(
    {
        "print",
        "open",
        "compile",
        "eval",
        "exec",
        "getattr",
        "setattr",
        "delattr",
        "globals",
        "locals",
        "vars",
        "input",
        "breakpoint",
        "help",
        "exit",
        "quit",
        "memoryview",
        "BaseException",
        "SystemExit",
        "KeyboardInterrupt",
        "GeneratorExit",
    }
)


class ScriptTimeout(BaseException):
    """Raised inside a script past its deadline; a BaseException so ``except Exception`` can't eat it."""


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _sized(value: Any) -> bool:
    return isinstance(value, str | bytes | list | tuple)


def _too_big(what: str) -> ScriptError:
    return ScriptError(f"{what} would be too large (more than {MAX_ITEMS:,} items or {MAX_INT_BITS:,} bits)")


def _safe_mul(a: Any, b: Any) -> Any:
    if _is_int(a) and _is_int(b):
        if a.bit_length() + b.bit_length() > MAX_INT_BITS:
            raise _too_big("a product")
    elif _sized(a) and _is_int(b) or _sized(b) and _is_int(a):
        seq, times = (a, b) if _sized(a) else (b, a)
        if len(seq) * max(times, 0) > MAX_ITEMS:
            raise _too_big("a repetition")
    return a * b


def _safe_add(a: Any, b: Any) -> Any:
    if _sized(a) and _sized(b) and len(a) + len(b) > MAX_ITEMS:
        raise _too_big("a concatenation")
    return a + b


def _safe_lshift(a: Any, b: Any) -> Any:
    if _is_int(a) and _is_int(b) and b > 0 and a.bit_length() + b > MAX_INT_BITS:
        raise _too_big("a shift")
    return a << b


def _safe_pow(base: Any, exp: Any, mod: Any = None) -> Any:
    if mod is not None:
        return pow(base, exp, mod)  # modular powers stay as small as the modulus
    if (
        _is_int(base)
        and _is_int(exp)
        and exp > 0
        and abs(base) > 1
        and base.bit_length() * exp > MAX_INT_BITS
    ):
        raise _too_big("a power")
    return base**exp


def _safe_sum(values: Any, start: Any = 0) -> Any:
    if not isinstance(start, int | float):
        raise ScriptError("sum() adds numbers; join lists or strings another way")
    return sum(values, start)


_BINOPS: dict[type[ast.operator], str] = {
    ast.Mult: "mutu_mul",
    ast.Add: "mutu_add",
    ast.LShift: "mutu_lshift",
    ast.Pow: "mutu_pow",
}
_GUARDS: dict[str, Callable[[Any, Any], Any]] = {
    "mutu_mul": _safe_mul,
    "mutu_add": _safe_add,
    "mutu_lshift": _safe_lshift,
    "mutu_pow": _safe_pow,
}

_INPLACE = {
    "+=": _safe_add,
    "-=": operator.isub,
    "*=": _safe_mul,
    "/=": operator.itruediv,
    "//=": operator.ifloordiv,
    "%=": operator.imod,
    "|=": operator.ior,
    "&=": operator.iand,
    "**=": _safe_pow,
    "<<=": _safe_lshift,
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
_BUILTINS["pow"] = _safe_pow
_BUILTINS["sum"] = _safe_sum
for _name in ("__import__", *REFUSED_NAMES):
    _BUILTINS.pop(_name, None)


class _Refuser(ast.NodeVisitor):
    """Give a plain reason for what RestrictedPython would refuse less clearly."""

    def visit_Import(self, node: ast.AST) -> None:
        raise ScriptError("import is not allowed in scripts")

    visit_ImportFrom = visit_Import

    def visit_Name(self, node: ast.Name) -> None:
        if node.id in REFUSED_NAMES:
            why = _WHY_REFUSED.get(node.id, "")
            raise ScriptError(f"{node.id!r} is not available in scripts{why}")
        if node.id.startswith("mutu_"):
            raise ScriptError(f"names starting with 'mutu_' are reserved ({node.id!r})")

    def visit_BinOp(self, node: ast.BinOp) -> None:
        self.generic_visit(node)
        _fold(node)  # constants too large are refused now, at deploy


def _fold(node: ast.AST) -> Any:
    """The value of a constant expression, checked by the same guards; None when not constant."""
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float | str):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = _fold(node.operand)
        return -inner if isinstance(inner, int | float) else None
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        left, right = _fold(node.left), _fold(node.right)
        if left is None or right is None:
            return None
        try:
            return _GUARDS[_BINOPS[type(node.op)]](left, right)
        except (ArithmeticError, TypeError, ValueError):
            return None
    return None


class _GuardRewriter(ast.NodeTransformer):
    """``a * b``, ``a + b``, ``a << b`` and ``a ** b`` become calls that check sizes first."""

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        self.generic_visit(node)
        guard = _BINOPS.get(type(node.op))
        if guard is None:
            return node
        call = ast.Call(func=ast.Name(id=guard, ctx=ast.Load()), args=[node.left, node.right], keywords=[])
        return ast.copy_location(call, node)


@functools.lru_cache(maxsize=4096)
def _compile(source: str, mode: str) -> CodeType:
    try:
        tree = ast.parse(source, mode=mode)
    except SyntaxError as exc:
        raise ScriptError(f"syntax error on line {exc.lineno}: {exc.msg}") from None
    _Refuser().visit(tree)
    tree = ast.fix_missing_locations(_GuardRewriter().visit(tree))
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
            **_GUARDS,
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
        except MemoryError:
            raise ScriptError("the script needed more memory than a step may use") from None
        except RecursionError:
            raise ScriptError("the script recursed too deeply") from None
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
