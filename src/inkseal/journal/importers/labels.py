"""GB 45438-2025 implicit labels, in each of the three carriers platforms use.

- XMP: `TC260:AIGC` holding the JSON object (element or attribute form);
- EXIF UserComment: the same JSON, either bare (`{"Label": ...}`) or under an `AIGC` key;
- PNG text: a chunk named `AIGC` (some platforms: `TC260:AIGC`) holding the JSON.

Labels are recorded with the generation they came with, so that the journal says which service
declared the picture AI-generated and under which ProduceID.
"""

from __future__ import annotations

from typing import Any

from inkseal.journal.importers.base import Generation
from inkseal.journal.metadata import RawMetadata
from inkseal.safejson import loads_limited

LABEL_KEYS = ("Label", "ContentProducer", "ProduceID", "ReservedCode1", "ContentPropagator", "PropagateID",
              "ReservedCode2")


def _label(value: Any) -> dict[str, Any] | None:
    if isinstance(value, str):
        text = value.strip().strip("\0")
        if not text.startswith("{") or len(text) > 65_536:
            return None
        try:
            value = loads_limited(text, max_depth=4, what="AIGC label")
        except ValueError:
            return None
    if isinstance(value, dict) and isinstance(value.get("AIGC"), dict | str):
        return _label(value["AIGC"])
    if isinstance(value, dict) and "Label" in value and ("ContentProducer" in value or "ProduceID" in value):
        return {k: value[k] for k in value if isinstance(k, str)}
    return None


def implicit_labels(meta: RawMetadata) -> list[dict[str, Any]]:
    out = []
    # by namespace, not prefix: an XMP writer may bind the TC260 namespace to any prefix
    if meta.xmp and ("TC260" in meta.xmp or "tc260.org.cn/ns/aigc" in meta.xmp.lower()):
        from inkseal.seal.xmp import parse_xmp

        parsed = parse_xmp(meta.xmp)
        if isinstance(parsed.get("aigc"), dict):
            out.append({"carrier": "XMP TC260:AIGC", "label": parsed["aigc"]})
        elif parsed.get("aigc_error"):
            out.append({"carrier": "XMP TC260:AIGC", "error": str(parsed["aigc_error"])})
    for key in ("AIGC", "TC260:AIGC", "aigc"):
        if key in meta.texts:
            found = _label(meta.texts[key])
            carrier = meta.where.get(key, f"text '{key}'")
            out.append({"carrier": carrier, "label": found} if found else
                       {"carrier": carrier, "error": "AIGC text is not a GB 45438 label (JSON with Label, ContentProducer)"})
    comment = meta.texts.get("parameters")
    if comment and "EXIF UserComment" in meta.where.get("parameters", ""):
        found = _label(comment)
        if found:
            out.append({"carrier": "EXIF UserComment", "label": found})
        elif comment.lstrip().startswith("{") and ("AIGC" in comment or '"Label"' in comment):
            # looks like a label but is not one: a broken label is a finding, never silently nothing
            out.append({"carrier": "EXIF UserComment",
                        "error": "EXIF UserComment looks like an AIGC label but is not valid GB 45438 JSON"})
    return out


def import_label_only(meta: RawMetadata) -> list[Generation]:
    """A file whose only generation record is the label (Doubao, Kling, Hunyuan ... exports)."""
    labels = [x for x in implicit_labels(meta) if "label" in x]
    if not labels:
        return []
    producer = labels[0]["label"].get("ContentProducer")
    g = Generation(tool=f"AIGC label ({producer})" if producer else "AIGC label", where=labels[0]["carrier"],
                   source_key="aigc-label")
    g.extra = {"implicit_labels": labels}
    return [g]
