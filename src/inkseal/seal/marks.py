"""The invisible marks a seal adds, and their shared quality budget.

Two layers, both in the pixels:
    blind v2 (`blindmark.py`)   a tiled mark read without the original, after crops, scaling and
                                screenshots; its 64-bit message names the work under the creator's
                                blind key, and is the manifest's C2PA soft-binding value.
    inkseal-wm/1 (`watermark.py`) keyed per work: read with the registered original (informed mode),
                                its key can go into an evidence pack without exposing other works.
The blind layer takes most of the budget (it must survive on its own); the per-work layer needs
little, because informed detection subtracts the original. Together they stay >= 42 dB PSNR:
10*log10(1 / (10^-4.32 + 10^-4.95)) = 42.3 dB before rounding.
"""

from __future__ import annotations

import numpy as np

from inkseal.seal import blindmark, watermark

BLIND_PSNR = 43.2
WORK_PSNR = 49.5


def add_marks(rgb: np.ndarray, work_key: bytes, blind_key: bytes, work_id: int) -> np.ndarray:
    """Both invisible layers on `rgb` (uint8 RGB): the blind mark first, the per-work mark on top."""
    marked = blindmark.embed(rgb, blind_key, work_id, psnr=BLIND_PSNR)
    return watermark.embed(marked, work_key, work_id, psnr=WORK_PSNR)
