"""A platform adds its propagation data (ContentPropagator, PropagateID) to a file's implicit label.

Only the carriers the file already has are filled, each keeping its own other values; the pixels and
every other chunk or segment stay byte-identical (`seal.carriers` splices bytes, never re-encodes).
A C2PA manifest is kept as it is, but any change to the bytes breaks its hard binding: the report says
so, since only the platform's own manifest (with this file as ingredient) can carry the chain on.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from inkseal.errors import BadImage, MetadataError
from inkseal.imaging import load_image
from inkseal.journal.metadata import read_metadata
from inkseal.platform.labels import MAX_OTHER, label_carriers
from inkseal.seal.carriers import CarrierError, write_carriers
from inkseal.seal.xmp import replace_aigc


class PropagateError(BadImage):
    """The label cannot be propagated: one line, nothing written."""


@dataclass
class Propagated:
    data: bytes
    carriers: list[str]
    notes: list[str] = field(default_factory=list)


def propagate(data: bytes, platform: str, propagate_id: str, *, max_pixels: int = 64_000_000) -> Propagated:
    for name, value in (("platform", platform), ("PropagateID", propagate_id)):
        if not value.strip() or len(value) > MAX_OTHER or any(ord(ch) < 32 for ch in value):
            raise PropagateError(f"{name} must be 1-{MAX_OTHER} printable characters / {name} 须为 1-{MAX_OTHER} 个可打印字符")
    image = load_image(data, max_pixels=max_pixels)
    if image.format not in ("PNG", "JPEG", "WEBP"):
        raise PropagateError(f"propagation is written into PNG, JPEG or WebP, not {image.format} "
                             f"/ 仅支持 PNG、JPEG、WebP")
    meta = read_metadata(data)
    found = label_carriers(meta)
    broken = [x["carrier"] for x in found if "label" not in x]
    if broken:
        raise PropagateError(f"implicit label malformed in {', '.join(broken)}: not propagated; the producer must fix "
                             f"it / {', '.join(broken)} 中的隐式标识格式错误，未写入传播信息")
    if not found:
        raise PropagateError("no implicit label to propagate (XMP, EXIF UserComment or PNG text) / 文件没有隐式标识")
    fill = {"ContentPropagator": platform, "PropagateID": propagate_id}
    notes = []
    earlier = {(str(x["label"].get("ContentPropagator") or ""), str(x["label"].get("PropagateID") or ""))
               for x in found} - {("", ""), (platform, propagate_id)}
    for who, pid in sorted(earlier):  # the label has one propagator slot: say whose data it held
        notes.append(f"replaced earlier propagation data ContentPropagator {who!r}, PropagateID {pid!r} / "
                     f"已替换此前的传播信息 {who!r} / {pid!r}")
    xmp = label = None
    exif_wrapped, carriers = True, []
    for item in found:
        new = {**item["label"], **fill}
        if item["carrier"].startswith("XMP"):
            try:
                xmp = replace_aigc(meta.xmp, new).encode("utf-8")
            except MetadataError as exc:
                raise PropagateError(f"XMP: {exc}") from None
        elif "EXIF UserComment" in item["carrier"]:
            label = new
            exif_wrapped = '"AIGC"' in meta.texts.get("parameters", "")[:64]
        elif image.format == "PNG" and "'AIGC'" in item["carrier"]:
            label = new
        else:  # e.g. a PNG chunk named 'TC260:AIGC', or a label in a PNG's eXIf chunk
            raise PropagateError(f"{item['carrier']}: writing propagation data there is not supported; nothing "
                                 f"written / 不支持在 {item['carrier']} 中写入传播信息，未写出文件")
        carriers.append(item["carrier"])
    # `label` feeds the PNG text chunk or the EXIF comment: a PNG's label here is its text chunk, a
    # JPEG's / WebP's its EXIF comment
    png_text = any("PNG" in c and not c.startswith("XMP") for c in carriers)
    exif = any("EXIF UserComment" in c for c in carriers)
    try:
        out = write_carriers(data, image.format, xmp=xmp, label=label, exif_wrapped=exif_wrapped,
                             png_text=png_text, exif=exif)
    except CarrierError as exc:
        raise PropagateError(str(exc)) from None
    if meta.has_c2pa:
        notes.append("the C2PA manifest is kept but no longer matches the changed bytes: add the platform's own "
                     "manifest with this file as ingredient / C2PA 凭证已保留，但因字节改动不再匹配，请由平台签发以本文件为素材的新凭证")
    if exif:
        notes.append("EXIF was re-serialised to change UserComment: its other tags keep their values, not "
                     "necessarily their byte layout / 为修改 UserComment 重写了 EXIF：其他标签值不变，字节布局可能不同")
    return Propagated(out, carriers, notes)
