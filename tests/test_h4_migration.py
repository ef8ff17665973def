"""Migration 0003 on a database that older versions' register race left with the same bytes twice:
the duplicates are merged into the first file, nothing a user made (matches, allowances) is lost."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, text

from inkseal import Inkseal
from inkseal.registry.models import Fingerprint, Work, WorkFile
from inkseal.registry.store import schema_head, MIGRATIONS

NOW = "2026-11-20 10:00:00+00:00"


def _database_at_0002(url: str) -> None:
    engine = create_engine(url)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0002")
        run = lambda sql, **p: conn.execute(text(sql), p)  # noqa: E731
        run("INSERT INTO authors (id, name, created_at) VALUES (1, 'Li', :t)", t=NOW)
        for wid in (1, 2, 3):  # works 1 and 2: the race (same bytes "aa.."); work 3: other bytes
            run("INSERT INTO works (id, author_id, title, registered_at) VALUES (:w, 1, :title, :t)",
                w=wid, title=f"w{wid}", t=NOW)
        for fid, wid, sha in ((1, 1, "a" * 64), (2, 2, "a" * 64), (3, 3, "b" * 64), (4, 2, "c" * 64)):
            run("INSERT INTO work_files (id, work_id, role, sha256, size_bytes, format, width, height, source_name,"
                " regions, created_at) VALUES (:f, :w, 'original', :s, 1, 'PNG', 8, 8, 'x.png', '{}', :t)",
                f=fid, w=wid, s=sha, t=NOW)
            run("INSERT INTO fingerprints (id, file_id, signal, signal_version, variant, data)"
                " VALUES (:f, :f, 'pdq', 1, 'full', :d)", f=fid, d=bytes(32))
        # work 4: the race again, and the duplicate's work has nothing else: it goes, its match moves
        run("INSERT INTO works (id, author_id, title, registered_at) VALUES (4, 1, 'w4', :t)", t=NOW)
        run("INSERT INTO work_files (id, work_id, role, sha256, size_bytes, format, width, height, source_name,"
            " regions, created_at) VALUES (5, 4, 'original', :s, 1, 'PNG', 8, 8, 'x.png', '{}', :t)", s="b" * 64, t=NOW)
        run("INSERT INTO suspects (id, sha256, source_kind, source, location, width, height, seen_at)"
            " VALUES (1, :s, 'file', 'copy.png', '{}', 8, 8, :t)", s="d" * 64, t=NOW)
        run("INSERT INTO matches (id, suspect_id, work_id, file_id, score, scores, localisation, status, note,"
            " created_at) VALUES (1, 1, 4, 5, 9.5, '{}', '{}', 'confirmed', 'keep me', :t)", t=NOW)
        run("INSERT INTO allowances (id, work_id, sha256, note, created_at) VALUES (1, 4, :s, 'licensed', :t)",
            s="e" * 64, t=NOW)
    engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_race_duplicates_are_merged_by_migration_0003(backend: str, request: pytest.FixtureRequest,
                                                      tmp_path: Path) -> None:
    from conftest import _new_pg_database

    if backend == "postgresql":
        url = _new_pg_database(request.getfixturevalue("postgres_server"))
    else:
        url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    _database_at_0002(url)
    app = Inkseal.open(tmp_path / "home", db_url=url)
    try:
        with app.registry.engine.connect() as conn:
            assert MigrationContext.configure(conn).get_current_revision() == schema_head()
        files = {f.id: (f.work_id, f.sha256[0]) for w in app.works() for f in w.files}
        # duplicate file 2 merged into file 1; work 2 keeps its other file; work 4 (only the duplicate) is gone
        assert files == {1: (1, "a"), 3: (3, "b"), 4: (2, "c")}
        assert [w.id for w in app.works()] == [1, 2, 3]
        (m,) = app.matches()
        assert (m.work_id, m.file_id, m.status, m.note) == (3, 3, "confirmed", "keep me")
        assert app.registry.is_allowed(3, "e" * 64, [])
        assert app.registry.count(Fingerprint) == 3 and app.registry.count(WorkFile) == 3
        assert app.registry.count(Work) == 3
    finally:
        app.close()
