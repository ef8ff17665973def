"""Stable Diffusion's own invisible marks, read with invisible-watermark's dwtDct decoder.

    SD 1.x  bytes "StableDiffusionV1" (136 bits)     SD 2.x  "SDV2" (32 bits)
    SDXL    48 bits 0xB3EC907BB19E (not embedded below 256 px wide)
Verdicts follow Stability's detection script (matching bits of 48: <= 27 none, 28-33 partial,
34-35 likely, >= 36 very likely), scaled to the other lengths. dwtDct is a weak scheme: on the
Kodak photos a fresh SDXL mark reads 28-48 of 48 bits (17 of 24 "very likely") and unmarked photos
19-27 ("none"). The decoder runs in 'bits' mode: its 'bytes' mode mis-packs with NumPy 2.
Optional dependency: without invisible-watermark the report says the check was not run.
"""

from __future__ import annotations

import numpy as np

MARKS = {
    "SD 1.x": np.unpackbits(np.frombuffer(b"StableDiffusionV1", np.uint8)),
    "SD 2.x": np.unpackbits(np.frombuffer(b"SDV2", np.uint8)),
    "SDXL": np.unpackbits(np.frombuffer(bytes.fromhex("B3EC907BB19E"), np.uint8)),
}


def verdict(matching: int, n: int) -> str:
    k = matching * 48 / n
    return "none" if k <= 27 else "partial" if k <= 33 else "likely" if k <= 35 else "very likely"


def check(rgb: np.ndarray) -> dict[str, object]:
    try:
        from imwatermark import WatermarkDecoder
    except Exception:  # noqa: BLE001 - optional dependency: any import failure means "not checked"
        return {"checked": False, "reason": "invisible-watermark is not installed"}
    if rgb.shape[0] * rgb.shape[1] < 256 * 256:
        return {"checked": False, "reason": "image smaller than the 256x256 the decoder needs"}
    bgr = np.ascontiguousarray(rgb[..., ::-1])
    out: dict[str, object] = {"checked": True}
    for name, expected in MARKS.items():
        if name == "SDXL" and rgb.shape[1] < 256:
            out[name] = {"verdict": "not embedded below 256 px"}
            continue
        try:
            bits = np.asarray(WatermarkDecoder("bits", len(expected)).decode(bgr, "dwtDct")).astype(np.uint8)
        except Exception as exc:  # noqa: BLE001 - a decoder failure is reported, not raised
            out[name] = {"verdict": f"unreadable: {exc}"}
            continue
        matching = int((bits == expected).sum())
        out[name] = {"matching_bits": f"{matching}/{len(expected)}", "verdict": verdict(matching, len(expected))}
    return out
