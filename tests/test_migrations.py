"""Upgrading a database that already holds cases: each migration of this session, with data in it."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from engine.db import make_engine
from engine.migrate import head_revision, upgrade
from tests.conftest import require_postgres, reset_postgres


@pytest.fixture(params=["sqlite", "postgres"])
def url(request, tmp_path: Path) -> str:  # type: ignore[no-untyped-def]
    if request.param == "postgres":
        require_postgres()
        found = request.getfixturevalue("committed_postgres_url")
        reset_postgres(found)
        return found
    return f"sqlite:///{tmp_path / 'old.sqlite3'}"


def test_upgrade_from_0006_keeps_cases_tasks_and_numbers(url):  # type: ignore[no-untyped-def]
    db = make_engine(url)
    upgrade(db, "0006")
    with db.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO app_user (id, username, full_name, password_hash, active, created_at, roles_cache) VALUES (1, 'qc', '', 'x', true, '2026-11-01', 'quality_control')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO process_version (id, process_key, version, name, content_hash, spec_json, source_files, lane_roles, forms, warnings, startable_by, created_at) VALUES (1, 'nonconformity', 1, 'NC', 'h', '{}', '{}', '{}', '{}', '[]', '[]', '2026-11-01')"
            )
        )
        for i in (1, 2):
            conn.execute(
                text(
                    f"INSERT INTO process_instance (id, process_version_id, process_key, status, state_json, serializer_version, started_at, updated_at, lock_version, audit_seq, audit_hash) VALUES ({i}, 1, 'nonconformity', 'running', '{{}}', '1.5', '2026-11-01', '2026-11-01', 1, 0, '0')"
                )
            )
            # A forged duplicate number from before the constraint: the later case is marked, not lost.
            conn.execute(
                text(
                    f"INSERT INTO case_record (instance_id, process_key, number, site, fields, updated_at) VALUES ({i}, 'nonconformity', 'NC-2026-0001', 'Bandung', '{{}}', '2026-11-01')"
                )
            )
        conn.execute(
            text(
                "INSERT INTO human_task (id, instance_id, task_guid, bpmn_id, name, process_key, lane, role_key, status, created_at, has_owners) VALUES (1, 1, 'g1', 'nc_acknowledge', 'Ack', 'nonconformity', 'Agen', 'agent', 'open', '2026-11-01', false)"
            )
        )
    upgrade(db)
    with db.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == head_revision()
        assert conn.execute(text("SELECT site, role_key FROM human_task WHERE id = 1")).one() == (
            "Bandung",
            "team_leader",
        )
        numbers = conn.execute(text("SELECT number FROM case_record ORDER BY instance_id")).scalars().all()
        assert numbers == ["NC-2026-0001", "NC-2026-0001/2"]
        version = conn.execute(text("SELECT state, effective_from IS NOT NULL FROM process_version")).one()
        assert version[0] == "approved" and version[1]
    db.dispose()


def test_migrations_make_exactly_the_models_schema(url):  # type: ignore[no-untyped-def]
    """What ``mutu db upgrade`` builds is what the models say: no table, column or index apart."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from engine.models import all_tables

    db = make_engine(url)
    upgrade(db)
    with db.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": False})
        differences = compare_metadata(context, all_tables())
        dialect = conn.dialect.name
    db.dispose()
    found = []
    for diff in differences:
        # SQLite adds no constraint to an existing table in place (0008 says so): the one known gap.
        known = diff[0] == "add_fk" and dialect == "sqlite" and diff[1].parent.name == "process_version"
        if not known:
            found.append(repr(diff)[:300])
    assert found == []


REVISIONS = sorted(
    p.name[:4] for p in (Path(__file__).resolve().parent.parent / "engine/migrations/versions").glob("0*.py")
)


@pytest.mark.parametrize("start", REVISIONS[:-1])
def test_upgrade_from_every_revision_keeps_what_it_holds(url, start):  # type: ignore[no-untyped-def]
    """Each migration since the first runs over a database that holds users, a version and a case."""
    db = make_engine(url)
    upgrade(db, start)
    with db.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO app_user (id, username, full_name, password_hash, active, created_at) "
                "VALUES (7, 'keep.me', 'Keep Me', 'x', true, '2026-11-01')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO process_version (id, process_key, version, name, content_hash, spec_json, "
                "source_files, lane_roles, forms, warnings, startable_by, created_at) VALUES (3, 'nonconformity', "
                "1, 'NC', 'h', '{}', '{}', '{}', '{}', '[]', '[]', '2026-11-01')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO process_instance (id, process_version_id, process_key, status, state_json, "
                "serializer_version, started_at, updated_at, lock_version, audit_seq, audit_hash) VALUES (5, 3, "
                "'nonconformity', 'running', '{}', '1.5', '2026-11-01', '2026-11-01', 1, 0, '0')"
            )
        )
    upgrade(db)
    with db.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == REVISIONS[-1]
        assert conn.execute(text("SELECT username FROM app_user WHERE id = 7")).scalar_one() == "keep.me"
        assert (
            conn.execute(text("SELECT status FROM process_instance WHERE id = 5")).scalar_one() == "running"
        )
    db.dispose()


def test_state_is_stored_with_lz4_on_postgres(committed_postgres_url):  # type: ignore[no-untyped-def]
    """0017: each step rewrites the state; lz4 compresses it in a fraction of pglz's time."""
    require_postgres()
    reset_postgres(committed_postgres_url)
    db = make_engine(committed_postgres_url)
    upgrade(db)
    column = text(
        "SELECT attcompression FROM pg_attribute "
        "WHERE attrelid = 'process_instance'::regclass AND attname = 'state_json'"
    )
    with db.connect() as conn:
        has_lz4 = conn.execute(
            text("SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'")
        ).scalar()
        if not has_lz4:
            pytest.skip("this PostgreSQL was built without lz4")
        assert conn.execute(column).scalar_one() == "l"
    db.dispose()
