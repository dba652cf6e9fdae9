"""``mutu``: one CLI with a subcommand per role of the process. Each command is one transaction."""

from __future__ import annotations

import functools
import json
import logging
import os
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import click
from sqlalchemy.exc import SQLAlchemyError

from . import audit, inbox, logs, policy, signatures
from .context import Runtime, build_runtime
from .db import session_scope
from .errors import DeployError, MutuError, ValidationFailed
from .identity import create_user, generate_password, get_user
from .migrate import bootstrap, upgrade
from .registry import GlueError
from .settings import Settings, SettingsError


class Ctx:
    def __init__(self) -> None:
        self._runtime: Runtime | None = None

    @property
    def runtime(self) -> Runtime:
        if self._runtime is None:
            self._runtime = build_runtime(Settings.from_env())
        return self._runtime


def _emit(as_json: bool, payload: Any, text: str) -> None:
    click.echo(json.dumps(payload, default=str, indent=None) if as_json else text)


def _fail(as_json: bool, code: str, message: str, extra: dict[str, Any] | None = None) -> None:
    if as_json:
        click.echo(json.dumps({"error": code, "message": message, **(extra or {})}, default=str))
    else:
        click.echo(f"error: {message}", err=True)
    sys.exit(1)


def command(
    group: click.Group, name: str | None = None, help: str | None = None
) -> Callable[[Callable[..., Any]], Any]:
    """A subcommand with ``--json`` that turns engine errors into one line and exit code 1."""

    def wrap(fn: Callable[..., Any]) -> Any:
        @group.command(name, help=help)
        @click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
        @click.pass_obj
        @functools.wraps(fn)
        def run(obj: Ctx, as_json: bool, **kwargs: Any) -> None:
            try:
                fn(obj, as_json, **kwargs)
            except DeployError as exc:
                problems = [str(p) for p in exc.problems]
                _fail(
                    as_json,
                    exc.code,
                    f"deploy refused, {len(problems)} problem(s): " + " | ".join(problems),
                    {"problems": [p.__dict__ for p in exc.problems]},
                )
            except ValidationFailed as exc:
                _fail(as_json, exc.code, str(exc), {"errors": exc.errors})
            except MutuError as exc:
                _fail(as_json, exc.code, str(exc))
            except (SettingsError, GlueError) as exc:
                _fail(as_json, "settings", str(exc))
            except SQLAlchemyError as exc:
                _fail(as_json, "database", f"database error: {str(exc.__cause__ or exc).splitlines()[0]}")

        return run

    return wrap


def _acting(session: Any, username: str) -> Any:
    """The ``--as`` user, who must have accepted the confidentiality statement like on the web."""
    user = get_user(session, username)
    policy.require_statement(session, user)
    return user


def _data(raw: str | None) -> dict[str, Any]:
    if not raw:
        return {}
    if raw.startswith("@"):
        raw = Path(raw[1:]).read_text(encoding="utf-8")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise MutuError(f"--data is not JSON: {exc.msg} at column {exc.colno}") from None
    except RecursionError:
        raise MutuError("--data is nested too deeply") from None
    if not isinstance(value, dict):
        raise MutuError("--data must be a JSON object")
    return value


LONG_RUNNING = frozenset({"scheduler", "serve", "worker"})


@click.group()
@click.pass_context
def main(ctx: click.Context) -> None:
    """Mutu: BPMN processes of the quality system."""
    logs.configure(os.environ.get("MUTU_LOG_FORMAT", "text"))
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    logging.getLogger("spiff").setLevel(logging.WARNING)  # every task state change, at INFO
    if ctx.invoked_subcommand not in LONG_RUNNING:
        # A one-shot command reports what went wrong in its own one line; the engine's log of
        # the same incident would come before it as a second.
        logging.getLogger("engine").setLevel(logging.ERROR)
    ctx.obj = Ctx()


@main.group()
def db() -> None:
    """Database schema."""


@command(db, "upgrade")
def db_upgrade(obj: Ctx, as_json: bool) -> None:
    """Migrate the schema to the newest revision; on an empty database, create roles and admin."""
    rt = obj.runtime
    upgrade(rt.db)
    with session_scope(rt.sessions) as session:
        boot = bootstrap(session, rt.engine.clock, rt.settings.admin_password)
    text = "database is up to date"
    if boot.admin_created:
        text += "; created user 'admin'"
        if boot.admin_password:
            text += f" with password {boot.admin_password} (shown once; change it)"
    _emit(
        as_json,
        {"upgraded": True, "admin_created": boot.admin_created, "admin_password": boot.admin_password},
        text,
    )


@main.group()
def users() -> None:
    """User accounts."""


@command(users, "add")
@click.argument("username")
@click.option("--role", "roles", multiple=True, required=True, help="Role key; repeat for more.")
@click.option("--agent-code", default=None, help="Unique numeric login code (manual 8.5.2).")
@click.option("--online-name", default=None)
@click.option("--full-name", default="")
@click.option("--site", default=None)
@click.option("--email", default=None, help="Address that notifications are mailed to.")
@click.option("--password", default=None, help="Generated and printed once when omitted.")
def users_add(
    obj: Ctx,
    as_json: bool,
    username: str,
    roles: tuple[str, ...],
    agent_code: str | None,
    online_name: str | None,
    full_name: str,
    site: str | None,
    email: str | None,
    password: str | None,
) -> None:
    """Add a user with one or more roles."""
    rt = obj.runtime
    shown = None
    if not password:
        password = shown = generate_password()
    with session_scope(rt.sessions) as session:
        user = create_user(
            session,
            username,
            password,
            roles,
            rt.engine.clock.now(),
            agent_code=agent_code,
            online_name=online_name,
            full_name=full_name,
            site=site,
            email=email,
        )
        payload = {"id": user.id, "username": user.username, "roles": sorted(roles), "password": shown}
    _emit(as_json, payload, f"added {username}" + (f" with password {shown}" if shown else ""))


@command(main, "start")
@click.argument("process_key")
@click.option("--data", default=None, help="JSON object (or @file) with the start data.")
@click.option("--as", "username", required=True)
def start_cmd(obj: Ctx, as_json: bool, process_key: str, data: str | None, username: str) -> None:
    """Start an instance of the newest version of a process."""
    rt = obj.runtime
    with session_scope(rt.sessions) as session:
        actor = _acting(session, username)
        result = rt.engine.start(session, process_key, actor, _data(data))
        payload = _step_payload(result)
    _report_step(as_json, payload, f"started instance {payload['instance_id']}")


def _step_payload(result: Any) -> dict[str, Any]:
    inst = result.instance
    payload: dict[str, Any] = {"instance_id": inst.id, "status": inst.status}
    if result.incident is not None:
        payload["incident"] = {"element_id": result.incident.element_id, "message": result.incident.message}
    if result.new_tasks:
        payload["new_tasks"] = [{"id": t.id, "bpmn_id": t.bpmn_id, "lane": t.lane} for t in result.new_tasks]
    return payload


def _report_step(as_json: bool, payload: dict[str, Any], text: str) -> None:
    incident = payload.get("incident")
    if incident:
        _fail(
            as_json,
            "incident",
            f"instance {payload['instance_id']} has an incident at {incident['element_id'] or 'its start'}: "
            + incident["message"],
            payload,
        )
    _emit(as_json, payload, f"{text} ({payload['status']})")


@command(main, "tasks")
@click.option("--as", "username", required=True)
@click.option("--instance", "instance_id", type=int, default=None)
@click.option("--scope", type=click.Choice(inbox.SCOPES), default="all")
@click.option("--limit", type=int, default=50)
@click.option("--offset", type=int, default=0)
def tasks_cmd(
    obj: Ctx, as_json: bool, username: str, instance_id: int | None, scope: str, limit: int, offset: int
) -> None:
    """List open tasks of a user: claimed by them (mine) and open to their roles (roles)."""
    rt = obj.runtime
    with session_scope(rt.sessions) as session:
        user = _acting(session, username)
        rows = inbox.list_tasks(session, user, scope, instance_id=instance_id, limit=limit, offset=offset)
        payload = [inbox.task_dict(t) for t in rows]
    text = "\n".join(
        f"{t['id']}\t{t['bpmn_id']}\t{t['name']}\tinstance {t['instance_id']}\tlane {t['lane']}"
        + (f"\tdue {t['due_at']}" if t["due_at"] else "")
        for t in payload
    )
    _emit(as_json, payload, text or "no open tasks")


def _task_command(name: str, doc: str, op: str) -> None:
    @command(main, name, help=doc)
    @click.argument("task_id", type=int)
    @click.option("--as", "username", required=True)
    def run(obj: Ctx, as_json: bool, task_id: int, username: str) -> None:
        rt = obj.runtime
        with session_scope(rt.sessions) as session:
            actor = _acting(session, username)
            row = getattr(rt.engine, op)(session, task_id, actor)
            payload = inbox.task_dict(row)
        _emit(as_json, payload, f"{name}ed task {task_id}")


_task_command("claim", "Claim an open task for yourself.", "claim")
_task_command("unclaim", "Give a claimed task back to its role.", "unclaim")


@command(main, "assign")
@click.argument("task_id", type=int)
@click.argument("assignee")
@click.option("--as", "username", required=True)
def assign_cmd(obj: Ctx, as_json: bool, task_id: int, assignee: str, username: str) -> None:
    """Give a task to a named user (admins, QMR, team leaders)."""
    rt = obj.runtime
    with session_scope(rt.sessions) as session:
        row = rt.engine.assign(session, task_id, _acting(session, username), get_user(session, assignee))
        payload = inbox.task_dict(row)
    _emit(as_json, payload, f"assigned task {task_id} to {assignee}")


@command(main, "complete")
@click.argument("task_id", type=int)
@click.option("--data", default=None, help="JSON object (or @file) with the form data.")
@click.option("--as", "username", required=True)
@click.option("--sign", is_flag=True, help="Sign the step (asks for the user's password on stdin).")
def complete_cmd(obj: Ctx, as_json: bool, task_id: int, data: str | None, username: str, sign: bool) -> None:
    """Complete a task with its form data; a step the process marks as signed needs --sign."""
    rt = obj.runtime
    signed = None
    if sign:
        password = click.prompt("password", hide_input=True, err=True)
        window = timedelta(minutes=rt.settings.login_lockout_minutes)
        signed = signatures.confirm_apart(
            rt.sessions, username, password, rt.engine.clock.now(),
            max_failures=rt.settings.login_max_failures, window=window,
        )  # fmt: skip
    with session_scope(rt.sessions) as session:
        actor = _acting(session, username)
        result = rt.engine.complete(session, task_id, actor, _data(data), signature=signed)
        payload = _step_payload(result)
    _report_step(as_json, payload, f"completed task {task_id}")


@main.group()
def instance() -> None:
    """Process instances."""


@command(instance, "show")
@click.argument("instance_id", type=int)
@click.option("--as", "username", required=True, help="Who is looking: case data follows their rights.")
def instance_show(obj: Ctx, as_json: bool, instance_id: int, username: str) -> None:
    """Show an instance: status, case fields, open tasks and incidents."""
    rt = obj.runtime
    with session_scope(rt.sessions) as session:
        policy.check_may_see(session, _acting(session, username), instance_id)
        payload = inbox.instance_view(session, instance_id).as_dict()
    lines = [f"instance {payload['id']} {payload['process_key']} v{payload['version']}: {payload['status']}"]
    lines += [f"  task {t['id']} {t['bpmn_id']} ({t['lane']})" for t in payload["open_tasks"]]
    lines += [
        f"  incident {i['id']} at {i['element_id']}: {i['message']}"
        for i in payload["incidents"]
        if not i["resolved_at"]
    ]
    _emit(as_json, payload, "\n".join(lines))


def _instance_command(name: str, doc: str) -> None:
    @command(instance, name, help=doc)
    @click.argument("instance_id", type=int)
    @click.option("--as", "username", required=True)
    def run(obj: Ctx, as_json: bool, instance_id: int, username: str) -> None:
        rt = obj.runtime
        with session_scope(rt.sessions) as session:
            actor = _acting(session, username)
            result = getattr(rt.engine, name)(session, instance_id, actor)
            inst = getattr(result, "instance", result)
            payload = {"instance_id": inst.id, "status": inst.status}
            if getattr(result, "incident", None) is not None:
                payload["incident"] = {
                    "element_id": result.incident.element_id,
                    "message": result.incident.message,
                }
        _report_step(as_json, payload, f"{name} instance {instance_id}")


_instance_command("cancel", "Cancel a running instance.")
_instance_command("suspend", "Suspend an instance: nothing advances, timers wait.")
_instance_command("resume", "Resume a suspended instance.")
_instance_command("retry", "Re-run the step that raised the open incident.")


@main.group("audit")
def audit_group() -> None:
    """The audit trail."""


@command(audit_group, "verify")
@click.option("--instance", "instance_id", type=int, default=None)
def audit_verify(obj: Ctx, as_json: bool, instance_id: int | None) -> None:
    """Recompute the hash chains; exit 1 naming the first broken link of each broken chain."""
    rt = obj.runtime
    with session_scope(rt.sessions) as session:
        chain = audit.chain_for(instance_id) if instance_id is not None else None
        broken = audit.verify(session, chain)
    if broken:
        _fail(
            as_json,
            "audit_broken",
            "; ".join(str(b) for b in broken),
            {"broken": [b.__dict__ for b in broken]},
        )
    _emit(as_json, {"ok": True}, "audit trail intact")


# The process library's and operations' commands register themselves on ``main``, from modules
# of their own.
from . import cli_library, cli_ops  # noqa: E402,F401

if __name__ == "__main__":
    # Run as ``python -m engine.cli`` this file is __main__, a module apart from engine.cli, on
    # whose ``main`` cli_library and cli_ops registered their commands: run that one.
    from engine.cli import main as registered

    registered()
