"""Schema migrations through Alembic, and first-run set-up of roles and the admin account."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from .clock import Clock
from .identity import create_user, ensure_builtin_roles, generate_password
from .models import User

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` on ``engine``'s database."""
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


@dataclass
class Bootstrap:
    admin_created: bool
    admin_password: str | None


def bootstrap(session: Session, clock: Clock, admin_password: str = "") -> Bootstrap:
    """Create the built-in roles and, on an empty database, the ``admin`` account."""
    ensure_builtin_roles(session)
    if session.execute(select(User.id).limit(1)).first() is not None:
        return Bootstrap(False, None)
    password = admin_password or generate_password()
    create_user(session, "admin", password, ["admin"], clock.now(), full_name="Administrator")
    return Bootstrap(True, None if admin_password else password)


def head_revision() -> str:
    """The newest migration this code knows (what a ready database is at)."""
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return str(ScriptDirectory.from_config(config).get_current_head())
