"""lanes with several roles

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "human_task_role",
        sa.Column("human_task_id", sa.Integer(), nullable=False),
        sa.Column("role_key", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["human_task_id"],
            ["human_task.id"],
        ),
        sa.PrimaryKeyConstraint("human_task_id", "role_key"),
    )
    with op.batch_alter_table("human_task_role", schema=None) as batch_op:
        batch_op.create_index("ix_human_task_role_role", ["role_key", "human_task_id"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("human_task_role", schema=None) as batch_op:
        batch_op.drop_index("ix_human_task_role_role")

    op.drop_table("human_task_role")
