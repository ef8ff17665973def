"""Remove generation metadata from a picture before publishing it, keeping what the creator asks to keep.

What goes: PNG text chunks (tEXt / zTXt / iTXt), eXIf and unknown ancillary chunks; JPEG APP1 (EXIF,
XMP), APP13 (IPTC), COM and other application segments; WebP EXIF and XMP chunks; stealth data in
the alpha channel's least significant bits (NovelAI, A1111 extension).
What stays: the pixels (untouched unless stealth data had to be cleared), colour information (ICC,
gAMA, sRGB, pHYs ...) and, as asked:
- GB 45438 implicit labels (default kept): re-written alone in the carrier they came in (an XMP packet
  holding only TC260:AIGC, an EXIF holding only the label's UserComment, the PNG `AIGC` chunk as it was);
- C2PA manifests (default kept). A manifest binds the file's bytes: after any other byte changes it
  validates as altered (dataHash mismatch), which `inkseal inspect` then reports honestly.

The containers are walked by hand (chunks / segments / RIFF), not re-encoded with Pillow, so that a
JPEG or lossy WebP loses no quality: Pillow has no way to drop one segment without re-encoding.
"""

from __future__ import annotations

import io
import json
import struct
import zlib
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from inkseal.errors import BadImage, one_line
from inkseal.journal.importers.labels import implicit_labels
from inkseal.journal.metadata import PNG_SIG, read_metadata

PNG_KEEP = {b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"iCCP", b"sBIT", b"pHYs",
            b"bKGD", b"acTL", b"fcTL", b"fdAT", b"cICP", b"mDCv", b"cLLi"}
LABEL_TEXT_KEYS = {"AIGC", "TC260:AIGC", "aigc"}


@dataclass
class StripReport:
    removed: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def label_xmp(label: dict) -> bytes:
    body = json.dumps(label, ensure_ascii=False, separators=(",", ":"))
    body = body.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return ('<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/">'
            '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" '
            'xmlns:TC260="http://www.tc260.org.cn/ns/AIGC/1.0/">'
            f"<TC260:AIGC>{body}</TC260:AIGC></rdf:Description></rdf:RDF></x:xmpmeta>"
            '<?xpacket end="w"?>').encode("utf-8")


def label_exif(label: dict) -> bytes:
    exif = Image.Exif()
    text = json.dumps({"AIGC": label}, ensure_ascii=False, separators=(",", ":"))
    exif.get_ifd(0x8769)[0x9286] = b"UNICODE\0" + text.encode("utf-16-be")
    return exif.tobytes()


def _labels_by_carrier(data: bytes) -> tuple[dict[str, dict], object]:
    meta = read_metadata(data)
    found: dict[str, dict] = {}
    for item in implicit_labels(meta):
        if "label" in item:
            kind = "xmp" if item["carrier"].startswith("XMP") else "exif" if "UserComment" in item["carrier"] else "text"
            found.setdefault(kind, item["label"])
    return found, meta


def strip_metadata(data: bytes, *, keep_labels: bool = True, keep_c2pa: bool = True) -> tuple[bytes, StripReport]:
    """(the stripped file, what was removed and kept). A file whose structure cannot be walked safely
    raises BadImage with one line: nothing half-stripped is ever returned."""
    try:
        return _strip(data, keep_labels, keep_c2pa)
    except BadImage:
        raise
    except (struct.error, ValueError, OSError, IndexError, SyntaxError) as exc:  # Pillow / struct on corrupt bytes
        text = one_line(exc)[:200]
        raise BadImage(f"file structure unreadable, nothing written ({text}) / 文件结构无法解析，未写出") from None


def _strip(data: bytes, keep_labels: bool, keep_c2pa: bool) -> tuple[bytes, StripReport]:
    labels, meta = _labels_by_carrier(data)
    if not keep_labels:
        labels = {}
    report = StripReport()
    if data.startswith(PNG_SIG):
        out = _strip_png(data, labels, keep_c2pa, meta.stealth is not None, report)
    elif data[:2] == b"\xff\xd8":
        out = _strip_jpeg(data, labels, keep_c2pa, report)
    elif data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        out = _strip_webp(data, labels, keep_c2pa, meta.stealth is not None, report)
    else:
        raise BadImage("metadata strip supports PNG, JPEG and WebP / 仅支持 PNG、JPEG 和 WebP")
    if keep_c2pa and meta.has_c2pa and report.removed:
        report.notes.append("C2PA manifest kept, but it binds the original bytes: it now validates as altered / "
                            "C2PA 凭证已保留，但文件已改动，验证将显示为已篡改")
    return out, report


# -- PNG -----------------------------------------------------------------------------------------------------
def _png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    chunks, pos = [], 8
    while pos + 8 <= len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        if len(body) < length:
            raise BadImage("PNG truncated: cannot strip safely / PNG 文件不完整")
        chunks.append((kind, body))
        pos += 12 + length
        if kind == b"IEND":
            break
    return chunks


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def _text_key(kind: bytes, body: bytes) -> str:
    return body.split(b"\0", 1)[0].decode("latin-1") if kind in (b"tEXt", b"zTXt", b"iTXt") else ""


def _clear_stealth(data: bytes, fmt: str) -> bytes:
    """The picture re-encoded losslessly with every alpha LSB set: the stealth payload is gone, the
    visible picture unchanged (alpha moves by at most 1/255)."""
    im = Image.open(io.BytesIO(data))
    rgba = np.array(im.convert("RGBA"))
    rgba[..., 3] |= 1
    buf = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buf, fmt, **({"lossless": True} if fmt == "WEBP" else {}))
    return buf.getvalue()


def _strip_png(data: bytes, labels: dict, keep_c2pa: bool, stealth: bool, report: StripReport) -> bytes:
    chunks = _png_chunks(data)
    if stealth:
        fresh = _png_chunks(_clear_stealth(data, "PNG"))
        pixels = [c for c in fresh if c[0] in (b"IHDR", b"IDAT")]
        chunks = [c for c in chunks if c[0] not in (b"IHDR", b"IDAT", b"PLTE", b"tRNS")]
        chunks = pixels[:1] + chunks[:-1] + pixels[1:] + chunks[-1:]  # IHDR first, IDAT before IEND
        report.removed.append("stealth data in alpha least significant bits")
    out = [PNG_SIG]
    for kind, body in chunks:
        key = _text_key(kind, body)
        if kind in PNG_KEEP:
            out.append(_chunk(kind, body))
        elif kind == b"caBX" and keep_c2pa:
            out.append(_chunk(kind, body))
            report.kept.append("C2PA manifest (caBX)")
        elif key in LABEL_TEXT_KEYS and "text" in labels:
            out.append(_chunk(kind, body))
            report.kept.append(f"GB 45438 label (PNG text '{key}')")
        elif key == "XML:com.adobe.xmp" and "xmp" in labels:
            out.append(_chunk(b"iTXt", b"XML:com.adobe.xmp\0\0\0\0\0" + label_xmp(labels["xmp"])))
            report.kept.append("GB 45438 label (XMP, alone)")
            report.removed.append("XMP (other properties)")
        elif kind == b"eXIf" and "exif" in labels:
            exif = label_exif(labels["exif"])
            out.append(_chunk(b"eXIf", exif[6:] if exif.startswith(b"Exif\0\0") else exif))
            report.kept.append("GB 45438 label (EXIF UserComment, alone)")
        else:
            report.removed.append(f"PNG {kind.decode('latin-1')}" + (f" '{key}'" if key else ""))
    return b"".join(out)


# -- JPEG ----------------------------------------------------------------------------------------------------
def _strip_jpeg(data: bytes, labels: dict, keep_c2pa: bool, report: StripReport) -> bytes:
    out, pos = [data[:2]], 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            raise BadImage("JPEG segment structure unreadable: cannot strip safely / JPEG 结构无法解析")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0xDA or marker == 0xD9:  # start of scan: the rest is image data
            out.append(data[pos:])
            break
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            out.append(data[pos:pos + 2])
            pos += 2
            continue
        (length,) = struct.unpack(">H", data[pos + 2:pos + 4])
        seg = data[pos:pos + 2 + length]
        body = seg[4:]
        pos += 2 + length
        if marker in (0xE0, 0xEE) or not (0xE0 <= marker <= 0xEF or marker == 0xFE):
            out.append(seg)  # JFIF, Adobe colour transform, and all the codec's own segments
        elif marker == 0xE2 and body.startswith(b"ICC_PROFILE\0"):
            out.append(seg)
        elif marker == 0xEB and keep_c2pa:
            out.append(seg)
            if "C2PA manifest (APP11 JUMBF)" not in report.kept:
                report.kept.append("C2PA manifest (APP11 JUMBF)")
        else:
            what = {0xE1: "APP1 " + ("EXIF" if body.startswith(b"Exif") else "XMP" if b"adobe" in body[:40] else "data"),
                    0xED: "APP13 IPTC / Photoshop", 0xFE: "COM comment"}.get(marker, f"APP{marker - 0xE0}")
            report.removed.append(f"JPEG {what}")
    kept = b"".join(out)
    inserts = b""
    if "exif" in labels:
        exif = label_exif(labels["exif"])
        exif = exif if exif.startswith(b"Exif\0\0") else b"Exif\0\0" + exif
        inserts += b"\xff\xe1" + struct.pack(">H", len(exif) + 2) + exif
        report.kept.append("GB 45438 label (EXIF UserComment, alone)")
    if "xmp" in labels:
        xmp = b"http://ns.adobe.com/xap/1.0/\0" + label_xmp(labels["xmp"])
        inserts += b"\xff\xe1" + struct.pack(">H", len(xmp) + 2) + xmp
        report.kept.append("GB 45438 label (XMP, alone)")
    if not inserts:
        return kept
    # after SOI and a JFIF APP0 if there is one
    at = 2
    if kept[2:4] == b"\xff\xe0":
        at = 4 + struct.unpack(">H", kept[4:6])[0]
    return kept[:at] + inserts + kept[at:]


# -- WebP ----------------------------------------------------------------------------------------------------
def _riff_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    chunks, pos = [], 12
    while pos + 8 <= len(data):
        kind = data[pos:pos + 4]
        (length,) = struct.unpack("<I", data[pos + 4:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if len(body) < length:
            raise BadImage("WebP truncated: cannot strip safely / WebP 文件不完整")
        chunks.append((kind, body))
        pos += 8 + length + (length & 1)
    return chunks


def _riff(chunks: list[tuple[bytes, bytes]]) -> bytes:
    body = b"WEBP" + b"".join(k + struct.pack("<I", len(b)) + b + (b"\0" if len(b) & 1 else b"") for k, b in chunks)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def _strip_webp(data: bytes, labels: dict, keep_c2pa: bool, stealth: bool, report: StripReport) -> bytes:
    if stealth:  # only lossless WebP can carry stealth bits: re-encoding it losslessly costs nothing
        data = _clear_stealth(data, "WEBP")
        report.removed.append("stealth data in alpha least significant bits")
    chunks = _riff_chunks(data)
    kept: list[tuple[bytes, bytes]] = []
    for kind, body in chunks:
        if kind in (b"EXIF", b"XMP "):
            report.removed.append(f"WebP {kind.decode().strip()}")
        elif kind == b"C2PA" and not keep_c2pa:
            report.removed.append("WebP C2PA")
        else:
            kept.append((kind, body))
            if kind == b"C2PA":
                report.kept.append("C2PA manifest (WebP chunk)")
    if "exif" in labels:
        exif = label_exif(labels["exif"])
        kept.append((b"EXIF", exif[6:] if exif.startswith(b"Exif\0\0") else exif))
        report.kept.append("GB 45438 label (EXIF UserComment, alone)")
    if "xmp" in labels:
        kept.append((b"XMP ", label_xmp(labels["xmp"])))
        report.kept.append("GB 45438 label (XMP, alone)")
    has_exif = any(k == b"EXIF" for k, _ in kept)
    has_xmp = any(k == b"XMP " for k, _ in kept)
    if kept and kept[0][0] == b"VP8X":
        flags = kept[0][1][0] & ~0x0C | (0x08 if has_exif else 0) | (0x04 if has_xmp else 0)
        kept[0] = (b"VP8X", bytes([flags]) + kept[0][1][1:])
    elif has_exif or has_xmp:
        kept = [_vp8x(data, has_exif, has_xmp)] + kept
    return _riff(kept)


def _vp8x(data: bytes, exif: bool, xmp: bool) -> tuple[bytes, bytes]:
    """A simple-format WebP needs the extended header before it can carry EXIF / XMP."""
    w, h = Image.open(io.BytesIO(data)).size
    alpha = any(k == b"VP8L" for k, _ in _riff_chunks(data)) and Image.open(io.BytesIO(data)).mode == "RGBA"
    flags = (0x10 if alpha else 0) | (0x08 if exif else 0) | (0x04 if xmp else 0)
    return b"VP8X", bytes([flags, 0, 0, 0]) + (w - 1).to_bytes(3, "little") + (h - 1).to_bytes(3, "little")
