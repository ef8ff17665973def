"""Which parts of an image get their own SSCD embedding.

Reference side (at registration): the whole image plus five crops of 60 % of each side (the four
corners and the centre). A suspect that is a tight crop of the work then meets a reference crop
that covers most of it, which lifts SSCD similarity for 30-50 % area crops well clear of
unrelated images (measured in docs/benchmarks.md).

Suspect side (at scan time): the whole image, plus *picture rectangles* when the suspect looks
like a page or a collage - a screenshot of an article, a grid of pictures. Such images have a
dominant background colour; the solid blocks that differ from it are proposed as pictures (text
is removed by a morphological opening). Photos have no dominant colour and get no proposals, so
the common case costs one embedding.
"""

from __future__ import annotations

import cv2
import numpy as np

CROP_SIDE = 0.6
ANALYSIS_SIDE = 1024
MIN_BACKGROUND_SHARE = 0.12  # share of the dominant colour below which the suspect is a plain photo
MAX_PROPOSALS = 8


def reference_crops(width: int, height: int) -> list[tuple[str, tuple[int, int, int, int]]]:
    cw, ch = round(width * CROP_SIDE), round(height * CROP_SIDE)
    if min(cw, ch) < 64:
        return [("full", (0, 0, width, height))]
    x1, y1 = width - cw, height - ch
    cx, cy = (width - cw) // 2, (height - ch) // 2
    return [
        ("full", (0, 0, width, height)),
        ("crop:tl", (0, 0, cw, ch)),
        ("crop:tr", (x1, 0, width, ch)),
        ("crop:bl", (0, y1, cw, height)),
        ("crop:br", (x1, y1, width, height)),
        ("crop:c", (cx, cy, cx + cw, cy + ch)),
    ]


def suspect_proposals(rgb: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Boxes (x0, y0, x1, y1) in suspect pixels that look like pictures placed on a page.

    A page has a background colour; pictures are large solid areas that differ from it, text is
    thin strokes. A morphological opening with a kernel wider than any text stroke removes the
    text and keeps the pictures, whose bounding boxes are the proposals.
    """
    h, w = rgb.shape[:2]
    s = min(1.0, ANALYSIS_SIDE / max(h, w))
    small = cv2.resize(rgb, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA) if s < 1 else rgb
    quant = (small[::4, ::4] // 8).reshape(-1, 3).astype(np.int32)
    keys = quant[:, 0] * 1024 + quant[:, 1] * 32 + quant[:, 2]
    values, counts = np.unique(keys, return_counts=True)
    if counts.max() < MIN_BACKGROUND_SHARE * len(keys):
        return []  # no dominant background colour: a photo, not a page
    top = int(values[counts.argmax()])
    bg = np.array([top // 1024, (top // 32) % 32, top % 32]) * 8 + 4
    differs = (np.abs(small.astype(np.int16) - bg).max(axis=2) > 16).astype(np.uint8)
    k = max(7, round(min(small.shape[:2]) * 0.012)) | 1
    solid = cv2.morphologyEx(differs, cv2.MORPH_OPEN, np.ones((k, k), np.uint8))
    solid = cv2.morphologyEx(solid, cv2.MORPH_CLOSE, np.ones((2 * k + 1, 2 * k + 1), np.uint8))
    _n, _labels, stats, _ = cv2.connectedComponentsWithStats(solid, connectivity=8)
    area_total = small.shape[0] * small.shape[1]
    boxes = []
    for x, y, bw, bh, area in stats[1:]:
        if bw < 40 or bh < 40 or bw * bh < 0.015 * area_total or bw * bh > 0.95 * area_total:
            continue
        if area / (bw * bh) < 0.5 or max(bw / bh, bh / bw) > 5:
            continue
        boxes.append((bw * bh, (int(x / s), int(y / s), int(min(w, (x + bw) / s)), int(min(h, (y + bh) / s)))))
    boxes.sort(reverse=True)
    return [b for _a, b in boxes[:MAX_PROPOSALS]]
