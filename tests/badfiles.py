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
    out["small-3x3.png"] = png_bytes(Image.new("RGB", (3, 3), (9, 9, 9)))  # the smallest we compare
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
        "tiny-1x1.png": png_bytes(Image.new("RGB", (1, 1), (9, 9, 9))),
        "line-1000x1.gif": gif_bytes(Image.new("L", (1000, 1), 7)),
        "line-1x1000.png": png_bytes(Image.new("L", (1, 1000), 7)),
        "sliver-2x400.png": png_bytes(Image.new("RGB", (2, 400), (1, 2, 3))),
        "elongated-21x1.png": png_bytes(Image.new("RGB", (630, 30), (1, 2, 3))),
        "tiff-missing-dimensions.tif": tiff_without_dimensions(),
        "truncated-animated.gif": truncated_gif(),
    }


def gif_bytes(im: Image.Image, **kw: object) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "GIF", **kw)
    return buf.getvalue()


def tiff_without_dimensions() -> bytes:
    """A two-page TIFF whose second page has no ImageWidth tag (renamed to an unknown tag): Pillow
    raised `TypeError: Missing dimensions` on counting its frames (194 of the audit's fuzzed TIFFs)."""
    buf = io.BytesIO()
    photo(4, (32, 24)).save(buf, "TIFF", save_all=True, append_images=[photo(5, (32, 24))])
    data = bytearray(buf.getvalue())
    first = struct.unpack_from("<I", data, 4)[0]
    n = struct.unpack_from("<H", data, first)[0]
    second = struct.unpack_from("<I", data, first + 2 + 12 * n)[0]
    for k in range(struct.unpack_from("<H", data, second)[0]):
        at = second + 2 + 12 * k
        if struct.unpack_from("<H", data, at)[0] == 256:  # ImageWidth -> an unknown private tag
            struct.pack_into("<H", data, at, 0xC0DE)
    return bytes(data)


def truncated_gif() -> bytes:
    """An animated GIF cut inside its second frame's image data."""
    frames = [photo(i, (64, 48)).convert("P", palette=Image.Palette.ADAPTIVE) for i in range(3)]
    data = gif_bytes(frames[0], save_all=True, append_images=frames[1:], duration=50, comment=b"hi")
    return data[:2497]  # inside the second frame: Pillow's GIF reader raised IndexError here


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def ztxt_bomb(chunks: int = 200, mib: int = 16) -> bytes:
    """A small PNG followed by `chunks` zTXt chunks, each inflating to `mib` MiB of zeros (~16 KiB each on disk)."""
    body = zlib.compress(b"\0" * (mib << 20), 9)
    good = png_bytes(Image.new("RGB", (8, 8), (1, 2, 3)))
    bomb = b"".join(png_chunk(b"zTXt", b"k%d\0\0" % i + body) for i in range(chunks))
    return good[:-12] + bomb + good[-12:]  # before IEND


def gif_canvas_bomb(side: int = 60_000) -> bytes:
    """A 40x32 GIF whose first frame (disposal: restore to background) claims side x side pixels:
    with Pillow's bomb check off, merely opening it allocated the disposal canvas (630 MB for a
    3 KB fuzzed file; 3.4 GB at 60,000 x 60,000)."""
    data = bytearray(gif_bytes(photo(6, (40, 32)).convert("P", palette=Image.Palette.ADAPTIVE), disposal=2))
    pos = 13 + (3 << ((data[10] & 7) + 1) if data[10] & 0x80 else 0)  # after the global colour table
    while data[pos] == 0x21:  # extension blocks (graphic control ...): label, then sub-blocks
        pos += 2
        while data[pos]:
            pos += data[pos] + 1
        pos += 1
    assert data[pos] == 0x2C  # the image descriptor: x, y, width, height
    struct.pack_into("<HH", data, pos + 5, side, side)
    return bytes(data)
