"""Per-item findings from an item's bytes: decode, registry match (with its tier), our watermark (blind),
C2PA training-mining, IPTC `plus:DataMining`, the TC260 implicit label.

`ItemChecker` is built once per Ray worker (it holds the opened registry, indexes and matcher) and called
once per item. Every failure of one item becomes that item's finding, never an exception.
"""

from __future__ import annotations

import hashlib
import io
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image

from inkseal.errors import BadImage, one_line
from inkseal.imaging import LoadedImage, load_image
from inkseal.journal.importers.c2pa_reader import read_manifest_store
from inkseal.platform.labels import read_and_check
from inkseal.journal.metadata import read_metadata
from inkseal.seal.xmp import parse_xmp

TRAINING_LABELS = ("cawg.training-mining", "c2pa.training-mining")
NOT_ALLOWED = {"notallowed", "constrained"}  # "constrained": allowed only on terms, i.e. not freely minable
THUMB_SIDE = 160
WATERMARK_BLIND_MAX_WORKS = 8  # a blind read costs ~30 ms per sealed work per item (768x512): beyond this, only a matched work
_DATA_MINING_ATTR = re.compile(r'plus:DataMining\s*=\s*"([^"]*)"')


@dataclass
class WatermarkKeys:
    """The install's blind key (one read for every work sealed since blind v2) and, per work sealed
    before it, its derived wm/1 key and the sealed frame (height, width); empty when no key was given."""

    keys: dict[int, bytes] = field(default_factory=dict)
    frames: dict[int, tuple[int, int]] = field(default_factory=dict)
    why_not: str = "no watermark key available"  # shown when there is no key at all
    blind_key: bytes | None = None
    sealed: set[int] = field(default_factory=set)  # every sealed work (the blind read must name one of them)


def training_mining(store: dict[str, Any] | None) -> str:
    """The strictest `use` in the active manifest's training-mining assertion ('' when there is none)."""
    if not store:
        return ""
    active = (store.get("manifests") or {}).get(store.get("active_manifest") or "", {})
    uses: list[str] = []
    for a in active.get("assertions") or []:
        if a.get("label") in TRAINING_LABELS:
            entries = (a.get("data") or {}).get("entries") or {}
            uses += [str((v or {}).get("use", "")) for v in entries.values() if isinstance(v, dict)]
    if not uses:
        return ""
    return next((u for u in uses if u.lower() == "notallowed"), None) or \
        next((u for u in uses if u.lower() == "constrained"), None) or uses[0]


def data_mining(xmp: str) -> str:
    if not xmp:
        return ""
    value = str(parse_xmp(xmp).get("data_mining") or "")
    if not value:  # the attribute form (rdf:Description plus:DataMining="...")
        m = _DATA_MINING_ATTR.search(xmp)
        value = m.group(1) if m else ""
    return value


def iptc_prohibits(value: str) -> bool:
    """PLUS DataMining vocabulary: DMI-PROHIBITED*, and DMI-ALLOWED-non-AIMLTRAINING, forbid AI training."""
    v = value.rsplit("/", 1)[-1].upper()
    return v.startswith("DMI-PROHIBITED") or v == "DMI-ALLOWED-NON-AIMLTRAINING"


def thumbnail(rgb: np.ndarray) -> bytes:
    im = Image.fromarray(rgb)
    im.thumbnail((THUMB_SIDE, THUMB_SIDE))
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=80)
    return buf.getvalue()


class ItemChecker:
    def __init__(self, matcher: Any | None, watermark_keys: WatermarkKeys, *, max_pixels: int) -> None:
        self.matcher = matcher  # None: no registry (then "registry: not checked")
        self.wm = watermark_keys
        self.max_pixels = max_pixels

    def check(self, data: bytes) -> dict[str, Any]:
        row: dict[str, Any] = {"sha256": hashlib.sha256(data).hexdigest(), "size_bytes": len(data)}
        try:
            image = load_image(data, max_pixels=self.max_pixels)
        except BadImage as exc:
            row.update(error_kind="undecodable", error=str(exc)[:300])
            return row
        row.update(width=image.width, height=image.height, format=image.format)
        meta = read_metadata(data)
        row.update(self._c2pa(data, image.format, meta.has_c2pa))
        xmp = meta.xmp or meta.texts.get("XML:com.adobe.xmp", "")
        row["iptc_data_mining"] = data_mining(xmp)
        # the label as `inkseal check` reads it: only a valid one counts; what is wrong or unverified is noted
        labels = read_and_check(meta, None, [])
        row["tc260_label"] = next((str(c["label"].get("Label", "")) for c in labels.valid), "")
        row["tc260_producer"] = next((str(c["label"].get("ContentProducer", "")) for c in labels.valid), "")
        row["tc260_notes"] = "; ".join(f["en"] for f in labels.findings)[:500]
        row.update(self._registry(image))
        row.update(self._watermark(image, row.get("registry_work_id")))
        return row

    def _c2pa(self, data: bytes, fmt: str, has_c2pa: bool) -> dict[str, Any]:
        if not has_c2pa:
            return {"c2pa": False, "c2pa_training_mining": ""}
        try:
            store = read_manifest_store(data, fmt)
        except Exception as exc:  # noqa: BLE001 - a damaged manifest: said, the item is still checked
            return {"c2pa": True, "c2pa_training_mining": "", "c2pa_error": one_line(exc)[:200]}
        return {"c2pa": store is not None, "c2pa_training_mining": training_mining(store)}

    def _registry(self, image: LoadedImage) -> dict[str, Any]:
        if self.matcher is None:
            return {"registry_checked": False}
        verdicts = self.matcher.match(image, localise_matches=False)
        if not verdicts:
            return {"registry_checked": True, "registry_tier": ""}
        best = verdicts[0]
        return {"registry_checked": True, "registry_tier": best.tier or "", "registry_work_id": best.work_id,
                "registry_file_id": best.file_id, "registry_score": round(float(best.score), 2),
                "thumb": thumbnail(image.rgb)}

    def _watermark(self, image: LoadedImage, matched_work: int | None) -> dict[str, Any]:
        from inkseal.seal import watermark

        from inkseal.seal import blindmark

        if not self.wm.keys and self.wm.blind_key is None:
            return {"watermark": "not checked", "watermark_note": self.wm.why_not}
        fpp_blind = None
        if self.wm.blind_key is not None:  # one read, whatever the number of works
            result, ident = blindmark.find(image.rgb, {"install": self.wm.blind_key})
            if ident is not None and ident.work_id in self.wm.sealed:
                return {"watermark": "detected", "watermark_work_id": ident.work_id,
                        "watermark_fpp": ident.false_positive_probability}
            fpp_blind = 1.0
        if not self.wm.keys:  # no work sealed before blind v2
            return {"watermark": "absent", "watermark_fpp": fpp_blind}
        works = list(self.wm.keys)
        if len(works) > WATERMARK_BLIND_MAX_WORKS:
            if matched_work not in self.wm.keys:
                return {"watermark": "not checked",
                        "watermark_note": f"over {WATERMARK_BLIND_MAX_WORKS} sealed works: read only for a matched work"}
            works = [matched_work]

        def frame(work_id: int) -> tuple[int, int] | None:
            fh, fw = self.wm.frames.get(work_id, (0, 0))
            same_shape = fh and fw and abs(image.width / image.height - fw / fh) < 0.02
            return (fh, fw) if same_shape else None

        tries = [(w, watermark.detect_blind(image.rgb, self.wm.keys[w], [w], frame=frame(w))) for w in works]
        work_id, best = min(tries, key=lambda t: t[1].false_positive_probability)
        fpp = min(1.0, best.false_positive_probability * len(tries))  # every work tried pays (Bonferroni)
        if fpp <= 1e-6:
            return {"watermark": "detected", "watermark_work_id": work_id, "watermark_fpp": fpp}
        return {"watermark": "absent", "watermark_fpp": fpp}
