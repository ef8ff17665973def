"""The invisible marks a seal adds, and their shared quality budget.

Two layers, both in the pixels:
    blind v2 (`blindmark.py`)   a tiled mark read without the original, after crops, scaling and
                                screenshots; its 64-bit message names the work under the creator's
                                blind key, and is the manifest's C2PA soft-binding value.
    inkseal-wm/1 (`watermark.py`) keyed per work: read with the registered original (informed mode),
                                its key can go into an evidence pack without exposing other works.
The blind layer takes most of the budget (it must survive on its own); the per-work layer needs
little, because informed detection subtracts the original. Together they stay >= 42 dB PSNR:
10*log10(1 / (10^-4.34 + 10^-4.80)) = 42.2 dB before rounding.
"""

from __future__ import annotations

import numpy as np

from inkseal.seal import blindmark, watermark

BLIND_PSNR = 43.4
WORK_PSNR = 48.0
FLOOR_PSNR = 42.1  # before rounding; what a file keeps after rounding and clipping is measured in the benchmark


def carries_blind_mark(regions: dict | None) -> bool:
    """Whether a sealed file (by its registered regions) carries the blind mark; seals before it do not,
    and are read with their per-work wm/1 key instead."""
    return bool(((regions or {}).get("watermark") or {}).get("blind"))


def add_marks(rgb: np.ndarray, work_key: bytes, blind_key: bytes, work_id: int) -> np.ndarray:
    """Both invisible layers on `rgb` (uint8 RGB), added in float and rounded once."""
    delta = (blindmark.mark_field(rgb, blindmark.message(blind_key, work_id), BLIND_PSNR)
             + watermark.mark_field(rgb, work_key, work_id, WORK_PSNR))
    mse = float(np.mean(delta * delta))
    floor_mse = 255.0 ** 2 / 10 ** (FLOOR_PSNR / 10)
    if mse > floor_mse:  # both layers are texture-weighted, so they overlap a little: scaled down together
        delta *= np.sqrt(floor_mse / mse)
    return np.clip(np.rint(rgb.astype(np.float32) + delta), 0, 255).astype(np.uint8)
