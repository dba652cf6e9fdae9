"""one index for the inbox queues

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("human_task", schema=None) as batch_op:
        batch_op.drop_index("ix_human_task_role")
        batch_op.drop_index("ix_human_task_assignee")
        batch_op.create_index(
            "ix_human_task_queue", ["status", "assignee_id", "role_key", "has_owners", "due_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("human_task", schema=None) as batch_op:
        batch_op.drop_index("ix_human_task_queue")
        batch_op.create_index("ix_human_task_assignee", ["status", "assignee_id", "due_at"], unique=False)
        batch_op.create_index(
            "ix_human_task_role", ["status", "role_key", "assignee_id", "due_at"], unique=False
        )
