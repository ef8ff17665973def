"""inkseal's own keyed watermark as a detector signal for `check --watermark` (the suspected tier).

Each sealed work has its own key, derived from the creator's master key, so only an install that holds
the keys (the creator's, or a platform the creator gave them to) can look for it. This is the blind
detector `inspect` uses, without the matcher: every sealed work's key is tried and the best one pays
for the others tried (Bonferroni), so the false-positive probability stated is the whole search's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from inkseal.seal import watermark

if TYPE_CHECKING:
    from inkseal.app import Inkseal


def detector(app: Inkseal) -> Callable[[np.ndarray], dict[str, Any]] | None:
    """A function from pixels to the best detection, or None when this install has nothing to look for."""
    sealed = {w.id: f for w in app.works() for f in w.files if (f.regions or {}).get("watermark")}
    if not sealed or not app.keys.watermark_path.exists() or app.keys.watermark_locked():
        return None
    keys = {work_id: app.keys.watermark_key_for(work_id) for work_id in sealed}

    def detect(rgb: np.ndarray) -> dict[str, Any]:
        tries = []
        for work_id, f in sealed.items():
            # a copy with the sealed file's shape is read on the sealed frame (undoes a plain resize)
            same_shape = f.width and f.height and abs(rgb.shape[1] / rgb.shape[0] - f.width / f.height) < 0.02
            tries.append(watermark.detect_blind(rgb, keys[work_id], [work_id],
                                                frame=(f.height, f.width) if same_shape else None))
        best = min(tries, key=lambda d: d.false_positive_probability)
        best.false_positive_probability = min(1.0, best.false_positive_probability * len(tries))
        return best.as_dict()

    return detect
