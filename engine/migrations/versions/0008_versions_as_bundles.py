"""process versions as whole bundles under document control, and drafts

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMNs, no batch copy: SQLite would recreate process_version, and with foreign
    # keys on, dropping the table that cases refer to fails (an upgrade with data in it).
    op.add_column("process_version", sa.Column("bundle", sa.JSON(), nullable=True))
    op.add_column("process_version", sa.Column("glue", sa.JSON(), nullable=True))
    op.add_column(
        "process_version", sa.Column("state", sa.String(length=20), nullable=False, server_default="approved")
    )
    op.add_column("process_version", sa.Column("note", sa.Text(), nullable=True))
    op.add_column("process_version", sa.Column("approved_by_id", sa.Integer(), nullable=True))
    if op.get_bind().dialect.name == "postgresql":  # SQLite adds no constraint to a table in place
        op.create_foreign_key(
            "fk_process_version_approved_by", "process_version", "app_user", ["approved_by_id"], ["id"]
        )
    op.add_column("process_version", sa.Column("approved_at", sa.DateTime(), nullable=True))
    op.add_column("process_version", sa.Column("effective_from", sa.DateTime(), nullable=True))
    op.add_column("process_version", sa.Column("decision_note", sa.Text(), nullable=True))
    # Versions deployed before document control took effect when they were deployed.
    op.execute("UPDATE process_version SET effective_from = created_at, approved_at = created_at")
    op.create_table(
        "process_draft",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("process_key", sa.String(length=100), nullable=False),
        sa.Column("base_version", sa.Integer(), nullable=True),
        sa.Column("files", sa.JSON(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_by_id", sa.Integer(), sa.ForeignKey("app_user.id"), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_by_id", sa.Integer(), sa.ForeignKey("app_user.id"), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("published_version", sa.Integer(), nullable=True),
    )
    op.create_index("ix_process_draft_key", "process_draft", ["process_key", "status"])


def downgrade() -> None:
    op.drop_index("ix_process_draft_key", table_name="process_draft")
    op.drop_table("process_draft")
    with op.batch_alter_table("process_version", schema=None) as batch_op:
        for column in ("decision_note", "effective_from", "approved_at", "approved_by_id", "note", "state"):
            batch_op.drop_column(column)
        batch_op.drop_column("glue")
        batch_op.drop_column("bundle")
