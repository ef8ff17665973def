"""Fit the false-match tails behind inkseal's scores (src/inkseal/match/calibration.json).

One command:  .venv/bin/python benchmarks/calibrate.py [--refs 1500] [--queries 600]

References: half of the Kodak photos plus flower photos. Queries: the *other* Kodak photos and
held-out flowers, plain and attacked (JPEG, crop, flip, rotation, resize, page screenshot) - so
every query/reference pair is unrelated, and every score they reach is a false-match score.

For the SSCD cosine we use every query x reference-embedding pair; for ORB inliers, every
candidate the matcher actually verified (these are the hardest negatives, which is what matters).
The fitted line is log10 P(X >= x) = a - b x over the upper tail; we then make it conservative by
raising `a` by one decade (10x more false matches assumed than observed).

Hard negatives (issue 9): the calibration half of ../shared/data/hardneg (benchmarks/verdict_families.py
splits the groups by a hash of their name; the other half is never seen here) is registered too, and
every picture is matched against the *other* pictures of its group. Their pixel agreement
(match/agreement.py) gives the pixel tail: how well another picture of the same subject agrees with
a registered one after verification. The keypoint tails stay fitted on unrelated pictures (what
they measure); a verdict's score is the weaker of the keypoint and the pixel evidence.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import verdict_families  # noqa: E402
from attacks import ATTACKS_FOR_CALIBRATION, load_rgb  # noqa: E402

from inkseal import Inkseal  # noqa: E402
from inkseal.match import calibration  # noqa: E402
from inkseal.match import tiers  # noqa: E402
from inkseal.match.matcher import COS_FLOOR  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def tail_fit(values: np.ndarray, n_total: int, xs: np.ndarray) -> tuple[float, float]:
    """Fit log10 survival over thresholds xs (points with at least 3 observations)."""
    pts = []
    for x in xs:
        k = int((values >= x).sum())
        if k >= 3:
            pts.append((x, np.log10(k / n_total)))
    arr = np.array(pts)
    slope, intercept = np.polyfit(arr[:, 0], arr[:, 1], 1)
    return float(intercept), float(-slope)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--refs", type=int, default=1500)
    ap.add_argument("--queries", type=int, default=400)
    ap.add_argument("--write", action="store_true", help="write calibration.json")
    ap.add_argument("--pixel-only", action="store_true",
                    help="keep the keypoint tails in calibration.json, refit only the pixel tail (hard negatives)")
    args = ap.parse_args()
    if args.pixel_only:
        fit_pixel_tail(args.write)
        return
    rng = random.Random(7)
    kodak = sorted((DATA / "kodak").glob("*.png"))
    flowers = sorted((DATA / "flowers").glob("*/*.jpg"))
    rng.shuffle(flowers)
    ref_paths = kodak[::2] + flowers[: args.refs]
    query_paths = kodak[1::2] + flowers[args.refs : args.refs + args.queries]
    with tempfile.TemporaryDirectory() as home:
        app = Inkseal.open(home)
        app.register(ref_paths, author="calibration")
        sscd_idx = app.indexes[app.sscd.name]
        n_refs = len(sscd_idx)
        ref_vecs = sscd_idx.index.index.reconstruct_n(0, n_refs)  # every reference embedding
        # tf_flowers holds a few near-duplicates (burst shots of one scene). A pair that verifies
        # geometrically without any attack (>= 25 inliers) is a real copy, not an unrelated pair, so
        # such queries are dropped and counted. Merely similar flowers (SSCD cosine up to ~0.8) stay:
        # they are exactly the hard negatives the scores must be calibrated on.
        kept = []
        for path in query_paths:
            plain = app.matcher.match(load_rgb(path), localise_matches=False, keep_non_matches=True)
            if max([v.inliers for v in plain] or [0]) < 25:
                kept.append(path)
        print(f"dropped {len(query_paths) - len(kept)} near-duplicate queries", flush=True)
        query_paths = kept
        cos_all, inliers, verified_cos = [], [], []
        n_verified = 0
        for qi, path in enumerate(query_paths):
            rgb = load_rgb(path)
            for name, attack in ATTACKS_FOR_CALIBRATION.items():
                q = attack(rgb, rng)
                cos_all.append(ref_vecs @ app.sscd.compute(q))
                for v in app.matcher.match(q, localise_matches=False, keep_non_matches=True):
                    inliers.append(v.inliers)
                    verified_cos.append(v.cosine)
                    n_verified += 1
            if qi % 50 == 0:
                print(f"{qi}/{len(query_paths)} queries", flush=True)
        # Hard negatives: each calibration-half picture against the rest of its group.
        zs, n_hn_verified, n_hn_files, n_hn_groups = hard_negative_pixels(app)
        cos = np.concatenate(cos_all)
        inl = np.array(inliers)
        out_dir = Path(__file__).parent / "out"
        out_dir.mkdir(exist_ok=True)
        np.savez_compressed(out_dir / "calibration.npz", cos=cos.astype(np.float16), inliers=inl,
                            verified_cos=np.array(verified_cos))
        cos_a, cos_b = tail_fit(cos, cos.size, np.arange(0.10, 0.60, 0.01))
        inl_a, inl_b = tail_fit(inl[inl > 0], max(1, n_verified), np.arange(8, 80, 1))
        marginal = calibration.Calibration(cos_a=cos_a + 1.0, cos_b=cos_b, inl_a=inl_a + 1.0, inl_b=inl_b)
        joint_t = np.array([marginal.joint_statistic(c, k) for c, k in zip(verified_cos, inliers, strict=True)])
        joint_a, joint_b = tail_fit(joint_t, max(1, n_verified), np.arange(0.5, 12, 0.25))
        print(f"joint statistic: max {joint_t.max():.2f}; log10 P = {joint_a:.2f} - {joint_b:.3f} t")
        px_a, px_b = tail_fit(zs[zs > 0], max(1, n_hn_verified), np.arange(np.percentile(zs[zs > 0], 80), 4.0, 0.01))
        print(f"pixel tail: log10 P = {px_a:.2f} - {px_b:.3f} z")
        print(f"pairs {cos.size:,}; max cosine {cos.max():.3f}; verified {n_verified:,}; max inliers {inl.max()}")
        print(f"cosine tail: log10 P = {cos_a:.2f} - {cos_b:.2f} c ; inlier tail: log10 P = {inl_a:.2f} - {inl_b:.3f} k")
        cal = calibration.Calibration(
            cos_a=round(cos_a + 1.0, 3), cos_b=round(cos_b, 3), inl_a=round(inl_a + 1.0, 3), inl_b=round(inl_b, 4),
            joint_a=round(joint_a + 1.0, 3), joint_b=round(joint_b, 4),
            px_a=round(px_a + 1.0, 3), px_b=round(px_b, 4),
            source=(f"benchmarks/calibrate.py: {len(query_paths)} unrelated queries x {len(ATTACKS_FOR_CALIBRATION)} "
                    f"attacks vs {n_refs} reference embeddings ({cos.size:,} cosine pairs, max {cos.max():.3f}; "
                    f"{n_verified:,} verified candidates, max {inl.max()} inliers, max joint statistic {joint_t.max():.2f}, "
                    f"candidates need cosine >= {COS_FLOOR}); hard negatives: {n_hn_files} pictures in {n_hn_groups} "
                    f"calibration-half groups, {n_hn_verified} same-subject candidates, max pixel statistic {zs.max():.3f}; "
                    "+1 decade safety margin on every tail"),
        )
        print(cal)
        if args.write:
            cal.save()
            print(f"wrote {calibration.PATH}")


UNRELATED_PIXEL_QUERIES = 300


def hard_negative_pixels(app: Inkseal) -> tuple[np.ndarray, int, int, int]:
    """Pixel statistic of every candidate that is not a copy: each calibration-half picture matched
    against the rest of its group, and unrelated flower photos (attacked as in calibration) against
    the same registry plus Kodak. The matcher reads pixels for every candidate whose keypoint score
    reaches the threshold, so the tail covers exactly the verdicts it decides.
    Returns (values, candidates, pictures, groups)."""
    import hashlib

    cal_groups = verdict_families.groups(0)
    hn_files = [f for fs in cal_groups.values() for f in fs]
    app.register(hn_files + sorted((DATA / "kodak").glob("*.png")), author="calibration")
    hn_work = {w.files[0].sha256: w.id for w in app.works()}
    pixel_z: list[float] = []
    for f in hn_files:
        own = hn_work[hashlib.sha256(f.read_bytes()).hexdigest()]
        for v in app.matcher.match(load_rgb(f), localise_matches=False, keep_non_matches=True, exclude_works={own}):
            pixel_z.append(tiers.pixel_statistic(v.extra.get("agreement")))
    # Unrelated queries: never the copy-detection benchmark's held-out negatives (the first 500 of its
    # shuffle), so that benchmark still measures pictures this fit has not seen.
    flowers = sorted((DATA / "flowers").glob("*/*.jpg"))
    random.Random(2026).shuffle(flowers)
    rng = random.Random(17)
    attacks = list(ATTACKS_FOR_CALIBRATION.values())
    for f in rng.sample(flowers[500:], UNRELATED_PIXEL_QUERIES):
        for v in app.matcher.match(rng.choice(attacks)(load_rgb(f), rng), localise_matches=False, keep_non_matches=True):
            pixel_z.append(tiers.pixel_statistic(v.extra.get("agreement")))
    return np.array(pixel_z), len(pixel_z), len(hn_files) + UNRELATED_PIXEL_QUERIES, len(cal_groups)


def fit_pixel_tail(write: bool) -> None:
    import dataclasses

    with tempfile.TemporaryDirectory() as home:
        app = Inkseal.open(home)
        zs, n, n_files, n_groups = hard_negative_pixels(app)
    measured = zs[zs > 0]
    # The upper tail only (the top fifth of what was measured): the bulk is not what a verdict risks.
    px_a, px_b = tail_fit(measured, max(1, n), np.arange(np.percentile(measured, 80), 4.0, 0.01))
    print(f"hard negatives: {n_files} pictures in {n_groups} groups, {n} candidates, {measured.size} measured, "
          f"max {zs.max():.3f}; pixel tail: log10 P = {px_a:.2f} - {px_b:.3f} z")
    old = calibration.load()
    base = old.source.split("; pixel tail:")[0]
    cal = dataclasses.replace(
        old, px_a=round(px_a + 1.0, 3), px_b=round(px_b, 4),
        source=(f"{base}; pixel tail: {n_files - UNRELATED_PIXEL_QUERIES} hard-negative pictures in {n_groups} "
                f"calibration-half groups (benchmarks/verdict_families.split) and {UNRELATED_PIXEL_QUERIES} attacked "
                f"unrelated photos, {n} candidates, {measured.size} with pixel "
                f"agreement measured, max statistic {zs.max():.3f}; +1 decade safety margin"))
    print(cal)
    if write:
        cal.save()
        print(f"wrote {calibration.PATH}")


if __name__ == "__main__":
    main()
