"""Builders for hostile and odd image files used across the tests."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from PIL import Image


def png_bytes(im: Image.Image, **kw: object) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "PNG", **kw)
    return buf.getvalue()


def jpeg_bytes(im: Image.Image, **kw: object) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "JPEG", **kw)
    return buf.getvalue()


def png_bomb(width: int = 100_000, height: int = 100_000) -> bytes:
    """A valid PNG header claiming width x height pixels, with a tiny compressed body."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    body = zlib.compress(b"\x00" * 1024, 9)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", body) + chunk(b"IEND", b"")


def photo(seed: int = 0, size: tuple[int, int] = (320, 240)) -> Image.Image:
    rng = np.random.default_rng(seed)
    w, h = size
    base = np.linspace(0, 255, w, dtype=np.float32)[None, :, None] * np.ones((h, 1, 3), np.float32)
    noise = rng.normal(0, 30, (h // 8 + 1, w // 8 + 1, 3)).repeat(8, 0).repeat(8, 1)[:h, :w]
    return Image.fromarray(np.clip(base + noise, 0, 255).astype(np.uint8))


def odd_modes() -> dict[str, bytes]:
    """One file per odd mode, all decodable."""
    src = photo(1)
    out = {}
    out["cmyk.jpg"] = jpeg_bytes(src.convert("CMYK"))
    arr16 = (np.asarray(src.convert("L"), dtype=np.uint16) * 257).astype(np.uint16)
    out["gray16.png"] = png_bytes(Image.fromarray(arr16))
    pal = src.convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    out["palette-transparent.png"] = png_bytes(pal, transparency=0)
    rgba = src.convert("RGBA")
    rgba.putalpha(Image.linear_gradient("L").resize(src.size))
    out["alpha.png"] = png_bytes(rgba)
    out["la.png"] = png_bytes(src.convert("LA"))
    frames = [photo(i) for i in range(3)]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    out["animated.gif"] = buf.getvalue()
    buf = io.BytesIO()
    frames[0].save(buf, "WEBP", save_all=True, append_images=frames[1:], duration=100)
    out["animated.webp"] = buf.getvalue()
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 CW on display
    out["exif-rotated.jpg"] = jpeg_bytes(src, exif=exif.tobytes())
    out["hostile-exif.jpg"] = jpeg_bytes(src, exif=b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\xff\xff" + b"\x00" * 8)
    out["tiny-1x1.png"] = png_bytes(Image.new("RGB", (1, 1), (9, 9, 9)))
    return out


def broken() -> dict[str, bytes]:
    """One file per kind of breakage, none decodable."""
    good_png = png_bytes(photo(2))
    good_jpg = jpeg_bytes(photo(3))
    return {
        "empty.png": b"",
        "truncated.png": good_png[: len(good_png) // 2],
        "truncated.jpg": good_jpg[: len(good_jpg) // 3],
        "corrupt.jpg": good_jpg[:200] + bytes(range(256)) * 8,
        "not-an-image.png": b"<html>this is not a picture</html>",
        "random.bin.jpg": np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes(),
        "bomb.png": png_bomb(),
    }
