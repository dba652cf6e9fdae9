"""the quality records: registers, monitoring results, evidence packs, report columns

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def _fk(table: str) -> sa.ForeignKey:
    return sa.ForeignKey(f"{table}.id")


def upgrade() -> None:
    with op.batch_alter_table("app_user") as batch:
        batch.add_column(sa.Column("team", sa.String(length=60), nullable=True))
    with op.batch_alter_table("case_record") as batch:
        batch.add_column(sa.Column("source", sa.String(length=40), nullable=True))
        batch.add_column(sa.Column("opened_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("closed_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("reopened", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("recurring", sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table("case_record") as batch:
        batch.alter_column("reopened", server_default=None)
        batch.alter_column("recurring", server_default=None)
    op.create_index(
        "ix_case_report",
        "case_record",
        [
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
        ],
    )
    op.create_index("ix_case_closed", "case_record", ["process_key", "closed_at"])
    op.create_index(
        "ix_case_open_age",
        "case_record",
        ["process_key", "opened_at", "status", "severity", "site", "service"],
        sqlite_where=sa.text("closed_at IS NULL"),
        postgresql_where=sa.text("closed_at IS NULL"),
    )
    op.create_index("ix_human_task_completed_by", "human_task", ["completed_by_id", "completed_at"])
    _backfill_cases()
    op.create_table(
        "supplier_score",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("supplier_id", sa.Integer(), _fk("supplier"), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=20), nullable=False),
        sa.Column("instance_id", sa.Integer(), _fk("process_instance"), nullable=True),
        sa.Column("at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_supplier_score_supplier", "supplier_score", ["supplier_id", "at"])
    op.create_table(
        "supplier_action",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("supplier_name", sa.String(length=200), nullable=False),
        sa.Column("number", sa.String(length=60), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("instance_id", sa.Integer(), _fk("process_instance"), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("opened_at", sa.DateTime(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.Column("closed_note", sa.Text(), nullable=True),
        sa.Column("verified_at", sa.DateTime(), nullable=True),
        sa.Column("verified_by_id", sa.Integer(), _fk("app_user"), nullable=True),
        sa.Column("verified_note", sa.Text(), nullable=True),
    )
    op.create_index("ix_supplier_action_status", "supplier_action", ["status", "opened_at"])
    op.create_index("ix_supplier_action_supplier_name", "supplier_action", ["supplier_name"])
    op.create_table(
        "requirement",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("code", sa.String(length=80), nullable=False, unique=True),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("service", sa.String(length=40), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "requirement_version",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("requirement_id", sa.Integer(), _fk("requirement"), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("instance_id", sa.Integer(), _fk("process_instance"), nullable=True),
        sa.Column("by_id", sa.Integer(), _fk("app_user"), nullable=True),
        sa.Column("at", sa.DateTime(), nullable=False),
    )
    op.create_index(
        "ix_requirement_version", "requirement_version", ["requirement_id", "version"], unique=True
    )
    op.create_index("ix_requirement_version_instance_id", "requirement_version", ["instance_id"])
    op.create_table(
        "communication",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("client", sa.String(length=120), nullable=False),
        sa.Column("on_date", sa.Date(), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("site", sa.String(length=40), nullable=True),
        sa.Column("service", sa.String(length=40), nullable=True),
        sa.Column("logged_by_id", sa.Integer(), _fk("app_user"), nullable=False),
        sa.Column("logged_at", sa.DateTime(), nullable=False),
        sa.Column("nc_instance_id", sa.Integer(), _fk("process_instance"), nullable=True),
    )
    op.create_index("ix_communication_on", "communication", ["on_date", "id"])
    op.create_index("ix_communication_client", "communication", ["client"])
    op.create_index("ix_communication_nc_instance_id", "communication", ["nc_instance_id"])
    op.create_table(
        "preservation_activity",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("site", sa.String(length=40), nullable=True),
        sa.Column("planned_on", sa.Date(), nullable=False),
        sa.Column("held_on", sa.Date(), nullable=True),
        sa.Column("instance_id", sa.Integer(), _fk("process_instance"), nullable=True),
        sa.Column("created_by_id", sa.Integer(), _fk("app_user"), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_preservation_planned", "preservation_activity", ["planned_on", "id"])
    op.create_table(
        "preservation_attendance",
        sa.Column(
            "activity_id", sa.Integer(), _fk("preservation_activity"), primary_key=True, nullable=False
        ),
        sa.Column("agent_code", sa.String(length=20), primary_key=True, nullable=False),
        sa.Column("attended", sa.Boolean(), nullable=True),
    )
    op.create_index("ix_preservation_agent", "preservation_attendance", ["agent_code"])
    op.create_table(
        "monitoring_tool",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(length=200), nullable=False, unique=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("site", sa.String(length=40), nullable=True),
        sa.Column("interval_days", sa.Integer(), nullable=False),
        sa.Column("verified_on", sa.Date(), nullable=True),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("history", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_monitoring_tool_due_on", "monitoring_tool", ["due_on"])
    op.create_table(
        "monitoring_result",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("instance_id", sa.Integer(), _fk("process_instance"), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=True),
        sa.Column("site", sa.String(length=40), nullable=True),
        sa.Column("service", sa.String(length=40), nullable=True),
        sa.Column("method", sa.String(length=20), nullable=False),
        sa.Column("agent_code", sa.String(length=20), nullable=False),
        sa.Column("online_name", sa.String(length=100), nullable=True),
        sa.Column("team", sa.String(length=60), nullable=True),
        sa.Column("score", sa.Integer(), nullable=True),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("checked_by_id", sa.Integer(), _fk("app_user"), nullable=True),
        sa.Column("checked_by", sa.String(length=64), nullable=True),
        sa.Column("checked_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_monitoring_agent", "monitoring_result", ["agent_code", "checked_at"])
    op.create_index("ix_monitoring_site", "monitoring_result", ["site", "checked_at"])
    op.create_index("ix_monitoring_period", "monitoring_result", ["period", "site", "service"])
    op.create_index("ix_monitoring_result_instance_id", "monitoring_result", ["instance_id"])
    op.create_table(
        "evidence_pack",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("period_from", sa.String(length=10), nullable=False),
        sa.Column("period_to", sa.String(length=10), nullable=False),
        sa.Column("site", sa.String(length=40), nullable=True),
        sa.Column("service", sa.String(length=40), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("progress", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(length=40), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("rows", sa.Integer(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("size", sa.Integer(), nullable=True),
        sa.Column("content", sa.LargeBinary(), nullable=True),
        sa.Column("language", sa.String(length=5), nullable=False),
        sa.Column("requested_by_id", sa.Integer(), _fk("app_user"), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
    )
    op.create_index("ix_evidence_pack_status", "evidence_pack", ["status", "created_at"])
    op.create_table(
        "monitoring_month",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("site", sa.String(length=40), nullable=False),
        sa.Column("service", sa.String(length=40), nullable=False),
        sa.Column("method", sa.String(length=20), nullable=False),
        sa.Column("team", sa.String(length=60), nullable=False),
        sa.Column("agent_code", sa.String(length=20), nullable=False),
        sa.Column("online_name", sa.String(length=100), nullable=True),
        sa.Column("checks", sa.Integer(), nullable=False),
        sa.Column("passed", sa.Integer(), nullable=False),
    )
    op.create_index(
        "uq_monitoring_month",
        "monitoring_month",
        ["period", "site", "service", "method", "team", "agent_code"],
        unique=True,
    )
    op.create_table(
        "report_generation",
        sa.Column("process_key", sa.String(length=100), primary_key=True, nullable=False),
        sa.Column("month", sa.String(length=7), primary_key=True, nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
    )
    op.create_table(
        "report_cache",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("scope", sa.String(length=300), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("rows", sa.JSON(), nullable=False),
        sa.Column("computed_at", sa.DateTime(), nullable=False),
    )
    op.create_index("uq_report_cache", "report_cache", ["name", "month", "scope"], unique=True)
    op.create_table(
        "export_job",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("register", sa.String(length=40), nullable=False),
        sa.Column("filters", sa.JSON(), nullable=False),
        sa.Column("format", sa.String(length=10), nullable=False),
        sa.Column("headers", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("progress", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(length=40), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("rows", sa.Integer(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("size", sa.Integer(), nullable=True),
        sa.Column("content", sa.LargeBinary(), nullable=True),
        sa.Column("requested_by_id", sa.Integer(), sa.ForeignKey("app_user.id"), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
    )
    op.create_index("ix_export_job_status", "export_job", ["status", "created_at"])
    _backfill_recurring()


def _backfill_recurring() -> None:
    op.execute(
        "UPDATE case_record SET recurring = true WHERE instance_id IN"
        " (SELECT from_id FROM case_link WHERE kind = 'recurs'"
        " UNION SELECT to_id FROM case_link WHERE kind = 'recurs')"
    )


def _backfill_cases() -> None:
    """Move the source out of the fields and date every case from its instance."""
    bind = op.get_bind()
    rows = bind.execute(
        sa.text(
            "SELECT c.instance_id, c.fields, i.started_at, i.ended_at, i.status"
            " FROM case_record c JOIN process_instance i ON i.id = c.instance_id"
        )
    ).all()
    for instance_id, fields, started, ended, status in rows:
        data = json.loads(fields) if isinstance(fields, str) else dict(fields or {})
        source = data.pop("source", None)
        reopened = data.get("reopen_count")
        bind.execute(
            sa.text(
                "UPDATE case_record SET source = :source, opened_at = :opened, closed_at = :closed,"
                " reopened = :reopened WHERE instance_id = :id"
            ),
            {
                "source": str(source)[:40] if source not in (None, "") else None,
                "opened": started,
                "closed": ended if status == "completed" else None,
                "reopened": reopened if isinstance(reopened, int) else 0,
                "id": instance_id,
            },
        )


def downgrade() -> None:
    for table in (
        "export_job",
        "report_cache",
        "report_generation",
        "monitoring_month",
        "evidence_pack",
        "monitoring_result",
        "monitoring_tool",
        "preservation_attendance",
        "preservation_activity",
        "communication",
        "requirement_version",
        "requirement",
        "supplier_action",
        "supplier_score",
    ):
        op.drop_table(table)
    op.drop_index("ix_human_task_completed_by", "human_task")
    op.drop_index("ix_case_open_age", "case_record")
    op.drop_index("ix_case_closed", "case_record")
    op.drop_index("ix_case_report", "case_record")
    with op.batch_alter_table("case_record") as batch:
        for column in ("recurring", "reopened", "closed_at", "opened_at", "source"):
            batch.drop_column(column)
    with op.batch_alter_table("app_user") as batch:
        batch.drop_column("team")
