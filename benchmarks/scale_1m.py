"""The compressed SSCD index ("faiss-ivfpq") against the exact one at 100k / 1M works: one command.

    nice .venv/bin/python benchmarks/scale_1m.py [--works 100000] [--home DIR] [--keep]

A registry of N works is built with benchmarks/scale.py's `build` (24 Kodak photos registered for real,
N - 24 synthetic works of 6 SSCD vectors each, by scale.py's documented procedure; its first sync writes
the exact flat index). `--home DIR` reuses (or keeps) such a registry. A second home shares the database
(INKSEAL_DB_URL) and the stored files, with `index_backend = "faiss-ivfpq"`: its first open trains and
fills the compressed index (timed). Then each backend is measured in a fresh process: open time
(database + indexes + watermark check), RSS after open, SSCD candidate search p50 / p95 (top-16 of one
query embedding, 1 thread, re-ranking included), recall@16 of the 24 JPEG copies of the Kodak photos vs
the exact search, top-1 = the copied work, index bytes on disk; and one-shot `inkseal scan COPY.jpg`
wall time (start-up included) on the compressed home. Prints JSON lines and the table, and writes the table to
docs/benchmarks.md (section "scale_ivfpq") unless `--no-doc`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from scale import KODAK, ROOT, build, jpeg_copy, rss_mb  # noqa: E402

from inkseal import Inkseal  # noqa: E402
from inkseal.imaging import load_image  # noqa: E402
from inkseal.match.matcher import TOP_K  # noqa: E402

K = TOP_K + 6


def _env(home: Path, db_home: Path, backend: str) -> dict[str, str]:
    db_url = f"sqlite:///{(db_home / 'registry.sqlite').resolve()}"
    return os.environ | {"INKSEAL_HOME": str(home), "INKSEAL_DB_URL": db_url, "INKSEAL_INDEX_BACKEND": backend}


def measure(queries_path: Path, nprobes: list[int]) -> dict:
    """In a fresh process (home, database and backend from the environment, as the CLI gets them)."""
    from inkseal.match import index_ivf

    t0 = time.perf_counter()
    app = Inkseal.open(os.environ["INKSEAL_HOME"])
    idx = app.indexes[app.sscd.name]
    t_open = time.perf_counter() - t0
    rss = rss_mb()
    queries = np.load(queries_path)
    by_nprobe = {}
    for nprobe in nprobes if index_ivf.is_ivf(idx.index) else [0]:
        index_ivf.NPROBE = nprobe or index_ivf.NPROBE
        times, found = [], []
        for q in queries:
            for _ in range(5):
                t = time.perf_counter()
                _s, ids = idx.search(q[None], K)
                times.append(time.perf_counter() - t)
            found.append([int(i) for i in ids[0]])
        by_nprobe[nprobe] = {"p50_ms": 1000 * float(np.percentile(times, 50)),
                             "p95_ms": 1000 * float(np.percentile(times, 95)), "found": found}
    index_ivf.NPROBE = nprobes[0]
    crops = np.repeat(queries[:4], 6, axis=0)  # what matcher.candidates() sends: the picture + up to 5 crops
    t = time.perf_counter()
    for i in range(0, len(crops), 6):
        idx.search(crops[i:i + 6], K)
    batch6 = (time.perf_counter() - t) / 4
    # What a running server pays per scanned picture: the whole matcher (candidates from every signal, ORB
    # and pixel verification, localisation) on each JPEG copy, models and caches already warm.
    copies = sorted(queries_path.parent.glob("kodim*.jpg"))
    app.matcher.match(load_image(copies[0].read_bytes()))  # warm: model sessions, feature caches
    match_times, copy_found = [], []
    for path in copies:
        image = load_image(path.read_bytes())
        t = time.perf_counter()
        verdicts = app.matcher.match(image)
        match_times.append(time.perf_counter() - t)
        copy_found.append([(v.work_id, v.tier) for v in verdicts])
    # Copy detection under attack: every family of benchmarks/attacks.py on each Kodak photo; right = the
    # copied work (titled by the photo's stem) called a copy.
    families: dict[str, list[int]] = {}
    for path in sorted((queries_path.parent / "attacked").glob("*.jpg")):
        family, stem = path.stem.rsplit("__", 1)
        verdicts = app.matcher.match(load_image(path.read_bytes()))
        right = any(v.tier == "copy" and app.registry.work(v.work_id).title == stem for v in verdicts)
        families.setdefault(family, []).append(int(right))
    size = sum(p.stat().st_size for p in app.settings.index_dir.glob(f"{app.sscd.name}.*"))
    out = {"backend": idx.__dict__.get("compressed") and "faiss-ivfpq" or "faiss-flat", "open_s": t_open,
           "rss_mb": rss, "six_query_search_ms": 1000 * batch6, "index_mb": size / 2**20, "by_nprobe": by_nprobe,
           "vectors": len(idx), "match_p50_ms": 1000 * float(np.percentile(match_times, 50)),
           "match_p95_ms": 1000 * float(np.percentile(match_times, 95)), "match_verdicts": copy_found,
           "attacked": {f: [sum(v), len(v)] for f, v in families.items()},
           "compressed_in_ram": type(idx.index).__name__}
    app.close()
    return out


def exact_top(home: Path, queries: np.ndarray) -> list[list[int]]:
    """Exact top-K fingerprint ids of each query, streamed from the database in chunks (the ground truth
    at sizes where the flat index would not fit in RAM: 12.3 GB at 1M works)."""
    app = Inkseal.open(home)
    sscd = app.sscd
    best_s = np.full((len(queries), K), -np.inf, dtype=np.float32)
    best_i = np.full((len(queries), K), -1, dtype=np.int64)
    ids, vecs = [], []

    def flush() -> None:
        nonlocal best_s, best_i
        if not ids:
            return
        s = np.stack(vecs) @ queries.T  # (chunk, queries)
        all_s = np.concatenate([best_s, s.T], axis=1)
        all_i = np.concatenate([best_i, np.broadcast_to(np.asarray(ids), (len(queries), len(ids)))], axis=1)
        order = np.argsort(-all_s, axis=1, kind="stable")[:, :K]
        best_s, best_i = np.take_along_axis(all_s, order, 1), np.take_along_axis(all_i, order, 1)
        ids.clear()
        vecs.clear()

    for row in app.registry.fingerprints(sscd.name, batch=20000):
        ids.append(row.id)
        vecs.append(sscd.as_index_vector(sscd.deserialize(row.data)))
        if len(ids) >= 200_000:
            flush()
    flush()
    app.close()
    return best_i.tolist()


def _run_measure(home: Path, db_home: Path, backend: str, queries: Path, nprobes: str) -> dict:
    r = subprocess.run([sys.executable, __file__, "--measure", str(queries), "--nprobe", nprobes], env=_env(home, db_home, backend),
                       check=True, capture_output=True, text=True)
    return json.loads(r.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--works", type=int, default=100_000)
    ap.add_argument("--home", help="registry folder: reused when it holds one, else built there and kept")
    ap.add_argument("--nprobe", default="32,64", help="IVF lists probed per query: the first is kept for the "
                    "6-query timing; each is measured")
    ap.add_argument("--no-flat", action="store_true", help="skip the exact flat index (12.3 GB at 1M works): "
                    "the registry's first index is the compressed one, exact answers are streamed from the database")
    ap.add_argument("--measure", help=argparse.SUPPRESS)
    ap.add_argument("--no-doc", action="store_true", help="print the table without writing docs/benchmarks.md")
    args = ap.parse_args()
    nprobes = [int(x) for x in args.nprobe.split(",")]
    if args.measure:
        print(json.dumps(measure(Path(args.measure), nprobes)))
        return
    home = Path(args.home) if args.home else Path(tempfile.mkdtemp(prefix=f"inkseal-1m-{args.works}-"))
    result: dict = {"works": args.works}
    try:
        if not (home / "registry.sqlite").exists():
            if args.no_flat:
                os.environ["INKSEAL_INDEX_BACKEND"] = "faiss-ivfpq"  # build()'s first sync trains and fills it
            result |= build(home, args.works, np.random.default_rng(11))
            os.environ.pop("INKSEAL_INDEX_BACKEND", None)
            print(f"built: {result}", flush=True)
        # same database and stored files, its own index folder (with --no-flat the registry's own index is it)
        ivf_home = home if args.no_flat else home / "ivfpq-home"
        ivf_home.mkdir(exist_ok=True)
        if not args.no_flat and not (ivf_home / "objects").exists():
            (ivf_home / "objects").symlink_to((home / "objects").resolve())
        app = Inkseal.open(home)
        kodak_work = {w.title: w.id for w in app.works(limit=40) if w.author.name == "kodak"}
        copies = Path(tempfile.mkdtemp(prefix="inkseal-copies-"))
        qs = []
        for p in KODAK:
            data = jpeg_copy(p)
            (copies / f"{p.stem}.jpg").write_bytes(data)
            qs.append(app.sscd.compute(load_image(data).rgb))
        truth = [kodak_work[p.stem] for p in KODAK]
        attacked = copies / "attacked"
        attacked.mkdir()
        import random

        from attacks import FAMILIES, load_rgb
        from PIL import Image

        for fi, (family, attack) in enumerate(FAMILIES.items()):
            for p in KODAK:
                rgb = attack(load_rgb(p), random.Random(f"{family}/{p.stem}"))
                Image.fromarray(rgb).save(attacked / f"{fi:02d}__{p.stem}.jpg", quality=95)
        # the same attacked copies against a registry of the 24 photos alone, searched exactly: what the
        # matcher finds with no distractors and no approximation (the 1M figures must not fall below it)
        small = home / "kodak-only"
        if not (small / "registry.sqlite").exists():
            small_app = Inkseal.open(small)
            small_app.register(KODAK, author="kodak")
            small_app.close()
        app.close()
        queries = copies / "queries.npy"
        np.save(queries, np.stack(qs).astype(np.float32))
        t0 = time.perf_counter()
        # the first open trains and fills the compressed index (a no-op when built already)
        subprocess.run([sys.executable, "-c", "from inkseal import Inkseal; import os; "
                        "Inkseal.open(os.environ['INKSEAL_HOME']).indexes"], env=_env(ivf_home, home, "faiss-ivfpq"),
                       check=True)
        result["ivfpq_first_build_s"] = time.perf_counter() - t0
        if args.no_flat:
            t0 = time.perf_counter()
            found = exact_top(home, np.load(queries))
            exact = {"backend": "exact (streamed from the database)", "vectors": 0, "open_s": float("nan"),
                     "rss_mb": float("nan"), "six_query_search_ms": float("nan"), "index_mb": float("nan"),
                     "by_nprobe": {"0": {"p50_ms": 1000 * (time.perf_counter() - t0), "p95_ms": float("nan"),
                                         "found": found}}}
        else:
            exact = _run_measure(home, home, "faiss-flat", queries, args.nprobe)
        approx = _run_measure(ivf_home, home, "faiss-ivfpq", queries, args.nprobe)
        baseline = _run_measure(small, small, "faiss-flat", queries, "0")
        result["attacked_small_exact"] = baseline["attacked"]
        result["attacked_ivfpq"] = approx.get("attacked", {})
        app = Inkseal.open(home)
        owners = app.registry.fingerprint_owners({i for m in (exact, approx) for r in m["by_nprobe"].values()
                                                  for f in r["found"] for i in f if i >= 0})
        app.close()
        truth_found = exact["by_nprobe"]["0"]["found"]
        for m in (exact, approx):
            for r in m["by_nprobe"].values():
                found = r.pop("found")
                r["top1"] = float(np.mean([owners.get(f[0], (0, 0))[1] == t for f, t in zip(found, truth)]))
                r["recall_at_16"] = float(np.mean([len(set(a) & set(e)) / K for a, e in zip(found, truth_found)]))
                # the copied work's fingerprints that exact search ranks in the top 16: how many are found
                mine = [({i for i in e if owners.get(i, (0, 0))[1] == t}, set(a))
                        for a, e, t in zip(found, truth_found, truth)]
                r["copy_recall"] = float(sum(len(w & a) for w, a in mine) / max(1, sum(len(w) for w, _a in mine)))
        if approx.get("match_verdicts"):  # served match: the copied work called a copy, in file order kodim01..24
            approx["match_copies"] = sum(any(w == t and tier == "copy" for w, tier in v)
                                         for v, t in zip(approx.pop("match_verdicts"), truth))
        result["flat"], result["ivfpq"] = exact, approx
        scans, rcs = [], []
        for stem in ("kodim05", "kodim17", "kodim23"):
            t0 = time.perf_counter()
            r = subprocess.run([str(ROOT / ".venv/bin/inkseal"), "scan", "--json", str(copies / f"{stem}.jpg")],
                               env=_env(ivf_home, home, "faiss-ivfpq"), check=False, capture_output=True, text=True)
            scans.append(time.perf_counter() - t0)
            rcs.append(r.returncode)
            result[f"scan_{stem}"] = r.stdout[-300:] if r.returncode else "ok"
        result["ivfpq_cli_scan_s"], result["ivfpq_cli_scan_rc"] = float(np.median(scans)), rcs
        shutil.rmtree(copies, ignore_errors=True)
        print(json.dumps(result), flush=True)
        rows = ["| backend (nprobe) | vectors | open | RSS after open | search p50 / p95 (1 query) | 6-query search | "
                "recall@16 vs exact | copied work's fingerprints found | Kodak top-1 | index on disk |",
                "|---|---|---|---|---|---|---|---|---|---|"]
        def cell(x: float, fmt: str) -> str:
            return "—" if x != x else format(x, fmt)  # NaN: not measured (the streamed exact search)

        for name in ("flat", "ivfpq"):
            m = result.get(name)
            for nprobe, r in (m or {}).get("by_nprobe", {}).items():
                rows.append(f"| {m['backend']} ({nprobe}) | {cell(m['vectors'] or float('nan'), ',.0f')} | {cell(m['open_s'], '.2f')} s | "
                            f"{cell(m['rss_mb'], '.0f')} MB | "
                            f"{cell(r['p50_ms'], '.1f')} / {cell(r['p95_ms'], '.1f')} ms | "
                            f"{cell(m['six_query_search_ms'], '.1f')} ms | "
                            f"{r['recall_at_16']:.3f} | {r['copy_recall']:.3f} | {r['top1']:.3f} | "
                            f"{cell(m['index_mb'], '.0f')} MB |")
        names = list(FAMILIES)
        rows += ["", f"Copy verdicts under attack (the copied work called a `copy`), the same {len(KODAK)} attacked copies "
                 "per family: against a registry of the 24 photos alone searched exactly, and against the "
                 f"{args.works:,}-work registry through the compressed index:", "",
                 "| attack | 24 works, exact | " + f"{args.works:,} works, faiss-ivfpq | drop |", "|---|---|---|---|"]
        tot = [0, 0, 0]
        for key in sorted(result["attacked_small_exact"]):
            a, n = result["attacked_small_exact"][key]
            b, _n = result["attacked_ivfpq"].get(key, [0, n])
            tot = [tot[0] + a, tot[1] + b, tot[2] + n]
            rows.append(f"| {names[int(key)]} | {a}/{n} | {b}/{n} | {(a - b) / n:.3f} |")
        rows.append(f"| all | {tot[0]}/{tot[2]} | {tot[1]}/{tot[2]} | {(tot[0] - tot[1]) / max(1, tot[2]):.3f} |")
        print("\n".join(rows))
        if not args.no_doc:
            from doc_tables import write_section

            write_section("scale_ivfpq", [
                f"## The compressed index at {args.works:,} works (`benchmarks/scale_1m.py --works {args.works}`)",
                "",
                "Same registry, same run: the exact search (" + ("streamed from the database: the flat index would "
                "need 12.3 GB of RAM" if args.no_flat else "FAISS flat") + ") against `index_backend = \"faiss-ivfpq\"` "
                "(IVF-PQ codes in RAM, candidates re-scored exactly from the database). Synthetic works as in "
                "`benchmarks/scale.py`; "
                "recall@16 = share of the exact top-16 returned for the 24 JPEG copies of the Kodak photos. "
                f"One-shot `inkseal scan COPY.jpg` on the compressed home, start-up included: "
                f"{result['ivfpq_cli_scan_s']:.1f} s (median of 3). In a running process (a server), the whole "
                f"match of one JPEG copy (candidates, verification, localisation): p50 / p95 "
                f"{result['ivfpq'].get('match_p50_ms', float('nan')):.0f} / "
                f"{result['ivfpq'].get('match_p95_ms', float('nan')):.0f} ms, the copied work called a copy in "
                f"{result['ivfpq'].get('match_copies', 0)} of {len(KODAK)}. Load average at the end: "
                f"{' / '.join(f'{x:.1f}' for x in os.getloadavg())} on 2 cores.",
                "", *rows])
    finally:
        if not args.home:
            shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
