"""Migration 0008 makes exactly the job and webhook tables the models describe (SQLite and PostgreSQL), and
goes down to 0007 and up again leaving everything else in place."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from h9web import accounts_for
from inkseal import Inkseal
from inkseal.registry.jobs import JOB_TABLES, JobStore
from inkseal.registry.models import Base
from migrating import migrator


def test_migration_0008_matches_the_models_and_goes_down_and_up(backend_app: Inkseal) -> None:
    from test_h9_web_migration import _table_of

    names = {t.name for t in JOB_TABLES}
    engine = backend_app.registry.engine
    with engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert [d for d in diffs if _table_of(d) in names] == []

    ana = accounts_for(backend_app).add_user("ana", "correct horse battery")
    store = JobStore(backend_app.registry)
    job = store.create(ana.id, "scan", {"urls": []})
    assert store.get(job.id, ana.id) is not None and store.get(job.id, ana.id + 1) is None

    migrate = migrator(engine)

    migrate(command.downgrade, "0007")
    present = set(inspect(engine).get_table_names())
    assert names.isdisjoint(present) and "users" in present
    assert [u.name for u in accounts_for(backend_app).users()] == ["ana"]  # the accounts stay
    migrate(command.upgrade, "head")
    assert names <= set(inspect(engine).get_table_names())
    assert JobStore(backend_app.registry).list(ana.id) == []  # a downgrade drops the jobs (and only them)
