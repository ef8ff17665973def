"""Plain text values out of any XMP packet: `{"dc:description": ..., "xmp:CreatorTool": ...}`.

Midjourney, Draw Things, Krea and the GB 45438 label all put what they say in ordinary XMP
properties (a simple value, an attribute, or the first item of an rdf:Alt / Seq / Bag). The packet
is read with the same care as `inkseal.seal.xmp.parse_xmp`: bounded size, no DTD (so no entity
expansion), never an exception.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from inkseal.errors import one_line

MAX_XMP_CHARS = 4 * 1024 * 1024
PREFIXES = {
    "http://purl.org/dc/elements/1.1/": "dc",
    "http://ns.adobe.com/xap/1.0/": "xmp",
    "http://ns.adobe.com/exif/1.0/": "exif",
    "http://ns.adobe.com/tiff/1.0/": "tiff",
    "http://ns.adobe.com/photoshop/1.0/": "photoshop",
    "http://iptc.org/std/Iptc4xmpExt/2008-02-29/": "Iptc4xmpExt",
    "http://iptc.org/std/Iptc4xmpCore/1.0/xmlns/": "Iptc4xmpCore",
    "http://www.tc260.org.cn/ns/AIGC/1.0/": "TC260",
    "http://ns.adobe.com/xap/1.0/mm/": "xmpMM",
}
RDF = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}"


def _name(tag: str) -> str:
    if tag.startswith("{"):
        ns, _, local = tag[1:].partition("}")
        return f"{PREFIXES.get(ns, ns.rstrip('/#').rsplit('/', 1)[-1])}:{local}"
    return tag


def xmp_values(xmp: str) -> tuple[dict[str, str], str | None]:
    """(property -> text, problem or None). Only the first value of a list property is kept."""
    start, end = xmp.find("<x:xmpmeta"), xmp.rfind("</x:xmpmeta>")
    if start < 0 or end < start:
        return {}, None
    packet = xmp[start:end + len("</x:xmpmeta>")]
    if len(packet) > MAX_XMP_CHARS:
        return {}, f"XMP packet larger than {MAX_XMP_CHARS >> 20} MiB: not read"
    if "<!DOCTYPE" in packet or "<!ENTITY" in packet:
        return {}, "XMP packet declares a DTD or entities: refused"
    try:
        root = ET.fromstring(packet)
    except ET.ParseError as exc:
        return {}, f"XMP packet is not well-formed XML: {one_line(exc)}"
    except RecursionError:
        return {}, "XMP packet nested too deeply to read"
    out: dict[str, str] = {}
    for desc in root.iter(f"{RDF}Description"):
        for key, value in desc.attrib.items():
            if not key.startswith(RDF):
                out.setdefault(_name(key), value)
        for prop in desc:
            name = _name(prop.tag)
            items = [li.text for li in prop.iter(f"{RDF}li") if li.text and li.text.strip()]
            text = items[0] if items else (prop.text or "").strip() or prop.attrib.get(f"{RDF}resource", "")
            if text:
                out.setdefault(name, text)
    return out, None
