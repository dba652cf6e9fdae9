"""partial indexes for the inbox queues

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

CLAIMED = sa.text("status = 'open' AND assignee_id IS NOT NULL")
UNCLAIMED = sa.text("status = 'open' AND assignee_id IS NULL")


def upgrade() -> None:
    with op.batch_alter_table("human_task", schema=None) as batch_op:
        batch_op.drop_index("ix_human_task_role")
        batch_op.drop_index("ix_human_task_assignee")
        batch_op.create_index(
            "ix_human_task_mine", ["assignee_id", "due_at"], sqlite_where=CLAIMED, postgresql_where=CLAIMED
        )
        batch_op.create_index(
            "ix_human_task_unclaimed",
            ["role_key", "due_at", "has_owners", "assignee_id", "status"],
            sqlite_where=UNCLAIMED,
            postgresql_where=UNCLAIMED,
        )


def downgrade() -> None:
    with op.batch_alter_table("human_task", schema=None) as batch_op:
        batch_op.drop_index("ix_human_task_unclaimed")
        batch_op.drop_index("ix_human_task_mine")
        batch_op.create_index("ix_human_task_assignee", ["status", "assignee_id", "due_at"], unique=False)
        batch_op.create_index(
            "ix_human_task_role", ["status", "role_key", "assignee_id", "due_at"], unique=False
        )
