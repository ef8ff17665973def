"""Local features (ORB) live in the feature store on disk, not in the database (issue 11, part 3).

Registration writes them beside the objects; the matcher reads them back, or recomputes them from the
stored original when the blob is missing or damaged; migration 0006 moves the rows older versions wrote.
"""

from __future__ import annotations

import io
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from alembic import command
from alembic.config import Config
from PIL import Image
from sqlalchemy import create_engine, func, select, text

from inkseal import Inkseal
from inkseal.imaging import load_image
from inkseal.registry.features import LOCAL_SIGNALS, local_signal
from inkseal.registry.models import Fingerprint
from inkseal.registry.objects import FeatureStore, ObjectStore
from inkseal.registry.store import MIGRATIONS
from inkseal.signals import ORBSignal

NOW = "2026-11-20 10:00:00+00:00"


def _crop_copy(path: Path) -> np.ndarray:
    buf = io.BytesIO()
    Image.open(path).convert("RGB").crop((100, 50, 700, 450)).save(buf, "JPEG", quality=70)
    return load_image(buf.getvalue()).rgb


def _copy_found(home: Path, path: Path, work_id: int) -> bool:
    """A fresh process's view (no feature cache in memory): is the crop a `copy` of `work_id`?"""
    app = Inkseal.open(home)
    try:
        return any(v.work_id == work_id and v.tier == "copy" for v in app.matcher.match(_crop_copy(path)))
    finally:
        app.close()


def _orb_rows(app: Inkseal) -> int:
    with app.registry.session() as s:
        return int(s.scalar(select(func.count()).select_from(Fingerprint).where(Fingerprint.signal == "orb")))


def _same_features(a: bytes, b: bytes) -> bool:
    orb = ORBSignal()
    fa, fb = orb.deserialize(a), orb.deserialize(b)
    return np.array_equal(fa.points, fb.points) and np.array_equal(fa.descriptors, fb.descriptors)


def test_local_signals_name_the_signal_classes() -> None:
    assert type(local_signal("orb")) is ORBSignal and set(LOCAL_SIGNALS) == {"orb"}


def test_feature_store_atomic_private_checked(tmp_path: Path) -> None:
    store = FeatureStore(tmp_path / "features")
    sha = "ab" * 32
    store.put("orb", 1, sha, b"payload")
    path = store.path("orb", 1, sha)
    assert path == tmp_path / "features" / "orb-v1" / "ab" / sha
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o700 for p in (path.parent, path.parent.parent, store.root))
    assert [p.name for p in path.parent.iterdir()] == [sha]  # no temp file left behind
    assert store.get("orb", 1, sha) == b"payload" and store.get("orb", 2, sha) is None  # versions apart
    store.put("orb", 1, sha, b"other")  # same key: kept (same bytes, same version)
    assert store.get("orb", 1, sha) == b"payload"
    raw = bytearray(path.read_bytes())
    raw[-1] ^= 1
    path.write_bytes(bytes(raw))
    assert store.get("orb", 1, sha) is None  # damaged: reported as missing, never handed on
    path.write_bytes(b"")
    assert store.get("orb", 1, sha) is None
    store.put("orb", 1, sha, b"fixed", replace=True)
    assert store.get("orb", 1, sha) == b"fixed"
    with pytest.raises(ValueError):
        store.path("orb", 1, "../" + "a" * 61)
    store.delete_all_versions(sha)
    assert store.get("orb", 1, sha) is None


def test_registered_orb_lives_in_the_feature_store_and_heals(tmp_path: Path, kodak: list[Path]) -> None:
    home = tmp_path / "home"
    app = Inkseal.open(home)
    try:
        report = app.register(kodak[:3], author="Li")
        assert [i.error for i in report.items] == [None, None, None]
        wids = [i.work_id for i in report.items]
        files = [app.work(w).files[0] for w in wids]
        assert _orb_rows(app) == 0
        assert app.registry.count(Fingerprint) == 3 * 7  # SSCD (whole + 5 crops) and PDQ stay rows
        store = app.registry.features
        blobs = [store.path("orb", ORBSignal.version, f.sha256) for f in files]
        assert all(b.is_file() for b in blobs) and store.root == home / "features"
        fresh = dict(((s, v), b) for s, _ver, v, b in app.fingerprints(load_image(kodak[0].read_bytes())))
        assert _same_features(app.registry.file_fingerprint(files[0].id, "orb"), fresh[("orb", "full")])
        assert app.registry.local_features(files[0].id, app.orb) == store.get("orb", ORBSignal.version, files[0].sha256)
        published, _ = app.publish(wids[2], signature="@li")  # another file of a work (add_file): same way
        assert _orb_rows(app) == 0 and store.get("orb", ORBSignal.version, published.sha256)
    finally:
        app.close()
    assert _copy_found(home, kodak[0], wids[0])

    blobs[0].unlink()  # an install whose cache was deleted: recomputed from the stored original
    assert _copy_found(home, kodak[0], wids[0])
    assert blobs[0].is_file() and _same_features(FeatureStore(home / "features").get("orb", 1, files[0].sha256),
                                                 fresh[("orb", "full")])

    raw = bytearray(blobs[0].read_bytes())  # bit rot in the middle of the blob: recomputed, no crash
    raw[len(raw) // 2] ^= 0xFF
    blobs[0].write_bytes(bytes(raw))
    assert _copy_found(home, kodak[0], wids[0])
    assert FeatureStore(home / "features").get("orb", 1, files[0].sha256) is not None  # repaired in place

    app = Inkseal.open(home)
    try:
        store = app.registry.features
        app.registry.objects.path(files[2].sha256).unlink()  # neither blob nor original: None, not a crash
        blobs[2].unlink()
        assert app.registry.local_features(files[2].id, app.orb) is None
        app.remove_work(wids[1])  # the removed file's features go; the others stay
        assert not blobs[1].exists() and blobs[0].is_file()
        app.remove_work(wids[2])  # both files of a published work
        assert not store.path("orb", ORBSignal.version, published.sha256).exists()
        assert app.registry.local_features(files[1].id, app.orb) is None
    finally:
        app.close()


# -- migration 0006 --------------------------------------------------------------------------------
def _alembic(conn) -> Config:  # type: ignore[no-untyped-def]
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = conn
    return cfg


def _old_home(home: Path, helper: Inkseal, pictures: list[Path], url: str | None = None) -> dict[str, bytes]:
    """A home as the code before 0006 left it: schema at 0005, an ORB row per file. Returns sha -> ORB row."""
    home.mkdir()
    engine = create_engine(url or f"sqlite:///{home / 'registry.sqlite'}")
    objects, orb = ObjectStore(home / "objects"), {}
    with engine.begin() as conn:
        command.upgrade(_alembic(conn), "0005")
        run = lambda sql, **p: conn.execute(text(sql), p)  # noqa: E731
        run("INSERT INTO authors (id, name, created_at) VALUES (1, 'Li', :t)", t=NOW)
        for n, path in enumerate(pictures, 1):
            data = path.read_bytes()
            image = load_image(data)
            objects.put(data)
            run("INSERT INTO works (id, author_id, title, registered_at) VALUES (:w, 1, :title, :t)",
                w=n, title=path.stem, t=NOW)
            run("INSERT INTO work_files (id, work_id, role, sha256, size_bytes, format, width, height, source_name,"
                " regions, created_at) VALUES (:f, :f, 'original', :s, :b, 'PNG', :w, :h, :name, '{}', :t)",
                f=n, s=image.sha256, b=len(data), w=image.width, h=image.height, name=path.name, t=NOW)
            for sig, ver, var, blob in helper.fingerprints(image):
                run("INSERT INTO fingerprints (file_id, signal, signal_version, variant, data)"
                    " VALUES (:f, :sig, :ver, :var, :d)", f=n, sig=sig, ver=ver, var=var, d=blob)
                if sig == "orb":
                    orb[image.sha256] = blob
    engine.dispose()
    return orb


def _db_bytes(path: Path) -> tuple[int, int]:
    """File size after a checkpoint, and how much of it is free pages."""
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    free = conn.execute("PRAGMA freelist_count").fetchone()[0] * conn.execute("PRAGMA page_size").fetchone()[0]
    conn.close()
    return path.stat().st_size, free


@pytest.fixture(scope="module")
def helper(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Inkseal]:
    """Computes fingerprints exactly as the registering code does."""
    app = Inkseal.open(tmp_path_factory.mktemp("helper"))
    yield app
    app.close()


def test_migration_0006_on_postgresql(tmp_path: Path, kodak: list[Path], helper: Inkseal,
                                      postgres_server: str) -> None:
    from conftest import _new_pg_database

    url = _new_pg_database(postgres_server)
    orb = _old_home(tmp_path / "home", helper, kodak[6:8], url)
    app = Inkseal.open(tmp_path / "home", db_url=url)
    try:
        assert _orb_rows(app) == 0 and app.registry.count(Fingerprint) == 2 * 7
        assert all(app.registry.features.get("orb", 1, sha) == blob for sha, blob in orb.items())
        wid = app.works()[1].id
        assert any(v.work_id == wid and v.tier == "copy" for v in app.matcher.match(_crop_copy(kodak[7])))
    finally:
        app.close()


def test_migration_0006_by_hand_keeps_or_moves_and_back(tmp_path: Path, kodak: list[Path], helper: Inkseal) -> None:
    """alembic without the feature store keeps the rows (nothing lost); with it they move; downgrade brings
    them back byte for byte, never twice."""
    orb = _old_home(tmp_path / "old", helper, kodak[:3])
    engine = create_engine(f"sqlite:///{tmp_path / 'old' / 'registry.sqlite'}")
    store = FeatureStore(tmp_path / "old" / "features")
    orb_rows = text("SELECT count(*) FROM fingerprints WHERE signal = 'orb'")

    def with_store(conn) -> Config:  # type: ignore[no-untyped-def]
        cfg = _alembic(conn)
        cfg.attributes["feature_store"] = store
        return cfg

    with engine.begin() as conn:
        command.upgrade(_alembic(conn), "0006")
        assert conn.scalar(orb_rows) == 3
        command.downgrade(with_store(conn), "0005")  # rows still there: not doubled
        assert conn.scalar(orb_rows) == 3
        cfg = with_store(conn)
        command.upgrade(cfg, "0006")
        assert cfg.attributes["features_moved"] == 3
        assert conn.scalar(orb_rows) == 0 and conn.scalar(text("SELECT count(*) FROM fingerprints")) == 3 * 7
        assert all(store.get("orb", 1, sha) == blob for sha, blob in orb.items())
        command.downgrade(with_store(conn), "0005")
        back = dict(conn.execute(text("SELECT w.sha256, f.data FROM fingerprints f JOIN work_files w"
                                      " ON w.id = f.file_id WHERE f.signal = 'orb'")).all())
        assert back == orb
    engine.dispose()


def test_migration_0006_at_open_moves_rows_and_shrinks_the_file(tmp_path: Path, kodak: list[Path],
                                                                helper: Inkseal) -> None:
    # 10 works: the ORB rows must outweigh the pages every later revision's tables take at the same open
    # (about 40 pages by 0014), or the shrink measured is theirs, not the move's
    pictures = kodak[:10]
    home = tmp_path / "home"
    orb = _old_home(home, helper, pictures)
    before, _ = _db_bytes(home / "registry.sqlite")
    app = Inkseal.open(home)
    try:
        assert _orb_rows(app) == 0 and app.registry.count(Fingerprint) == len(pictures) * 7
        assert all(app.registry.features.get("orb", 1, sha) == blob for sha, blob in orb.items())
        works = app.works()
        assert [w.files[0].sha256 for w in works] == list(orb)
    finally:
        app.close()
    after, free = _db_bytes(home / "registry.sqlite")
    moved = sum(len(blob) for blob in orb.values())
    print(f"\nDB for {len(pictures)} Kodak works: {before} -> {after} bytes ({moved} bytes of ORB rows moved out)")
    # VACUUMed at open: the file gave back most of what the ORB rows held (the tables of the later revisions,
    # each a few pages, are added by the same open)
    assert free == 0 and before - after > 0.5 * moved
    assert _copy_found(home, pictures[3], works[3].id)
