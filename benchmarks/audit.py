"""Training-data audit benchmark (issue 15 part 3): throughput, precision/recall, peak memory, and a projection.

    .venv/bin/python benchmarks/audit.py [--items 20000] [--workers 1,2] [--url-share 0.2] [--work DIR]

Builds a synthetic dataset in DIR (default a temporary folder) from /work/shared/data:
  - a registry of the 24 Kodak photos plus 16 hardneg pictures (40 registered works);
  - WebDataset shards (1,000 items each): flower photos and hardneg pictures (unregistered), attacked copies
    of the registered works (crop + downscale + JPEG, mirror, brightness, screenshot-like padding), files with
    each embedded signal (C2PA training-mining notAllowed, IPTC plus:DataMining prohibited, a TC260 label),
    undecodable files; re-encoded flower variants fill up to --items;
  - a Parquet of URLs (`url`, `caption`), --url-share of the items, served from 127.0.0.1 by a real HTTP server
    carrying robots.txt (GPTBot/CCBot, all agents), ai.txt, tdmrep.json, tdm-reservation and X-Robots-Tag noai.
Then audits both with each worker count (Ray local, one CPU per worker), niced, and prints a markdown table:
items/s, per-item CPU cost, precision/recall of registry hits and of each opt-out signal, peak memory (RSS of
this process and every Ray process it started), and the projection to 100 M items on 100 nodes.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import shutil
import sys
import tarfile
import tempfile
import threading
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image, ImageEnhance

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
DATA = ROOT.parent / "shared" / "data"

from h15audit import SIGNAL_PATHS, OptOutSite, jpeg, with_c2pa, with_iptc, with_tc260  # noqa: E402

from inkseal import Inkseal  # noqa: E402
from inkseal.platform.audit.report import write_report  # noqa: E402
from inkseal.platform.audit.runner import AuditOptions, run_audit, start_ray  # noqa: E402

SHARD_ITEMS = 1000
OPTOUT_SIGNALS = ("c2pa", "iptc", "tdmrep", "robots", "ai_txt", "x_robots_tag")


# -- peak memory: every process this benchmark started (Ray's raylet, GCS and workers included) ---------------
def _tree_rss(pid: int) -> int:
    total, stack = 0, [pid]
    while stack:
        p = stack.pop()
        try:
            with open(f"/proc/{p}/status") as fh:
                total += next((int(line.split()[1]) * 1024 for line in fh if line.startswith("VmRSS:")), 0)
            with open(f"/proc/{p}/task/{p}/children") as fh:
                stack += [int(c) for c in fh.read().split()]
        except (OSError, ValueError):
            continue
    return total


class PeakRSS:
    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            self.peak = max(self.peak, _tree_rss(os.getpid()))

    def __enter__(self) -> PeakRSS:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


# -- the synthetic dataset ----------------------------------------------------------------------------------
def attacks(im: Image.Image, rnd: random.Random) -> list[tuple[str, Image.Image]]:
    w, h = im.size
    c = rnd.uniform(0.03, 0.12)
    crop = im.crop((int(w * c), int(h * c), int(w * (1 - c)), int(h * (1 - c))))
    pad = Image.new("RGB", (int(w * 1.3), int(h * 1.4)), (245, 245, 245))
    pad.paste(im.resize((w, h)), (int(w * 0.15), int(h * 0.25)))
    return [("crop_scale", crop.resize((int(crop.width * 0.6), int(crop.height * 0.6)))),
            ("mirror", im.transpose(Image.Transpose.FLIP_LEFT_RIGHT)),
            ("brightness", ImageEnhance.Brightness(im).enhance(1.2)),
            ("screenshot", pad.resize((pad.width // 2, pad.height // 2)))]


def build(work: Path, n_items: int, url_share: float, rnd: random.Random) -> tuple[Path, Path, dict, list[bytes]]:
    kodak = sorted((DATA / "kodak").glob("*.png"))
    hardneg = sorted(p for p in (DATA / "hardneg").rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png", ".webp")
                     and "_ambiguous" not in p.parts)
    flowers = sorted((DATA / "flowers").glob("*/*.jpg"))
    rnd.shuffle(hardneg)
    registered, hard_unreg = kodak + hardneg[:16], hardneg[16:]
    home = work / "home"
    app = Inkseal.open(home)
    try:
        rep = app.register(registered, author="Benchmark Creator")
        assert not rep.failed, [i.error for i in rep.failed]
        by_sha = {f.sha256: w.id for w in app.works() for f in w.files}
    finally:
        app.close()
    import hashlib

    work_of = {str(p): by_sha[hashlib.sha256(p.read_bytes()).hexdigest()] for p in registered}
    truth: dict[str, dict] = {}  # item_id -> {"work": id or None, "signals": [...]}
    items: list[tuple[str, bytes, dict]] = []

    def small(p: Path, side: int = 512) -> Image.Image:
        im = Image.open(p).convert("RGB")
        im.thumbnail((side, side))
        return im

    for p in registered:  # 4 attacked copies of each registered work
        for name, im in attacks(small(p, 768), rnd):
            items.append((f"copy-{p.parent.name}-{p.stem}-{name}", jpeg(im, rnd.randint(60, 90)), {"work": work_of[str(p)]}))
    for p in hard_unreg:
        items.append((f"hardneg-{p.parent.name}-{p.stem}", jpeg(small(p)), {}))
    signal_makers = [("c2pa", with_c2pa), ("iptc", with_iptc), ("tc260", with_tc260)]
    for i, p in enumerate(flowers[:300]):
        sig, make = signal_makers[i % 3]
        items.append((f"{sig}-{p.parent.name}-{p.stem}", make(small(p, 384)), {"signals": [sig] if sig != "tc260" else [],
                                                               "tc260": sig == "tc260"}))
    for i in range(20):
        items.append((f"bad-{i}", b"\xff\xd8\xff\xe0" + os.urandom(200), {"bad": True}))
    n_files = int(n_items * (1 - url_share))
    i = 0
    while len(items) < n_files:  # flowers, then re-encoded variants (other size and quality: distinct bytes)
        p = flowers[i % len(flowers)]
        if i < len(flowers):
            items.append((f"flower-{p.parent.name}-{p.stem}", p.read_bytes(), {}))
        else:
            items.append((f"flower-{p.parent.name}-{p.stem}-v{i // len(flowers)}", jpeg(small(p, rnd.choice((256, 320, 400))),
                                                                         rnd.randint(70, 92)), {}))
        i += 1
    assert len({key for key, _d, _t in items}) == len(items), "item keys must be unique (they name tar samples)"
    rnd.shuffle(items)
    wds = work / "wds"
    wds.mkdir()
    for s in range(0, len(items), SHARD_ITEMS):
        with tarfile.open(wds / f"{s // SHARD_ITEMS:05d}.tar", "w") as tar:
            for key, data, t in items[s:s + SHARD_ITEMS]:
                ext = "png" if data.startswith(b"\x89PNG") else "jpg"
                truth[f"{s // SHARD_ITEMS:05d}.tar/{key}"] = t
                info = tarfile.TarInfo(f"{key}.{ext}")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    # URL items: every site path, images from flowers (small: the server is on the same 2 cores)
    site_images = [jpeg(small(p, 320)) for p in flowers[-200:]]
    (work / "urls").mkdir()
    n_urls = n_items - len(items)
    paths = ["clean"] * 6 + ["gptblock", "aitxt", "tdmjson", "tdmhdr", "noai", "blocked", "html", "gone"]
    rows = [(paths[k % len(paths)], k) for k in range(n_urls)]
    return home, wds, {"truth": truth, "url_rows": rows, "n_files": len(items)}, site_images


def write_urls(work: Path, base: str, rows: list[tuple[str, int]], truth: dict) -> Path:
    urls = work / "urls"
    for s in range(0, len(rows), SHARD_ITEMS):
        chunk = rows[s:s + SHARD_ITEMS]
        table = pa.table({"url": [f"{base}/{p}/{k}.jpg" for p, k in chunk], "caption": [f"{p} {k}" for p, k in chunk],
                          "key": [f"u{k:07d}" for _p, k in chunk]})
        pq.write_table(table, urls / f"part-{s // SHARD_ITEMS:05d}.parquet")
        for p, k in chunk:
            truth[f"u{k:07d}"] = {"signals": [SIGNAL_PATHS[p]] if p in SIGNAL_PATHS else [],
                                  "bad": p in ("html", "gone", "blocked")}
    return urls


# -- scoring --------------------------------------------------------------------------------------------------
def prf(tp: int, fp: int, fn: int) -> tuple[float, float]:
    return (tp / (tp + fp) if tp + fp else 1.0), (tp / (tp + fn) if tp + fn else 1.0)


def score(rows: list[dict], truth: dict) -> dict:
    out: dict[str, tuple[int, int, int]] = {}
    tp = fp = fn = 0
    for r in rows:
        t = truth.get(r["item_id"], {})
        hit = r.get("registry_work_id") if r.get("registry_tier") else None
        want = t.get("work")
        if hit is not None and want is not None and int(hit) == int(want):
            tp += 1
        else:
            fp += hit is not None
            fn += want is not None
    out["registry"] = (tp, fp, fn)
    for sig in OPTOUT_SIGNALS:
        tp = fp = fn = 0
        for r in rows:
            got = sig in (json.loads(r["optouts"]) if isinstance(r.get("optouts"), str) else r.get("optouts") or [])
            want = sig in truth.get(r["item_id"], {}).get("signals", [])
            tp, fp, fn = tp + (got and want), fp + (got and not want), fn + (want and not got)
        out[sig] = (tp, fp, fn)
    return out


def stage_costs(home: Path, wds: Path, n: int) -> dict[str, float]:
    """Seconds per item of each stage, on the first `n` decodable file items, in this process (one thread)."""
    from inkseal.imaging import load_image
    from inkseal.journal.importers.labels import implicit_labels
    from inkseal.journal.metadata import read_metadata
    from inkseal.platform.audit.datasets import list_shards, read_items
    from inkseal.platform.audit.signals import ItemChecker, WatermarkKeys

    app = Inkseal.open(home, threads=1)
    checker = ItemChecker(app.matcher, WatermarkKeys(), max_pixels=app.settings.max_pixels)
    spent = {"decode": 0.0, "metadata (XMP, TC260, C2PA)": 0.0, "registry match": 0.0}
    done = 0
    for shard in list_shards(wds):
        for item in read_items(shard):
            if done >= n or item.data is None:
                continue
            t = time.perf_counter()
            try:
                image = load_image(item.data)
            except Exception:  # noqa: BLE001 - the undecodable items
                continue
            spent["decode"] += time.perf_counter() - t
            t = time.perf_counter()
            meta = read_metadata(item.data)
            implicit_labels(meta)
            checker._c2pa(item.data, image.format, meta.has_c2pa)
            spent["metadata (XMP, TC260, C2PA)"] += time.perf_counter() - t
            t = time.perf_counter()
            checker._registry(image)
            spent["registry match"] += time.perf_counter() - t
            done += 1
        if done >= n:
            break
    app.close()
    return {k: v / max(1, done) for k, v in spent.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--items", type=int, default=20_000)
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--url-share", type=float, default=0.2)
    ap.add_argument("--work", type=Path, default=None)
    ap.add_argument("--seed", type=int, default=15)
    ap.add_argument("--profile", type=int, default=200, help="items to time stage by stage (0: skip)")
    ap.add_argument("--profile-only", action="store_true", help="only the stage timing, on an existing --work")
    args = ap.parse_args()
    os.nice(10)  # the machine is shared
    os.environ["INKSEAL_ALLOW_PRIVATE_ADDRESSES"] = "1"  # the URL items are served from 127.0.0.1
    if args.profile_only:
        print_stages(stage_costs(args.work / "home", args.work / "wds", args.profile))
        return
    work = args.work or Path(tempfile.mkdtemp(prefix="audit-bench-"))
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    t0 = time.monotonic()
    home, wds, meta, site_images = build(work, args.items, args.url_share, random.Random(args.seed))
    truth = meta["truth"]
    build_s = time.monotonic() - t0
    results = []
    with OptOutSite(site_images) as site:
        urls = write_urls(work, site.base, meta["url_rows"], truth)
        total = meta["n_files"] + len(meta["url_rows"])
        for n in (int(x) for x in args.workers.split(",")):
            import ray

            opts = AuditOptions(home=str(home), workers=n, http_timeout_s=5.0, http_deadline_s=10.0)
            report = work / f"report-{n}"
            t = time.monotonic()
            with PeakRSS() as mem:
                start_ray(opts)
                ray_s = time.monotonic() - t
                files_run = run_audit(wds, report / "files", opts)
                url_run = run_audit(urls, report / "urls", opts)
                ray.shutdown()
            wall = time.monotonic() - t
            rows = []
            for part in ("files", "urls"):
                write_report(report / part, str(home))
                rows += pq.read_table(report / part / "findings.parquet").drop_columns(["thumb"]).to_pylist()
            assert len(rows) == total, (len(rows), total)
            results.append({"workers": n, "wall": wall, "ray_start": ray_s, "files_s": files_run.seconds,
                            "urls_s": url_run.seconds, "items": len(rows), "peak_rss": mem.peak,
                            "n_files": meta["n_files"], "n_urls": len(meta["url_rows"]),
                            "scores": score(rows, truth)})
    print_table(args, results, build_s)
    if args.profile:
        print_stages(stage_costs(home, wds, args.profile))


def print_stages(costs: dict[str, float]) -> None:
    total = sum(costs.values())
    print("\n| stage (one thread, per file item) | ms | share |")
    print("|---|---|---|")
    for name, sec in costs.items():
        print(f"| {name} | {1000 * sec:.1f} | {100 * sec / total:.0f} % |")


def print_table(args: argparse.Namespace, results: list[dict], build_s: float) -> None:
    print(f"\n### Training-data audit benchmark ({results[0]['items']:,} items: {results[0]['n_files']:,} in "
          f"WebDataset shards, {results[0]['n_urls']:,} URLs from 127.0.0.1; 40 registered works; "
          f"2-core shared machine, niced; dataset built in {build_s:.0f} s)\n")
    print("| workers | wall s | Ray start s | file items/s | URL items/s | all items/s | CPU-s / file item | "
          "peak RSS (all processes) |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        fps = r["n_files"] / r["files_s"]
        ups = r["n_urls"] / r["urls_s"] if r["urls_s"] else float("nan")
        print(f"| {r['workers']} | {r['wall']:.0f} | {r['ray_start']:.0f} | {fps:.2f} | {ups:.1f} | "
              f"{r['items'] / r['wall']:.2f} | {r['workers'] / fps:.3f} | {r['peak_rss'] / 2**30:.2f} GiB |")
    print("\n| signal | TP | FP | FN | precision | recall |")
    print("|---|---|---|---|---|---|")
    for name, (tp, fp, fn) in results[-1]["scores"].items():
        p, rc = prf(tp, fp, fn)
        print(f"| {name} | {tp} | {fp} | {fn} | {p:.3f} | {rc:.3f} |")
    best = max(results, key=lambda r: r["workers"])
    cpu_per_item = best["workers"] * best["files_s"] / best["n_files"]
    cores = 100 * 32  # 100 nodes of 32 cores
    hours = 100e6 * cpu_per_item / cores / 3600
    print(f"\nProjection: {cpu_per_item:.3f} core-s per file item (measured, {best['workers']} workers) x 100 M items "
          f"/ (100 nodes x 32 cores) = {hours:.1f} h, if the cores are the limit. The stage table below says what "
          "dominates: the registry match (SSCD embeddings of the image and its proposed regions, FAISS search, ORB "
          "verification of candidates). With millions of registered works the flat index search grows linearly "
          "(use the IVF / Milvus backends); URL items are fetched one at a time per worker, so on the open web "
          "(0.2-1 s per fetch) fetching, not matching, sets the pace unless fetches are made concurrent.")


if __name__ == "__main__":
    main()
