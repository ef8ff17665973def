"""The approximate backend ("faiss-hnsw"): same answers as the exact index on copy queries, exact scores,
and the base + delta lifecycle (removals, compaction, a lost graph file) never giving a wrong answer."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import insert

from inkseal import Inkseal
from inkseal.errors import InksealError
from inkseal.imaging import load_image
from inkseal.match.index import SignalIndex
from inkseal.registry.models import Fingerprint, Work, WorkFile

DISTRACTORS = 1500


def _add_distractors(app: Inkseal, n: int, rng: np.random.Generator) -> None:
    """Synthetic works whose SSCD vectors share the real ones' mean direction (like benchmarks/scale.py)."""
    real = np.stack([app.sscd.deserialize(r.data) for r in app.registry.fingerprints(app.sscd.name)])
    mean = real.mean(0)
    with app.registry.session() as s, s.begin():
        author = app.work(1).author_id
        for i in range(n):
            w = s.execute(insert(Work).values(author_id=author, title=f"d{i}").returning(Work.id)).scalar_one()
            f = s.execute(insert(WorkFile).values(
                work_id=w, role="original", sha256=hashlib.sha256(f"d{i}".encode()).hexdigest(), size_bytes=1,
                format="PNG", width=1, height=1, source_name="", regions={}).returning(WorkFile.id)).scalar_one()
            vecs = mean + rng.standard_normal((6, real.shape[1])) * real.std(0)
            vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
            s.execute(insert(Fingerprint), [{"file_id": f, "signal": app.sscd.name, "signal_version": app.sscd.version,
                                             "variant": f"v{j}", "data": app.sscd.serialize(v)}
                                            for j, v in enumerate(vecs)])


def _copy_queries(app: Inkseal, paths: list[Path]) -> np.ndarray:
    out = []
    for p in paths:
        im = Image.open(p).convert("RGB")
        w, h = im.size
        for attacked in (im.resize((w // 2, h // 2)), im.crop((w // 5, h // 5, w, h))):
            buf = io.BytesIO()
            attacked.save(buf, "JPEG", quality=60)
            out.append(app.sscd.compute(load_image(buf.getvalue()).rgb))
    return np.stack(out).astype(np.float32)


@pytest.fixture(scope="module")
def crowded(tmp_path_factory: pytest.TempPathFactory, kodak: list[Path]) -> Inkseal:
    app = Inkseal.open(tmp_path_factory.mktemp("ann") / "home")
    app.register(kodak[:8], author="A")
    _add_distractors(app, DISTRACTORS, np.random.default_rng(3))
    app.sync_indexes()
    yield app
    app.close()


def test_hnsw_finds_what_exact_search_finds(crowded: Inkseal, kodak: list[Path], tmp_path: Path) -> None:
    app = crowded
    exact = app.indexes[app.sscd.name]
    approx = SignalIndex(app.sscd, tmp_path / "hnsw", backend="faiss-hnsw")
    approx.sync(app.registry)
    assert len(approx) == len(exact) == 6 * (8 + DISTRACTORS)
    queries = _copy_queries(app, kodak[:8])
    k = 16  # the matcher's TOP_K + 6
    es, ei = exact.search(queries, k)
    s_, ai = approx.search(queries, k)
    recall = np.mean([len(set(a) & set(e)) / k for a, e in zip(ai.tolist(), ei.tolist())])
    print(f"recall@{k} of the HNSW candidates vs exact search: {recall:.3f}")
    assert recall >= 0.95 and (ai[:, 0] == ei[:, 0]).all()
    # what copy detection needs: every fingerprint of the copied work that exact search ranks, HNSW ranks too
    owner = app.registry.fingerprint_owners
    for n, (a, e) in enumerate(zip(ai.tolist(), ei.tolist())):
        true_work = n // 2 + 1
        ours = {i for i, (_f, w) in owner(e).items() if w == true_work}
        assert ours and ours <= set(a), n
    same = ai == ei
    assert np.allclose(s_[same], es[same], atol=1e-5)  # scores are exact, not approximate


def test_hnsw_lifecycle_removal_compaction_lost_graph(tmp_path: Path, kodak: list[Path]) -> None:
    home = tmp_path / "home"
    app = Inkseal.open(home)
    ids = [i.work_id for i in app.register(kodak[:4], author="A").items]
    where = tmp_path / "hnsw"
    approx = SignalIndex(app.sscd, where, backend="faiss-hnsw")
    approx.sync(app.registry)
    q = _copy_queries(app, [kodak[1]])[:1]
    owners = app.registry.fingerprint_owners
    assert owners([int(approx.search(q, 5)[1][0, 0])])[int(approx.search(q, 5)[1][0, 0])][1] == ids[1]
    app.remove_work(ids[1])
    approx.sync(app.registry)  # learns the removal from the database: a tombstone in the graph
    assert approx.ann is not None and approx.ann.tombstones
    found = [int(i) for i in approx.search(q, 24)[1][0] if i >= 0]
    assert found and ids[1] not in {w for _f, w in owners(found).values()} and len(found) == len(approx)
    approx.compact()  # a clean graph for the new generation
    assert not approx.ann.tombstones and approx.ann.graph.ntotal == len(approx)
    reopened = SignalIndex(app.sscd, where, backend="faiss-hnsw")
    reopened.sync(app.registry)
    assert reopened.ann is not None and reopened.ann.graph.ntotal == len(approx)
    (graph,) = where.glob("*.hnsw")
    graph.write_bytes(b"garbage")
    rebuilt = SignalIndex(app.sscd, where, backend="faiss-hnsw")
    rebuilt.sync(app.registry)
    assert rebuilt.search(q, 5)[1].tolist() == approx.search(q, 5)[1].tolist()
    with pytest.raises(InksealError, match="milvus"):
        SignalIndex(app.sscd, where, backend="milvus")
    app.close()
