"""Which parts of an image get their own SSCD embedding.

Reference side (at registration): the whole image plus five crops of 60 % of each side (the four
corners and the centre). A suspect that is a tight crop of the work then meets a reference crop
that covers most of it, which lifts SSCD similarity for 30-50 % area crops well clear of
unrelated images (measured in docs/benchmarks.md).

Suspect side (at scan time): the whole image, plus *content rectangles* when the suspect looks
like a page or a collage - a screenshot of an article, a grid of pictures. Such images have large
flat areas (page background, margins); the connected non-flat blocks are proposed as pictures.
Photos without flat areas get no proposals, so the common case costs one embedding.
"""

from __future__ import annotations

import cv2
import numpy as np

CROP_SIDE = 0.6
ANALYSIS_SIDE = 640
MIN_FLAT_SHARE = 0.12  # below this the suspect is treated as a plain photo
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
    """Boxes (x0, y0, x1, y1) in suspect pixels that look like pictures placed on a page."""
    h, w = rgb.shape[:2]
    s = min(1.0, ANALYSIS_SIDE / max(h, w))
    small = cv2.resize(rgb, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA) if s < 1 else rgb
    gray = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY).astype(np.float32)
    mean = cv2.blur(gray, (5, 5))
    var = cv2.blur(gray * gray, (5, 5)) - mean * mean
    flat = var < 4.0  # std < 2 grey levels: page background, not photo content
    if flat.mean() < MIN_FLAT_SHARE:
        return []
    busy = (~flat).astype(np.uint8)
    # Close small gaps (flat sky inside a photo) but not the margins between page elements.
    k = max(3, round(min(small.shape[:2]) * 0.01)) | 1
    busy = cv2.morphologyEx(busy, cv2.MORPH_CLOSE, np.ones((k, k), np.uint8))
    n, _labels, stats, _ = cv2.connectedComponentsWithStats(busy, connectivity=8)
    area_total = small.shape[0] * small.shape[1]
    boxes = []
    for x, y, bw, bh, area in stats[1:]:
        if bw < 48 or bh < 48 or bw * bh < 0.02 * area_total or bw * bh > 0.95 * area_total:
            continue
        if area / (bw * bh) < 0.5 or max(bw / bh, bh / bw) > 4:
            continue  # sparse blobs (text lines joined up) or bars
        boxes.append((bw * bh, (int(x / s), int(y / s), int(min(w, (x + bw) / s)), int(min(h, (y + bh) / s)))))
    boxes.sort(reverse=True)
    return [b for _a, b in boxes[:MAX_PROPOSALS]]
