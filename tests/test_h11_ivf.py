"""The compressed backend ("faiss-ivfpq"): IVF-PQ candidates re-ranked exactly from the database.

Small sizes: ~20k structured synthetic SSCD vectors with the training threshold lowered, so the
real train / add / remove / compact / reopen path runs in seconds. Checked: the approximate search
finds the planted near-duplicates that exact search finds, scores are exact, adds and removes between
compactions, a kill between a new generation and its pointer, a damaged base, reopening from disk."""

from __future__ import annotations

import hashlib
import io
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import faiss
import numpy as np
import pytest
from PIL import Image
from sqlalchemy import delete, insert, select

from inkseal import Inkseal
from inkseal.errors import InksealError
from inkseal.imaging import load_image
from inkseal.match import index_ivf as ivf
from inkseal.match.index import SignalIndex
from inkseal.match.matcher import COS_FLOOR
from inkseal.registry.models import Author, Fingerprint, Work, WorkFile

WORKS = 3400  # x 6 vectors = 20.4k
TRAIN_MIN = 10_000
TRAIN_SAMPLE_MIN = 4096
K = 16  # the matcher's TOP_K + 6


@pytest.fixture(autouse=True)
def _low_threshold(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ivf, "TRAIN_MIN", TRAIN_MIN)
    monkeypatch.setattr(ivf, "TRAIN_SAMPLE_MIN", TRAIN_SAMPLE_MIN)


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def _structured(n: int, rng: np.random.Generator, dim: int = 512) -> np.ndarray:
    """Works of 6 vectors (one picture and its crops: correlated) with a shared mean and a decaying
    spectrum (like real SSCD embeddings, cf. benchmarks/scale.py), so the quantiser has structure to learn."""
    basis = np.linalg.qr(np.random.default_rng(99).standard_normal((dim, 64)))[0].T
    mean = np.random.default_rng(98).standard_normal(dim) * 0.04
    spectrum = np.linspace(0.3, 0.03, 64)
    picture = mean + (rng.standard_normal((n // 6, 64)) * spectrum) @ basis
    crops = np.repeat(picture, 6, axis=0) + (rng.standard_normal((n, 64)) * spectrum * 0.6) @ basis
    return _unit(crops + rng.standard_normal((n, dim)) * 0.01)


def _add_works(app: Inkseal, vecs: np.ndarray, tag: str) -> list[int]:
    """Works of 6 fingerprints each, written through the schema; returns the work ids."""
    sscd = app.sscd
    wids = []
    with app.registry.session() as s, s.begin():
        author = s.execute(insert(Author).values(name=f"synthetic {tag}").returning(Author.id)).scalar_one()
        for w in range(len(vecs) // 6):
            wid = s.execute(insert(Work).values(author_id=author, title=f"{tag}{w}").returning(Work.id)).scalar_one()
            fid = s.execute(insert(WorkFile).values(
                work_id=wid, role="original", sha256=hashlib.sha256(f"{tag}{w}".encode()).hexdigest(), size_bytes=1,
                format="PNG", width=1, height=1, source_name="", regions={}).returning(WorkFile.id)).scalar_one()
            s.execute(insert(Fingerprint), [{"file_id": fid, "signal": sscd.name, "signal_version": sscd.version,
                                             "variant": f"v{j}", "data": sscd.serialize(vecs[6 * w + j])}
                                            for j in range(6)])
            wids.append(wid)
    return wids


def _fingerprints_of(app: Inkseal, work_id: int) -> list[int]:
    with app.registry.session() as s:
        return list(s.scalars(select(Fingerprint.id).join(WorkFile, WorkFile.id == Fingerprint.file_id)
                              .where(WorkFile.work_id == work_id, Fingerprint.signal == app.sscd.name)))


def _drop_work_rows(app: Inkseal, work_id: int) -> list[int]:
    """Delete a work's SSCD rows straight from the database (the registry is the truth)."""
    fids = _fingerprints_of(app, work_id)
    with app.registry.session() as s, s.begin():
        s.execute(delete(Fingerprint).where(Fingerprint.id.in_(fids)))
    return fids


def _near(vecs: np.ndarray, rng: np.random.Generator, noise: float = 0.012) -> np.ndarray:
    """Planted near-duplicates: stored vectors plus noise (cosine ~0.85 to the original)."""
    return _unit(vecs + rng.standard_normal(vecs.shape).astype(np.float32) * noise)


@pytest.fixture(scope="module")
def registry_home(tmp_path_factory: pytest.TempPathFactory, kodak: list[Path]) -> tuple[Path, np.ndarray]:
    """Two Kodak photos registered for real, then WORKS synthetic works, the exact index (flat/) and the
    trained compressed one (ivf/). The synthetic vectors point away from the real ones (cosine < the
    matcher's floor), so a scan never verifies a synthetic work (it has no stored file)."""
    home = tmp_path_factory.mktemp("ivf") / "home"
    app = Inkseal.open(home)
    app.register(kodak[:2], author="kodak")
    real = np.stack([app.sscd.deserialize(r.data) for r in app.registry.fingerprints(app.sscd.name)])
    away = _unit(real.mean(0, keepdims=True))[0]
    vecs = _unit(_structured(6 * WORKS, np.random.default_rng(1)) - 0.5 * away)
    _add_works(app, vecs, "d")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ivf, "TRAIN_MIN", TRAIN_MIN)
        mp.setattr(ivf, "TRAIN_SAMPLE_MIN", TRAIN_SAMPLE_MIN)
        for backend, sub in (("faiss-flat", "flat"), ("faiss-ivfpq", "ivf")):
            SignalIndex(app.sscd, home / sub, backend=backend).sync(app.registry)
    app.close()
    return home, vecs


@pytest.fixture
def home(registry_home: tuple[Path, np.ndarray], tmp_path: Path) -> tuple[Inkseal, np.ndarray]:
    """A private copy (database and both indexes) per test: tests add, remove and damage things."""
    where = tmp_path / "home"
    shutil.copytree(registry_home[0], where)
    app = Inkseal.open(where)
    yield app, registry_home[1]
    app.close()


def _opened(app: Inkseal, sub: str, backend: str = "faiss-ivfpq") -> SignalIndex:
    idx = SignalIndex(app.sscd, app.settings.home / sub, backend=backend)
    idx.sync(app.registry)
    return idx


def _recall(app: Inkseal, approx: SignalIndex, exact: SignalIndex, queries: np.ndarray) -> tuple[float, np.ndarray]:
    """recall@K of the approximate search vs exact; also checks what copy detection needs: the same top
    hit (the planted copy's original) and exact scores."""
    es, ei = exact.search(queries, K)
    s_, ai = approx.search(queries, K)
    assert (ai[:, 0] == ei[:, 0]).all()
    same = ai == ei
    assert np.allclose(s_[same], es[same], atol=1e-5)  # re-ranked: the exact scores, not PQ estimates
    return float(np.mean([len(set(a) & set(e)) / K for a, e in zip(ai.tolist(), ei.tolist())])), ai


def test_small_registry_stays_exact_flat(home: tuple[Inkseal, np.ndarray], monkeypatch: pytest.MonkeyPatch) -> None:
    app, _v = home
    monkeypatch.setattr(ivf, "TRAIN_MIN", 10 * TRAIN_MIN)
    idx = _opened(app, "small")
    assert not ivf.is_ivf(idx.index) and len(idx) == 6 * WORKS + 12


def test_compressed_search_finds_planted_copies_with_exact_scores(home: tuple[Inkseal, np.ndarray]) -> None:
    app, vecs = home
    exact, approx = _opened(app, "flat", "faiss-flat"), _opened(app, "ivf")
    assert ivf.is_ivf(approx.index) and len(approx) == len(exact) == 6 * WORKS + 12
    assert faiss.downcast_index(approx.index).code_size == ivf.PQ_BYTES  # 64 B per vector in RAM, not 2 KB
    assert sorted(approx.ids().tolist()) == sorted(exact.ids().tolist())
    rng = np.random.default_rng(5)
    planted = rng.choice(len(vecs), 60, replace=False)
    queries = _near(vecs[planted], rng)
    recall, ai = _recall(app, approx, exact, queries)
    print(f"recall@{K} of IVF-PQ candidates (re-ranked) vs exact: {recall:.3f}")
    assert recall >= 0.85
    stored = np.asarray(sorted(exact.ids().tolist()))[12:]  # after Kodak's: ids in insertion order = vecs order
    assert (ai[:, 0] == stored[planted]).all()  # each planted copy's original is the top hit
    # an exact backend never answers from the compressed base: it rebuilds exactly instead
    flat = _opened(app, "ivf", "faiss-flat")
    assert not ivf.is_ivf(flat.index) and flat.search(queries, K)[1].tolist() == exact.search(queries, K)[1].tolist()


def test_adds_and_removes_between_compactions(home: tuple[Inkseal, np.ndarray]) -> None:
    app, vecs = home
    where = app.settings.home / "ivf"
    approx = _opened(app, "ivf")
    gen = approx.generation
    (base,) = where.glob("*.faiss")
    base_bytes = base.stat().st_size
    rng = np.random.default_rng(7)
    new_vecs = _structured(6 * 20, rng)
    new_works = _add_works(app, new_vecs, "n")
    assert approx.sync(app.registry) == 120
    assert approx.generation == gen and base.stat().st_size == base_bytes  # appended to the delta only
    q_new = _near(new_vecs[::6], rng)
    owners = app.registry.fingerprint_owners
    top = approx.search(q_new, K)[1][:, 0].tolist()
    assert [owners([i])[i][1] for i in top] == new_works
    # removals: one told by the caller, one behind the index's back (found by the watermark)
    told = _drop_work_rows(app, new_works[0])
    approx.sync(app.registry, removed=told)
    behind = _drop_work_rows(app, new_works[1])
    first_old = int(sorted(approx.ids().tolist())[0])  # a distractor's fingerprint, removed behind the back
    with app.registry.session() as s, s.begin():
        s.execute(delete(Fingerprint).where(Fingerprint.id == first_old))
    approx.sync(app.registry)
    gone = set(told) | set(behind) | {first_old}
    assert not gone & set(approx.ids().tolist()) and len(approx) == 6 * WORKS + 12 + 120 - 13
    assert not set(approx.search(q_new[:2], K)[1].ravel().tolist()) & gone
    # a fresh handle replays the same delta; compaction keeps the answers
    exact = _opened(app, "flat", "faiss-flat")
    queries = np.concatenate([q_new[2:], _near(vecs[100:130], rng)])
    reopened = _opened(app, "ivf")
    assert reopened.generation == gen and sorted(reopened.ids().tolist()) == sorted(exact.ids().tolist())
    recall, ai = _recall(app, reopened, exact, queries)
    assert recall >= 0.85
    reopened.compact()
    assert reopened.generation != gen and ivf.is_ivf(reopened.index)
    assert reopened.search(queries, K)[1].tolist() == ai.tolist()
    assert len(list(where.glob("*.faiss"))) == 1


_KILL_AT_POINTER = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path
    from inkseal import Inkseal
    from inkseal.match import index_ivf as ivf
    from inkseal.match.index import SignalIndex
    ivf.TRAIN_MIN, ivf.TRAIN_SAMPLE_MIN = int(sys.argv[2]), int(sys.argv[3])
    app = Inkseal.open(sys.argv[1])
    idx = SignalIndex(app.sscd, Path(sys.argv[1]) / "ivf", backend="faiss-ivfpq")
    real_replace = os.replace
    def replace(src, dst):
        if str(dst).endswith(".json"):  # the new generation is on disk; die before the pointer names it
            os.kill(os.getpid(), signal.SIGKILL)
        return real_replace(src, dst)
    if sys.argv[4] == "compact":
        idx.sync(app.registry)
        os.replace = replace
        idx.compact()
    else:  # the first training: the whole compressed base is written, then the kill
        os.replace = replace
        idx.sync(app.registry)
""")


@pytest.mark.parametrize("when", ["first-training", "compact"])
def test_kill_between_new_generation_and_pointer(home: tuple[Inkseal, np.ndarray], when: str) -> None:
    app, vecs = home
    where = app.settings.home / "ivf"
    if when == "first-training":
        shutil.rmtree(where)
    before = {p.name for p in where.iterdir()} if where.exists() else set()
    proc = subprocess.run([sys.executable, "-c", _KILL_AT_POINTER, str(app.settings.home), str(TRAIN_MIN),
                           str(TRAIN_SAMPLE_MIN), when], timeout=300, capture_output=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()[-2000:]
    left = {p.name for p in where.iterdir()} - before
    assert any(n.endswith(".faiss") for n in left)  # a whole new generation that nothing points to
    if before:
        assert {p.name for p in where.iterdir()} >= before  # the current generation untouched
    idx = _opened(app, "ivf")
    exact = _opened(app, "flat", "faiss-flat")
    assert ivf.is_ivf(idx.index) and sorted(idx.ids().tolist()) == sorted(exact.ids().tolist())
    recall, _ai = _recall(app, idx, exact, _near(vecs[:30], np.random.default_rng(2)))
    assert recall >= 0.85
    idx.compact()
    assert not [p for p in where.iterdir() if ".tmp" in p.name] and len(list(where.glob("*.faiss"))) == 1


def test_damaged_base_costs_a_rebuild_never_a_wrong_answer(home: tuple[Inkseal, np.ndarray]) -> None:
    app, vecs = home
    (base,) = (app.settings.home / "ivf").glob("*.faiss")
    raw = base.read_bytes()
    base.write_bytes(raw[: len(raw) // 2])  # torn
    idx = _opened(app, "ivf")
    assert ivf.is_ivf(idx.index) and len(idx) == 6 * WORKS + 12
    recall, _ai = _recall(app, idx, _opened(app, "flat", "faiss-flat"), _near(vecs[200:230], np.random.default_rng(3)))
    assert recall >= 0.85


def test_search_before_sync_is_refused_clearly(home: tuple[Inkseal, np.ndarray]) -> None:
    app, vecs = home
    idx = SignalIndex(app.sscd, app.settings.home / "ivf", backend="faiss-ivfpq")
    idx._refresh()  # opened from disk, but never told which database to re-rank from
    with pytest.raises(InksealError, match="sync"):
        idx.search(vecs[:1], K)


def test_outgrown_lists_are_retrained_into_a_new_base(home: tuple[Inkseal, np.ndarray],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    app, vecs = home
    approx = _opened(app, "ivf")
    old_lists, gen = approx.index.nlist, approx.generation
    monkeypatch.setattr(ivf, "lists_for", lambda n: 2 * old_lists)  # as if the registry had grown ~4x
    monkeypatch.setattr(ivf, "NPROBE", 2 * ivf.NPROBE)  # the same share of the (twice as many) lists
    approx.sync(app.registry)  # retrains on a new sample, refills from the database, writes a new generation
    assert approx.index.nlist == 2 * old_lists and approx.generation != gen
    assert len(list((app.settings.home / "ivf").glob("*.faiss"))) == 1
    exact = _opened(app, "flat", "faiss-flat")
    assert sorted(approx.ids().tolist()) == sorted(exact.ids().tolist())
    recall, _ai = _recall(app, approx, exact, _near(vecs[300:330], np.random.default_rng(4)))
    assert recall >= 0.85
    reopened = _opened(app, "ivf")  # no further retraining: the new lists fit
    assert reopened.generation == approx.generation and reopened.index.nlist == 2 * old_lists


def test_matcher_finds_a_copy_through_the_compressed_index(home: tuple[Inkseal, np.ndarray], kodak: list[Path]) -> None:
    """End to end through the app's setting: the matcher is unchanged, its candidates come from IVF-PQ."""
    app, vecs = home
    shutil.rmtree(app.settings.index_dir, ignore_errors=True)
    compressed = Inkseal.open(app.settings.home, index_backend="faiss-ivfpq")
    try:
        assert ivf.is_ivf(compressed.indexes[compressed.sscd.name].index)
        im = Image.open(kodak[1]).convert("RGB")
        buf = io.BytesIO()
        im.resize((im.width * 3 // 4, im.height * 3 // 4)).save(buf, "JPEG", quality=75)
        q = compressed.sscd.compute(load_image(buf.getvalue()).rgb)
        assert float((vecs @ q).max()) < COS_FLOOR  # precondition: no synthetic work is worth verifying
        verdicts = compressed.match_image(buf.getvalue())
        assert verdicts and compressed.work(verdicts[0].work_id).title == kodak[1].stem
        assert verdicts[0].tier == "copy"
    finally:
        compressed.close()
