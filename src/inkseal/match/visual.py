"""A match as a picture: the registered file and the suspect side by side.

Left, the registered file: the part found in the suspect outlined in green, what was cut away
shaded red, what is there but covered or altered shaded amber, named regions (the signature) boxed
with their status. Right, the suspect with the same polygon where the work sits in it. People
judge a copy faster by looking than by reading numbers; the evidence pack reuses this figure.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from inkseal.fonts import font as _font

PANEL_H = 420
GREEN, RED, AMBER, WHITE = (40, 200, 90), (230, 50, 50), (245, 170, 20), (255, 255, 255)
STATUS_COLOUR = {"cut": RED, "altered": AMBER, "intact": GREEN}
# Words drawn on the figure, per language (None: both, for a figure with no reader's language yet).
REGION_ZH = {"signature": "署名", "ai_label": "AI 标识"}
STATUS_ZH = {"cut": "被裁掉", "altered": "被改动", "intact": "完整", "covered": "被遮盖"}
HEADS = {"en": ("registered work", "suspect copy", "green: found  red: cut away  amber: covered/altered"),
         "zh": ("登记作品", "可疑副本", "绿：找到  红：被裁掉  黄：被遮盖/改动")}


def _region_label(name: str, status: str, lang: str | None) -> str:
    en = f"{name}: {status}"
    zh = f"{REGION_ZH.get(name, name)}：{STATUS_ZH.get(status, status)}"
    return {"en": en, "zh": zh}.get(lang or "", f"{en} / {zh}")


def _scaled(rgb: np.ndarray) -> tuple[Image.Image, float]:
    im = Image.fromarray(rgb)
    s = PANEL_H / im.height
    return im.resize((max(1, round(im.width * s)), PANEL_H), Image.LANCZOS), s


def render_match(original: np.ndarray, suspect: np.ndarray, loc: dict, caption: str = "",
                 lang: str | None = None) -> Image.Image:
    """`lang`: "en" or "zh" draws every word in that language (reports); None draws both."""
    left, sl = _scaled(original)
    right, sr = _scaled(suspect)
    gx, gy = loc.get("grid", [0, 0])
    cells = loc.get("cells", "")
    shade = Image.new("RGBA", left.size, (0, 0, 0, 0))
    d = ImageDraw.Draw(shade)
    if gx and gy and len(cells) == gx * gy:
        cw, ch = left.width / gx, left.height / gy
        for k, state in enumerate(cells):
            if state in "cv":
                j, i = divmod(k, gx)
                colour = RED if state == "c" else AMBER
                d.rectangle((i * cw, j * ch, (i + 1) * cw, (j + 1) * ch), fill=(*colour, 110))
    left = Image.alpha_composite(left.convert("RGBA"), shade).convert("RGB")
    dl, dr = ImageDraw.Draw(left), ImageDraw.Draw(right)
    poly_o = [(x * sl, y * sl) for x, y in loc.get("polygon_in_original", [])]
    poly_s = [(x * sr, y * sr) for x, y in loc.get("polygon_in_suspect", [])]
    if len(poly_o) >= 3:
        dl.polygon(poly_o, outline=GREEN, width=3)
    if len(poly_s) >= 3:
        dr.polygon(poly_s, outline=GREEN, width=3)
    font = _font(14)
    for name, region in (loc.get("regions") or {}).items():
        x0, y0, x1, y1 = (v * sl for v in region["box"])
        colour = STATUS_COLOUR.get(str(region["status"]), WHITE)
        dl.rectangle((x0, y0, x1, y1), outline=colour, width=3)
        ty = y0 - 17 if y0 >= 17 else y1 + 2  # above the box, or below it when the box touches the top
        dl.text((x0 + 2, ty), _region_label(str(name), str(region["status"]), lang), fill=colour, font=font,
                stroke_width=2, stroke_fill=(0, 0, 0))
    gap, head = 16, 30
    canvas = Image.new("RGB", (left.width + right.width + 3 * gap, PANEL_H + head + gap + 24), (24, 24, 28))
    canvas.paste(left, (gap, head))
    canvas.paste(right, (2 * gap + left.width, head))
    dc = ImageDraw.Draw(canvas)
    heads = HEADS[lang] if lang in HEADS else tuple(f"{e}  {z}" for e, z in zip(HEADS["en"], HEADS["zh"], strict=True))
    dc.text((gap, 8), heads[0], fill=WHITE, font=font)
    dc.text((2 * gap + left.width, 8), heads[1], fill=WHITE, font=font)
    legend = heads[2]
    dc.text((gap, PANEL_H + head + 6), (caption + "   " if caption else "") + legend, fill=WHITE, font=font)
    return canvas


def render_overlay(original: np.ndarray, suspect: np.ndarray, affine: np.ndarray, loc: dict) -> Image.Image:
    """The suspect warped onto the registered work and blended half-and-half: where the two agree the
    picture looks sharp, where they differ (cut, covered, altered) it looks doubled or faded."""
    import cv2

    h, w = original.shape[:2]
    warped = cv2.warpAffine(suspect, np.asarray(affine, np.float64), (w, h), flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0))
    inside = cv2.warpAffine(np.ones(suspect.shape[:2], np.float32), np.asarray(affine, np.float64), (w, h)) > 0.5
    blend = original.astype(np.float32) * 0.5 + warped.astype(np.float32) * 0.5
    blend[~inside] = original[~inside] * 0.35  # outside the copy: the cut-away part, dimmed
    im = Image.fromarray(np.clip(blend, 0, 255).astype(np.uint8))
    d = ImageDraw.Draw(im)
    poly = [(x, y) for x, y in loc.get("polygon_in_original", [])]
    if len(poly) >= 3:
        d.polygon(poly, outline=GREEN, width=max(2, w // 300))
    for name, region in (loc.get("regions") or {}).items():
        d.rectangle(region["box"], outline=STATUS_COLOUR.get(str(region["status"]), WHITE), width=max(2, w // 300))
    return im
