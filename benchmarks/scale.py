"""Registry scale benchmark: one command, results to docs/benchmarks.md (section "scale").

    nice .venv/bin/python benchmarks/scale.py [--sizes 10000,100000] [--jobs-kodak]

For each size N a registry of N works is built in a temporary home, through the project's schema
and index code:
  * the 24 Kodak photos are registered for real (`Inkseal.register`: real SSCD, PDQ, ORB);
  * the other N - 24 works are synthetic rows written straight into works / work_files /
    fingerprints (6 SSCD vectors + 1 PDQ hash each, like a real file; no ORB blob, which issue 11
    item 3 moves out of the database anyway). Synthetic SSCD vectors: the mean of the 144 real
    Kodak vectors plus a Gaussian draw in the span of their principal components with the same
    variances, plus isotropic noise with the residual's energy, normalised; the script prints the
    mean cosine of unrelated real pairs and of synthetic pairs so the two can be compared. PDQ
    hashes are uniform random bits.
Then a fresh process opens the home and measures: open time (database + indexes, watermark
check), RSS after open, the old per-open cost (full id diff, for comparison), register-one time
(a real flower photo, fingerprints included) and remove-one time, candidate-search p50/p95 (SSCD
top-k of one query embedding, 1 thread), top-1 of 24 JPEG copies of the Kodak photos among the
distractors, first page of `works` (100 rows), database and index size on disk.
`--jobs-kodak` also times `register --jobs 1` vs `--jobs 2` on the 24 Kodak photos (img/s).
Up to `--milvus-up-to` works the SSCD index is also measured in Milvus (index_milvus.py, FLAT = exact):
filled from the database, then opened by a fresh process (open + watermark check, RSS, search p50/p95,
recall@16 and top-1 of the copy queries vs the exact FAISS search, index update for one work added and
removed). `--milvus-modes`: embedded milvus-lite (default), `server` = a milvus-lite server process on
127.0.0.1 (where opening no longer loads the vectors), `uri` = a Milvus server already running at
`--milvus-standalone URI` (the C++ Milvus standalone: docker compose, or the `milvus` PyPI package's
embedded standalone, `python -c "import milvus; milvus.main()" --data DIR --proxy-port 19530`).
`--no-doc` prints the tables without writing docs/benchmarks.md (a partial run keeps the committed table).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image
from sqlalchemy import func, insert, select

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
KODAK = sorted((DATA / "kodak").glob("*.png"))
FLOWERS = sorted((DATA / "flowers").glob("*/*.jpg"))
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(Path(__file__).parent))

from inkseal import Inkseal  # noqa: E402
from inkseal.match.index import SignalIndex, db_watermark  # noqa: E402
from inkseal.match.matcher import TOP_K  # noqa: E402
from inkseal.registry.models import Author, Fingerprint, Work, WorkFile  # noqa: E402


def synthetic_sscd(real: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    mean = real.mean(0)
    centred = real - mean
    _u, s, vt = np.linalg.svd(centred, full_matrices=False)
    std = s / np.sqrt(len(real) - 1)
    residual = float(np.mean(np.sum(centred**2, 1)) - np.sum(std**2))
    noise = np.sqrt(max(residual, 1e-6) / real.shape[1])
    out = mean + (rng.standard_normal((n, len(std))) * std) @ vt + rng.standard_normal((n, real.shape[1])) * noise
    return (out / np.linalg.norm(out, axis=1, keepdims=True)).astype(np.float32)


def mean_offdiag_cos(x: np.ndarray) -> float:
    c = x @ x.T
    return float((c.sum() - np.trace(c)) / (len(x) * (len(x) - 1)))


def build(home: Path, n: int, rng: np.random.Generator) -> dict:
    app = Inkseal.open(home)
    app.register(KODAK, author="kodak")
    sscd = app.sscd
    real_rows = list(app.registry.fingerprints(sscd.name))
    real = np.stack([sscd.deserialize(r.data) for r in real_rows])
    real = real / np.linalg.norm(real, axis=1, keepdims=True)
    variants = sorted({r.variant for r in real_rows})
    whole = np.stack([sscd.deserialize(r.data) for r in real_rows if r.variant == "full"])
    t0 = time.perf_counter()
    with app.registry.session() as s, s.begin():
        author = s.execute(insert(Author).values(name="synthetic").returning(Author.id)).scalar_one()
        wid0 = int(s.scalar(select(func.max(Work.id)))) + 1
        fid0 = int(s.scalar(select(func.max(WorkFile.id)))) + 1
        chunk = 5000
        for start in range(0, n - len(KODAK), chunk):
            m = min(chunk, n - len(KODAK) - start)
            wids = range(wid0 + start, wid0 + start + m)
            fids = range(fid0 + start, fid0 + start + m)
            s.execute(insert(Work), [{"id": w, "author_id": author, "title": f"synthetic {w}"} for w in wids])
            s.execute(insert(WorkFile), [{"id": f, "work_id": w, "role": "original",
                                          "sha256": hashlib.sha256(f"synthetic {w}".encode()).hexdigest(),
                                          "size_bytes": 1_000_000, "format": "PNG", "width": 768, "height": 512,
                                          "source_name": f"s{w}.png", "regions": {}} for w, f in zip(wids, fids)])
            vecs = synthetic_sscd(real, m * len(variants), rng).astype(np.float16)
            rows = [{"file_id": f, "signal": sscd.name, "signal_version": sscd.version, "variant": v,
                     "data": vecs[i * len(variants) + j].tobytes()}
                    for i, f in enumerate(fids) for j, v in enumerate(variants)]
            bits = rng.integers(0, 256, (m, 32), dtype=np.uint8)
            rows += [{"file_id": f, "signal": "pdq", "signal_version": app.pdq.version, "variant": "full",
                      "data": bits[i].tobytes() + bytes([100])} for i, f in enumerate(fids)]
            s.execute(insert(Fingerprint), rows)
    inserted = time.perf_counter() - t0
    t0 = time.perf_counter()
    app.sync_indexes()  # catches up with the synthetic rows and writes new base files
    indexed = time.perf_counter() - t0
    synth = synthetic_sscd(real, 500, rng)
    app.close()
    return {"insert_s": inserted, "first_index_s": indexed, "cos_real_whole": mean_offdiag_cos(whole / np.linalg.norm(whole, axis=1, keepdims=True)),
            "cos_synthetic": mean_offdiag_cos(synth)}


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def jpeg_copy(path: Path) -> bytes:
    buf = io.BytesIO()
    im = Image.open(path).convert("RGB")
    im.resize((im.width * 3 // 4, im.height * 3 // 4)).save(buf, "JPEG", quality=75)
    return buf.getvalue()


def measure_hnsw(app: Inkseal, queries: list[np.ndarray], truth: list[int], k: int) -> dict:
    """The "faiss-hnsw" backend on the same registry: graph build, search time, agreement with exact search."""
    exact = app.indexes[app.sscd.name]
    rss0 = rss_mb()
    with tempfile.TemporaryDirectory() as where:
        t0 = time.perf_counter()
        approx = SignalIndex(app.sscd, Path(where), backend="faiss-hnsw")
        approx.sync(app.registry)
        build = time.perf_counter() - t0
        times, agree, top1 = [], [], 0
        for q, wid in zip(queries, truth):
            for _ in range(3):
                t = time.perf_counter()
                _s, ids = approx.search(q[None], k)
                times.append(time.perf_counter() - t)
            _e, eids = exact.search(q[None], k)
            agree.append(len(set(ids[0].tolist()) & set(eids[0].tolist())) / k)
            top1 += app.registry.fingerprint_owners([int(ids[0, 0])]).get(int(ids[0, 0]), (0, 0))[1] == wid
        return {"hnsw_build_s": build, "hnsw_p50_ms": 1000 * float(np.percentile(times, 50)),
                "hnsw_p95_ms": 1000 * float(np.percentile(times, 95)), "hnsw_recall": float(np.mean(agree)),
                "hnsw_top1": top1 / len(truth), "hnsw_extra_mb": rss_mb() - rss0}


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def milvus_lite_server(data_dir: Path) -> tuple[subprocess.Popen, str]:
    """A milvus-lite server process on 127.0.0.1 (what `milvus-lite server` runs), and its URI."""
    import socket

    exe = Path(sys.executable).parent / "milvus-lite"
    port = _free_port()
    proc = subprocess.Popen([str(exe), "server", "--data-dir", str(data_dir), "--host", "127.0.0.1", "--port",
                             str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("milvus-lite server did not start")


def proc_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def measure_milvus(app: Inkseal, home: Path, queries: list[np.ndarray], truth: list[int], k: int, mode: str,
                   uri: str = "", index_type: str = "FLAT") -> dict:
    """Fill a Milvus collection from the database, then let a fresh process open and query it.
    `mode`: "embedded" (milvus-lite in this process), "server" (a milvus-lite server started here) or
    "uri" (a Milvus server already running at `uri`, e.g. a Milvus standalone)."""
    from inkseal.match.index_milvus import MilvusIndex

    server = None
    where = home / f"milvus-{mode}-{index_type}"
    where.mkdir(parents=True, exist_ok=True)
    if mode == "embedded":
        uri = ""
    elif mode == "server":
        server, uri = milvus_lite_server(where / "server-data")
    try:
        t0 = time.perf_counter()
        idx = MilvusIndex(app.sscd, where, uri, index_type)
        idx.rebuild(app.registry)  # a collection left by another registry is dropped, not diffed
        fill = time.perf_counter() - t0
        idx.close()
        exact = app.indexes[app.sscd.name]
        np.save(where / "queries.npy", np.stack(queries))
        np.save(where / "exact.npy", np.stack([exact.search(q[None], k)[1][0] for q in queries]))
        np.save(where / "truth.npy", np.asarray(truth))
        r = subprocess.run([sys.executable, __file__, "--measure-milvus", str(home), "--milvus-dir", str(where),
                            "--milvus-uri", uri, "--milvus-index", index_type, "--k", str(k)],
                           check=True, capture_output=True, text=True)
        got = json.loads(r.stdout.strip().splitlines()[-1])
        if server is not None:
            got["server_rss_mb"] = proc_rss_mb(server.pid)
        return {f"milvus_{mode}_{index_type}_{key}": v for key, v in (got | {"fill_s": fill}).items()}
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=120)


def measure_milvus_open(home: Path, where: Path, uri: str, k: int, index_type: str = "FLAT") -> dict:
    """Run in a fresh process: what a one-shot CLI run pays to open the Milvus SSCD index and query it."""
    from inkseal.match.index_milvus import MilvusIndex

    app = Inkseal.open(home)
    app.registry.count(Work)
    rss0 = rss_mb()
    t0 = time.perf_counter()
    idx = MilvusIndex(app.sscd, where, uri, index_type)
    changed = idx.sync(app.registry)
    t_open = time.perf_counter() - t0
    rss = rss_mb()
    queries, exact, truth = (np.load(where / f) for f in ("queries.npy", "exact.npy", "truth.npy"))
    times, agree, top1 = [], [], 0
    for q, eids, wid in zip(queries, exact, truth):
        for _ in range(3):
            t = time.perf_counter()
            _s, ids = idx.search(q[None], k)
            times.append(time.perf_counter() - t)
        agree.append(len(set(ids[0].tolist()) & set(eids.tolist())) / k)
        top1 += app.registry.fingerprint_owners([int(ids[0, 0])]).get(int(ids[0, 0]), (0, 0))[1] == int(wid)
    # one work's six embeddings written into the database, then indexed; then removed again
    rows = list(app.registry.fingerprints(app.sscd.name, app.registry.fingerprint_ids(app.sscd.name)[:6]))
    with app.registry.session() as s, s.begin():
        new = [s.execute(insert(Fingerprint).values(file_id=r.file_id, signal=app.sscd.name,
                                                    signal_version=app.sscd.version, variant=f"bench{i}",
                                                    data=r.data).returning(Fingerprint.id)).scalar_one()
               for i, r in enumerate(rows)]
    t0 = time.perf_counter()
    idx.sync(app.registry)
    t_add = time.perf_counter() - t0
    with app.registry.session() as s, s.begin():
        s.execute(Fingerprint.__table__.delete().where(Fingerprint.id.in_(new)))
    t0 = time.perf_counter()
    idx.sync(app.registry, removed=new)
    t_rm = time.perf_counter() - t0
    idx.close()
    app.close()
    return {"open_s": t_open, "open_changed": changed, "rss_mb": rss, "extra_rss_mb": rss - rss0,
            "p50_ms": 1000 * float(np.percentile(times, 50)), "p95_ms": 1000 * float(np.percentile(times, 95)),
            "recall": float(np.mean(agree)), "top1": top1 / len(truth), "add_one_s": t_add, "remove_one_s": t_rm,
            "disk_mb": sum(f.stat().st_size for f in where.rglob("*") if f.is_file()) / 2**20}


def measure(home: Path, hnsw: bool, milvus: tuple[str, ...] = (), milvus_uri: str = "",
            milvus_index: str = "FLAT") -> dict:
    """Run in a fresh process: what a one-shot CLI call pays on this registry."""
    t0 = time.perf_counter()
    app = Inkseal.open(home)
    t_db = time.perf_counter() - t0
    idx = app.indexes
    t_open = time.perf_counter() - t0
    rss = rss_mb()
    sscd_idx = idx[app.sscd.name]
    t0 = time.perf_counter()
    db_ids = set(app.registry.fingerprint_ids(app.sscd.name)) | set(app.registry.fingerprint_ids("pdq"))
    _diff = db_ids - set(sscd_idx.ids().tolist()) - set(idx["pdq"].ids().tolist())
    full_diff = time.perf_counter() - t0
    kodak_work = {w.title: w.id for w in app.works(limit=40) if w.author.name == "kodak"}
    queries, truth = [], []
    for p in KODAK:
        from inkseal.imaging import load_image
        queries.append(app.sscd.compute(load_image(jpeg_copy(p)).rgb))
        truth.append(kodak_work[p.stem])
    times, top1 = [], 0
    for q, wid in zip(queries, truth):
        for _ in range(3):
            t = time.perf_counter()
            _sims, ids = sscd_idx.search(q[None], TOP_K + 6)
            times.append(time.perf_counter() - t)
        owners = app.registry.fingerprint_owners([int(ids[0, 0])])
        top1 += owners.get(int(ids[0, 0]), (0, 0))[1] == wid
    t0 = time.perf_counter()
    page = app.works(limit=101)
    t_page = time.perf_counter() - t0
    t0 = time.perf_counter()
    for name in idx:
        db_watermark(app.registry, name)
    t_mark = time.perf_counter() - t0
    t0 = time.perf_counter()
    app.sync_indexes()
    t_noop = time.perf_counter() - t0
    regs, rms, fps = [], [], []
    for path in FLOWERS[:3]:  # median of three: the machine is shared
        t0 = time.perf_counter()
        from inkseal.imaging import load_image
        app.fingerprints(load_image(path.read_bytes()))
        fps.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        reg = app.register([path], author="timing")
        regs.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        app.remove_work(reg.items[0].work_id)
        rms.append(time.perf_counter() - t0)
    t_reg, t_rm, t_fp = float(np.median(regs)), float(np.median(rms)), float(np.median(fps))
    if hnsw:
        out_hnsw = measure_hnsw(app, queries, truth, TOP_K + 6)
    out_milvus: dict = {}
    for mode in milvus:
        for index_type in milvus_index.split(","):
            out_milvus |= measure_milvus(app, home, queries, truth, TOP_K + 6, mode, milvus_uri, index_type)
    size = lambda pat: sum(f.stat().st_size for f in home.glob(pat))  # noqa: E731
    out = {"works": app.registry.count(Work), "open_db_s": t_db, "open_s": t_open, "rss_mb": rss,
           "old_full_diff_s": full_diff, "search_p50_ms": 1000 * float(np.percentile(times, 50)),
           "search_p95_ms": 1000 * float(np.percentile(times, 95)), "top1": top1 / len(truth),
           "register_one_s": t_reg, "remove_one_s": t_rm, "fingerprint_s": t_fp, "watermark_s": t_mark,
           "sync_noop_s": t_noop, "works_page_s": t_page, "page_rows": len(page),
           "db_mb": size("registry.sqlite*") / 2**20, "index_mb": size("index/*") / 2**20}
    if hnsw:
        out |= out_hnsw
    out |= out_milvus
    app.close()
    return out


def bulk_rate(jobs: int) -> float:
    with tempfile.TemporaryDirectory(dir=os.environ.get("TMPDIR")) as home:
        cmd = [sys.executable, "-m", "inkseal", "--home", home, "register", str(KODAK[0].parent), "--author", "K",
               "--jobs", str(jobs), "--json"]
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        return len(KODAK) / (time.perf_counter() - t0)


def milvus_table(results: list[dict]) -> list[str]:
    rows = []
    for g in results:
        labels = {"embedded": "milvus-lite, embedded", "server": "milvus-lite server, by URI",
                  "uri": "Milvus standalone, by URI"}
        found = (re.fullmatch(r"milvus_(embedded|server|uri)_(\w+?)_open_s", k) for k in g)
        for mode, index_type in sorted(m.groups() for m in found if m):
            p, label = f"milvus_{mode}_{index_type}_", labels[mode]
            server = f" (server {g[p + 'server_rss_mb']:.0f} MB)" if p + "server_rss_mb" in g else ""
            disk = "on the server" if mode == "uri" else f"{g[p + 'disk_mb']:.0f} MB"
            rows.append(f"| {g['works']:,} | {label}, {index_type} | {g[p + 'fill_s']:.1f} s | {g[p + 'open_s']:.2f} s "
                        f"| {g[p + 'extra_rss_mb']:.0f} MB{server} | {g[p + 'p50_ms']:.1f} / {g[p + 'p95_ms']:.1f} ms "
                        f"| {g[p + 'recall']:.3f} | {g[p + 'top1']:.3f} | {g[p + 'add_one_s']:.2f} / "
                        f"{g[p + 'remove_one_s']:.2f} s | {disk} |")
    if not rows:
        return []
    return ["", "`index_backend = \"milvus\"` (SSCD in a Milvus collection; FLAT is exact, HNSW M=32 is searched "
                "for max(128, 8k) candidates whose distances are exact; PDQ stays in FAISS). "
                "Open = a fresh process connects, checks the stored watermark against the database and "
                "loads the collection if the engine has not; extra RSS = that process's growth while opening; "
                "recall@16 vs the exact FAISS search for the 24 copy queries:", "",
            "| works | engine | fill from the database | open (+watermark) | extra RSS | search p50 / p95 "
            "| recall@16 | top-1 | index one work added / removed (6 vectors) | on disk |",
            "|---|---|---|---|---|---|---|---|---|---|", *rows]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--jobs-kodak", action="store_true")
    ap.add_argument("--hnsw-up-to", type=int, default=20000,
                    help="also measure the faiss-hnsw backend up to this size (its graph builds on 1 thread)")
    ap.add_argument("--milvus-up-to", type=int, default=20000,
                    help="also measure the SSCD index in Milvus (embedded milvus-lite) up to this size; 0: never")
    ap.add_argument("--milvus-modes", default="embedded",
                    help="comma list: embedded (milvus-lite in the process), server (a milvus-lite server process "
                         "on 127.0.0.1), uri (the Milvus server at --milvus-standalone)")
    ap.add_argument("--milvus-standalone", default="", metavar="URI",
                    help="a Milvus server already running at URI (e.g. a Milvus standalone), for the uri mode")
    ap.add_argument("--milvus-index", default="FLAT", help="Milvus index types, comma list: FLAT (exact), HNSW, IVF_FLAT")
    ap.add_argument("--no-doc", action="store_true", help="print the tables, leave docs/benchmarks.md alone")
    ap.add_argument("--measure", help=argparse.SUPPRESS)
    ap.add_argument("--with-hnsw", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--with-milvus", default="", help=argparse.SUPPRESS)
    ap.add_argument("--measure-milvus", help=argparse.SUPPRESS)
    ap.add_argument("--milvus-dir", help=argparse.SUPPRESS)
    ap.add_argument("--milvus-uri", default="", help=argparse.SUPPRESS)
    ap.add_argument("--k", type=int, default=TOP_K + 6, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.measure:
        print(json.dumps(measure(Path(args.measure), args.with_hnsw, tuple(filter(None, args.with_milvus.split(","))),
                                 args.milvus_uri, args.milvus_index)))
        return
    if args.measure_milvus:
        print(json.dumps(measure_milvus_open(Path(args.measure_milvus), Path(args.milvus_dir), args.milvus_uri, args.k,
                                             args.milvus_index)))
        return
    rng = np.random.default_rng(11)
    results = []
    for n in [int(x) for x in args.sizes.split(",")]:
        home = Path(tempfile.mkdtemp(prefix=f"inkseal-scale-{n}-"))
        try:
            built = build(home, n, rng)
            print(f"built {n}: {built}", flush=True)
            extra = ["--with-hnsw"] if n <= args.hnsw_up_to else []
            if n <= args.milvus_up_to:
                extra += ["--with-milvus", args.milvus_modes, "--milvus-uri", args.milvus_standalone,
                          "--milvus-index", args.milvus_index]
            r = subprocess.run([sys.executable, __file__, "--measure", str(home), *extra], check=True,
                               capture_output=True, text=True)
            got = json.loads(r.stdout.strip().splitlines()[-1]) | built
            print(f"measured {n}: {got}", flush=True)
            results.append(got)
        finally:
            shutil.rmtree(home, ignore_errors=True)
    lines = ["Registry scale (`benchmarks/scale.py`; 2-core machine, exact FAISS flat index, SQLite; synthetic",
             "distractors as documented in the script). Open = `Inkseal.open` + indexes in a fresh process; "
             "old per-open cost = the full id diff every open used to pay (twice per CLI run). Medians on a "
             "shared machine (load 3-5 on 2 cores while measured): read the trend, not the digits.", "",
             "| works | open (+watermark) | RSS after open | watermark query | old per-open id diff | sync, nothing new "
             "| register one (fingerprints) | remove one | SSCD search p50 / p95 | Kodak copies top-1 "
             "| `works` first page | DB | index |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for g in results:
        lines.append(f"| {g['works']:,} | {g['open_s']:.2f} s | {g['rss_mb']:.0f} MB | {g['watermark_s']:.2f} s "
                     f"| {g['old_full_diff_s']:.2f} s | {g['sync_noop_s']:.2f} s "
                     f"| {g['register_one_s']:.2f} s ({g['fingerprint_s']:.2f} s) | {g['remove_one_s']:.2f} s "
                     f"| {g['search_p50_ms']:.1f} / "
                     f"{g['search_p95_ms']:.1f} ms | {g['top1']:.3f} | {1000 * g['works_page_s']:.0f} ms "
                     f"| {g['db_mb']:.0f} MB | {g['index_mb']:.0f} MB |")
    approx = [g for g in results if "hnsw_build_s" in g]
    if approx:
        lines += ["", "`index_backend = \"faiss-hnsw\"` (HNSW M=32 proposes candidates, scores re-computed exactly; "
                      "recall = share of the exact top-16 it returns for the 24 copy queries):", "",
                  "| works | graph build from the database (1 thread) | extra RSS | search p50 / p95 | recall@16 vs exact | top-1 |",
                  "|---|---|---|---|---|---|"]
        lines += [f"| {g['works']:,} | {g['hnsw_build_s']:.1f} s | {g['hnsw_extra_mb']:.0f} MB | "
                  f"{g['hnsw_p50_ms']:.1f} / {g['hnsw_p95_ms']:.1f} ms | {g['hnsw_recall']:.3f} | {g['hnsw_top1']:.3f} |"
                  for g in approx]
    lines += milvus_table(results)
    if results:
        g = results[-1]
        lines += ["", f"Synthetic vectors: mean cosine of unrelated pairs {g['cos_synthetic']:.3f} (real Kodak "
                      f"whole-image pairs: {g['cos_real_whole']:.3f})."]
    if args.jobs_kodak:
        one, two = bulk_rate(1), bulk_rate(2)
        print(f"bulk register: jobs 1 {one:.2f} img/s, jobs 2 {two:.2f} img/s", flush=True)
        lines += ["", f"Bulk registration of the 24 Kodak photos (768×512, one CLI run each, start-up included): "
                      f"`--jobs 1` {one:.2f} img/s, `--jobs 2` {two:.2f} img/s."]
    if not args.no_doc:
        from doc_tables import write_section

        write_section("scale", lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
