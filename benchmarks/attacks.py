"""Attacks shared by the benchmarks: what infringers do to pictures.

AugLy supplies the standard image augmentations where it is installed (`pip install -e .[bench]`);
the families it lacks (signature-corner crop, screenshot inside a page, collage) are ours. Every
attack takes RGB uint8 and a seeded `random.Random`, so runs are repeatable.
"""

from __future__ import annotations

import io
import random
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFont

Attack = Callable[[np.ndarray, random.Random], np.ndarray]

try:  # AugLy is optional (bench extra); its absence falls back to the Pillow equivalents below
    import augly.image as imaugs  # type: ignore[import-not-found]
except Exception:  # pragma: no cover
    imaugs = None


def load_rgb(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def _pil(rgb: np.ndarray) -> Image.Image:
    return Image.fromarray(rgb)


def _np(im: Image.Image) -> np.ndarray:
    return np.asarray(im.convert("RGB"))


def jpeg(q: int) -> Attack:
    def f(rgb: np.ndarray, rng: random.Random) -> np.ndarray:
        if imaugs is not None:
            return _np(imaugs.encoding_quality(_pil(rgb), quality=q))
        buf = io.BytesIO()
        _pil(rgb).save(buf, "JPEG", quality=q)
        return _np(Image.open(buf))
    return f


def crop_area(frac: float) -> Attack:
    def f(rgb: np.ndarray, rng: random.Random) -> np.ndarray:
        h, w = rgb.shape[:2]
        s = frac ** 0.5
        cw, ch = int(w * s), int(h * s)
        x, y = rng.randint(0, w - cw), rng.randint(0, h - ch)
        return jpeg(85)(rgb[y:y + ch, x:x + cw], rng)
    return f


def signature_corner_crop(rgb: np.ndarray, rng: random.Random) -> np.ndarray:
    """Cut away the bottom-right corner where a signature sits (keep 75-85 % of each side)."""
    h, w = rgb.shape[:2]
    kx, ky = rng.uniform(0.75, 0.85), rng.uniform(0.75, 0.85)
    return jpeg(80)(rgb[: int(h * ky), : int(w * kx)], rng)


def resize(scale: float) -> Attack:
    def f(rgb: np.ndarray, rng: random.Random) -> np.ndarray:
        if imaugs is not None:
            return _np(imaugs.scale(_pil(rgb), factor=scale))
        h, w = rgb.shape[:2]
        return _np(_pil(rgb).resize((max(1, int(w * scale)), max(1, int(h * scale))), Image.BILINEAR))
    return f


def hflip(rgb: np.ndarray, rng: random.Random) -> np.ndarray:
    return jpeg(85)(rgb[:, ::-1].copy(), rng)


def rotate(deg: float) -> Attack:
    def f(rgb: np.ndarray, rng: random.Random) -> np.ndarray:
        if imaugs is not None:
            return jpeg(85)(_np(imaugs.rotate(_pil(rgb), degrees=deg)), rng)
        return jpeg(85)(_np(_pil(rgb).rotate(deg, expand=True, resample=Image.BILINEAR)), rng)
    return f


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=size)


def text_overlay(rgb: np.ndarray, rng: random.Random) -> np.ndarray:
    if imaugs is not None:
        im = imaugs.overlay_text(_pil(rgb), opacity=1.0, font_size=0.12, x_pos=rng.uniform(0, 0.3),
                                 y_pos=rng.uniform(0.1, 0.6), color=(255, 255, 255))
        return jpeg(85)(_np(im), rng)
    im = _pil(rgb).copy()
    d = ImageDraw.Draw(im)
    h = im.height
    d.text((im.width * 0.05, h * rng.uniform(0.1, 0.7)), "REPOST 转载 @someone", fill=(255, 255, 255),
           font=_font(int(h * 0.1)), stroke_width=2, stroke_fill=(0, 0, 0))
    return jpeg(85)(_np(im), rng)


def emoji_overlay(rgb: np.ndarray, rng: random.Random) -> np.ndarray:
    if imaugs is not None:
        im = imaugs.overlay_emoji(_pil(rgb), emoji_size=0.3, x_pos=rng.uniform(0, 0.6), y_pos=rng.uniform(0, 0.6))
        return jpeg(85)(_np(im), rng)
    im = _pil(rgb).copy()
    d = ImageDraw.Draw(im)
    s = int(min(im.size) * 0.3)
    x, y = int(rng.uniform(0, 0.6) * im.width), int(rng.uniform(0, 0.6) * im.height)
    d.ellipse((x, y, x + s, y + s), fill=(255, 204, 0))
    d.ellipse((x + s // 4, y + s // 3, x + s // 4 + s // 8, y + s // 3 + s // 8), fill=(0, 0, 0))
    d.ellipse((x + 5 * s // 8, y + s // 3, x + 5 * s // 8 + s // 8, y + s // 3 + s // 8), fill=(0, 0, 0))
    d.arc((x + s // 4, y + s // 3, x + 3 * s // 4, y + 3 * s // 4), 20, 160, fill=(0, 0, 0), width=max(2, s // 20))
    return jpeg(85)(_np(im), rng)


def screenshot_in_page(rgb: np.ndarray, rng: random.Random) -> np.ndarray:
    """The picture shown inside an article page: shrunk, with text above and below, then captured."""
    page_w = rng.choice([1024, 1280, 1440])
    page = Image.new("RGB", (page_w, int(page_w * 1.3)), rng.choice([(255, 255, 255), (246, 246, 241), (32, 33, 36)]))
    ink = (30, 30, 30) if sum(page.getpixel((0, 0))) > 380 else (220, 220, 220)
    d = ImageDraw.Draw(page)
    font = _font(18)
    disp_w = int(page_w * rng.uniform(0.4, 0.6))
    h, w = rgb.shape[:2]
    disp_h = int(disp_w * h / w)
    x0, y0 = int(page_w * rng.uniform(0.1, 0.35)), int(page.height * rng.uniform(0.2, 0.4))
    for y in range(60, y0 - 30, 28):
        d.text((x0 - 40, y), "The quick brown fox jumps over the lazy dog. 春风送来了温柔 " * 2, fill=ink, font=font)
    page.paste(_pil(rgb).resize((disp_w, disp_h), Image.BILINEAR), (x0, y0))
    for y in range(y0 + disp_h + 40, page.height - 40, 28):
        d.text((x0 - 40, y), "Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 2, fill=ink, font=font)
    return jpeg(80)(_np(page), rng)


def colour_jitter(rgb: np.ndarray, rng: random.Random) -> np.ndarray:
    if imaugs is not None:
        im = imaugs.color_jitter(_pil(rgb), brightness_factor=rng.uniform(0.7, 1.3),
                                 contrast_factor=rng.uniform(0.7, 1.3), saturation_factor=rng.uniform(0.5, 1.5))
        return jpeg(85)(_np(im), rng)
    im = ImageEnhance.Brightness(_pil(rgb)).enhance(rng.uniform(0.7, 1.3))
    im = ImageEnhance.Contrast(im).enhance(rng.uniform(0.7, 1.3))
    im = ImageEnhance.Color(im).enhance(rng.uniform(0.5, 1.5))
    return jpeg(85)(_np(im), rng)


def combo(*attacks: Attack) -> Attack:
    def f(rgb: np.ndarray, rng: random.Random) -> np.ndarray:
        for a in attacks:
            rgb = a(rgb, rng)
        return rgb
    return f


def identity(rgb: np.ndarray, rng: random.Random) -> np.ndarray:
    return rgb


FAMILIES: dict[str, Attack] = {
    "crop 70%": crop_area(0.7),
    "crop 50%": crop_area(0.5),
    "crop 30%": crop_area(0.3),
    "signature-corner crop": signature_corner_crop,
    "JPEG q30": jpeg(30),
    "JPEG q50": jpeg(50),
    "resize x0.25": resize(0.25),
    "resize x0.5": resize(0.5),
    "horizontal flip": hflip,
    "rotation 10°": rotate(10),
    "text overlay": text_overlay,
    "emoji overlay": emoji_overlay,
    "screenshot in page": screenshot_in_page,
    "colour jitter": colour_jitter,
    "corner crop + resize x0.5 + JPEG q50": combo(signature_corner_crop, resize(0.5), jpeg(50)),
    "crop 50% + flip + colour": combo(crop_area(0.5), hflip, colour_jitter),
    "text + rotation 5° + JPEG q40": combo(text_overlay, rotate(5), jpeg(40)),
}

ATTACKS_FOR_CALIBRATION: dict[str, Attack] = {
    "none": identity,
    "jpeg": jpeg(50),
    "crop": crop_area(0.4),
    "flip": hflip,
    "rotate": rotate(10),
    "page": screenshot_in_page,
}
