"""The indexes' watermark kept by database triggers (migration 0009): whatever writes or deletes
fingerprints - registration, removal of a work, a cascade from a removed file, a bulk loader writing rows
straight into the table, an update of a row's signal - the one-row count and checksum equal a count over
every row, on SQLite and on PostgreSQL; and an existing database is filled in by the migration."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, delete, insert, text, update

from inkseal import Inkseal
from inkseal.match.index import counted_watermark, db_watermark
from inkseal.registry.models import Fingerprint, FingerprintMark, WorkFile
from inkseal.registry.store import MIGRATIONS

SIGNALS = ("sscd-distilled", "pdq", "orb", "made-up")


def _marks_agree(app: Inkseal) -> None:
    for signal in SIGNALS:
        assert db_watermark(app.registry, signal) == counted_watermark(app.registry, signal), signal


def test_every_kind_of_write_keeps_the_mark_exact(backend_app: Inkseal, kodak: list[Path]) -> None:
    app = backend_app
    app.register(kodak[:4], author="Li")
    _marks_agree(app)
    sscd = db_watermark(app.registry, "sscd-distilled")
    assert sscd.count == 4 * 6 and sscd.checksum > 0

    works = app.works()
    app.remove_work(works[1].id)  # the registry's own removal
    _marks_agree(app)
    with app.registry.session() as s, s.begin():  # a cascade: the file row goes, its fingerprints with it
        s.execute(delete(WorkFile).where(WorkFile.work_id == works[2].id))
    _marks_agree(app)
    assert db_watermark(app.registry, "sscd-distilled").count == 2 * 6

    file_id = app.work(works[0].id).files[0].id
    with app.registry.session() as s, s.begin():  # a bulk loader writing rows straight into the table
        s.execute(insert(Fingerprint), [{"file_id": file_id, "signal": "made-up", "signal_version": 1,
                                         "variant": f"v{i}", "data": bytes(33)} for i in range(50)])
    _marks_agree(app)
    with app.registry.session() as s, s.begin():  # a row moved to another signal
        s.execute(update(Fingerprint).where(Fingerprint.signal == "made-up", Fingerprint.variant == "v7")
                  .values(signal="pdq"))
    _marks_agree(app)
    assert db_watermark(app.registry, "made-up").count == 49

    # the index opened afresh agrees with the database at once: nothing to re-read
    app.close()
    again = Inkseal.open(app.settings.home, db_url=app.settings.db_url or None)
    try:
        index = again.indexes["sscd-distilled"]
        assert len(index) == 2 * 6
        assert index.sync(again.registry) == 0
    finally:
        again.close()


def test_migration_fills_the_mark_from_existing_rows(tmp_path: Path) -> None:
    db = tmp_path / "home" / "registry.sqlite"
    db.parent.mkdir()
    engine = create_engine(f"sqlite:///{db}")
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0008")
        conn.execute(text("INSERT INTO authors (id, name, created_at) VALUES (1, 'Li', '2026-11-20')"))
        conn.execute(text("INSERT INTO works (id, author_id, title, registered_at) VALUES (1, 1, 'w', '2026-11-20')"))
        conn.execute(text("INSERT INTO work_files (id, work_id, role, sha256, size_bytes, format, width, height,"
                          " source_name, regions, created_at) VALUES (1, 1, 'original', :s, 1, 'PNG', 8, 8, 'x.png',"
                          " '{}', '2026-11-20')"), {"s": "a" * 64})
        for fid in (3, 9, 40):
            conn.execute(text("INSERT INTO fingerprints (id, file_id, signal, signal_version, variant, data)"
                              " VALUES (:f, 1, 'pdq', 1, 'full', :d)"), {"f": fid, "d": bytes(32)})
    engine.dispose()
    app = Inkseal.open(tmp_path / "home")
    try:
        with app.registry.session() as s:
            assert s.get(FingerprintMark, "pdq") is not None
        mark = db_watermark(app.registry, "pdq")
        assert mark == counted_watermark(app.registry, "pdq") and (mark.count, mark.max_id) == (3, 40)
        _marks_agree(app)
    finally:
        app.close()
