"""case row hash on the instance, role keys on the user

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("process_instance", schema=None) as batch_op:
        batch_op.add_column(sa.Column("case_hash", sa.String(length=64), nullable=True))
    with op.batch_alter_table("app_user", schema=None) as batch_op:
        batch_op.add_column(sa.Column("roles_cache", sa.String(length=400), nullable=True))
    conn = op.get_bind()
    keys: dict[int, list[str]] = {}
    for user_id, key in conn.execute(
        sa.text("SELECT user_role.user_id, role.key FROM user_role JOIN role ON role.id = user_role.role_id")
    ):
        keys.setdefault(user_id, []).append(key)
    for user_id in [row[0] for row in conn.execute(sa.text("SELECT id FROM app_user"))]:
        conn.execute(
            sa.text("UPDATE app_user SET roles_cache = :keys WHERE id = :id"),
            {"keys": ",".join(sorted(keys.get(user_id, []))), "id": user_id},
        )


def downgrade() -> None:
    with op.batch_alter_table("app_user", schema=None) as batch_op:
        batch_op.drop_column("roles_cache")
    with op.batch_alter_table("process_instance", schema=None) as batch_op:
        batch_op.drop_column("case_hash")
