"""Migration 0007 makes exactly the account tables the models describe, on SQLite and PostgreSQL, and
a work's owner row goes with the work."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Table, select

from h9web import accounts_for
from inkseal.registry.store import schema_head
from inkseal import Inkseal
from inkseal.registry.accounts import ACCOUNT_TABLES, WorkOwner
from inkseal.registry.models import Base


def _table_of(diff) -> str | None:  # type: ignore[no-untyped-def]
    """The table an autogenerate difference is about (its shapes: (op, Table), (op, Index or constraint),
    (op, schema, table name, ...), or a list of (op, schema, table name, column, ...) for modifications)."""
    d = diff[0] if isinstance(diff, list) else diff
    if isinstance(d[1], Table):
        return d[1].name
    if getattr(d[1], "table", None) is not None:
        return d[1].table.name
    return d[2] if len(d) > 2 and isinstance(d[2], str) else None


def test_migration_matches_the_models_and_ownership_cascades(backend_app: Inkseal, kodak: list[Path]) -> None:
    names = {t.name for t in ACCOUNT_TABLES}
    with backend_app.registry.engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert [d for d in diffs if _table_of(d) in names] == []

    accounts = accounts_for(backend_app)
    ana = accounts.add_user("ana", "correct horse battery")
    work = backend_app.register([kodak[2]], author="ana").items[0].work_id
    assert work is not None
    assert not accounts.owns_work(ana, work)  # no owner row yet: the local user's
    assert accounts.owns_work(accounts.local_user(), work)
    accounts.set_owner(work, ana.id)
    assert accounts.owns_work(ana, work) and not accounts.owns_work(accounts.local_user(), work)
    backend_app.remove_work(work)
    with backend_app.registry.session() as s:
        assert s.scalar(select(WorkOwner).where(WorkOwner.work_id == work)) is None


def test_migration_downgrades_and_upgrades_again(backend_app: Inkseal) -> None:
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import inspect

    from inkseal.registry.store import MIGRATIONS

    accounts_for(backend_app).add_user("ana", "correct horse battery")
    names = {t.name for t in ACCOUNT_TABLES}
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    engine = backend_app.registry.engine

    def migrate(step, target: str) -> None:  # type: ignore[no-untyped-def]
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            step(cfg, target)

    migrate(command.downgrade, "0006")
    assert names.isdisjoint(inspect(engine).get_table_names())
    migrate(command.upgrade, "head")
    assert names <= set(inspect(engine).get_table_names())
    with engine.connect() as conn:
        assert MigrationContext.configure(conn).get_current_revision() == schema_head()
    assert accounts_for(backend_app).users() == []  # a downgrade drops the accounts (and only them)
