"""task sites, unique case numbers, sign-in throttles and server-side sessions

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

UNCLAIMED = sa.text("status = 'open' AND assignee_id IS NULL")


def upgrade() -> None:
    # Plain ALTERs, no batch copy: SQLite would drop and recreate the table, and with foreign
    # keys on, dropping a table other rows refer to fails (an upgrade with data in it).
    conn = op.get_bind()
    op.add_column("human_task", sa.Column("site", sa.String(length=40), nullable=True))
    op.drop_index("ix_human_task_unclaimed", table_name="human_task")
    op.create_index(
        "ix_human_task_unclaimed",
        "human_task",
        ["role_key", "due_at", "has_owners", "assignee_id", "status", "site"],
        sqlite_where=UNCLAIMED,
        postgresql_where=UNCLAIMED,
    )
    conn.execute(
        sa.text(
            "UPDATE human_task SET site = (SELECT site FROM case_record"
            " WHERE case_record.instance_id = human_task.instance_id)"
        )
    )
    # An agent's step nobody is named for went to every agent; it goes to the site's team leaders.
    conn.execute(
        sa.text(
            "UPDATE human_task SET role_key = 'team_leader' WHERE status = 'open'"
            " AND role_key = 'agent' AND has_owners = :no"
        ),
        {"no": False},
    )
    # Forged duplicate case numbers keep the first case's number; later ones are marked.
    dupes = conn.execute(
        sa.text(
            "SELECT instance_id, number FROM case_record c WHERE number IS NOT NULL AND EXISTS ("
            "SELECT 1 FROM case_record d WHERE d.process_key = c.process_key AND d.number = c.number"
            " AND d.instance_id < c.instance_id)"
        )
    ).all()
    for instance_id, number in dupes:
        conn.execute(
            sa.text("UPDATE case_record SET number = :n WHERE instance_id = :i"),
            {"n": f"{number}/{instance_id}"[:40], "i": instance_id},
        )
    op.create_index("uq_case_number", "case_record", ["process_key", "number"], unique=True)
    op.create_table(
        "login_throttle",
        sa.Column("key", sa.String(length=120), primary_key=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_start", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "web_session",
        sa.Column("id", sa.String(length=64), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("app_user.id"), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("seen_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_web_session_user_id", "web_session", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_web_session_user_id", table_name="web_session")
    op.drop_table("web_session")
    op.drop_table("login_throttle")
    op.drop_index("uq_case_number", table_name="case_record")
    with op.batch_alter_table("human_task", schema=None) as batch_op:
        batch_op.drop_index("ix_human_task_unclaimed")
        batch_op.create_index(
            "ix_human_task_unclaimed",
            ["role_key", "due_at", "has_owners", "assignee_id", "status"],
            sqlite_where=UNCLAIMED,
            postgresql_where=UNCLAIMED,
        )
        batch_op.drop_column("site")
