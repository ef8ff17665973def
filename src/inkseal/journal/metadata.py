"""Raw generation metadata out of an image file, wherever the tools put it.

- PNG text chunks tEXt / zTXt / iTXt, read by walking the chunk list ourselves: tools put chunks
  after IDAT, and a truncated or corrupt image must still give up its text (Pillow only reads
  late chunks after a successful full decode);
- EXIF UserComment (0x9286) in JPEG / WebP / AVIF, UTF-16 in either byte order (A1111 writes
  big-endian, SwarmUI little-endian), plus ImageDescription / Make (0x010E / 0x010F / 0x0110) where
  ComfyUI's WebP savers put `prompt:` and `workflow:`;
- stealth metadata in the least significant bits of the alpha (or RGB) channel, column-major;
- XMP packets, and whether a C2PA manifest is present (PNG caBX chunk, JPEG APP11 JUMBF).

Reading is total: `read_metadata` never raises; what it cannot read becomes a one-line entry in
`problems`. Decompression is budgeted per chunk (16 MiB) and per file (32 MiB in all), so a
zTXt bomb (200 chunks of 16 MiB each, 3 MB on disk) costs at most 32 MiB, not gigabytes.
"""

from __future__ import annotations

import gzip
import io
import struct
import warnings
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

import inkseal.imaging  # noqa: F401 - keeps Pillow's decompression-bomb check on (see DEFAULT_MAX_PIXELS)
from inkseal.errors import one_line

PNG_SIG = b"\x89PNG\r\n\x1a\n"
MAX_TEXT = 16 * 1024 * 1024  # no single metadata text may inflate beyond this (zip bombs in zTXt)
MAX_INFLATED_TOTAL = 32 * 1024 * 1024  # nor all of a file's compressed texts together
MAX_STEALTH_PIXELS = 40_000_000
GENERATION_KEYS = {"parameters", "prompt", "Comment", "invokeai_metadata", "sd-metadata", "Dream", "generation_data"}  # stealth LSBs are read from the decoded pixels: bounded work


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
    inflated: int = field(default=0, repr=False)  # bytes decompressed so far, against MAX_INFLATED_TOTAL


class _BudgetSpent(Exception):
    """The file's decompression budget is used up: no more compressed chunks are inflated."""


def _inflate(data: bytes, meta: RawMetadata) -> bytes:
    budget = min(MAX_TEXT, MAX_INFLATED_TOTAL - meta.inflated)
    if budget <= 0:
        raise _BudgetSpent
    d = zlib.decompressobj()
    out = d.decompress(data, budget)
    meta.inflated += len(out)
    if d.unconsumed_tail:
        if budget < MAX_TEXT:
            raise _BudgetSpent
        raise ValueError("compressed text chunk inflates beyond the 16 MiB limit")
    return out


def png_text_chunks(data: bytes, meta: RawMetadata) -> None:
    if not data.startswith(PNG_SIG):
        return
    pos, seen_idat, skipped = 8, False, 0
    while pos + 8 <= len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind = data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if len(body) < length:
            meta.problems.append(f"PNG chunk {_kind(kind)} truncated")
            break
        try:
            if kind == b"tEXt":
                key, _, text = body.partition(b"\0")
                _put(meta, key.decode("latin-1"), text.decode("latin-1"), "tEXt", seen_idat)
            elif kind == b"zTXt":
                key, _, rest = body.partition(b"\0")
                _put(meta, key.decode("latin-1"), _inflate(rest[1:], meta).decode("latin-1"), "zTXt", seen_idat)
            elif kind == b"iTXt":
                key, _, rest = body.partition(b"\0")
                flag, _method = rest[0], rest[1]
                _lang, _, rest = rest[2:].partition(b"\0")
                _translated, _, text = rest.partition(b"\0")
                text = _inflate(text, meta) if flag else text
                _put(meta, key.decode("latin-1"), text.decode("utf-8", "replace"), "iTXt", seen_idat)
            elif kind == b"caBX":
                meta.has_c2pa = True
            elif kind == b"IDAT":
                seen_idat = True
            elif kind == b"IEND":
                break
        except _BudgetSpent:
            skipped += 1
        except (ValueError, IndexError, zlib.error) as exc:
            if len(meta.problems) < 20:  # one line per bad chunk, but a file of 10,000 bad chunks is not 10,000 lines
                meta.problems.append(f"PNG {_kind(kind)} chunk unreadable: {one_line(exc, limit=300)}")
    if skipped:
        meta.problems.append(f"{skipped} compressed text chunk(s) skipped: the file's metadata inflates beyond "
                             f"the {MAX_INFLATED_TOTAL >> 20} MiB limit")


def _kind(kind: bytes) -> str:
    """A chunk type for a message: its letters, or hex when a corrupt file put control bytes there."""
    return kind.decode("ascii") if kind.isalpha() else "0x" + kind.hex()


def _put(meta: RawMetadata, key: str, text: str, chunk: str, after_idat: bool) -> None:
    if key == "XML:com.adobe.xmp":
        meta.xmp = text
        return
    meta.texts[key] = text
    meta.where[key] = f"PNG {chunk} chunk '{key}'" + (" (after IDAT)" if after_idat else "")


def decode_user_comment(raw: object) -> str:
    """EXIF UserComment: an 8-byte character-code prefix, then the text.

    Hostile EXIF gives any type here: Pillow returns an int, a tuple (of ints, or of anything) or a
    float when the tag's declared type is not UNDEFINED."""
    if isinstance(raw, str):
        return raw
    if isinstance(raw, tuple | list) and all(isinstance(b, int) and 0 <= b < 256 for b in raw):
        raw = bytes(raw)
    if not isinstance(raw, bytes | bytearray):
        return ""  # a number or a mixed tuple: no text to read
    raw = bytes(raw)
    prefix, body = raw[:8], raw[8:]
    if prefix.startswith(b"UNICODE"):
        if body[:2] in (b"\xfe\xff", b"\xff\xfe"):
            return body.decode("utf-16", "replace")  # an odd byte count ends in U+FFFD, not an exception
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
        meta.problems.append(f"EXIF unreadable: {one_line(exc, limit=300)}")
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
    for tag, name in ((0x010E, "ImageDescription"), (0x010F, "Make"), (0x0110, "Model"), (0x0131, "Software"),
                      (0x013B, "Artist"), (0x8298, "Copyright")):
        value = exif.get(tag)
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        if isinstance(value, str) and value.strip():
            # ComfyUI's WebP / JPEG savers: "prompt:{...}" in Model (0x0110), "workflow:{...}" in Make (0x010F),
            # further extra_pnginfo keys counting down from there ("Workflow:{...}" in ImageDescription ...).
            key, sep, rest = value.partition(":")
            key = key.strip()
            if sep and key.isidentifier() and len(key) <= 64 and rest.lstrip().startswith(("{", "[")):
                key = key.lower() if key.lower() in ("prompt", "workflow", "parameters") else key
                meta.texts.setdefault(key, rest)
                meta.where.setdefault(key, f"{meta.format} EXIF {name} ({key}:)")
            else:
                meta.texts.setdefault(f"exif:{name}", value.rstrip("\0"))
                meta.where.setdefault(f"exif:{name}", f"{meta.format} EXIF {name}")
    maker = sub.get(0x927C)  # Fooocus writes its metadata scheme ("fooocus" / "a1111") as MakerNote
    if isinstance(maker, bytes) and len(maker) <= 64:
        maker = maker.decode("utf-8", "replace")
    if isinstance(maker, str) and maker.strip() and len(maker) <= 64:
        meta.texts.setdefault("exif:MakerNote", maker.strip("\0 "))
        meta.where.setdefault("exif:MakerNote", f"{meta.format} EXIF MakerNote")


IPTC_FIELDS = {(2, 120): "Caption-Abstract", (2, 80): "By-line", (2, 5): "ObjectName", (2, 25): "Keywords",
               (2, 65): "OriginatingProgram", (2, 116): "CopyrightNotice"}


def jpeg_extras(im: Image.Image, meta: RawMetadata) -> None:
    """JPEG COM segments and IPTC (APP13): Midjourney and some savers write the prompt there."""
    comment = im.info.get("comment")
    if isinstance(comment, bytes) and comment.strip():
        meta.texts.setdefault("comment", comment.decode("utf-8", "replace"))
        meta.where.setdefault("comment", "JPEG COM segment")
    from PIL import IptcImagePlugin

    iptc = IptcImagePlugin.getiptcinfo(im) or {}
    for key, name in IPTC_FIELDS.items():
        value = iptc.get(key)
        if isinstance(value, list):
            value = b", ".join(v for v in value if isinstance(v, bytes))
        if isinstance(value, bytes) and value.strip():
            meta.texts.setdefault(f"iptc:{name}", value.decode("utf-8", "replace"))
            meta.where.setdefault(f"iptc:{name}", f"JPEG IPTC {name}")


STEALTH_MAGICS = {"stealth_pnginfo": False, "stealth_pngcomp": True, "stealth_rgbinfo": False, "stealth_rgbcomp": True}


def read_stealth(im: Image.Image) -> tuple[str, str] | None:
    """A1111 / NovelAI stealth metadata: LSBs in column-major order; alpha, else RGB.

    Only the columns holding the 152-bit header are unpacked first, and then only those the payload
    needs: a 40-megapixel picture without stealth data costs its decode, not four bit-plane copies."""
    if im.mode not in ("RGBA", "RGB", "LA", "P"):
        return None
    rgba = np.asarray(im.convert("RGBA"))
    h, w = rgba.shape[:2]

    def alpha_bits(cols: int) -> np.ndarray:
        return rgba[:, :cols, 3].T.reshape(-1) & 1

    def rgb_bits(cols: int) -> np.ndarray:
        return rgba[:, :cols, :3].transpose(1, 0, 2).reshape(-1) & 1

    candidates: list[tuple[str, int, Callable[[int], np.ndarray]]] = []
    if im.mode in ("RGBA", "LA") or (im.mode == "P" and "transparency" in im.info):
        candidates.append(("alpha", 1, alpha_bits))
    candidates.append(("rgb", 3, rgb_bits))
    for channel, per_pixel, bits_of in candidates:
        head = bits_of(min(w, -(-152 // (h * per_pixel))))
        if len(head) < 152:
            continue
        magic = np.packbits(head[:120]).tobytes().decode("latin-1")
        if magic not in STEALTH_MAGICS:
            continue
        compressed = STEALTH_MAGICS[magic]
        if (channel == "alpha") != magic.startswith("stealth_png"):
            continue
        n_bits = int.from_bytes(np.packbits(head[120:152]).tobytes(), "big")
        if n_bits <= 0 or 152 + n_bits > h * w * per_pixel or n_bits > MAX_TEXT * 8:
            raise ValueError(f"stealth metadata length {n_bits} bits does not fit the image")
        bits = bits_of(min(w, -(-(152 + n_bits) // (h * per_pixel))))
        payload = np.packbits(bits[152:152 + n_bits]).tobytes()
        if compressed:
            with gzip.GzipFile(fileobj=io.BytesIO(payload)) as gz:
                payload = gz.read(MAX_TEXT + 1)
            if len(payload) > MAX_TEXT:
                raise ValueError("compressed stealth metadata inflates beyond the 16 MiB limit")
        return payload.decode("utf-8", "replace"), f"{channel} least significant bits ({magic})"
    return None


def read_metadata(data: bytes) -> RawMetadata:
    """Everything a generator may have left in the file. Never raises: problems are listed in `problems`."""
    meta = RawMetadata(raw=data)
    try:
        _read_into(data, meta)
    except MemoryError:
        meta.problems.append("metadata needs more memory than is available: not read")
    except Exception as exc:  # noqa: BLE001 - hostile files reach code paths nobody wrote tests for
        meta.problems.append(f"metadata unreadable ({type(exc).__name__}): {one_line(exc, limit=300)}")
    return meta


def _read_into(data: bytes, meta: RawMetadata) -> None:
    png_text_chunks(data, meta)
    if data[:2] == b"\xff\xd8" and b"jumb" in data[:1 << 20]:  # JPEG APP11 JUMBF box
        meta.has_c2pa = True
    elif data[:4] == b"RIFF" and b"C2PA" in data[:1 << 20]:  # WebP C2PA chunk
        meta.has_c2pa = True
    try:
        with warnings.catch_warnings():
            # Pillow's bomb check (kept on by inkseal.imaging) warns between 1x and 2x its limit and
            # refuses beyond: text chunks were read above without it; pixels are not needed here.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data))
        meta.format, (meta.width, meta.height) = im.format or "", im.size
    except Exception as exc:
        meta.problems.append(f"not an image Pillow can open: {one_line(exc, limit=300)}")
        return
    try:
        if im.format != "PNG":
            exif_texts(im, meta)
            if im.format == "JPEG":
                jpeg_extras(im, meta)
            xmp = im.info.get("xmp")
            if isinstance(xmp, bytes | str):
                meta.xmp = xmp.decode("utf-8", "replace") if isinstance(xmp, bytes) else xmp
        elif "exif" in im.info:
            exif_texts(im, meta)
    except Exception as exc:  # noqa: BLE001 - EXIF / XMP of any shape: the rest of the file still counts
        meta.problems.append(f"EXIF unreadable ({type(exc).__name__}): {one_line(exc, limit=300)}")
    if not (meta.texts.keys() & GENERATION_KEYS):  # a tool that wrote text chunks did not also hide them in pixels
        try:
            w, h = im.size
            # degenerate geometry (a 1 x 40,000,000 line) is refused before decoding any pixel
            if 0 < w * h <= MAX_STEALTH_PIXELS and min(w, h) >= 3:
                found = read_stealth(im)
                if found:
                    meta.stealth, meta.stealth_kind = found
        except Exception as exc:  # noqa: BLE001 - Pillow raises anything on truncated / corrupt pixels
            meta.problems.append(f"stealth metadata unreadable: {one_line(exc, limit=300)}")


# -- raw metadata kept in the journal (nothing lost: a later importer re-reads it) ------------------------------
MAX_RAW_TEXT = 4 * 1024 * 1024  # one text kept verbatim up to this size
MAX_RAW_TOTAL = 16 * 1024 * 1024  # all of a file's texts together


def raw_record(meta: RawMetadata, claimed: set[str] | None = None) -> dict:
    """Every text, XMP packet and stealth payload the file carried, verbatim (within the size limits),
    and the keys no importer used (`unclaimed`): what `journal import --reparse` re-reads."""
    texts, left_out, total = {}, [], 0
    for key, text in meta.texts.items():
        if len(text) > MAX_RAW_TEXT or total + len(text) > MAX_RAW_TOTAL:
            left_out.append(f"{key} ({len(text):,} characters)")
            continue
        texts[key] = text
        total += len(text)
    record = {"format": meta.format, "width": meta.width, "height": meta.height, "texts": texts,
              "where": {k: v for k, v in meta.where.items() if k in texts}, "has_c2pa": meta.has_c2pa}
    if meta.xmp and len(meta.xmp) <= MAX_RAW_TEXT:
        record["xmp"] = meta.xmp
    elif meta.xmp:
        left_out.append(f"XMP ({len(meta.xmp):,} characters)")
    if meta.stealth and len(meta.stealth) <= MAX_RAW_TEXT:
        record["stealth"], record["stealth_kind"] = meta.stealth, meta.stealth_kind
    if claimed is not None:
        record["unclaimed"] = sorted(k for k in texts if k not in claimed)
    if left_out:
        record["not_kept"] = left_out
    return record


def from_raw_record(record: dict) -> RawMetadata:
    """The RawMetadata a stored `raw_record` describes (without the file bytes: C2PA is not re-read)."""
    def strings(d: object) -> dict[str, str]:
        return {str(k): v for k, v in d.items() if isinstance(v, str)} if isinstance(d, dict) else {}
    meta = RawMetadata(format=str(record.get("format") or ""), texts=strings(record.get("texts")),
                       where=strings(record.get("where")), xmp=str(record.get("xmp") or ""))
    meta.width, meta.height = int(record.get("width") or 0), int(record.get("height") or 0)
    if isinstance(record.get("stealth"), str):
        meta.stealth, meta.stealth_kind = record["stealth"], str(record.get("stealth_kind") or "stealth")
    return meta
