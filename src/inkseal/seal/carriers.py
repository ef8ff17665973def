"""The GB 45438 implicit label in every carrier the TC260 image guide allows, written into encoded bytes.

    PNG   iTXt `XML:com.adobe.xmp` (XMP)  and  tEXt `AIGC` (plain JSON)
    JPEG  APP1 XMP                         and  APP1 EXIF UserComment ({"AIGC": {...}})
    WebP  `XMP ` chunk                     and  `EXIF` chunk UserComment ({"AIGC": {...}})

Chunks and segments are spliced at the byte level rather than re-saved through Pillow: re-encoding
would change lossy pixels, drop chunks Pillow does not know (C2PA `caBX`, ICC details) and reorder the
rest. Here the image data and every chunk we do not own stay byte-identical. The EXIF block itself is
re-serialised by Pillow when we change its UserComment (its other tags keep their values, not
necessarily their byte layout).

The JSON is written ASCII-only (`\\uXXXX` escapes): tEXt is Latin-1 and EXIF's `ASCII` code is the one
every reader decodes the same way, so the three carriers hold the same object, character for character.
"""

from __future__ import annotations

import io
import json
import struct
import zlib
from collections.abc import Iterator

from PIL import Image

PNG_SIG = b"\x89PNG\r\n\x1a\n"
XMP_KEY = "XML:com.adobe.xmp"
AIGC_TEXT_KEY = "AIGC"
JPEG_XMP_HEADER = b"http://ns.adobe.com/xap/1.0/\x00"
EXIF_HEADER = b"Exif\x00\x00"
USER_COMMENT, EXIF_IFD = 0x9286, 0x8769
ASCII_CODE = b"ASCII\x00\x00\x00"


class CarrierError(ValueError):
    """The file's structure does not allow the carrier to be written (one-line reason)."""


def label_text(label: dict[str, str]) -> str:
    return json.dumps(label, ensure_ascii=True, separators=(",", ":"))


def user_comment(label: dict[str, str], wrapped: bool = True) -> bytes:
    return ASCII_CODE + label_text({"AIGC": label} if wrapped else label).encode("ascii")


def write_carriers(data: bytes, fmt: str, *, xmp: bytes | None = None, label: dict[str, str] | None = None,
                   exif_wrapped: bool = True, png_text: bool = True, exif: bool = True) -> bytes:
    """Put `xmp` (a whole packet) and `label` (tEXt AIGC / EXIF UserComment) into `data`.

    A carrier is written when its argument is given (and, for the label, `png_text` / `exif` allow it);
    an existing one is replaced in place, a missing one added. Pixels never change."""
    fmt = fmt.upper()
    if fmt == "PNG":
        return _png(data, xmp, label_text(label) if label is not None and png_text else None)
    comment = user_comment(label, exif_wrapped) if label is not None and exif else None
    if fmt in ("JPEG", "JPG"):
        return _jpeg(data, xmp, comment)
    if fmt == "WEBP":
        return _webp(data, xmp, comment)
    raise CarrierError(f"implicit labels are written into PNG, JPEG or WebP, not {fmt}")


# -- PNG ---------------------------------------------------------------------------------------------
def png_chunks(data: bytes) -> Iterator[tuple[bytes, bytes, bytes]]:
    """(type, body, whole chunk bytes) for each chunk; raises CarrierError on a truncated file."""
    if not data.startswith(PNG_SIG):
        raise CarrierError("not a PNG file")
    pos = 8
    while pos < len(data):
        if pos + 12 > len(data):
            raise CarrierError("PNG truncated inside a chunk header")
        (n,) = struct.unpack(">I", data[pos:pos + 4])
        end = pos + 12 + n
        if end > len(data):
            raise CarrierError("PNG truncated inside a chunk")
        yield data[pos + 4:pos + 8], data[pos + 8:pos + 8 + n], data[pos:end]
        pos = end


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def _text_key(kind: bytes, body: bytes) -> str | None:
    return body.partition(b"\0")[0].decode("latin-1") if kind in (b"tEXt", b"zTXt", b"iTXt") else None


def _png(data: bytes, xmp: bytes | None, aigc: str | None) -> bytes:
    new: dict[str, bytes] = {}
    if xmp is not None:  # iTXt, uncompressed, no language tag: what Pillow's add_itxt writes
        new[XMP_KEY] = png_chunk(b"iTXt", XMP_KEY.encode("latin-1") + b"\0\0\0\0\0" + xmp)
    if aigc is not None:
        new[AIGC_TEXT_KEY] = png_chunk(b"tEXt", AIGC_TEXT_KEY.encode("latin-1") + b"\0" + aigc.encode("latin-1"))
    out, pending = [PNG_SIG], dict(new)
    for kind, body, whole in png_chunks(data):
        key = _text_key(kind, body)
        if key in new:
            if key in pending:  # replace the first in place; drop repeats (one label per file)
                out.append(pending.pop(key))
            continue
        if kind == b"IDAT" and pending:
            out.extend(pending.values())
            pending.clear()
        out.append(whole)
    if pending:
        raise CarrierError("PNG has no image data (IDAT)")
    return b"".join(out)


# -- JPEG --------------------------------------------------------------------------------------------
def jpeg_segments(data: bytes) -> tuple[list[tuple[int, bytes]], bytes]:
    """([(marker, whole segment)] up to the first SOS, the rest of the file verbatim)."""
    if data[:2] != b"\xff\xd8":
        raise CarrierError("not a JPEG file")
    pos, segs = 2, []
    while True:
        if pos + 4 > len(data) or data[pos] != 0xFF:
            raise CarrierError("JPEG header segments are corrupt or truncated")
        marker = data[pos + 1]
        if marker == 0xDA:  # start of scan: the entropy-coded data follows, untouched
            return segs, data[pos:]
        n = int.from_bytes(data[pos + 2:pos + 4], "big")
        if n < 2 or pos + 2 + n > len(data):
            raise CarrierError("JPEG segment length runs past the end of the file")
        segs.append((marker, data[pos:pos + 2 + n]))
        pos += 2 + n


def _app1(payload: bytes) -> bytes:
    if len(payload) + 2 > 0xFFFF:
        raise CarrierError("metadata too large for one JPEG APP1 segment (64 KiB)")
    return b"\xff\xe1" + (len(payload) + 2).to_bytes(2, "big") + payload


def exif_with_comment(exif_block: bytes | None, comment: bytes) -> bytes:
    """A TIFF/EXIF block (with the `Exif\\0\\0` header) equal to `exif_block` but for its UserComment."""
    try:
        exif = Image.Exif()
        if exif_block:
            exif.load(exif_block if exif_block.startswith(EXIF_HEADER) else EXIF_HEADER + exif_block)
        exif.get_ifd(EXIF_IFD)[USER_COMMENT] = comment
        return exif.tobytes()
    except Exception as exc:  # noqa: BLE001 - hostile EXIF makes Pillow raise anything: one line, nothing written
        text = str(exc).strip().splitlines()
        raise CarrierError(f"EXIF block unreadable, UserComment not written: {text[0][:200] if text else type(exc).__name__}") from None


def _jpeg(data: bytes, xmp: bytes | None, comment: bytes | None) -> bytes:
    segs, rest = jpeg_segments(data)
    out = [b"\xff\xd8"]
    xmp_done, exif_done = xmp is None, comment is None
    insert_at = 2 if segs and segs[0][0] == 0xE0 else 1  # new segments go after a leading JFIF APP0
    for marker, whole in segs:
        payload = whole[4:]
        if marker == 0xE1 and payload.startswith(EXIF_HEADER) and comment is not None:
            if not exif_done:
                out.append(_app1(exif_with_comment(payload, comment)))
                exif_done = True
            continue
        if marker == 0xE1 and payload.startswith(JPEG_XMP_HEADER) and xmp is not None:
            if not xmp_done:
                out.append(_app1(JPEG_XMP_HEADER + xmp))
                xmp_done = True
            continue
        out.append(whole)
    added = []
    if not exif_done:
        added.append(_app1(exif_with_comment(None, comment or b"")))
    if not xmp_done:
        added.append(_app1(JPEG_XMP_HEADER + (xmp or b"")))
    out[insert_at:insert_at] = added
    return b"".join(out) + rest


# -- WebP --------------------------------------------------------------------------------------------
VP8X_EXIF, VP8X_XMP, VP8X_ALPHA = 0x08, 0x04, 0x10


def webp_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    if data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        raise CarrierError("not a WebP file")
    pos, out = 12, []
    while pos < len(data):
        if pos + 8 > len(data):
            raise CarrierError("WebP truncated inside a chunk header")
        kind, n = data[pos:pos + 4], int.from_bytes(data[pos + 4:pos + 8], "little")
        if pos + 8 + n > len(data):
            raise CarrierError("WebP truncated inside a chunk")
        out.append((kind, data[pos + 8:pos + 8 + n]))
        pos += 8 + n + (n & 1)
    return out


def _riff_chunk(kind: bytes, body: bytes) -> bytes:
    return kind + len(body).to_bytes(4, "little") + body + (b"\0" if len(body) & 1 else b"")


def _vp8x(data: bytes, chunks: list[tuple[bytes, bytes]]) -> bytearray:
    """A simple-format WebP (VP8 / VP8L only) gets the extended header metadata needs."""
    width, height = Image.open(io.BytesIO(data)).size
    flags = 0
    for kind, body in chunks:
        if kind == b"VP8L" and len(body) >= 5 and (int.from_bytes(body[1:5], "little") >> 28) & 1:
            flags |= VP8X_ALPHA
    return bytearray(bytes([flags, 0, 0, 0]) + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little"))


def _webp(data: bytes, xmp: bytes | None, comment: bytes | None) -> bytes:
    chunks = webp_chunks(data)
    vp8x = next((bytearray(b) for k, b in chunks if k == b"VP8X"), None) or _vp8x(data, chunks)
    new: dict[bytes, bytes] = {}
    if comment is not None:
        old = next((b for k, b in chunks if k == b"EXIF"), None)
        new[b"EXIF"] = exif_with_comment(old, comment)[len(EXIF_HEADER):]  # WebP keeps the bare TIFF block
        vp8x[0] |= VP8X_EXIF
    if xmp is not None:
        new[b"XMP "] = xmp
        vp8x[0] |= VP8X_XMP
    body, pending = [_riff_chunk(b"VP8X", bytes(vp8x))], dict(new)
    for kind, chunk in chunks:
        if kind == b"VP8X":
            continue
        if kind in new:
            if kind in pending:
                body.append(_riff_chunk(kind, pending.pop(kind)))
            continue
        body.append(_riff_chunk(kind, chunk))
    body += [_riff_chunk(k, v) for k, v in sorted(pending.items(), key=lambda kv: kv[0] != b"EXIF")]  # EXIF, then XMP
    payload = b"WEBP" + b"".join(body)
    return b"RIFF" + len(payload).to_bytes(4, "little") + payload
