"""Raw generation metadata out of an image file, wherever the tools put it.

- PNG text chunks tEXt / zTXt / iTXt, read by walking the chunk list ourselves: tools put chunks
  after IDAT, and a truncated or corrupt image must still give up its text (Pillow only reads
  late chunks after a successful full decode);
- EXIF UserComment (0x9286) in JPEG / WebP / AVIF, UTF-16 in either byte order (A1111 writes
  big-endian, SwarmUI little-endian), plus ImageDescription / Make (0x010E / 0x010F / 0x0110) where
  ComfyUI's WebP savers put `prompt:` and `workflow:`;
- stealth metadata in the least significant bits of the alpha (or RGB) channel, column-major;
- XMP packets, and whether a C2PA manifest is present (PNG caBX chunk, JPEG APP11 JUMBF).
"""

from __future__ import annotations

import gzip
import io
import struct
import zlib
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

PNG_SIG = b"\x89PNG\r\n\x1a\n"
MAX_TEXT = 16 * 1024 * 1024  # no single metadata text may inflate beyond this (zip bombs in zTXt)


@dataclass
class RawMetadata:
    format: str = ""
    width: int = 0
    height: int = 0
    texts: dict[str, str] = field(default_factory=dict)  # PNG text chunks, EXIF-derived keys
    where: dict[str, str] = field(default_factory=dict)  # key -> where it was found
    xmp: str = ""
    has_c2pa: bool = False
    stealth: str | None = None  # decoded stealth payload
    stealth_kind: str = ""
    problems: list[str] = field(default_factory=list)
    raw: bytes | None = field(default=None, repr=False)  # the file itself, for readers that need it (C2PA)


def _inflate(data: bytes) -> bytes:
    d = zlib.decompressobj()
    out = d.decompress(data, MAX_TEXT)
    if d.unconsumed_tail:
        raise ValueError("compressed text chunk inflates beyond the 16 MiB limit")
    return out


def png_text_chunks(data: bytes, meta: RawMetadata) -> None:
    if not data.startswith(PNG_SIG):
        return
    pos, seen_idat = 8, False
    while pos + 8 <= len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind = data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if len(body) < length:
            meta.problems.append(f"PNG chunk {kind.decode('latin-1', 'replace')} truncated")
            break
        try:
            if kind == b"tEXt":
                key, _, text = body.partition(b"\0")
                _put(meta, key.decode("latin-1"), text.decode("latin-1"), "tEXt", seen_idat)
            elif kind == b"zTXt":
                key, _, rest = body.partition(b"\0")
                _put(meta, key.decode("latin-1"), _inflate(rest[1:]).decode("latin-1"), "zTXt", seen_idat)
            elif kind == b"iTXt":
                key, _, rest = body.partition(b"\0")
                flag, _method = rest[0], rest[1]
                _lang, _, rest = rest[2:].partition(b"\0")
                _translated, _, text = rest.partition(b"\0")
                text = _inflate(text) if flag else text
                _put(meta, key.decode("latin-1"), text.decode("utf-8", "replace"), "iTXt", seen_idat)
            elif kind == b"caBX":
                meta.has_c2pa = True
            elif kind == b"IDAT":
                seen_idat = True
            elif kind == b"IEND":
                break
        except (ValueError, IndexError, zlib.error) as exc:
            meta.problems.append(f"PNG {kind.decode('latin-1', 'replace')} chunk unreadable: {exc}")


def _put(meta: RawMetadata, key: str, text: str, chunk: str, after_idat: bool) -> None:
    if key == "XML:com.adobe.xmp":
        meta.xmp = text
        return
    meta.texts[key] = text
    meta.where[key] = f"PNG {chunk} chunk '{key}'" + (" (after IDAT)" if after_idat else "")


def decode_user_comment(raw: bytes) -> str:
    """EXIF UserComment: an 8-byte character-code prefix, then the text."""
    if isinstance(raw, str):
        return raw
    prefix, body = raw[:8], raw[8:]
    if prefix.startswith(b"UNICODE"):
        if body[:2] in (b"\xfe\xff", b"\xff\xfe"):
            return body.decode("utf-16")
        # No BOM: the byte order shows in where the zero bytes of ASCII characters sit.
        even_zeros = body[0::2].count(0)
        odd_zeros = body[1::2].count(0)
        return body.decode("utf-16-be" if even_zeros >= odd_zeros else "utf-16-le", "replace")
    if prefix.startswith(b"ASCII"):
        return body.decode("ascii", "replace")
    if prefix == b"\0" * 8:
        return body.decode("utf-8", "replace")
    return raw.decode("utf-8", "replace")


def exif_texts(im: Image.Image, meta: RawMetadata) -> None:
    try:
        exif = im.getexif()
    except Exception as exc:  # hostile EXIF: note it, keep going
        meta.problems.append(f"EXIF unreadable: {exc}")
        return
    try:
        sub = exif.get_ifd(0x8769)
    except Exception:
        sub = {}
    comment = sub.get(0x9286) or exif.get(0x9286)
    if comment:
        text = decode_user_comment(comment).rstrip("\0")
        if text.strip():
            meta.texts["parameters"] = text
            meta.where["parameters"] = f"{meta.format} EXIF UserComment"
    for tag, name in ((0x010E, "ImageDescription"), (0x010F, "Make"), (0x0110, "Model")):
        value = exif.get(tag)
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        if isinstance(value, str) and value.strip():
            # ComfyUI's animated WebP: "prompt:{...}" in Model (0x0110), "workflow:{...}" in Make (0x010F).
            key, sep, rest = value.partition(":")
            if sep and key in ("prompt", "workflow", "parameters") and rest.lstrip().startswith(("{", "[")):
                meta.texts[key] = rest
                meta.where[key] = f"{meta.format} EXIF {name} ({key}:)"
            else:
                meta.texts.setdefault(f"exif:{name}", value)
                meta.where.setdefault(f"exif:{name}", f"{meta.format} EXIF {name}")


STEALTH_MAGICS = {"stealth_pnginfo": False, "stealth_pngcomp": True, "stealth_rgbinfo": False, "stealth_rgbcomp": True}


def read_stealth(im: Image.Image) -> tuple[str, str] | None:
    """A1111 / NovelAI stealth metadata: LSBs in column-major order; alpha, else RGB."""
    if im.mode not in ("RGBA", "RGB", "LA", "P"):
        return None
    rgba = np.asarray(im.convert("RGBA"))
    candidates = []
    if im.mode in ("RGBA", "LA") or (im.mode == "P" and "transparency" in im.info):
        candidates.append(("alpha", rgba[..., 3].T.reshape(-1) & 1))
    candidates.append(("rgb", rgba[..., :3].transpose(1, 0, 2).reshape(-1) & 1))
    for channel, bits in candidates:
        head = np.packbits(bits[: 15 * 8]).tobytes()
        magic = head.decode("latin-1")
        if magic not in STEALTH_MAGICS:
            continue
        compressed = STEALTH_MAGICS[magic]
        if (channel == "alpha") != magic.startswith("stealth_png"):
            continue
        n_bits = int.from_bytes(np.packbits(bits[120:152]).tobytes(), "big")
        if n_bits <= 0 or 152 + n_bits > len(bits) or n_bits > MAX_TEXT * 8:
            raise ValueError(f"stealth metadata length {n_bits} bits does not fit the image")
        payload = np.packbits(bits[152:152 + n_bits]).tobytes()
        if compressed:
            with gzip.GzipFile(fileobj=io.BytesIO(payload)) as gz:
                payload = gz.read(MAX_TEXT)
        return payload.decode("utf-8", "replace"), f"{channel} least significant bits ({magic})"
    return None


def read_metadata(data: bytes) -> RawMetadata:
    """Everything a generator may have left in the file. Never raises for odd metadata."""
    meta = RawMetadata(raw=data)
    png_text_chunks(data, meta)
    if data[:2] == b"\xff\xd8" and b"jumb" in data[:1 << 20]:  # JPEG APP11 JUMBF box
        meta.has_c2pa = True
    elif data[:4] == b"RIFF" and b"C2PA" in data[:1 << 20]:  # WebP C2PA chunk
        meta.has_c2pa = True
    try:
        im = Image.open(io.BytesIO(data))
        meta.format, (meta.width, meta.height) = im.format or "", im.size
    except Exception as exc:
        meta.problems.append(f"not an image Pillow can open: {str(exc).splitlines()[0] if str(exc) else exc}")
        return meta
    if im.format != "PNG":
        exif_texts(im, meta)
        xmp = im.info.get("xmp")
        if isinstance(xmp, bytes | str):
            meta.xmp = xmp.decode("utf-8", "replace") if isinstance(xmp, bytes) else xmp
    elif "exif" in im.info:
        exif_texts(im, meta)
    if not meta.texts:
        try:
            if im.width * im.height <= 40_000_000:
                found = read_stealth(im)
                if found:
                    meta.stealth, meta.stealth_kind = found
        except Exception as exc:
            meta.problems.append(f"stealth metadata unreadable: {exc}")
    return meta
