"""Visible signature: the creator's name drawn into a corner, with its box recorded.

The box is stored with the published file (work_files.regions["signature"]) so that the matcher
can say, for any copy, whether the signature corner survived, was cut off, or was painted over.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from inkseal.fonts import font as _font

CORNERS = ("bottom-right", "bottom-left", "top-right", "top-left")


def add_signature(rgb: np.ndarray, text: str, corner: str = "bottom-right", *, height_frac: float = 0.06,
                  opacity: float = 0.85) -> tuple[np.ndarray, list[int]]:
    """Returns the signed pixels and the signature box [x0, y0, x1, y1] (with its backing plate)."""
    if corner not in CORNERS:
        raise ValueError(f"corner must be one of {', '.join(CORNERS)}")
    im = Image.fromarray(rgb).convert("RGBA")
    w, h = im.size
    size = max(10, round(min(w, h) * height_frac))
    font = _font(size)
    draw = ImageDraw.Draw(im)
    l, t, r, b = draw.textbbox((0, 0), text, font=font)
    tw, th = r - l, b - t
    pad, margin = max(3, size // 4), max(4, round(min(w, h) * 0.02))
    bw, bh = tw + 2 * pad, th + 2 * pad
    x0 = w - margin - bw if "right" in corner else margin
    y0 = h - margin - bh if "bottom" in corner else margin
    overlay = Image.new("RGBA", im.size, (0, 0, 0, 0))
    od = ImageDraw.Draw(overlay)
    # A translucent plate keeps the name legible on any background.
    od.rounded_rectangle((x0, y0, x0 + bw, y0 + bh), radius=pad, fill=(0, 0, 0, round(110 * opacity)))
    od.text((x0 + pad - l, y0 + pad - t), text, font=font, fill=(255, 255, 255, round(255 * opacity)))
    out = Image.alpha_composite(im, overlay).convert("RGB")
    return np.asarray(out), [int(x0), int(y0), int(x0 + bw), int(y0 + bh)]
