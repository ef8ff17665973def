"""A deterministic corpus of hostile inputs, and the harness that runs one through inkseal's parsers.

Used by tests/test_fuzz.py (a few thousand cases in `make test`) and benchmarks/fuzz.py (100,000+).
Case `i` of a corpus is a pure function of (`master_seed`, `i`): any failure is reproduced with
`case(i)` alone. Seeds are tiny images written here in every format we read (PNG, JPEG, GIF, TIFF,
WebP, BMP), files carrying each tool's metadata (A1111 infotext, ComfyUI graph, NovelAI, InvokeAI,
Fooocus, SwarmUI, XMP with a TC260 label, EXIF UserComment, stealth LSBs, zTXt), and the real files
in ../shared/data/sd-tools. Mutations: byte and bit flips, truncation, chunk / segment duplication,
removal and reordering, header field edits (dimensions, lengths, counts, with valid CRCs where the
format checks them), inserted runs, and structured edits of the metadata itself (nested brackets,
NaN / Infinity, huge numbers, wrong JSON types, deep nesting, malformed XML).

`run_case` feeds an input to the real entry points and classifies the outcome:
    ok       a result;
    error    one of inkseal's own errors (InksealError) with a one-line message;
    crash    anything else: another exception type, a multi-line message, or a result that
             canonical JSON cannot write (what the journal stores).
"""

from __future__ import annotations

import io
import json
import random
import struct
import warnings
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, PngImagePlugin

SD_TOOLS = Path(__file__).resolve().parents[2] / "shared" / "data" / "sd-tools"
INTERESTING_INTS = [0, 1, 2, 3, 7, 8, 255, 256, 1000, 0x7FFF, 0xFFFF, 0x10000, 0x7FFFFFFF, 0xFFFFFFFF]
NASTY_TOKENS = ["(", ")", "[", "]", "((((", "))))", ":", "\\", "NaN", "nan", "Infinity", "-inf", "1e999", "-1",
                "99999999999999999999999", "{", "}", '"', "\0", "\ufeff", "<lora:", "<lora:x:1.2.3>", ">", "BREAK",
                ",", "\n", "Negative prompt:", "Steps:", "Seed:", "Size: 0x0", "Size: 99999x", "x", "|", "[a:b:",
                "<", "&", "&amp;", "<!DOCTYPE x>", "]]>", "\u202e", "古风", "\r\n", "\t", ":1e308)", "\\(", "\\)"]


# -- seeds -------------------------------------------------------------------------------------------
def _pixels(seed: int, size: tuple[int, int] = (40, 32)) -> Image.Image:
    rng = np.random.default_rng(seed)
    w, h = size
    base = np.linspace(0, 255, w, dtype=np.float32)[None, :, None] * np.ones((h, 1, 3), np.float32)
    return Image.fromarray(np.clip(base + rng.normal(0, 40, (h, w, 3)), 0, 255).astype(np.uint8))


def _save(im: Image.Image, fmt: str, **kw: object) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def _png_text(texts: dict[str, str], *, ztxt: bool = False, mode: str = "RGB") -> bytes:
    info = PngImagePlugin.PngInfo()
    for k, v in texts.items():
        if any(ord(c) > 255 for c in v) or k == "XML:com.adobe.xmp":
            info.add_itxt(k, v, zip=ztxt)
        elif ztxt:
            info.add_text(k, v, zip=True)
        else:
            info.add_text(k, v)
    return _save(_pixels(len(texts)).convert(mode), "PNG", pnginfo=info)


INFOTEXT = ("masterpiece, (girl:1.2), ((hanfu)), [blurry], <lora:hanfu:0.7>, spring BREAK petals\n"
            "Negative prompt: lowres, (bad hands:1.4)\nSteps: 28, Sampler: DPM++ 2M, Schedule type: Karras, "
            "CFG scale: 6.5, Seed: 42, Size: 512x768, Model hash: 1a2b3c4d5e, Model: dreamy, Denoising strength: "
            '0.45, Hires upscale: 2, Lora hashes: "hanfu: 0123abcd", Hashes: {"model": "1a2b3c4d5e"}, Version: f2.0.1')
COMFY = {"3": {"class_type": "KSampler", "inputs": {"seed": 7, "steps": 20, "cfg": 7.5, "sampler_name": "euler",
                                                    "scheduler": "normal", "denoise": 1, "model": ["4", 0],
                                                    "positive": ["6", 0], "negative": ["7", 0],
                                                    "latent_image": ["5", 0]}},
         "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "sd15.safetensors"}},
         "5": {"class_type": "EmptyLatentImage", "inputs": {"width": 512, "height": 512, "batch_size": 1}},
         "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "girl, (spring:1.1)", "clip": ["4", 1]}},
         "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "lowres", "clip": ["4", 1]}}}
NOVELAI = {"prompt": "girl", "steps": 28, "sampler": "k_euler", "seed": 1, "scale": 5.0, "uc": "lowres",
           "width": 832, "height": 1216, "v4_prompt": {"caption": {"base_caption": "girl", "char_captions": []}}}
INVOKE = {"app_version": "3.0.0", "positive_prompt": "girl", "negative_prompt": "bad", "width": 512, "height": 512,
          "seed": 1, "steps": 30, "cfg_scale": 7, "scheduler": "euler", "model": {"model_name": "sd", "hash": "ab"},
          "loras": [{"lora": {"model_name": "l"}, "weight": 0.5}]}
FOOOCUS = {"prompt": "goldfish", "negative_prompt": "", "base_model": "juggernaut", "steps": 30, "seed": "69",
           "guidance_scale": 4, "resolution": "(768, 1280)", "loras": "[('a', 0.5)]", "metadata_scheme": "fooocus",
           "version": "Fooocus v2.4.3"}
SWARM = {"sui_image_params": {"prompt": "girl", "negativeprompt": "bad", "model": "m", "seed": 1, "steps": 20,
                              "cfgscale": 7, "width": 512, "height": 512, "loras": ["a"], "loraweights": ["0.5"]}}
LABEL = {"Label": "1", "ContentProducer": "inkseal:Li", "ProduceID": "inkseal:work:1", "ReservedCode1": "AAAA",
         "ContentPropagator": "", "PropagateID": "", "ReservedCode2": ""}


def xmp_packet(label: object = LABEL) -> str:
    """Our packet shape; `label` is an object to write as JSON, or already-written JSON text."""
    label_text = label if isinstance(label, str) else json.dumps(label)
    return ('<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/">'
            '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" '
            'xmlns:TC260="http://www.tc260.org.cn/ns/AIGC/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/" '
            'xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/">'
            f"<TC260:AIGC>{_xml_escape(label_text)}</TC260:AIGC>"
            "<Iptc4xmpExt:DigitalSourceType>http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
            "</Iptc4xmpExt:DigitalSourceType><dc:creator><rdf:Seq><rdf:li>Li</rdf:li></rdf:Seq></dc:creator>"
            '</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>')


def _xml_escape(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _exif_comment(text: str, fmt: str = "JPEG") -> bytes:
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9286] = b"UNICODE\0" + text.encode("utf-16-be")
    exif[0x0112] = 6
    kw: dict[str, object] = {"exif": exif.tobytes()}
    if fmt == "WEBP":
        kw["xmp"] = xmp_packet().encode()
    return _save(_pixels(3), fmt, **kw)


def _stealth(text: str) -> bytes:
    """A1111 stealth_pnginfo: magic, 32-bit length, payload, in alpha LSBs, column-major."""
    payload = text.encode()
    bits = np.unpackbits(np.frombuffer(b"stealth_pnginfo" + struct.pack(">I", len(payload) * 8) + payload, np.uint8))
    w = h = max(64, int(len(bits) ** 0.5) + 1)
    rgba = np.asarray(_pixels(9, (w, h)).convert("RGBA")).copy()
    alpha = np.full(w * h, 255, np.uint8)
    alpha[: len(bits)] = 254 | bits
    rgba[..., 3] = alpha.reshape(w, h).T
    return _save(Image.fromarray(rgba), "PNG")


def generated_seeds() -> dict[str, bytes]:
    """Seed files written here, one per format and per metadata kind."""
    px = _pixels(1)
    anim = [_pixels(i).convert("P", palette=Image.Palette.ADAPTIVE, colors=32) for i in range(3)]
    seeds = {
        "rgb.png": _save(px, "PNG"),
        "rgba.png": _save(px.convert("RGBA"), "PNG"),
        "palette.png": _save(px.convert("P", palette=Image.Palette.ADAPTIVE, colors=16), "PNG", transparency=0),
        "gray16.png": _save(Image.fromarray((np.asarray(px.convert("L"), np.uint16) * 257)), "PNG"),
        "la.png": _save(px.convert("LA"), "PNG"),
        "baseline.jpg": _save(px, "JPEG", quality=80),
        "progressive.jpg": _save(px, "JPEG", quality=70, progressive=True),
        "cmyk.jpg": _save(px.convert("CMYK"), "JPEG"),
        "animated.gif": _save(anim[0], "GIF", save_all=True, append_images=anim[1:], duration=40, comment=b"c"),
        "still.gif": _save(anim[0], "GIF"),
        "pages.tif": _save(px, "TIFF", save_all=True, append_images=[_pixels(2)]),
        "lzw.tif": _save(px, "TIFF", compression="tiff_lzw"),
        "lossy.webp": _save(px, "WEBP", quality=60),
        "lossless.webp": _save(px.convert("RGBA"), "WEBP", lossless=True),
        "animated.webp": _save(_pixels(4), "WEBP", save_all=True, append_images=[_pixels(5)], duration=40),
        "rgb.bmp": _save(px, "BMP"),
        "palette.bmp": _save(px.convert("P"), "BMP"),
        "a1111.png": _png_text({"parameters": INFOTEXT}),
        "a1111-ztxt.png": _png_text({"parameters": INFOTEXT}, ztxt=True),
        "a1111-itxt-cjk.png": _png_text({"parameters": "古风少女，" + INFOTEXT}),
        "a1111-exif.jpg": _exif_comment(INFOTEXT),
        "a1111-exif.webp": _exif_comment(INFOTEXT, "WEBP"),
        "a1111-stealth.png": _stealth(INFOTEXT),
        "comfyui.png": _png_text({"prompt": json.dumps(COMFY), "workflow": json.dumps({"nodes": [], "links": []})}),
        "novelai.png": _png_text({"Software": "NovelAI", "Description": "girl", "Comment": json.dumps(NOVELAI),
                                  "Source": "NovelAI Diffusion V4 37442FCA"}),
        "invokeai.png": _png_text({"invokeai_metadata": json.dumps(INVOKE)}),
        "invokeai-dream.png": _png_text({"Dream": '"girl [bad]" -s 50 -S 42 -W 512 -H 768 -C 5 -A k_lms'}),
        "fooocus.png": _png_text({"parameters": json.dumps(FOOOCUS), "fooocus_scheme": "fooocus"}),
        "swarmui.png": _png_text({"parameters": json.dumps(SWARM)}),
        "xmp-label.png": _png_text({"XML:com.adobe.xmp": xmp_packet()}),
        "xmp-label.jpg": _save(px, "JPEG", xmp=xmp_packet().encode()),
    }
    return seeds


def sd_tools_seeds() -> dict[str, bytes]:
    """The real files from ../shared/data/sd-tools (required: CI has shared/ beside the repository)."""
    files = sorted(p for p in SD_TOOLS.rglob("*") if p.is_file() and p.suffix.lower() in (".png", ".jpg", ".webp"))
    if len(files) < 10:
        raise FileNotFoundError(f"sd-tools fixtures expected under {SD_TOOLS}")
    return {f"sd-tools/{p.relative_to(SD_TOOLS)}": p.read_bytes() for p in files}


def all_seeds() -> dict[str, bytes]:
    return {**generated_seeds(), **sd_tools_seeds()}


def fmt_of(data: bytes) -> str:
    sig = {b"\x89PNG": "PNG", b"\xff\xd8": "JPEG", b"GIF8": "GIF", b"II*\0": "TIFF", b"MM\0*": "TIFF", b"BM": "BMP"}
    for head, name in sig.items():
        if data.startswith(head):
            return name
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return "other"


# -- container-aware pieces ---------------------------------------------------------------------------
def png_chunks(data: bytes) -> list[bytes] | None:
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        return None
    out, pos = [], 8
    while pos + 12 <= len(data):
        (n,) = struct.unpack(">I", data[pos:pos + 4])
        out.append(data[pos:pos + 12 + n])
        pos += 12 + n
    return out


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def jpeg_segments(data: bytes) -> list[bytes] | None:
    """SOI, then marker segments up to SOS; the rest (scan data, EOI) as one piece."""
    if not data.startswith(b"\xff\xd8"):
        return None
    out, pos = [data[:2]], 2
    while pos + 4 <= len(data) and data[pos] == 0xFF:
        marker = data[pos + 1]
        (n,) = struct.unpack(">H", data[pos + 2:pos + 4])
        if marker == 0xDA:
            break
        out.append(data[pos:pos + 2 + n])
        pos += 2 + n
    out.append(data[pos:])
    return out


# -- mutation operators ---------------------------------------------------------------------------------
def m_byte_flips(rng: random.Random, d: bytes) -> bytes:
    b = bytearray(d)
    for _ in range(rng.choice([1, 1, 2, 4, 16, 64])):
        b[rng.randrange(len(b))] = rng.randrange(256)
    return bytes(b)


def m_bit_flips(rng: random.Random, d: bytes) -> bytes:
    b = bytearray(d)
    for _ in range(rng.choice([1, 2, 3, 8])):
        b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
    return bytes(b)


def m_truncate(rng: random.Random, d: bytes) -> bytes:
    return d[: rng.randrange(len(d))]


def m_interesting_int(rng: random.Random, d: bytes) -> bytes:
    b = bytearray(d)
    pos = rng.randrange(max(1, len(b) - 4))
    fmt = rng.choice([">I", "<I", ">H", "<H"])
    size = struct.calcsize(fmt)
    b[pos:pos + size] = struct.pack(fmt, rng.choice(INTERESTING_INTS) & ((1 << (8 * size)) - 1))
    return bytes(b)


def m_insert(rng: random.Random, d: bytes) -> bytes:
    pos = rng.randrange(len(d) + 1)
    run = rng.choice([bytes([rng.randrange(256)]) * rng.choice([1, 16, 4096]), rng.randbytes(rng.randrange(1, 64)),
                      d[rng.randrange(len(d)):][:rng.randrange(1, 512)]])
    return d[:pos] + run + d[pos:]


def m_duplicate_slice(rng: random.Random, d: bytes) -> bytes:
    a = rng.randrange(len(d))
    b = min(len(d), a + rng.randrange(1, 2048))
    return d[:b] + d[a:b] * rng.choice([1, 2, 8]) + d[b:]


def m_chunks(rng: random.Random, d: bytes) -> bytes:
    """PNG chunks or JPEG segments: duplicate, drop, swap or repeat one (CRCs stay valid)."""
    parts = png_chunks(d)
    head = b"\x89PNG\r\n\x1a\n" if parts else b""
    if not parts:
        parts = jpeg_segments(d)
        if not parts or len(parts) < 3:
            return m_duplicate_slice(rng, d)
    k = rng.randrange(1 if not head else 0, len(parts))
    op = rng.randrange(4)
    if op == 0:
        parts.insert(k, parts[k])
    elif op == 1 and len(parts) > 2:
        del parts[k]
    elif op == 2:
        j = rng.randrange(len(parts))
        parts[k], parts[j] = parts[j], parts[k]
    else:
        parts[k:k] = [parts[k]] * rng.choice([10, 100])
    return head + b"".join(parts)


def m_header(rng: random.Random, d: bytes) -> bytes:
    """Edit a size / length / count field of the container, keeping checksums valid where checked."""
    v = rng.choice(INTERESTING_INTS + [rng.randrange(1 << 16)])
    b = bytearray(d)
    fmt = fmt_of(d)
    if fmt == "PNG" and len(b) > 33:
        ihdr = bytearray(b[16:29])  # width, height, bit depth, colour type, compression, filter, interlace
        field = rng.randrange(7)
        if field < 2:
            struct.pack_into(">I", ihdr, 4 * field, v & 0xFFFFFFFF)
        else:
            ihdr[6 + field] = v & 0xFF
        return bytes(b[:8]) + png_chunk(b"IHDR", bytes(ihdr)) + bytes(b[33:])
    if fmt == "GIF" and len(b) > 13:
        pos = rng.choice([6, 8, 10])  # logical screen width / height, flags
        if pos == 10:
            b[10] = v & 0xFF
        else:
            struct.pack_into("<H", b, pos, v & 0xFFFF)
        desc = d.find(b"\x2c", 13)
        if desc > 0 and desc + 9 < len(b) and rng.random() < 0.5:
            struct.pack_into("<H", b, desc + 1 + 2 * rng.randrange(4), v & 0xFFFF)
        return bytes(b)
    if fmt == "BMP" and len(b) > 30:
        pos = rng.choice([2, 10, 14, 18, 22, 26, 28, 30, 46])
        struct.pack_into("<I" if pos != 26 and pos != 28 else "<H", b, pos, v & (0xFFFF if pos in (26, 28) else 0xFFFFFFFF))
        return bytes(b)
    if fmt == "TIFF" and len(b) > 16:
        end = "<" if b[:2] == b"II" else ">"
        ifd = struct.unpack_from(end + "I", b, 4)[0]
        if ifd + 2 < len(b):
            n = struct.unpack_from(end + "H", b, ifd)[0]
            if n and ifd + 2 + 12 * n <= len(b):
                at = ifd + 2 + 12 * rng.randrange(n)
                part = rng.randrange(4)  # tag, type, count, value/offset
                fmt_, off = [("H", 0), ("H", 2), ("I", 4), ("I", 8)][part]
                struct.pack_into(end + fmt_, b, at + off, v & (0xFFFF if fmt_ == "H" else 0xFFFFFFFF))
                return bytes(b)
    if fmt == "JPEG":
        sof = next((i for i in range(2, len(b) - 9) if b[i] == 0xFF and b[i + 1] in (0xC0, 0xC1, 0xC2)), -1)
        if sof > 0:
            struct.pack_into(">H", b, sof + 5 + 2 * rng.randrange(2), v & 0xFFFF)
            if rng.random() < 0.3:
                b[sof + 9] = v & 0xFF  # component count
            return bytes(b)
    if fmt == "WEBP" and len(b) > 30:
        pos = rng.choice([4, 16, 21, 24, 26, 28])  # RIFF size, chunk size, VP8L / VP8 / VP8X dims
        struct.pack_into("<H", b, pos, v & 0xFFFF)
        return bytes(b)
    return m_interesting_int(rng, d)


# -- metadata mutations ------------------------------------------------------------------------------------
def mutate_text(rng: random.Random, s: str) -> str:
    for _ in range(rng.choice([1, 2, 4])):
        op = rng.randrange(6)
        pos = rng.randrange(len(s) + 1)
        if op == 0:
            s = s[:pos] + rng.choice(NASTY_TOKENS) + s[pos:]
        elif op == 1:
            s = s[:pos] + rng.choice(NASTY_TOKENS) * rng.choice([10, 300, 1500]) + s[pos:]
        elif op == 2 and s:
            a = rng.randrange(len(s))
            s = s[:a] + s[a + rng.randrange(1, 64):]
        elif op == 3 and s:
            a = rng.randrange(len(s))
            s = s[:pos] + s[a:a + rng.randrange(1, 200)] * rng.choice([1, 3, 50]) + s[pos:]
        elif op == 4:
            depth = rng.choice([100, 1200, 5000])
            s = s[:pos] + "(" * depth + "x" + ")" * rng.choice([0, depth]) + s[pos:]
        else:
            s = s[:pos] + "".join(chr(rng.randrange(1, 0x3000)) for _ in range(rng.randrange(1, 20))) + s[pos:]
    return s


JSON_ODD_VALUES: list[Callable[[random.Random], object]] = [
    lambda r: None, lambda r: float("nan"), lambda r: float("inf"), lambda r: -float("inf"), lambda r: 2 ** 70,
    lambda r: -1, lambda r: "x" * r.choice([0, 1, 70000]), lambda r: [], lambda r: {}, lambda r: [["3", 0]],
    lambda r: ["999", 0], lambda r: ["3", 0], lambda r: True, lambda r: 1.5, lambda r: "1e999",
    lambda r: _deep(r.choice([70, 400])), lambda r: [1] * 1000, lambda r: {"class_type": "KSampler", "inputs": 5},
]


def deep_text(n: int) -> str:
    """JSON nested `n` deep, as text (json.dumps itself cannot write it beyond ~1,000)."""
    return "[" * n + "1" + "]" * n


def _deep(n: int) -> object:
    v: object = 1
    for _ in range(n):
        v = [v]
    return v


def mutate_json(rng: random.Random, obj: object) -> object:
    obj = json.loads(json.dumps(obj))
    for _ in range(rng.choice([1, 2, 5])):
        parent, key, node = None, None, obj
        while isinstance(node, dict | list) and node and rng.random() < 0.75:
            keys = list(node) if isinstance(node, dict) else list(range(len(node)))
            parent, key = node, rng.choice(keys)
            node = node[key]
        value = rng.choice(JSON_ODD_VALUES)(rng)
        if parent is None:
            obj = value if rng.random() < 0.2 else obj
        else:
            parent[key] = value  # type: ignore[index]
    return obj


def _dumps(rng: random.Random, obj: object) -> str:
    if rng.random() < 0.05:
        return '{"a":' + deep_text(rng.choice([200, 3000])) + "}"
    text = json.dumps(obj)  # NaN / Infinity written as JSON's common extension, as tools do
    return mutate_text(rng, text) if rng.random() < 0.25 else text


def m_metadata(rng: random.Random, _d: bytes) -> bytes:
    """A fresh file whose metadata is a mutant of one of the tools' formats."""
    kind = rng.randrange(10)
    if kind == 0:
        return _png_text({"parameters": mutate_text(rng, INFOTEXT)}, ztxt=rng.random() < 0.3)
    if kind == 1:
        return _png_text({"prompt": _dumps(rng, mutate_json(rng, COMFY)), "workflow": _dumps(rng, {"n": [1]})})
    if kind == 2:
        return _png_text({"Software": "NovelAI", "Description": mutate_text(rng, "girl"),
                          "Comment": _dumps(rng, mutate_json(rng, NOVELAI)), "Source": "NovelAI 37442FCA"})
    if kind == 3:
        key, obj = rng.choice([("invokeai_metadata", INVOKE), ("sd-metadata", {"image": INVOKE}),
                               ("generation_data", {"prompt": "x", "baseModel": {"hash": 1}, "models": [{}]}),
                               ("parameters", FOOOCUS), ("parameters", SWARM),
                               ("parameters-json", {"PositivePrompt": "x", "Seed": "1"})])
        extra = {"fooocus_scheme": "fooocus"} if obj is FOOOCUS else {"smproj": "{}"} if key == "parameters-json" else {}
        return _png_text({key: _dumps(rng, mutate_json(rng, obj)), **extra})
    if kind == 4:
        label = mutate_json(rng, LABEL) if rng.random() < 0.7 else deep_text(rng.choice([10, 3000]))
        packet = xmp_packet(label)
        if rng.random() < 0.5:
            packet = mutate_text(rng, packet)
        return _png_text({"XML:com.adobe.xmp": packet}) if rng.random() < 0.5 else \
            _save(_pixels(6), "JPEG", xmp=packet.encode("utf-8", "replace")[:60000])
    if kind == 5:
        exif = Image.Exif()
        comment = rng.choice([5, (1, 2, 3), (70000,), 2.5, b"UNICODE\0\xff\xfe" + mutate_text(rng, "ab").encode(),
                              b"UNICODE\0" + mutate_text(rng, INFOTEXT).encode("utf-16-le"), b"ASCII\0\0\0\xff" * 3,
                              mutate_text(rng, INFOTEXT).encode("utf-8", "replace")])
        exif.get_ifd(0x8769)[0x9286] = comment
        exif[rng.choice([0x010E, 0x010F, 0x0110])] = "prompt:" + _dumps(rng, mutate_json(rng, COMFY))
        return _save(_pixels(7), rng.choice(["JPEG", "WEBP", "PNG"]), exif=exif.tobytes())
    if kind == 6:
        return _stealth(mutate_text(rng, INFOTEXT)[:2000])
    if kind == 7:
        body = zlib.compress(b"\0" * rng.choice([1 << 20, 20 << 20]), 9)
        png = _save(_pixels(8), "PNG")
        chunk = png_chunk(rng.choice([b"zTXt", b"iTXt"]), b"k\0\0" + (b"\0\0\0" if rng.random() < 0.5 else b"") + body)
        return png[:-12] + chunk * rng.choice([1, 3, 40]) + png[-12:]
    if kind == 8:
        return _png_text({"Dream": mutate_text(rng, '"girl [bad]" -s 50 -S 42 -W 512 -C 5 -A k_lms -I x.png')})
    return _png_text({"parameters": json.dumps({"prompt": mutate_text(rng, "a"), "num_inference_steps": "x",
                                                "guidance_scale": rng.choice(["nan", 7, None]),
                                                "use_stable_diffusion_model": ["m"]})})


BINARY_OPS: list[tuple[str, Callable[[random.Random, bytes], bytes]]] = [
    ("byte-flips", m_byte_flips), ("bit-flips", m_bit_flips), ("truncate", m_truncate),
    ("interesting-int", m_interesting_int), ("insert", m_insert), ("duplicate-slice", m_duplicate_slice),
    ("chunks", m_chunks), ("header", m_header),
]


@dataclass
class Case:
    index: int
    seed_name: str
    op: str
    data: bytes

    @property
    def format(self) -> str:
        return fmt_of(self.data) if self.op != "metadata" else f"{fmt_of(self.data)}+metadata"


class Corpus:
    """Deterministic mutants: `corpus.case(i)` is the same bytes on every machine and every run."""

    def __init__(self, master_seed: int = 8, seeds: dict[str, bytes] | None = None) -> None:
        self.master_seed = master_seed
        self.seeds = seeds if seeds is not None else all_seeds()
        self.names = sorted(self.seeds)

    def case(self, i: int) -> Case:
        rng = random.Random(f"inkseal-fuzz:{self.master_seed}:{i}")
        if i < len(self.names):  # the seeds themselves come first, unmutated
            return Case(i, self.names[i], "seed", self.seeds[self.names[i]])
        if rng.random() < 0.2:
            try:
                data = m_metadata(rng, b"")
            except (ValueError, OSError, struct.error):  # Pillow refused to write it (EXIF over 64 KiB...)
                data = _png_text({"parameters": mutate_text(rng, INFOTEXT)})
            return Case(i, "-", "metadata", data)
        name = rng.choice(self.names)
        data = self.seeds[name] or b"\0"
        op_name, op = rng.choice(BINARY_OPS)
        for _ in range(rng.choice([1, 1, 1, 2, 3])):
            data = op(rng, data) or b"\0"
        return Case(i, name, op_name, data)


# -- the harness ------------------------------------------------------------------------------------------------
class Crash(Exception):
    """An outcome outside the contract: a non-inkseal exception or an unwritable result."""


def reason_family(msg: str) -> str:
    """'corrupt image (TypeError): Missing dimensions' -> 'corrupt image (TypeError)': for tallies."""
    return msg.split(":")[0][:60]


def _one_line(msg: str, where: str) -> None:
    if "\n" in msg or not msg.strip():
        raise Crash(f"{where}: message is not one line: {msg!r:.200}")


def run_case(data: bytes) -> dict[str, str]:
    """Feed `data` to every entry point; {entry point: "ok" | "error:<Type>"}, or raise Crash."""
    from inkseal.errors import InksealError
    from inkseal.imaging import load_image
    from inkseal.journal.importers import import_metadata
    from inkseal.journal.metadata import read_metadata
    from inkseal.seal.xmp import parse_xmp

    out: dict[str, str] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Pillow warns about corrupt EXIF; the outcome is what counts
        _run(data, out)
    return out


def _run(data: bytes, out: dict[str, str]) -> None:
    from inkseal.errors import InksealError
    from inkseal.imaging import load_image
    from inkseal.journal.importers import import_metadata
    from inkseal.journal.metadata import read_metadata
    from inkseal.seal.xmp import parse_xmp

    try:
        img = load_image(data)
        out["load_image"] = "ok"
        if img.rgb.ndim != 3 or img.rgb.shape[2] != 3 or min(img.rgb.shape[:2]) < 3:
            raise Crash(f"load_image returned a degenerate array {img.rgb.shape}")
    except InksealError as exc:
        _one_line(str(exc), "load_image")
        out["load_image"] = f"error:{type(exc).__name__}:{reason_family(str(exc))}"
    except Exception as exc:
        raise Crash(f"load_image raised {type(exc).__name__}: {exc}") from exc
    try:
        meta = read_metadata(data)
        gens, problems = import_metadata(meta)
        for p in problems:
            _one_line(p, "import_metadata problem")
            if "RecursionError" in p or "MemoryError" in p:
                raise Crash(f"import_metadata hit {p}")
        stored = [g.as_dict() for g in gens]
        json.dumps(stored, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        out["import_metadata"] = f"ok:{len(gens)}" if not problems else f"ok:{len(gens)}+problems"
        if meta.xmp:
            xmp = parse_xmp(meta.xmp)
            json.dumps(xmp, allow_nan=False)
            out["parse_xmp"] = "error:xmp" if "xmp_error" in xmp else "ok"
    except Crash:
        raise
    except InksealError as exc:
        raise Crash(f"read_metadata / import_metadata raised {type(exc).__name__}: {exc}") from exc
    except Exception as exc:
        raise Crash(f"metadata import raised {type(exc).__name__}: {exc}") from exc


def run_text_case(rng: random.Random) -> str:
    """Text-level entry points: the prompt parser, the infotext parser, XMP / label parsing, load_json."""
    from inkseal.errors import InksealError
    from inkseal.journal.importers.a1111 import parse_infotext
    from inkseal.journal.importers.base import load_json
    from inkseal.journal.prompts import diff_terms, parse_terms
    from inkseal.seal.xmp import parse_xmp

    kind = rng.randrange(4)
    try:
        if kind == 0:
            a = parse_terms(mutate_text(rng, INFOTEXT.split("\n")[0]))
            b = parse_terms(mutate_text(rng, INFOTEXT.split("\n")[0]))
            json.dumps([t.as_dict() for t in a + b], allow_nan=False)
            json.dumps(diff_terms(a, b).as_dict(), allow_nan=False)
            return "prompt:ok"
        if kind == 1:
            parsed = parse_infotext(mutate_text(rng, INFOTEXT))
            return "infotext:ok" if parsed else "infotext:none"
        if kind == 2:
            label = mutate_json(rng, LABEL) if rng.random() < 0.6 else deep_text(rng.choice([5, 2000]))
            packet = xmp_packet(label)
            xmp = parse_xmp(mutate_text(rng, packet) if rng.random() < 0.5 else packet)
            json.dumps(xmp, allow_nan=False)
            return "xmp:error" if "xmp_error" in xmp or "aigc_error" in xmp else "xmp:ok"
        value = load_json(_dumps(rng, mutate_json(rng, COMFY)))
        json.dumps(value, allow_nan=False)
        return "json:ok"
    except InksealError as exc:
        _one_line(str(exc), "text")
        return f"text:error:{type(exc).__name__}"
    except Exception as exc:
        raise Crash(f"text entry point {kind} raised {type(exc).__name__}: {exc}") from exc
