"""The tables of Mutu. Queries (inbox, cases, audit) read these and never deserialize a workflow."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    event,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class UTCDateTime(TypeDecorator[datetime]):
    """Store naive UTC, hand back aware UTC, on SQLite and PostgreSQL alike."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    pass


class Role(Base):
    __tablename__ = "role"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))


class User(Base):
    __tablename__ = "app_user"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    agent_code: Mapped[str | None] = mapped_column(String(20), unique=True)
    online_name: Mapped[str | None] = mapped_column(String(100))
    team: Mapped[str | None] = mapped_column(String(60))
    full_name: Mapped[str] = mapped_column(String(200), default="")
    site: Mapped[str | None] = mapped_column(String(40))
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    language: Mapped[str | None] = mapped_column(String(5))
    email: Mapped[str | None] = mapped_column(String(200))
    # The role keys, comma-separated, kept in step with ``roles`` by the events below: every
    # request and step asks for them, and a join per user load cost more than the rest of it.
    roles_cache: Mapped[str | None] = mapped_column(String(400))

    roles: Mapped[list[Role]] = relationship(secondary="user_role")

    @property
    def role_keys(self) -> frozenset[str]:
        if self.roles_cache is not None:
            return frozenset(k for k in self.roles_cache.split(",") if k)
        return frozenset(r.key for r in self.roles)

    @property
    def is_admin(self) -> bool:
        return "admin" in self.role_keys

    # The four members a web session manager (Flask-Login) asks of a user, without importing it.
    is_authenticated = True
    is_anonymous = False

    @property
    def is_active(self) -> bool:
        return self.active

    def get_id(self) -> str:
        return str(self.id)


def _cache_roles(user: User, keys: set[str]) -> None:
    user.roles_cache = ",".join(sorted(keys))


@event.listens_for(User.roles, "append")
def _role_added(user: User, role: Role, _initiator: Any) -> None:
    _cache_roles(user, set(user.role_keys if user.roles_cache is not None else ()) | {role.key})


@event.listens_for(User.roles, "remove")
def _role_removed(user: User, role: Role, _initiator: Any) -> None:
    _cache_roles(user, set(user.role_keys) - {role.key})


class UserRole(Base):
    __tablename__ = "user_role"

    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), primary_key=True)
    role_id: Mapped[int] = mapped_column(ForeignKey("role.id"), primary_key=True)


class ProcessVersion(Base):
    """A published, immutable version of one executable process."""

    __tablename__ = "process_version"
    __table_args__ = (
        UniqueConstraint("process_key", "version"),
        Index("ix_process_version_hash", "process_key", "content_hash"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    process_key: Mapped[str] = mapped_column(String(100))
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    content_hash: Mapped[str] = mapped_column(String(64))
    # Deferred: the spec is parsed once per version and cached; instances never load it.
    spec_json: Mapped[str] = mapped_column(Text, deferred=True)
    source_files: Mapped[dict[str, str]] = mapped_column(JSON, deferred=True)
    # Immutable per version: the engine caches them, so loading an instance skips them.
    lane_roles: Mapped[dict[str, str | list[str] | None]] = mapped_column(JSON, deferred=True)
    forms: Mapped[dict[str, Any]] = mapped_column(JSON, deferred=True)
    warnings: Mapped[list[str]] = mapped_column(JSON, deferred=True)
    startable_by: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    deployed_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))  # prepared by
    # The whole bundle (BPMN, DMN, process.json, forms, scenarios) by its path in a bundle zip,
    # and the parsed process.json: the engine and the pages read a case's glue from here.
    bundle: Mapped[dict[str, str] | None] = mapped_column(JSON, deferred=True)
    glue: Mapped[dict[str, Any] | None] = mapped_column(JSON, deferred=True)
    # Document control (ISO 9001 7.5): prepared, approved, in effect from.
    state: Mapped[str] = mapped_column(String(20), default="approved")  # waiting_approval, approved, returned
    note: Mapped[str | None] = mapped_column(Text)
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    effective_from: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decision_note: Mapped[str | None] = mapped_column(Text)


class ProcessInstance(Base):
    __tablename__ = "process_instance"
    __table_args__ = (Index("ix_instance_status", "process_key", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    process_version_id: Mapped[int] = mapped_column(ForeignKey("process_version.id"))
    process_key: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20))
    state_json: Mapped[str] = mapped_column(Text)
    serializer_version: Mapped[str] = mapped_column(String(10))
    started_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status_before_suspend: Mapped[str | None] = mapped_column(String(20))
    lock_version: Mapped[int] = mapped_column(Integer, nullable=False)
    # The tail of this instance's audit chain, moved under the instance lock with each event.
    audit_seq: Mapped[int] = mapped_column(Integer, default=0)
    audit_hash: Mapped[str] = mapped_column(String(64), default="0" * 64)
    # What the case row was last written with: a step that changes no case field skips it.
    case_hash: Mapped[str | None] = mapped_column(String(64))

    process_version: Mapped[ProcessVersion] = relationship(lazy="joined")

    __mapper_args__ = {"version_id_col": lock_version}


CLAIMED_SQL = text("status = 'open' AND assignee_id IS NOT NULL")
UNCLAIMED_SQL = text("status = 'open' AND assignee_id IS NULL")
OPEN_SQL = text("status = 'open'")


class HumanTask(Base):
    """A ready (or once ready) user or manual task, projected for the inbox."""

    __tablename__ = "human_task"
    __table_args__ = (
        UniqueConstraint("instance_id", "task_guid"),
        # Partial indexes hold only open tasks, so finished work never slows an inbox. "My
        # roles" walks one role's unclaimed tasks in due order; queries must spell the
        # predicate with literals (see inbox.OPEN) for the database to match them.
        Index(
            "ix_human_task_mine",
            "assignee_id",
            "due_at",
            sqlite_where=CLAIMED_SQL,
            postgresql_where=CLAIMED_SQL,
        ),
        Index(
            "ix_human_task_unclaimed",
            "role_key",
            "due_at",
            "has_owners",
            "assignee_id",
            "status",
            "site",
            sqlite_where=UNCLAIMED_SQL,
            postgresql_where=UNCLAIMED_SQL,
        ),
        Index("ix_human_task_instance", "instance_id", "status"),
        Index("ix_human_task_completed_by", "completed_by_id", "completed_at"),
        # Every open task in due order: the QMR's and team leaders' view of the work.
        Index("ix_human_task_open_due", "due_at", "id", sqlite_where=OPEN_SQL, postgresql_where=OPEN_SQL),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"))
    task_guid: Mapped[str] = mapped_column(String(36))
    bpmn_id: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(300))
    process_key: Mapped[str] = mapped_column(String(100))
    lane: Mapped[str | None] = mapped_column(String(200))
    role_key: Mapped[str | None] = mapped_column(String(64))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    form_ref: Mapped[str | None] = mapped_column(String(200))
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    completed_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    has_owners: Mapped[bool] = mapped_column(Boolean, default=False)
    # The case's site when the task was created: site-held roles see only their site's tasks.
    site: Mapped[str | None] = mapped_column(String(40))

    owners: Mapped[list[HumanTaskOwner]] = relationship(cascade="all, delete-orphan")
    extra_roles: Mapped[list[HumanTaskRole]] = relationship(cascade="all, delete-orphan")


class HumanTaskOwner(Base):
    """A user named for a task through ``lane_owners`` in the instance data."""

    __tablename__ = "human_task_owner"

    human_task_id: Mapped[int] = mapped_column(ForeignKey("human_task.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), primary_key=True, index=True)


class CaseRecord(Base):
    """The business fields of one instance that lists and reports search."""

    __tablename__ = "case_record"
    __table_args__ = (
        Index("ix_case_process_status", "process_key", "status"),
        Index("ix_case_site", "site"),
        Index("ix_case_agent", "agent_code"),
        # The reports count a process's cases opened in a period from this index alone (it
        # covers every column they read), and the open ones by age from the partial one.
        Index(
            "ix_case_report",
            "process_key",
            "opened_at",
            "status",
            "severity",
            "source",
            "site",
            "service",
            "closed_at",
            "reopened",
            "recurring",
        ),  # fmt: skip
        Index("ix_case_closed", "process_key", "closed_at"),
        Index(
            "ix_case_open_age",
            "process_key",
            "opened_at",
            "status",
            "severity",
            "site",
            "service",
            sqlite_where=text("closed_at IS NULL"),
            postgresql_where=text("closed_at IS NULL"),
        ),  # fmt: skip
        # Only the counter gives numbers; the database refuses a second case with one.
        Index("uq_case_number", "process_key", "number", unique=True),
    )

    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), primary_key=True)
    process_key: Mapped[str] = mapped_column(String(100))
    number: Mapped[str | None] = mapped_column(String(40), index=True)
    summary: Mapped[str | None] = mapped_column(String(300))
    site: Mapped[str | None] = mapped_column(String(40))
    service: Mapped[str | None] = mapped_column(String(40))
    severity: Mapped[str | None] = mapped_column(String(20))
    agent_code: Mapped[str | None] = mapped_column(String(20))
    status: Mapped[str | None] = mapped_column(String(40))
    source: Mapped[str | None] = mapped_column(String(40))
    fields: Mapped[dict[str, Any]] = mapped_column(JSON)
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reopened: Mapped[int] = mapped_column(Integer, default=0)
    # Set by a "recurs" link (either way); kept apart from the fields a step writes.
    recurring: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    @property
    def shown_fields(self) -> dict[str, Any]:
        """The fields beyond the columns, with the source (a column for the reports) among them."""
        return {**({"source": self.source} if self.source else {}), **(self.fields or {})}


class Timer(Base):
    """A waiting timer; the scheduler fires rows whose ``fire_at`` has passed."""

    __tablename__ = "timer"
    __table_args__ = (
        Index("ix_timer_due", "status", "fire_at"),
        Index("ix_timer_instance", "instance_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"))
    process_key: Mapped[str] = mapped_column(String(100))
    task_guid: Mapped[str | None] = mapped_column(String(36))
    bpmn_id: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    fire_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(20))
    cycles_left: Mapped[int | None] = mapped_column(Integer)
    interval_seconds: Mapped[float | None] = mapped_column()
    fired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AuditEvent(Base):
    """Append-only and hash-chained per instance (or the ``system`` chain for deploys)."""

    __tablename__ = "audit_event"
    __table_args__ = (UniqueConstraint("chain", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    chain: Mapped[str] = mapped_column(String(40))
    seq: Mapped[int] = mapped_column(Integer)
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"), index=True)
    actor_username: Mapped[str | None] = mapped_column(String(64))
    agent_code: Mapped[str | None] = mapped_column(String(20), index=True)
    # The name the agent serves under (manual 8.5.2), kept with the code as it was then.
    online_name: Mapped[str | None] = mapped_column(String(100))
    task_guid: Mapped[str | None] = mapped_column(String(36))
    bpmn_id: Mapped[str | None] = mapped_column(String(200))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class HumanTaskRole(Base):
    """Further roles of a task whose lane maps to more than one (the first is ``role_key``)."""

    __tablename__ = "human_task_role"
    __table_args__ = (Index("ix_human_task_role_role", "role_key", "human_task_id"),)

    human_task_id: Mapped[int] = mapped_column(ForeignKey("human_task.id"), primary_key=True)
    role_key: Mapped[str] = mapped_column(String(64), primary_key=True)


# Modules whose tables belong to ``Base.metadata`` beside this one's.
TABLE_MODULES = (
    "idempotency",
    "models_steps",
    "models_links",
    "models_messages",
    "models_notify",
    "models_records",
    "models_registers",
    "models_signin",
    "models_workspace",
)


def all_tables() -> MetaData:
    """The whole schema: every module with tables imported, for migrations and sandboxes."""
    import importlib

    for module in TABLE_MODULES:
        importlib.import_module(f"engine.{module}")
    return Base.metadata


# Kept importable from here, where the rest of the engine has always found them.
from .models_steps import CaseCounter, Incident, MessageJob, ProcessDraft, ServiceJob  # noqa: E402, F401
