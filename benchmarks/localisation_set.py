"""Localisation test set: attacked copies whose ground truth is known exactly.

Each attack returns the suspect and the polygon of the original that it shows (in the original's
pixels), so the matcher's `polygon_in_original` can be scored by IoU. Families:

    crop         a random axis-aligned crop (30-80 % of the area), JPEG
    phone app    a phone screenshot: status bar, app header, the picture shown full-width and cut
                 by the app to a square or 4:5 box, a caption and a button bar below
    page         an article page showing the picture (whole, or cut to a wide box by CSS
                 object-fit: cover), with text above and below
"""

from __future__ import annotations

import io
import random

import numpy as np
from PIL import Image, ImageDraw

from attacks import _font

Poly = list[tuple[float, float]]
INK = (30, 30, 30)


def _rect(x0: float, y0: float, x1: float, y1: float) -> Poly:
    return [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]


def _jpeg(im: Image.Image, q: int) -> np.ndarray:
    buf = io.BytesIO()
    im.convert("RGB").save(buf, "JPEG", quality=q)
    return np.asarray(Image.open(buf).convert("RGB"))


def crop(rgb: np.ndarray, rng: random.Random) -> tuple[np.ndarray, Poly]:
    h, w = rgb.shape[:2]
    frac = rng.uniform(0.3, 0.8)
    aspect = rng.uniform(0.7, 1.4)
    cw = min(w, int(w * (frac * aspect) ** 0.5))
    ch = min(h, int(h * frac / max(cw / w, 1e-3)))
    x, y = rng.randint(0, w - cw), rng.randint(0, h - ch)
    return _jpeg(Image.fromarray(rgb[y:y + ch, x:x + cw]), 85), _rect(x, y, x + cw, y + ch)


Box = tuple[int, int, int, int]


def _cover_box(w: int, h: int, box_aspect: float, rng: random.Random, centred: bool = True) -> Box:
    """The part of a w x h picture an app shows in a box of the given aspect (object-fit: cover)."""
    if w / h > box_aspect:  # picture wider than the box: sides cut
        cw, ch = int(h * box_aspect), h
    else:
        cw, ch = w, int(w / box_aspect)
    x = (w - cw) // 2 if centred else rng.randint(0, w - cw)
    y = (h - ch) // 2 if centred else rng.randint(0, h - ch)
    return x, y, x + cw, y + ch


def phone_app(rgb: np.ndarray, rng: random.Random, box: Box | None = None) -> tuple[np.ndarray, Poly]:
    h, w = rgb.shape[:2]
    pw = rng.choice([540, 720])
    dark = rng.random() < 0.4
    bg, ink = ((16, 16, 16), (235, 235, 235)) if dark else ((255, 255, 255), (20, 20, 20))
    if box is None:
        box = _cover_box(w, h, rng.choice([1.0, 0.8]), rng, centred=False)
    x0, y0, x1, y1 = box
    shown = Image.fromarray(rgb[y0:y1, x0:x1])
    disp_h = int(pw * (y1 - y0) / (x1 - x0))
    top = int(pw * 0.2)
    page = Image.new("RGB", (pw, top + disp_h + int(pw * 0.9)), bg)
    d = ImageDraw.Draw(page)
    d.rectangle((0, 0, pw, int(pw * 0.06)), fill=(0, 0, 0) if dark else (240, 240, 240))
    d.text((12, 4), "9:41   5G  87%", fill=ink, font=_font(int(pw * 0.035)))
    d.ellipse((12, int(pw * 0.08), 12 + int(pw * 0.09), int(pw * 0.08) + int(pw * 0.09)), fill=(200, 80, 120))
    d.text((24 + int(pw * 0.09), int(pw * 0.1)), "repost_account · 关注", fill=ink, font=_font(int(pw * 0.04)))
    page.paste(shown.resize((pw, disp_h), Image.BILINEAR), (0, top))
    y = top + disp_h + 12
    for k in range(5):
        d.ellipse((12 + k * 60, y, 12 + k * 60 + 36, y + 36), outline=ink, width=3)
    for line in ("1,024 likes", "repost_account 好看！转载自网络 #art #anime", "View all 88 comments"):
        y += int(pw * 0.08)
        d.text((12, y), line, fill=ink, font=_font(int(pw * 0.04)))
    d.rectangle((0, page.height - int(pw * 0.12), pw, page.height), fill=(0, 0, 0) if dark else (248, 248, 248))
    return _jpeg(page, 80), _rect(x0, y0, x1, y1)


def page(rgb: np.ndarray, rng: random.Random, box: Box | None = None) -> tuple[np.ndarray, Poly]:
    h, w = rgb.shape[:2]
    if box is None:
        box = (0, 0, w, h) if rng.random() < 0.5 else _cover_box(w, h, 16 / 9, rng, centred=False)
    x0, y0, x1, y1 = box
    page_w = rng.choice([1024, 1280])
    im = Image.new("RGB", (page_w, int(page_w * 1.2)), rng.choice([(255, 255, 255), (246, 246, 241)]))
    d = ImageDraw.Draw(im)
    disp_w = int(page_w * rng.uniform(0.45, 0.65))
    disp_h = int(disp_w * (y1 - y0) / (x1 - x0))
    px, py = int(page_w * rng.uniform(0.1, 0.3)), int(im.height * 0.25)
    for y in range(40, py - 30, 28):
        d.text((px - 40, y), "The quick brown fox jumps over the lazy dog. 春风送来了温柔 " * 2, fill=INK, font=_font(18))
    im.paste(Image.fromarray(rgb[y0:y1, x0:x1]).resize((disp_w, disp_h), Image.BILINEAR), (px, py))
    for y in range(py + disp_h + 30, im.height - 30, 28):
        d.text((px - 40, y), "Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 2, fill=INK, font=_font(18))
    return _jpeg(im, 80), _rect(x0, y0, x1, y1)


def signature_cut_phone(rgb: np.ndarray, rng: random.Random, signature: list[float]) -> tuple[np.ndarray, Poly]:
    """A phone screenshot whose box leaves the bottom-right signature out of view."""
    h, w = rgb.shape[:2]
    sx0, sy0 = signature[0], signature[1]
    x1 = int(min(w, sx0 - rng.uniform(4, 20)))
    y1 = int(min(h, sy0 - rng.uniform(4, 20)))
    side = min(x1, y1)
    return phone_app(rgb, rng, box=(x1 - side, y1 - side, x1, y1))


FAMILIES = {"crop": crop, "phone app": phone_app, "page": page}


def iou(a: Poly, b: list[list[float]]) -> float:
    import cv2

    if len(a) < 3 or len(b) < 3:
        return 0.0
    pa, pb = np.float32(a), np.float32(b)
    inter, _ = cv2.intersectConvexConvex(pa, pb)
    union = cv2.contourArea(pa) + cv2.contourArea(pb) - inter
    return float(inter / union) if union > 0 else 0.0
