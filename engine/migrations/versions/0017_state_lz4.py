"""Compress the workflow state with lz4 on PostgreSQL

Every step rewrites ``process_instance.state_json`` (several KB, stored compressed out of
line); PostgreSQL's default pglz took about 60 us of each such UPDATE on a 6 KB state,
lz4 a fraction of it. Rows already stored keep pglz until their next step rewrites them.
SQLite, and a PostgreSQL built without lz4, are left as they are.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

_HAS_LZ4 = sa.text("SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'")


def _set(method: str) -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql" or not bind.execute(_HAS_LZ4).scalar():
        return
    op.execute(f"ALTER TABLE process_instance ALTER COLUMN state_json SET COMPRESSION {method}")


def upgrade() -> None:
    _set("lz4")


def downgrade() -> None:
    _set("pglz")
