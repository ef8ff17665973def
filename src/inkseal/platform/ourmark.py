"""inkseal's own invisible marks as a detector signal for `check --watermark` (the suspected tier).

Only an install that holds the creator's keys (the creator's own, or a platform the creator gave them
to) can look. Two marks, newest first:
    blind v2   one read for every work under the install's blind key (seal/blindmark.py): the message's
               MAC names the work; the false-positive bound counts the messages checked, not the works.
    wm/1       works sealed before blind v2 carry only the per-work mark: each such work's key is tried
               on the sealed frame and the best one pays for the others tried (Bonferroni).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from inkseal.seal import blindmark, watermark
from inkseal.seal.marks import carries_blind_mark

if TYPE_CHECKING:
    from inkseal.app import Inkseal


def detector(app: Inkseal) -> Callable[[np.ndarray], dict[str, Any]] | None:
    """A function from pixels to the best detection, or None when this install has nothing to look for."""
    sealed = {w.id: f for w in app.works() for f in w.files if (f.regions or {}).get("watermark")}
    if not sealed or not app.keys.watermark_path.exists() or app.keys.watermark_locked():
        return None
    blind_keys = {"install": app.keys.blind_key()}
    legacy = {w: f for w, f in sealed.items() if not carries_blind_mark(f.regions)}
    legacy_keys = {work_id: app.keys.watermark_key_for(work_id) for work_id in legacy}

    def detect(rgb: np.ndarray) -> dict[str, Any]:
        result, ident = blindmark.find(rgb, blind_keys)
        if ident is not None and ident.work_id in sealed:
            return {"mode": "blind v2", "work_id": ident.work_id, "detected": True, "mac_bits": blindmark.MAC_BITS,
                    "agreement": f"64-bit message, its {blindmark.MAC_BITS}-bit MAC holds",
                    "false_positive_probability": ident.false_positive_probability, "region": result.region}
        if not legacy_keys:
            return {"mode": "blind v2", "work_id": None, "detected": False, "agreement": "-",
                    "false_positive_probability": 1.0, "reason": result.reason}
        tries = []
        for work_id, f in legacy.items():
            # a copy with the sealed file's shape is read on the sealed frame (undoes a plain resize)
            same_shape = f.width and f.height and abs(rgb.shape[1] / rgb.shape[0] - f.width / f.height) < 0.02
            tries.append(watermark.detect_blind(rgb, legacy_keys[work_id], [work_id],
                                                frame=(f.height, f.width) if same_shape else None))
        best = min(tries, key=lambda d: d.false_positive_probability)
        best.false_positive_probability = min(1.0, best.false_positive_probability * len(tries))
        return best.as_dict()

    return detect
