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
    with op.batch_alter_table("process_version", schema=None) as batch_op:
        batch_op.add_column(sa.Column("bundle", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("glue", sa.JSON(), nullable=True))
        batch_op.add_column(
            sa.Column("state", sa.String(length=20), nullable=False, server_default="approved")
        )
        batch_op.add_column(sa.Column("note", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("approved_by_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("approved_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("effective_from", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("decision_note", sa.Text(), nullable=True))
        batch_op.create_foreign_key("fk_process_version_approved_by", "app_user", ["approved_by_id"], ["id"])
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
        batch_op.drop_constraint("fk_process_version_approved_by", type_="foreignkey")
        for column in ("decision_note", "effective_from", "approved_at", "approved_by_id", "note", "state"):
            batch_op.drop_column(column)
        batch_op.drop_column("glue")
        batch_op.drop_column("bundle")
