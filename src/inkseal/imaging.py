"""Safe image decoding: every path that turns bytes into pixels goes through `load_image`.

Hostile or odd input is the norm for a scanner of the open web, so this module
- refuses empty, truncated and corrupt files with a one-line reason (`BadImage`);
- refuses decompression bombs by checking the header's pixel count *before* decoding;
- refuses degenerate geometry (<= 2 px on a side, or longer than 20:1) from the header too, before
  any pixel is decoded: such files are a few hundred bytes yet made the feature extractors upscale
  them to gigabytes (a 1000x1 GIF cost 5-8 GB and crashed ORB);
- is total: whatever a decoder plug-in raises on hostile bytes (TIFF "Missing dimensions"
  TypeError, a truncated GIF's IndexError, ...) becomes `BadImage`, never another exception;
- normalises every mode (CMYK, 16-bit, palette, alpha, LA, I, F) to 8-bit RGB, compositing
  transparency onto white the way a browser shows it on a white page;
- applies the EXIF orientation, ignoring broken EXIF rather than failing the image;
- takes the first frame of animations and says so in `notes`.
"""

from __future__ import annotations

import hashlib
import io
import struct
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from inkseal.errors import BadImage

# Pillow's own bomb check must stay on: some plug-ins allocate the canvas while *opening*, before
# our header check can run (a 3 KB fuzzed GIF claiming 30942x49116 cost 630 MB in Image.open with
# the check off). It is set to our default limit and only ever raised to a caller's larger
# `max_pixels`; our own explicit check below enforces each caller's limit.
DEFAULT_MAX_PIXELS = 64_000_000
Image.MAX_IMAGE_PIXELS = DEFAULT_MAX_PIXELS

MIN_SIDE = 3  # 1- and 2-pixel lines carry nothing to compare, and every signal degenerates on them
# 20:1 keeps every real picture format we know - web banners (728x90 is 8:1, 970x90 is 10.8:1),
# panoramas (typically 4:1 to 12:1), webtoon strips as platforms serve them (segments of ~1:2 to
# 1:12) - while refusing lines and slivers that would be stretched hundreds of times by the
# fixed-short-side resizes of SSCD (288 px) and ORB.
MAX_ASPECT = 20.0


def check_geometry(width: int, height: int, *, max_aspect: float = MAX_ASPECT) -> None:
    """Raise `BadImage` for a picture too small or too elongated to compare (header sizes suffice)."""
    if width <= 0 or height <= 0:
        raise BadImage(f"image has no pixels ({width}x{height}) / 图片没有像素（{width}x{height}）")
    if min(width, height) < MIN_SIDE:
        raise BadImage(f"image too small to compare: {width}x{height} "
                       f"(needs at least {MIN_SIDE} px on each side) / 图片太小，无法比对（每边至少 {MIN_SIDE} 像素）")
    if max(width, height) > max_aspect * min(width, height):
        raise BadImage(f"image too elongated to compare: {width}x{height} "
                       f"(aspect ratio over {max_aspect:g}:1) / 图片过于细长，无法比对（宽高比超过 {max_aspect:g}:1）")


@dataclass
class LoadedImage:
    rgb: np.ndarray  # HxWx3 uint8, C-contiguous
    format: str
    mode: str  # mode as stored in the file
    sha256: str
    size_bytes: int
    frames: int = 1
    notes: list[str] = field(default_factory=list)

    @property
    def width(self) -> int:
        return int(self.rgb.shape[1])

    @property
    def height(self) -> int:
        return int(self.rgb.shape[0])

    def pil(self) -> Image.Image:
        return Image.fromarray(self.rgb)


def _to_rgb(im: Image.Image, notes: list[str]) -> Image.Image:
    mode = im.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        # 16/32-bit greyscale: scale the actual range to 8 bits rather than clipping at 255.
        arr = np.asarray(im, dtype=np.float64)
        lo, hi = float(arr.min()), float(arr.max())
        arr = (arr - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros_like(arr)
        notes.append(f"{mode} scaled to 8-bit")
        return Image.fromarray(arr.astype(np.uint8)).convert("RGB")
    if mode == "F":
        arr = np.nan_to_num(np.asarray(im, dtype=np.float64))
        lo, hi = float(arr.min()), float(arr.max())
        arr = (arr - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros_like(arr)
        return Image.fromarray(arr.astype(np.uint8)).convert("RGB")
    if mode == "P":
        im = im.convert("RGBA") if "transparency" in im.info else im.convert("RGB")
    elif mode == "PA":
        im = im.convert("RGBA")
    if im.mode in ("RGBA", "LA", "RGBa", "La"):
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    if im.mode != "RGB":
        # CMYK (with Pillow's inversion handling for Adobe JPEGs), YCbCr, LAB, HSV, L, 1 ...
        return im.convert("RGB")
    return im


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    line = text.splitlines()[0][:300] if text else type(exc).__name__
    return "".join(c if c.isprintable() else " " for c in line)  # one line, whatever bytes it quotes


def load_image(data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS, name: str = "",
               max_aspect: float = MAX_ASPECT) -> LoadedImage:
    """Decode `data` into RGB pixels or raise `BadImage` with a one-line reason."""
    if not data:
        raise BadImage("empty file (0 bytes) / 空文件（0 字节）")
    if (Image.MAX_IMAGE_PIXELS or 0) < max_pixels:
        Image.MAX_IMAGE_PIXELS = max_pixels  # (see DEFAULT_MAX_PIXELS) a larger limit asked for: allow it
    notes: list[str] = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data))
            w, h = im.size
            check_geometry(w, h, max_aspect=max_aspect)
            if w * h > max_pixels:
                raise BadImage(f"decompression bomb refused: {w}x{h} = {w * h:,} pixels exceeds the {max_pixels:,} limit"
                               f" / 拒绝解压炸弹：像素数超过 {max_pixels:,} 上限")
            fmt = im.format or "unknown"
            frames = int(getattr(im, "n_frames", 1) or 1)
            if frames > 1:
                notes.append(f"animated ({frames} frames): first frame used")
                im.seek(0)
            stored_mode = im.mode
            # Truncated files must fail here. WeasyPrint sets Pillow's process-wide
            # LOAD_TRUNCATED_IMAGES = True on import (it renders partial images); we never accept them.
            ImageFile.LOAD_TRUNCATED_IMAGES = False
            im.load()
            try:
                im = ImageOps.exif_transpose(im) or im
            except Exception:  # hostile EXIF must not cost the picture
                notes.append("EXIF orientation unreadable: ignored")
            rgb = _to_rgb(im, notes)
            arr = np.ascontiguousarray(np.asarray(rgb, dtype=np.uint8))
    except BadImage:
        raise
    except UnidentifiedImageError:
        raise BadImage("not a recognised image format (corrupt or not an image) / 无法识别的图片格式（已损坏或不是图片）") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:  # warnings are errors here
        raise BadImage(f"decompression bomb refused: {_first_line(exc)} / 拒绝解压炸弹") from None
    except (OSError, SyntaxError, ValueError, EOFError, struct.error) as exc:
        msg = _first_line(exc)
        if "truncated" in msg.lower():
            raise BadImage(f"truncated image: {msg} / 图片不完整") from None
        raise BadImage(f"corrupt image: {msg} / 图片已损坏") from None
    except MemoryError:
        raise BadImage("image needs more memory than is available to decode / 解码该图片所需内存超出可用内存") from None
    except Exception as exc:  # noqa: BLE001 - decoder plug-ins raise TypeError, IndexError, ... on hostile bytes
        raise BadImage(f"corrupt image ({type(exc).__name__}): {_first_line(exc)} / 图片已损坏") from None
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise BadImage(f"unexpected pixel layout {arr.shape} / 像素布局异常")
    return LoadedImage(
        rgb=arr,
        format=fmt,
        mode=stored_mode,
        sha256=hashlib.sha256(data).hexdigest(),
        size_bytes=len(data),
        frames=frames,
        notes=notes,
    )


def read_limited(path: Path, max_bytes: int) -> bytes:
    """Read a file, refusing anything larger than `max_bytes` (checked before reading, and while
    reading: a file that grows, or a FIFO / device with no meaningful size, is cut off too)."""
    p = Path(path)
    size = p.stat().st_size
    if size > max_bytes:
        raise BadImage(f"file too large: {size:,} bytes exceeds the {max_bytes:,} limit")
    with p.open("rb") as fh:
        data = fh.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise BadImage(f"file too large: more than the {max_bytes:,}-byte limit")
    return data


def resize_short(rgb: np.ndarray, short: int) -> np.ndarray:
    """Resize so the shorter side is `short` (area filter when shrinking), keeping the aspect ratio."""
    import cv2

    h, w = rgb.shape[:2]
    s = short / min(h, w)
    nw, nh = max(1, round(w * s)), max(1, round(h * s))
    if (nw, nh) == (w, h):
        return rgb
    return cv2.resize(rgb, (nw, nh), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)


def resize_max(rgb: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    """Shrink so the longer side is at most `max_side`; returns the image and the scale applied."""
    import cv2

    h, w = rgb.shape[:2]
    s = min(1.0, max_side / max(h, w))
    if s >= 1.0:
        return rgb, 1.0
    return cv2.resize(rgb, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA), s
