"""The index's base + delta lifecycle: appends instead of rewrites, merges, and crashes between every step.

Whatever is left on disk (a torn delta record, a half-done compaction, a foreign or corrupt file),
the next open must index exactly the database's fingerprints and find what it should."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import delete

from inkseal import Inkseal
from inkseal.imaging import load_image
from inkseal.match import index as index_mod
from inkseal.match.index_delta import Watermark
from inkseal.registry.models import Fingerprint, WorkFile

SIGNALS = ("pdq",)


def _agrees(app: Inkseal) -> None:
    for name, idx in app.indexes.items():
        assert set(idx.ids().tolist()) == set(app.registry.fingerprint_ids(name)), name
        assert idx._mark == Watermark.of_ids(idx.ids()) == index_mod.db_watermark(app.registry, name)


def _base(home: Path, name: str) -> Path:
    (base,) = (home / "index").glob(f"{name}.*.faiss")
    return base


def _delta(home: Path, name: str) -> Path:
    (d,) = (home / "index").glob(f"{name}.*.delta")
    return d


def _found(app: Inkseal, path: Path, work_id: int) -> bool:
    return any(v.work_id == work_id for v in app.match_image(path.read_bytes()))


def test_register_appends_to_the_delta_without_rewriting_the_base(tmp_path: Path, kodak: list[Path]) -> None:
    home = tmp_path / "home"
    app = Inkseal.open(home)
    app.register(kodak[:2], author="A")
    name = app.sscd.name
    base, base_stat = _base(home, name), _base(home, name).stat()
    delta_size = _delta(home, name).stat().st_size
    third = app.register(kodak[2:3], author="A").items[0].work_id
    after = _base(home, name).stat()
    assert _base(home, name) == base and (after.st_ino, after.st_mtime_ns) == (base_stat.st_ino, base_stat.st_mtime_ns)
    assert _delta(home, name).stat().st_size > delta_size  # six embeddings appended
    other = Inkseal.open(home)  # a fresh process reads base + delta
    _agrees(other)
    assert _found(other, kodak[2], third)
    # compaction folds the delta into a new base; the old generation is gone
    assert other.compact_index() == {n: len(i) for n, i in other.indexes.items()}
    assert _base(home, name) != base and not base.exists()
    assert _delta(home, name).stat().st_size == index_mod.delta.header_size()
    app.sync_indexes()  # the first handle follows the other's compaction
    _agrees(app)
    app.close()
    other.close()


def test_removal_reaches_other_handles_through_the_delta(tmp_path: Path, kodak: list[Path]) -> None:
    home = tmp_path / "home"
    app = Inkseal.open(home)
    ids = [i.work_id for i in app.register(kodak[:3], author="A").items]
    watcher = Inkseal.open(home)
    _ = watcher.indexes
    app.remove_work(ids[1])
    _agrees(app)
    watcher.sync_indexes()
    _agrees(watcher)
    assert not _found(watcher, kodak[1], ids[1]) and _found(watcher, kodak[2], ids[2])
    app.close()
    watcher.close()


@pytest.mark.parametrize("damage", ["torn", "flipped", "garbage-header", "deleted"])
def test_damaged_delta_costs_a_resync_never_a_wrong_answer(tmp_path: Path, kodak: list[Path], damage: str) -> None:
    home = tmp_path / "home"
    app = Inkseal.open(home)
    app.register(kodak[:2], author="A")
    late = app.register(kodak[2:3], author="A").items[0].work_id  # its vectors live in the delta
    app.close()
    for name in (app.sscd.name, "pdq"):
        d = _delta(home, name)
        raw = bytearray(d.read_bytes())
        if damage == "torn":
            d.write_bytes(bytes(raw[:-7]))  # the last record cut short, as by a kill mid-write
        elif damage == "flipped":
            raw[index_mod.delta.header_size() + 20] ^= 0xFF  # a bad CRC in the first record
            d.write_bytes(bytes(raw))
        elif damage == "garbage-header":
            d.write_bytes(b"not a delta" + bytes(raw[11:]))
        else:
            d.unlink()
    again = Inkseal.open(home)
    _agrees(again)
    assert _found(again, kodak[2], late)
    fourth = again.register(kodak[3:4], author="A").items[0].work_id  # appends after the repaired tail
    again.close()
    third = Inkseal.open(home)
    _agrees(third)
    assert _found(third, kodak[3], fourth) and _found(third, kodak[2], late)
    third.close()


_KILL_AT_SWITCH = textwrap.dedent("""
    import os, signal, sys
    from inkseal import Inkseal
    real_replace = os.replace
    def replace(src, dst):
        if str(dst).endswith(".json"):  # the pointer switch: die just before it
            os.kill(os.getpid(), signal.SIGKILL)
        return real_replace(src, dst)
    os.replace = replace
    app = Inkseal.open(sys.argv[1])
    _ = app.indexes  # opened (no compaction needed) before the switch is armed to kill
    app.compact_index()
""")


def test_kill_during_compaction_leaves_the_previous_generation(tmp_path: Path, kodak: list[Path]) -> None:
    home = tmp_path / "home"
    app = Inkseal.open(home)
    ids = [i.work_id for i in app.register(kodak[:3], author="A").items]
    app.close()
    before = {p.name for p in (home / "index").iterdir()}
    proc = subprocess.run([sys.executable, "-c", _KILL_AT_SWITCH, str(home)], timeout=300, capture_output=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()[-2000:]
    left = {p.name for p in (home / "index").iterdir()} - before
    assert any(n.endswith(".faiss") for n in left) and any(".json.tmp" in n for n in left)  # half a compaction
    again = Inkseal.open(home)
    _agrees(again)
    assert _found(again, kodak[0], ids[0])
    again.compact_index()
    assert not [n for n in os.listdir(home / "index") if ".tmp" in n]  # leftovers cleaned
    assert len(list((home / "index").glob("*.faiss"))) == 2
    again.close()


_KILL_AFTER_COMMIT = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path
    from inkseal import Inkseal
    from inkseal.match.index import SignalIndex
    def die(self, *a, **k):  # the database has committed; the index never hears of it
        os.kill(os.getpid(), signal.SIGKILL)
    app = Inkseal.open(sys.argv[1])
    _ = app.indexes
    SignalIndex.sync = die
    app.{call}
""")


@pytest.mark.parametrize("call", ["register([sys.argv[2]], author='A')", "remove_work(1)"])
def test_kill_between_database_commit_and_index(tmp_path: Path, kodak: list[Path], call: str) -> None:
    home = tmp_path / "home"
    app = Inkseal.open(home)
    first = app.register(kodak[:2], author="A").items[0].work_id
    app.close()
    script = _KILL_AFTER_COMMIT.replace("{call}", call)
    proc = subprocess.run([sys.executable, "-c", script, str(home), str(kodak[2])], timeout=300, capture_output=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()[-2000:]
    again = Inkseal.open(home)
    _agrees(again)
    if "remove" in call:
        assert not _found(again, kodak[0], first)
    else:
        (f,) = again.registry.files_by_sha256(load_image(kodak[2].read_bytes()).sha256)
        assert _found(again, kodak[2], f.work_id)
    again.close()


def test_removal_missed_by_the_index_is_seen_before_ids_are_reused(tmp_path: Path, kodak: list[Path]) -> None:
    """SQLite reuses the highest rowid once its row is gone: a new file may get the fingerprint ids
    of a removal the index never heard of, with equal count, top id and checksum."""
    home = tmp_path / "home"
    app = Inkseal.open(home)
    ids = [i.work_id for i in app.register(kodak[:2], author="A").items]
    app.close()
    raw = Inkseal.open(home)  # a process that removes the last work and dies before indexing
    with raw.registry.session() as s, s.begin():
        s.execute(delete(Fingerprint).where(Fingerprint.file_id.in_(
            s.query(WorkFile.id).filter(WorkFile.work_id == ids[1]).scalar_subquery())))
    raw.close()
    app = Inkseal.open(home)
    new = app.register(kodak[5:6], author="A").items[0].work_id
    _agrees(app)
    assert _found(app, kodak[5], new)
    assert not any(v.work_id == new for v in app.match_image(kodak[1].read_bytes()))
    app.close()


def test_stale_signal_version_starts_over(tmp_path: Path, kodak: list[Path]) -> None:
    home = tmp_path / "home"
    app = Inkseal.open(home)
    app.register(kodak[:2], author="A")
    app.close()
    meta = home / "index" / "pdq.json"
    m = json.loads(meta.read_text())
    m["signal_version"] = -1
    meta.write_text(json.dumps(m))
    again = Inkseal.open(home)
    _agrees(again)
    assert json.loads(meta.read_text())["signal_version"] == again.pdq.version
    again.close()


def test_big_catch_up_becomes_a_new_base_not_a_huge_delta(tmp_path: Path, kodak: list[Path],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    app = Inkseal.open(home)
    app.register(kodak[:1], author="A")  # 6 SSCD records: appended
    name = app.sscd.name
    first = _base(home, name)
    assert _delta(home, name).stat().st_size > index_mod.delta.header_size()
    monkeypatch.setattr(index_mod, "COMPACT_MAX_RECORDS", 10)
    app.register(kodak[1:3], author="A")  # 12 more: past the delta's limit, so a new base holds them
    assert _base(home, name) != first and not first.exists()
    assert _delta(home, name).stat().st_size == index_mod.delta.header_size()
    app.close()
    again = Inkseal.open(home)
    _agrees(again)
    again.close()
