"""The Milvus backend (index_milvus.py) through the embedded milvus-lite engine and a real milvus-lite
server on 127.0.0.1: the same answers as the exact FAISS index, sync with a database that changed
behind its back, data kept across processes, and one clear line when Milvus cannot be reached."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import delete, insert

pytest.importorskip("pymilvus")
pytest.importorskip("milvus_lite")

from inkseal import Inkseal  # noqa: E402
from inkseal.errors import InksealError  # noqa: E402
from inkseal.match.index import SignalIndex, db_watermark  # noqa: E402
from inkseal.match.index_milvus import MilvusIndex  # noqa: E402
from inkseal.registry.models import Author, Fingerprint, Work, WorkFile  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def _add_works(app: Inkseal, vectors: np.ndarray, per_work: int = 3) -> list[int]:
    """Works with `per_work` SSCD fingerprints each, written straight into the registry's tables."""
    fids: list[int] = []
    with app.registry.session() as s, s.begin():
        author = s.execute(insert(Author).values(name=f"synthetic {len(vectors)} {time.monotonic_ns()}")
                           .returning(Author.id)).scalar_one()
        for w in range(0, len(vectors), per_work):
            tag = f"{author}-{w}"
            work = s.execute(insert(Work).values(author_id=author, title=tag).returning(Work.id)).scalar_one()
            file_id = s.execute(insert(WorkFile).values(
                work_id=work, role="original", sha256=hashlib.sha256(tag.encode()).hexdigest(), size_bytes=1,
                format="PNG", width=1, height=1, source_name="", regions={}).returning(WorkFile.id)).scalar_one()
            for j, v in enumerate(vectors[w:w + per_work]):
                fids.append(s.execute(insert(Fingerprint).values(
                    file_id=file_id, signal=app.sscd.name, signal_version=app.sscd.version, variant=f"v{j}",
                    data=app.sscd.serialize(v)).returning(Fingerprint.id)).scalar_one())
    return fids


def _unit(rng: np.random.Generator, n: int) -> np.ndarray:
    x = rng.standard_normal((n, 512)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _agrees(idx: MilvusIndex, app: Inkseal) -> None:
    assert idx.ids().tolist() == app.registry.fingerprint_ids(app.sscd.name)
    assert idx._mark == db_watermark(app.registry, app.sscd.name)
    assert len(idx) == len(app.registry.fingerprint_ids(app.sscd.name))


@pytest.fixture
def registry_app(tmp_path: Path) -> Iterator[Inkseal]:
    app = Inkseal.open(tmp_path / "home")
    yield app
    app.close()


def test_same_top_k_as_the_exact_faiss_index(registry_app: Inkseal, tmp_path: Path) -> None:
    app, rng = registry_app, np.random.default_rng(9)
    vectors = _unit(rng, 900)
    _add_works(app, vectors)
    idx = MilvusIndex(app.sscd, tmp_path / "mv")
    exact = SignalIndex(app.sscd, tmp_path / "faiss")
    try:
        assert idx.collection == "inkseal_sscd_distilled"  # a Milvus server refuses "-" in names
        assert idx.sync(app.registry) == 900
        exact.sync(app.registry)
        _agrees(idx, app)
        stored = np.stack([app.sscd.deserialize(app.sscd.serialize(v)) for v in vectors])
        near = stored[rng.choice(900, 10, replace=False)] + 0.05 * _unit(rng, 10)
        queries = np.concatenate([_unit(rng, 20), near / np.linalg.norm(near, axis=1, keepdims=True)])
        sims, ids = idx.search(queries, 10)
        esims, eids = exact.search(queries, 10)
        assert ids.dtype == eids.dtype == np.int64 and sims.dtype == esims.dtype == np.float32
        assert ids.shape == eids.shape == sims.shape == (30, 10)
        assert (ids == eids).all()  # same ids in the same order (FLAT is exact)
        np.testing.assert_allclose(sims, esims, atol=1e-5)
        # more than it holds: as many columns as vectors, like SignalIndex
        assert idx.search(queries[:2], 5000)[1].shape == exact.search(queries[:2], 5000)[1].shape == (2, 900)
        assert idx.search(queries[:0], 10)[1].shape == (0, 0)
    finally:
        idx.close()


def test_hnsw_proposes_candidates_with_exact_scores(registry_app: Inkseal, tmp_path: Path) -> None:
    app, rng = registry_app, np.random.default_rng(10)
    vectors = _unit(rng, 900)
    fids = _add_works(app, vectors)
    idx = MilvusIndex(app.sscd, tmp_path / "mv", index_type="HNSW")
    exact = SignalIndex(app.sscd, tmp_path / "faiss")
    try:
        idx.sync(app.registry)
        exact.sync(app.registry)
        picked = rng.choice(900, 12, replace=False)
        near = vectors[picked] + 0.05 * _unit(rng, 12)
        queries = np.concatenate([near / np.linalg.norm(near, axis=1, keepdims=True), _unit(rng, 12)])
        sims, ids = idx.search(queries, 10)
        esims, eids = exact.search(queries, 10)
        assert ids[:12, 0].tolist() == [fids[i] for i in picked]  # every copy found first
        recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(ids.tolist(), eids.tolist())])
        assert recall >= 0.95, recall
        hit = ids == eids  # where the same id comes back, the score is the exact inner product
        np.testing.assert_allclose(sims[hit], esims[hit], atol=1e-5)
    finally:
        idx.close()


def _no_full_diff(idx: MilvusIndex, mp: pytest.MonkeyPatch) -> None:
    """Where the watermark says what changed, reading every id would be the bug this backend avoids."""
    def refuse(registry: object) -> None:
        raise AssertionError("full id diff where the watermark sufficed")
    mp.setattr(idx, "_full_diff", refuse)


def test_sync_follows_rows_added_and_removed_behind_its_back(backend_app: Inkseal, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """With the registry in SQLite and in PostgreSQL (the system of record for multi-machine installs)."""
    app, rng = backend_app, np.random.default_rng(4)
    idx = MilvusIndex(app.sscd, tmp_path / "mv")
    _no_full_diff(idx, monkeypatch)
    assert idx.sync(app.registry) == 0
    first = _add_works(app, _unit(rng, 30))
    try:
        assert idx.sync(app.registry) == 30
        assert idx.sync(app.registry) == 0  # watermarks agree: nothing read, nothing written
        newer = _unit(rng, 12)
        added = _add_works(app, newer)
        assert idx.sync(app.registry) == 12  # only the rows above the highest id
        _agrees(idx, app)
        sims, ids = idx.search(newer[:1], 1)
        assert ids[0, 0] == added[0] and sims[0, 0] > 0.99
        monkeypatch.undo()
        # removed behind its back, the top id among them: the watermarks disagree, the full diff settles it
        gone = [first[3], first[4], added[-1]]
        with app.registry.session() as s, s.begin():
            s.execute(delete(Fingerprint).where(Fingerprint.id.in_(gone)))
        assert idx.sync(app.registry) == 3
        _agrees(idx, app)
        assert not set(gone) & set(idx.search(newer, 42)[1].ravel().tolist())
        # a removal the caller reports: deleted by id, no diff needed
        _no_full_diff(idx, monkeypatch)
        told = [first[0], added[1]]
        with app.registry.session() as s, s.begin():
            s.execute(delete(Fingerprint).where(Fingerprint.id.in_(told)))
        assert idx.sync(app.registry, removed=told) == 2
        _agrees(idx, app)
        monkeypatch.undo()
        # rebuild from the database gives the same content
        assert idx.rebuild(app.registry) == len(app.registry.fingerprint_ids(app.sscd.name))
        _agrees(idx, app)
        idx.compact()
        _agrees(idx, app)
    finally:
        idx.close()


def test_a_collection_emptied_behind_its_back_is_refilled(registry_app: Inkseal, tmp_path: Path) -> None:
    app, rng = registry_app, np.random.default_rng(5)
    _add_works(app, _unit(rng, 15))
    idx = MilvusIndex(app.sscd, tmp_path / "mv")
    idx.sync(app.registry)
    idx.client.delete(idx.collection, ids=idx.ids()[:5].tolist())  # the meta row still claims all 15
    idx.close()
    again = MilvusIndex(app.sscd, tmp_path / "mv")
    try:
        assert again._mark is None  # the row count disagrees with the stored watermark: not trusted
        assert again.sync(app.registry) == 5
        _agrees(again, app)
    finally:
        again.close()


def test_reopened_in_a_new_process_keeps_the_data(registry_app: Inkseal, tmp_path: Path) -> None:
    app, rng = registry_app, np.random.default_rng(6)
    vectors = _unit(rng, 24)
    fids = _add_works(app, vectors)
    idx = MilvusIndex(app.sscd, tmp_path / "mv")
    idx.sync(app.registry)
    idx.close()  # the embedded engine stops and lets go of its lock
    query = tmp_path / "q.npy"
    np.save(query, vectors[7:8])
    script = textwrap.dedent(f"""
        import numpy as np
        from pathlib import Path
        from inkseal import Inkseal
        from inkseal.match.index_milvus import MilvusIndex
        app = Inkseal.open({str(tmp_path / "home")!r})
        idx = MilvusIndex(app.sscd, Path({str(tmp_path / "mv")!r}))
        print(len(idx), idx.sync(app.registry), int(idx.search(np.load({str(query)!r}), 3)[1][0, 0]))
        idx.close()
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=180,
                         env=os.environ | {"PYTHONPATH": str(ROOT / "src")})
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["24", "0", str(fids[7])]  # nothing re-sent: the stored watermark agreed


def test_a_process_killed_after_writing_leaves_nothing_wrong(registry_app: Inkseal, tmp_path: Path) -> None:
    """SIGKILL right after the upserts (no close, no flush, maybe no meta row): the next open agrees."""
    app, rng = registry_app, np.random.default_rng(8)
    vectors = _unit(rng, 30)
    fids = _add_works(app, vectors)
    script = textwrap.dedent(f"""
        import os, signal
        from pathlib import Path
        from inkseal import Inkseal
        from inkseal.match import index_milvus
        from inkseal.match.index_milvus import MilvusIndex
        app = Inkseal.open({str(tmp_path / "home")!r})
        idx = MilvusIndex(app.sscd, Path({str(tmp_path / "mv")!r}))
        index_milvus.MilvusIndex._store_mark = lambda self, mark: os.kill(os.getpid(), signal.SIGKILL)
        idx.sync(app.registry)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=180,
                         env=os.environ | {"PYTHONPATH": str(ROOT / "src")})
    assert out.returncode == -9, out.stderr
    idx = MilvusIndex(app.sscd, tmp_path / "mv")
    try:
        idx.sync(app.registry)
        _agrees(idx, app)
        assert idx.search(vectors[9:10], 1)[1][0, 0] == fids[9]
    finally:
        idx.close()


def test_unreachable_server_is_one_clear_line(registry_app: Inkseal, tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(InksealError) as err:
        MilvusIndex(registry_app.sscd, tmp_path / "mv", uri=f"http://127.0.0.1:{port}")
    msg = str(err.value)
    assert "\n" not in msg and f"127.0.0.1:{port}" in msg and "无法连接" in msg
    with pytest.raises(InksealError, match="not offered"):
        MilvusIndex(registry_app.sscd, tmp_path / "mv", index_type="DISKANN")


def test_embedded_index_open_in_another_process_is_one_clear_line(registry_app: Inkseal, tmp_path: Path) -> None:
    script = textwrap.dedent(f"""
        import sys
        from pathlib import Path
        from inkseal.match.index_milvus import MilvusIndex
        from inkseal.signals.sscd import SSCDSignal
        idx = MilvusIndex(SSCDSignal(), Path({str(tmp_path / "mv")!r}))
        print("open", flush=True)
        sys.stdin.read()
        idx.close()
    """)
    holder = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=os.environ | {"PYTHONPATH": str(ROOT / "src")})
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        with pytest.raises(InksealError) as err:
            MilvusIndex(registry_app.sscd, tmp_path / "mv")
        assert "another process" in str(err.value) and "另一个进程" in str(err.value)
        assert "\n" not in str(err.value)
    finally:
        holder.communicate("", timeout=60)
    assert holder.returncode == 0, holder.stderr


@pytest.fixture
def lite_server(tmp_path: Path) -> Iterator[str]:
    """A real milvus-lite server process on 127.0.0.1 (the same gRPC protocol as a Milvus standalone)."""
    exe = shutil.which("milvus-lite") or str(Path(sys.executable).parent / "milvus-lite")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([exe, "server", "--data-dir", str(tmp_path / "server-data"), "--host", "127.0.0.1",
                             "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def test_the_same_code_talks_to_a_server_by_uri(registry_app: Inkseal, tmp_path: Path, lite_server: str) -> None:
    app, rng = registry_app, np.random.default_rng(7)
    vectors = _unit(rng, 18)
    fids = _add_works(app, vectors)
    one = MilvusIndex(app.sscd, tmp_path / "a", uri=lite_server)
    two = MilvusIndex(app.sscd, tmp_path / "b", uri=lite_server)  # another client, e.g. another machine
    try:
        assert one.sync(app.registry) == 18
        assert two.sync(app.registry) == 0  # the watermark lives in the server, shared by every client
        assert two.search(vectors[5:6], 1)[1][0, 0] == fids[5]
        assert not (tmp_path / "a" / "milvus.db").exists()
    finally:
        one.close()
        two.close()


def test_cli_with_an_unreachable_server_says_so_without_a_traceback(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = os.environ | {"PYTHONPATH": str(ROOT / "src"), "INKSEAL_INDEX_BACKEND": "milvus",
                        "INKSEAL_MILVUS_URI": f"http://127.0.0.1:{port}", "COLUMNS": "400"}
    out = subprocess.run([sys.executable, "-m", "inkseal", "--home", str(tmp_path / "home"), "index", "compact"],
                         capture_output=True, text=True, timeout=180, env=env)
    text = out.stdout + out.stderr
    if "not available" in text:
        pytest.skip("Inkseal.indexes does not build MilvusIndex for index_backend='milvus' yet")
    assert out.returncode != 0 and "Traceback" not in text
    assert f"127.0.0.1:{port}" in text and "无法连接" in text


@pytest.mark.skipif(not os.environ.get("INKSEAL_TEST_MILVUS_URI"),
                    reason="set INKSEAL_TEST_MILVUS_URI=http://host:19530 to run against a Milvus standalone/cluster")
def test_against_a_milvus_server(registry_app: Inkseal, tmp_path: Path) -> None:
    """The C++ Milvus (standalone or cluster) is stricter than milvus-lite (names, consistency): same checks."""
    app, rng = registry_app, np.random.default_rng(12)
    vectors = _unit(rng, 120)
    fids = _add_works(app, vectors)
    idx = MilvusIndex(app.sscd, tmp_path / "mv", uri=os.environ["INKSEAL_TEST_MILVUS_URI"])
    exact = SignalIndex(app.sscd, tmp_path / "faiss")
    try:
        idx.rebuild(app.registry)  # the server may hold a collection from another run: dropped, refilled
        exact.sync(app.registry)
        _agrees(idx, app)
        queries = _unit(rng, 8)
        assert (idx.search(queries, 10)[1] == exact.search(queries, 10)[1]).all()
        with app.registry.session() as s, s.begin():
            s.execute(delete(Fingerprint).where(Fingerprint.id.in_([fids[0], fids[-1]])))
        assert idx.sync(app.registry) == 2
        _agrees(idx, app)
    finally:
        idx.close()


def _jpeg_copy(path: Path) -> bytes:
    im = Image.open(path).convert("RGB")
    buf = io.BytesIO()
    im.resize((im.width // 2, im.height // 2)).save(buf, "JPEG", quality=70)
    return buf.getvalue()


def test_end_to_end_through_the_application(tmp_path: Path, kodak: list[Path]) -> None:
    app = Inkseal.open(tmp_path / "home", index_backend="milvus")
    try:
        try:
            indexes = app.indexes
        except InksealError as exc:
            pytest.skip(f"Inkseal.indexes does not build MilvusIndex for index_backend='milvus' yet: {exc}")
        if not isinstance(indexes[app.sscd.name], MilvusIndex):
            pytest.skip("Inkseal.indexes does not build MilvusIndex for index_backend='milvus' yet")
        works = [i.work_id for i in app.register(kodak[:2], author="A").items]
        assert any(v.work_id == works[1] for v in app.match_image(_jpeg_copy(kodak[1])))
        app.remove_work(works[1])
        assert not any(v.work_id == works[1] for v in app.match_image(_jpeg_copy(kodak[1])))
        _agrees(app.indexes[app.sscd.name], app)  # type: ignore[arg-type]
    finally:
        for idx in getattr(app, "__dict__", {}).get("indexes", {}).values():
            getattr(idx, "close", lambda: None)()
        app.close()
