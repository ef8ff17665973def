"""Benchmark families about what a verdict claims (issue 9), run by benchmarks/copy_detection.py.

    same subject   every ordered pair inside each held-out hard-negative group: picture A is the
                   suspect, the group's other pictures are registered (A itself is left out). Any
                   `copy` verdict is a false match. Side by side, the same pairs for SSCD alone
                   (cosine >= 0.75), PDQ (Hamming <= 31, Meta's default) and pHash (Hamming <= 10).
    derivatives    every picture of hardneg/_ambiguous against the picture it comes from
                   (PAIRS.csv): which tier each kind gets.
    localisation   crops, phone-app screenshots and pages with known ground-truth polygons
                   (benchmarks/localisation_set.py): IoU of `polygon_in_original`; and phone
                   screenshots that leave the signature out of view: is it reported `cut`?

The hard-negative groups are split once, by a hash of the group name (SPLIT below): half 0 is
used by benchmarks/calibrate.py to fit the pixel-agreement tail and to set the tier thresholds,
half 1 is only ever measured here.
"""

from __future__ import annotations

import csv
import hashlib
import math
import random
from pathlib import Path

import numpy as np
from PIL import Image

import localisation_set
from attacks import load_rgb

HARDNEG_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "hardneg"
IMAGE_EXT = {".png", ".jpg", ".jpeg"}
BASELINE_RULES = {"SSCD": "cosine ≥ 0.75", "PDQ": "Hamming ≤ 31", "pHash": "Hamming ≤ 10"}


def split(group: str) -> int:
    """0: calibration half, 1: held-out test half (fixed: first byte of sha256(name), mod 2)."""
    return int(hashlib.sha256(group.encode()).hexdigest()[:2], 16) % 2


def groups(half: int, root: Path = HARDNEG_DIR) -> dict[str, list[Path]]:
    return {g.name: sorted(f for f in g.iterdir() if f.suffix.lower() in IMAGE_EXT)
            for g in sorted(root.iterdir()) if g.is_dir() and not g.name.startswith("_") and split(g.name) == half}


def upper_bound(k: int, n: int, conf: float = 0.95) -> float:
    """One-sided Clopper-Pearson upper bound of a rate seen k times in n (bisection on the binomial CDF)."""
    if n == 0:
        return 1.0
    if k >= n:
        return 1.0
    alpha = 1 - conf

    def cdf(p: float) -> float:
        return sum(math.comb(n, i) * p ** i * (1 - p) ** (n - i) for i in range(k + 1))

    lo, hi = k / n, 1.0
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if cdf(mid) > alpha else (lo, mid)
    return hi


def same_subject(app, group_files: dict[str, list[Path]],  # type: ignore[no-untyped-def]
                 work_of: dict[Path, int]) -> dict:
    import imagehash

    n_pairs = 0
    counts = {"inkseal copy": 0, "inkseal derivative": 0, **{k: 0 for k in BASELINE_RULES}}
    examples: list[str] = []
    for name, files in group_files.items():
        feats = {}
        for f in files:
            rgb = load_rgb(f)
            feats[f] = (app.sscd.compute(rgb), np.unpackbits(app.pdq.compute(rgb)[0]),
                        imagehash.phash(Image.fromarray(rgb)).hash.ravel())
            same_group = {work_of[g] for g in files if g != f}
            for v in app.matcher.match(rgb, localise_matches=False, exclude_works={work_of[f]}):
                if v.work_id in same_group:
                    counts[f"inkseal {v.tier}"] += 1
                    if v.tier == "copy":
                        examples.append(f"{name}/{f.name} (score {v.score:.1f})")
        for a in files:
            for b in files:
                if a == b:
                    continue
                n_pairs += 1
                (ea, pa, ha), (eb, pb, hb) = feats[a], feats[b]
                counts["SSCD"] += float(ea @ eb) >= 0.75
                counts["PDQ"] += int((pa != pb).sum()) <= 31
                counts["pHash"] += int((ha != hb).sum()) <= 10
    return {"pairs": n_pairs, "groups": len(group_files), "counts": counts, "examples": examples[:10],
            "upper95": {k: upper_bound(int(v), n_pairs) for k, v in counts.items()}}


def derivatives(app, root: Path = HARDNEG_DIR) -> dict[str, dict[str, int]]:  # type: ignore[no-untyped-def]
    """Tier of each _ambiguous picture against what it comes from, per sub-folder."""
    rows = list(csv.DictReader((root / "_ambiguous" / "PAIRS.csv").open()))
    by_folder: dict[str, list[dict]] = {}
    for r in rows:
        by_folder.setdefault(r["file"].split("/")[1], []).append(r)
    # Every source picture is registered up front (and kept: removing works between queries would
    # measure the index's bookkeeping, not the verdict).
    pairs: list[tuple[str, Path, Path]] = []
    for folder, items in by_folder.items():
        first = root / items[0]["file"]
        for r in items:
            target = root / r["related_to"]
            if target.suffix.lower() in IMAGE_EXT and target.exists():
                pairs.append((folder, root / r["file"], target))
            elif root / r["file"] != first:  # related to "each other": against the folder's first picture
                pairs.append((folder, root / r["file"], first))
    sources = list(dict.fromkeys(t for _f, _q, t in pairs))
    work_of = {t: it.work_id for t, it in zip(sources, app.register(sources, author="derivative-bench").items,
                                               strict=True)}
    out: dict[str, dict[str, int]] = {f: {"copy": 0, "derivative": 0, "nothing": 0} for f in by_folder}
    for folder, query, target in pairs:
        verdicts = [v for v in app.matcher.match(load_rgb(query), localise_matches=False)
                    if v.work_id == work_of[target]]
        out[folder][verdicts[0].tier if verdicts else "nothing"] += 1
    return out


def localisation(app, paths: list[Path], rng: random.Random) -> dict:  # type: ignore[no-untyped-def]
    """IoU per family over `paths` (registered already), and the signature check on published Kodak."""
    ious: dict[str, list[float]] = {k: [] for k in localisation_set.FAMILIES}
    for p in paths:
        rgb = load_rgb(p)
        for fam, attack in localisation_set.FAMILIES.items():
            suspect, truth = attack(rgb, rng)
            verdicts = [v for v in app.matcher.match(suspect) if v.tier == "copy"]
            poly = verdicts[0].localisation.polygon_in_original if verdicts else []
            ious[fam].append(localisation_set.iou(truth, poly))
    return {"iou": {k: {"mean": float(np.mean(v)), "p10": float(np.percentile(v, 10)), "n": len(v)}
                    for k, v in ious.items()}}


def signature_cut(app, work_ids: list[int], rng: random.Random) -> dict:  # type: ignore[no-untyped-def]
    right = total = 0
    statuses: dict[str, int] = {}
    for wid in work_ids:
        wf, path = app.publish(wid, signature="© Li Spring Breeze")
        suspect, _truth = localisation_set.signature_cut_phone(load_rgb(path), rng, wf.regions["signature"])
        verdicts = [v for v in app.matcher.match(suspect) if v.work_id == wid and v.localisation]
        regions = verdicts[0].localisation.regions if verdicts else {}
        status = regions.get("signature", {}).get("status", "none") if verdicts else "not found"
        statuses[status] = statuses.get(status, 0) + 1
        right += status == "cut"
        total += 1
    return {"right": right, "total": total, "statuses": statuses}
