"""Implicit AI label and rights in XMP: GB 45438-2025 (TC260 practice), IPTC, PLUS, Dublin Core.

    <TC260:AIGC>{"Label": "1", "ContentProducer": ..., "ProduceID": ..., "ReservedCode1": ...,
                 "ContentPropagator": "", "PropagateID": "", "ReservedCode2": ""}</TC260:AIGC>
    Iptc4xmpExt:DigitalSourceType = .../trainedAlgorithmicMedia
    plus:DataMining               = .../DMI-PROHIBITED-AIMLTRAINING (configurable)
    dc:creator, dc:rights, xmpRights:Marked

Built with ElementTree so every value is escaped correctly; one packet per file, as the standard
asks (one implicit label per file). Written into PNG (iTXt XML:com.adobe.xmp), JPEG (APP1) and WebP
(XMP chunk) through Pillow, before any C2PA manifest is added.
"""

from __future__ import annotations

import io
import json
import re
import xml.etree.ElementTree as ET
from xml.sax.saxutils import escape, quoteattr
from dataclasses import dataclass, field

from PIL import Image, PngImagePlugin

from inkseal.errors import MetadataError, one_line
from inkseal.safejson import loads_limited

NS = {
    "x": "adobe:ns:meta/",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "TC260": "http://www.tc260.org.cn/ns/AIGC/1.0/",
    "Iptc4xmpExt": "http://iptc.org/std/Iptc4xmpExt/2008-02-29/",
    "plus": "http://ns.useplus.org/ldf/xmp/1.0/",
    "dc": "http://purl.org/dc/elements/1.1/",
    "xmpRights": "http://ns.adobe.com/xap/1.0/rights/",
}
TRAINED_ALGORITHMIC_MEDIA = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
DMI_PROHIBITED = "http://ns.useplus.org/ldf/vocab/DMI-PROHIBITED-AIMLTRAINING"
AIGC_KEYS = ("Label", "ContentProducer", "ProduceID", "ReservedCode1", "ContentPropagator", "PropagateID",
             "ReservedCode2")
for _p, _u in NS.items():
    ET.register_namespace(_p, _u)


@dataclass
class AIGCLabel:
    label: str = "1"  # 1 = AI-generated, 2 = possibly, 3 = suspected
    content_producer: str = ""
    produce_id: str = ""
    reserved_code1: str = ""  # the producer's integrity data (our signature over the content binding)
    content_propagator: str = ""
    propagate_id: str = ""
    reserved_code2: str = ""

    def as_json(self) -> dict[str, str]:
        return dict(zip(AIGC_KEYS, (self.label, self.content_producer, self.produce_id, self.reserved_code1,
                                    self.content_propagator, self.propagate_id, self.reserved_code2), strict=True))


@dataclass
class RightsMetadata:
    aigc: AIGCLabel
    creator: str
    rights: str
    data_mining: str = DMI_PROHIBITED
    digital_source_type: str = TRAINED_ALGORITHMIC_MEDIA
    extra: dict[str, str] = field(default_factory=dict)


def build_xmp(meta: RightsMetadata) -> bytes:
    q = lambda p, n: f"{{{NS[p]}}}{n}"  # noqa: E731
    root = ET.Element(q("x", "xmpmeta"))
    rdf = ET.SubElement(root, q("rdf", "RDF"))
    desc = ET.SubElement(rdf, q("rdf", "Description"), {q("rdf", "about"): ""})
    ET.SubElement(desc, q("TC260", "AIGC")).text = json.dumps(meta.aigc.as_json(), ensure_ascii=False,
                                                              separators=(",", ":"))
    ET.SubElement(desc, q("Iptc4xmpExt", "DigitalSourceType")).text = meta.digital_source_type
    ET.SubElement(desc, q("plus", "DataMining")).text = meta.data_mining
    seq = ET.SubElement(ET.SubElement(desc, q("dc", "creator")), q("rdf", "Seq"))
    ET.SubElement(seq, q("rdf", "li")).text = meta.creator
    alt = ET.SubElement(ET.SubElement(desc, q("dc", "rights")), q("rdf", "Alt"))
    ET.SubElement(alt, q("rdf", "li"), {"{http://www.w3.org/XML/1998/namespace}lang": "x-default"}).text = meta.rights
    ET.SubElement(desc, q("xmpRights", "Marked")).text = "True"
    body = ET.tostring(root, encoding="unicode")
    packet = f'<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n{body}\n<?xpacket end="w"?>'
    return packet.encode("utf-8")


MAX_XMP_CHARS = 4 * 1024 * 1024  # JPEG's APP1 holds 64 KiB; real packets with thumbnails stay under 1 MiB


def parse_xmp(xmp: bytes | str) -> dict[str, object]:
    """Read the fields we care about from any XMP packet (ours or another tool's).

    Total: a packet that is too large, not well-formed, or declares a DTD gives {"xmp_error": reason}
    (plus nothing else) instead of an exception."""
    text = xmp.decode("utf-8", "replace") if isinstance(xmp, bytes) else str(xmp)
    start, end = text.find("<x:xmpmeta"), text.rfind("</x:xmpmeta>")
    if start < 0 or end < 0 or end < start:
        return {}
    packet = text[start:end + len("</x:xmpmeta>")]
    if len(packet) > MAX_XMP_CHARS:
        return {"xmp_error": f"XMP packet larger than {MAX_XMP_CHARS >> 20} MiB: not read"}
    # XMP never uses a DTD; refusing one rules out entity expansion (billion laughs) without a
    # second XML library (defusedxml would do the same for this one check).
    if "<!DOCTYPE" in packet or "<!ENTITY" in packet:
        return {"xmp_error": "XMP packet declares a DTD or entities: refused"}
    try:
        root = ET.fromstring(packet)
    except ET.ParseError as exc:
        return {"xmp_error": f"XMP packet is not well-formed XML: {one_line(exc)}"}
    try:
        return _read_fields(root)
    except RecursionError:
        return {"xmp_error": "XMP packet nested too deeply to read"}


def _read_fields(root: ET.Element) -> dict[str, object]:
    out: dict[str, object] = {}

    def find(prefix: str, name: str) -> ET.Element | None:
        return root.find(f".//{{{NS[prefix]}}}{name}")

    aigc = find("TC260", "AIGC")
    if aigc is None:  # also accept the attribute form rdf:Description TC260:AIGC="..."
        for d in root.iter(f"{{{NS['rdf']}}}Description"):
            if f"{{{NS['TC260']}}}AIGC" in d.attrib:
                out["aigc_raw"] = d.attrib[f"{{{NS['TC260']}}}AIGC"]
    elif aigc.text:
        out["aigc_raw"] = aigc.text
    if "aigc_raw" in out:
        try:
            label = loads_limited(str(out["aigc_raw"]), max_depth=4, what="TC260:AIGC")
        except MetadataError as exc:  # not JSON, or nested deeper than a flat label ever is
            out["aigc_error"] = str(exc)
        else:
            if isinstance(label, dict):
                out["aigc"] = label
            else:
                out["aigc_error"] = "TC260:AIGC is not a JSON object"
    for key, (p, n) in {"digital_source_type": ("Iptc4xmpExt", "DigitalSourceType"),
                        "data_mining": ("plus", "DataMining"), "marked": ("xmpRights", "Marked")}.items():
        el = find(p, n)
        if el is not None and el.text:
            out[key] = el.text.strip()
    creators = [li.text for li in root.findall(f".//{{{NS['dc']}}}creator//{{{NS['rdf']}}}li") if li.text]
    rights = [li.text for li in root.findall(f".//{{{NS['dc']}}}rights//{{{NS['rdf']}}}li") if li.text]
    if creators:
        out["creator"] = creators
    if rights:
        out["rights"] = rights[0]
    return out


def encode(image: Image.Image, fmt: str, quality: int = 92) -> bytes:
    """Encode once; `insert_xmp` then adds the packet without touching the compressed pixels."""
    buf = io.BytesIO()
    fmt = fmt.upper()
    if fmt == "PNG":
        image.save(buf, "PNG")
    elif fmt in ("JPEG", "JPG"):
        image.convert("RGB").save(buf, "JPEG", quality=quality)
    elif fmt == "WEBP":
        image.save(buf, "WEBP", lossless=True)  # lossless: the pixels we sign are the pixels decoded
    else:
        raise ValueError(f"sealing writes PNG, JPEG or WebP, not {fmt}")
    return buf.getvalue()


def insert_xmp(data: bytes, fmt: str, xmp: bytes) -> bytes:
    """Add an XMP packet to already-encoded bytes; the decoded pixels stay exactly the same."""
    fmt = fmt.upper()
    if fmt in ("JPEG", "JPG"):
        payload = b"http://ns.adobe.com/xap/1.0/\x00" + xmp
        if len(payload) + 2 > 0xFFFF:
            raise ValueError("XMP packet too large for one JPEG APP1 segment")
        segment = b"\xff\xe1" + (len(payload) + 2).to_bytes(2, "big") + payload
        pos = 2
        while data[pos:pos + 2] in (b"\xff\xe0",):  # keep JFIF APP0 first
            pos += 2 + int.from_bytes(data[pos + 2:pos + 4], "big")
        return data[:pos] + segment + data[pos:]
    im = Image.open(io.BytesIO(data))
    buf = io.BytesIO()
    if fmt == "PNG":
        info = PngImagePlugin.PngInfo()
        info.add_itxt("XML:com.adobe.xmp", xmp.decode("utf-8"), zip=False)
        im.save(buf, "PNG", pnginfo=info)
    else:
        im.save(buf, "WEBP", lossless=True, xmp=xmp)
    return buf.getvalue()


def write_xmp(image: Image.Image, fmt: str, xmp: bytes, quality: int = 92) -> bytes:
    """Encode `image` as PNG / JPEG / WEBP with `xmp` embedded; returns the file bytes."""
    return insert_xmp(encode(image, fmt, quality), fmt, xmp)


def read_xmp_bytes(data: bytes) -> bytes | None:
    im = Image.open(io.BytesIO(data))
    x = im.info.get("xmp") or im.info.get("XML:com.adobe.xmp")
    if x is None:
        return None
    return x if isinstance(x, bytes) else str(x).encode("utf-8")


def replace_aigc(packet: str, label: dict[str, str]) -> str:
    """`packet` with its TC260:AIGC value (element or attribute form) set to `label`, every other byte kept.

    A text edit on purpose: rebuilding the packet through ElementTree would drop comments, padding,
    namespace prefixes and fields we do not model. The result is re-parsed: the edit counts only when
    the XML parser then reads exactly the new label."""
    parsed = parse_xmp(packet)
    if "aigc_raw" not in parsed:
        raise MetadataError("the XMP packet has no TC260:AIGC value to update")
    prefixes = {m.group(1) for m in re.finditer(r'xmlns:([\w.-]+)\s*=\s*["\']' + re.escape(NS["TC260"]) + r'["\']', packet)}
    value = json.dumps(label, ensure_ascii=False, separators=(",", ":"))
    for prefix in prefixes:
        p = re.escape(prefix)
        element = re.compile(rf"(<{p}:AIGC(?:\s[^>]*)?>)(.*?)(</{p}:AIGC>)", re.S)
        attribute = re.compile(rf"(\s{p}:AIGC\s*=\s*)(\"[^\"]*\"|'[^']*')")
        for rx, new in ((element, escape(value)), (attribute, quoteattr(value))):
            m = rx.search(packet)
            if m is None:
                continue
            edited = packet[:m.start(2)] + new + packet[m.end(2):]
            if parse_xmp(edited).get("aigc") == label:  # the parser now reads the new label: the right value was edited
                return edited
    raise MetadataError("could not locate the TC260:AIGC value in the XMP packet to update it")
