"""Explicit AI label (GB 45438-2025): visible text containing "AI生成" at an edge or corner, in a
legible typeface, text height at least 5 % of the image's shorter side, on a plate that keeps it
readable on any background."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from inkseal.fonts import font

MIN_HEIGHT_FRACTION = 0.05


def add_ai_label(rgb: np.ndarray, text: str = "AI生成", corner: str = "top-left",
                 height_fraction: float = 0.055) -> tuple[np.ndarray, list[int]]:
    """Returns the labelled pixels and the label's box [x0, y0, x1, y1]."""
    if "AI" not in text and "人工智能" not in text or not ("生成" in text or "合成" in text):
        raise ValueError('the label must contain "AI" or "人工智能" with "生成" or "合成" (GB 45438-2025)')
    height_fraction = max(height_fraction, MIN_HEIGHT_FRACTION)
    im = Image.fromarray(rgb).convert("RGBA")
    w, h = im.size
    target = max(8, int(np.ceil(min(w, h) * height_fraction)))
    size = target
    f = font(size)
    draw = ImageDraw.Draw(im)
    l, t, r, b = draw.textbbox((0, 0), text, font=f)
    while b - t < target and size < 4 * target:  # font size is not glyph height: grow until the ink is tall enough
        size += 1
        f = font(size)
        l, t, r, b = draw.textbbox((0, 0), text, font=f)
    pad, margin = max(2, size // 5), max(3, round(min(w, h) * 0.015))
    bw, bh = (r - l) + 2 * pad, (b - t) + 2 * pad
    x0 = w - margin - bw if "right" in corner else margin
    y0 = h - margin - bh if "bottom" in corner else margin
    overlay = Image.new("RGBA", im.size, (0, 0, 0, 0))
    od = ImageDraw.Draw(overlay)
    od.rectangle((x0, y0, x0 + bw, y0 + bh), fill=(0, 0, 0, 150))
    od.text((x0 + pad - l, y0 + pad - t), text, font=f, fill=(255, 255, 255, 255))
    out = Image.alpha_composite(im, overlay).convert("RGB")
    return np.asarray(out), [int(x0), int(y0), int(x0 + bw), int(y0 + bh)]
