"""The registry's behaviour, run identically on a real SQLite file and a real PostgreSQL server."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from inkseal.registry.store import schema_head
from inkseal import Inkseal
from inkseal.errors import NotFound
from inkseal.registry.models import Fingerprint, Match, Suspect, Work, WorkFile


def test_sqlite_uses_wal(app: Inkseal) -> None:
    with app.registry.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_migrations_at_head(backend_app: Inkseal) -> None:
    with backend_app.registry.engine.connect() as conn:
        assert MigrationContext.configure(conn).get_current_revision() == schema_head()
        tables = set(inspect(conn).get_table_names())
    assert {"authors", "works", "work_files", "fingerprints", "matches", "suspects", "allowances"} <= tables


def test_register_list_show_remove(backend_app: Inkseal, kodak: list[Path]) -> None:
    app = backend_app
    report = app.register(kodak[:3], author="Li", title="Spring")
    assert [i.error for i in report.items] == [None, None, None]
    works = app.works()
    assert [w.title for w in works] == ["Spring - kodim01", "Spring - kodim02", "Spring - kodim03"]
    w = app.work(works[0].id)
    assert w.author.name == "Li"
    (f,) = w.files
    assert f.role == "original" and f.format == "PNG" and (f.width, f.height) == (768, 512)
    assert f.sha256 == __import__("hashlib").sha256(kodak[0].read_bytes()).hexdigest()
    assert app.registry.objects.get(f.sha256) == kodak[0].read_bytes()
    # 6 SSCD region embeddings + PDQ per file in the database; ORB in the feature store beside it
    signals = sorted(fp.signal for fp in _fingerprints(app, f.id))
    assert signals.count(app.sscd.name) == 6 and "pdq" in signals and "orb" not in signals
    assert app.registry.file_fingerprint(f.id, "orb")
    assert len(app.indexes[app.sscd.name]) == 18 and len(app.indexes["pdq"]) == 3

    # the same bytes again: skipped, not duplicated
    again = app.register(kodak[:1], author="Li")
    assert again.items[0].skipped and app.registry.count(Work) == 3

    app.remove_work(works[0].id)
    assert app.registry.count(Work) == 2 and app.registry.count(WorkFile) == 2
    assert not _fingerprints(app, f.id)
    assert len(app.indexes[app.sscd.name]) == 12 and len(app.indexes["pdq"]) == 2
    with pytest.raises(NotFound):
        app.work(works[0].id)


def test_publish_adds_version_with_signature_region(backend_app: Inkseal, kodak: list[Path]) -> None:
    app = backend_app
    wid = app.register(kodak[4:5], author="Li", title="One").items[0].work_id
    wf, path = app.publish(wid, signature="@li")
    assert path.exists()
    work = app.work(wid)
    assert [f.role for f in work.files] == ["original", "published"]
    x0, y0, x1, y1 = work.files[1].regions["signature"]
    assert 768 / 2 < x0 < x1 <= 768 and 512 / 2 < y0 < y1 <= 512  # bottom-right corner


def test_matches_statuses_and_allowances(backend_app: Inkseal, kodak: list[Path]) -> None:
    app = backend_app
    wid = app.register(kodak[6:7], author="Li").items[0].work_id
    file_id = app.work(wid).files[0].id
    s = Suspect(sha256="ab" * 32, source_kind="url", source="https://x.example/a.jpg", page_url="https://x.example/p",
                location={"dom_path": "img"}, width=10, height=10)
    (m,) = app.registry.record_matches(s, [Match(work_id=wid, file_id=file_id, score=9.5, scores={"inliers": 50},
                                                 localisation={"visible_fraction": 0.5})])
    assert [x.id for x in app.matches()] == [m.id] and app.matches(status="new")[0].scores == {"inliers": 50}
    app.set_match_status(m.id, "confirmed")
    assert app.matches(status="confirmed")[0].decided_at is not None
    assert not app.registry.is_allowed(wid, "ab" * 32, [])
    app.set_match_status(m.id, "whitelisted", note="licensed to x.example")
    assert app.registry.is_allowed(wid, "ab" * 32, [])
    assert app.registry.is_allowed(wid, "cd" * 32, ["https://x.example/p"])
    assert not app.registry.is_allowed(wid, "cd" * 32, ["https://other.example/"])
    with pytest.raises(ValueError):
        app.set_match_status(m.id, "maybe")
    app.remove_work(wid)
    assert app.matches() == []


def _fingerprints(app: Inkseal, file_id: int) -> list[Fingerprint]:
    from sqlalchemy import select

    with app.registry.session() as s:
        return list(s.scalars(select(Fingerprint).where(Fingerprint.file_id == file_id)))


def test_scan_end_to_end_on_both_databases(backend_app: Inkseal, kodak: list[Path], tmp_path: Path) -> None:
    """The whole data path (register -> scan -> stored match -> decision) on SQLite and PostgreSQL."""
    import io

    from PIL import Image

    app = backend_app
    wid = app.register(kodak[8:9], author="Li").items[0].work_id
    folder = tmp_path / "found"
    folder.mkdir()
    buf = io.BytesIO()
    Image.open(kodak[8]).convert("RGB").crop((100, 50, 700, 450)).save(buf, "JPEG", quality=60)
    (folder / "copy.jpg").write_bytes(buf.getvalue())
    (folder / "broken.jpg").write_bytes(buf.getvalue()[:300])
    report = app.scan([str(folder)])
    assert len(report.failed) == 1 and "broken.jpg" in report.failed[0].item.source
    (m,) = [m for r in report.matched for m in r.matches]
    stored = app.registry.match(m.id)
    assert stored.work_id == wid and stored.suspect.source.endswith("copy.jpg")
    assert 0.4 < stored.localisation["visible_fraction"] < 0.75
    assert app.registry.objects.get(stored.suspect.sha256) == buf.getvalue()  # the exact bytes are kept
    app.set_match_status(m.id, "whitelisted")
    assert app.scan([str(folder)]).suppressed == 1
