"""``mutu`` commands of the process library: deploy, move running cases, the confidentiality statement."""

from __future__ import annotations

from pathlib import Path

import click

from . import bundle, policy, signin, versioning
from .cli import Ctx, _acting, _emit, command, main
from .db import session_scope
from .deploy import read_sources
from .errors import MutuError
from .identity import get_user


@command(main, "deploy")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--as", "username", default=None, help="Deploying user (recorded in the audit trail).")
def deploy_cmd(obj: Ctx, as_json: bool, paths: tuple[Path, ...], username: str | None) -> None:
    """Deploy BPMN and DMN files (or folders of them), or bundle zips, as new process versions."""
    rt = obj.runtime
    zips = [p for p in paths if p.suffix == ".zip"]
    registry = None
    if zips:
        if len(zips) != len(paths):
            raise MutuError("deploy either bundle zips or BPMN/DMN files and folders, not both")
        merged: dict[str, str] = {}
        for path in zips:
            if not path.exists():
                raise MutuError(f"{path}: no such file")
            merged.update(bundle.read_zip(path.read_bytes(), rt.settings.max_upload_bytes))
        files, registry = bundle.split(merged)
    else:
        files = read_sources(paths, rt.settings.max_upload_bytes)
    with session_scope(rt.sessions) as session:
        actor = get_user(session, username) if username else None
        result = rt.engine.deploy(session, files, actor, registry=registry)
        payload = {
            "created": [{"process": v.process_key, "version": v.version} for v in result.created],
            "unchanged": [{"process": v.process_key, "version": v.version} for v in result.unchanged],
            "warnings": [str(w) for w in result.warnings],
        }
    lines = [f"deployed {v['process']} v{v['version']}" for v in payload["created"]]
    lines += [f"unchanged {v['process']} v{v['version']}" for v in payload["unchanged"]]
    lines += [f"warning: {w}" for w in payload["warnings"]]
    _emit(as_json, payload, "\n".join(lines))


@command(main, "statement")
@click.option("--as", "username", required=True)
@click.option("--accept", is_flag=True, help="Record that this user accepts the statement shown.")
@click.option("--language", type=click.Choice(sorted(policy.STATEMENT)), default="id")
def statement_cmd(obj: Ctx, as_json: bool, username: str, accept: bool, language: str) -> None:
    """Show the confidentiality statement (manual 8.5.3); --accept records the user's acceptance."""
    rt = obj.runtime
    text = policy.STATEMENT[language]
    with session_scope(rt.sessions) as session:
        user = get_user(session, username)
        if accept:
            signin.accept_statement(
                session, user, policy.STATEMENT_VERSION, text, rt.engine.clock.now(), "cli"
            )
        accepted = policy.has_accepted(session, user) or accept
    payload = {"version": policy.STATEMENT_VERSION, "text": text, "accepted": accepted}
    _emit(as_json, payload, f"{text}\n\n{'accepted' if accepted else 'not accepted yet: add --accept'}")


@command(main, "migrate")
@click.argument("process_key")
@click.option("--to", "to_version", type=int, required=True, help="The version to move running cases to.")
@click.option("--instance", "instances", type=int, multiple=True, help="Only this case; repeat for more.")
@click.option("--dry-run", is_flag=True, help="Say what would move and what not; move nothing.")
@click.option("--as", "username", required=True)
def migrate_cmd(
    obj: Ctx,
    as_json: bool,
    process_key: str,
    to_version: int,
    instances: tuple[int, ...],
    dry_run: bool,
    username: str,
) -> None:
    """Move running cases of a process to another version; each refused case says why."""
    rt = obj.runtime
    with session_scope(rt.sessions) as session:
        actor = _acting(session, username)
        moves = versioning.migrate_many(
            session,
            rt.engine,
            process_key,
            to_version,
            actor,
            instance_ids=list(instances) or None,
            dry_run=dry_run,
        )
        if dry_run:
            session.rollback()
        payload = {"to": to_version, "dry_run": dry_run, "items": [m.as_dict() for m in moves]}
    verb = "would move" if dry_run else "moved"
    lines = [
        f"case {m.instance_id} v{m.from_version}: " + (verb if m.moved else f"refused: {m.reason}")
        for m in moves
    ]
    _emit(as_json, payload, "\n".join(lines) or "no running case to move")
