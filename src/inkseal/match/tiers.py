"""What a candidate is: a `copy` of the registered picture, a `derivative` of it, or nothing.

copy        the picture or a part of it, pixel for pixel, under the usual attacks (re-encoding,
            resizing, cropping, flipping, small rotations, overlays, a screenshot of a page, a region
            pasted onto another background). Needs both: a calibrated keypoint score at or above the
            threshold, and pixels that agree at full detail over a real share of the picture, with
            a calibrated pixel score at the threshold too (match/agreement.py). Same-subject
            look-alikes have the first, never the second.
derivative  an edit of the picture that keeps its composition but not its pixels (img2img, inpaint,
            a same-seed re-render, a restyle): SSCD sees the same picture and the two line up at
            thumbnail scale, but the pixels do not agree. Reported separately, for the creator to judge.

The thresholds were set on the calibration half of the hard-negative groups and on attacked copies
(benchmarks/verdict_families.py, `benchmarks/calibrate.py --pixel-only`); the held-out half only
measures them (docs/benchmarks.md).
"""

from __future__ import annotations

import numpy as np

from inkseal.match.agreement import Agreement

# copy: pixel agreement at full detail over the part shown (calibration half: look-alikes <= 0.67,
# attacked copies >= 0.87); and some of the picture must agree at all
COPY_FINE_NCC = 0.74
COPY_AGREE_AREA = 0.02
# a region pasted onto another background: near-perfect agreement over the part that agrees, and a
# real share of the picture (calibration half: look-alikes <= 0.96)
PASTE_REGION_NCC = 0.97
PASTE_AGREE_AREA = 0.10
# derivative: same composition, other pixels. The layout bar sits between what unrelated pictures and
# other pictures of the same subject reach (calibration half of hardneg: <= 0.70; 600 flower photos against
# 1,000 others: <= 0.90 apart from dataset duplicates) and what edits reach (_ambiguous/: >= 0.94).
# At 0.85 two different dandelion photos were called a derivative.
DERIVATIVE_COSINE = 0.6
DERIVATIVE_LAYOUT = 0.93


def pixel_evidence(agreement: Agreement | dict | None) -> float:
    """One number for the pixel evidence (0 when none was measured): agreement at full detail, over the
    whole overlap or (shifted onto the same scale, so both thresholds meet) over a pasted region."""
    if not agreement:
        return 0.0
    d = agreement if isinstance(agreement, dict) else agreement.as_dict()
    return max(0.0, float(d["fine_ncc"]), float(d.get("region_ncc", 0.0)) - (PASTE_REGION_NCC - COPY_FINE_NCC))


def pixel_statistic(agreement: Agreement | dict | None) -> float:
    """pixel_evidence in Fisher's z (atanh), so that 0.95 and 0.99 are told apart as far as 0.5 and 0.8 are:
    the scale the pixel tail is fitted on."""
    return float(np.arctanh(min(pixel_evidence(agreement), 0.999)))


def pixel_margin(agreement: Agreement) -> float:
    """How far the pixel agreement clears the copy threshold (negative: it does not)."""
    return max(agreement.fine_ncc - COPY_FINE_NCC,
               agreement.region_ncc - PASTE_REGION_NCC if agreement.agree_area >= PASTE_AGREE_AREA else -1.0)


def decide(*, score: float, min_score: float, cosine: float, agreement: Agreement | None,
           framed: Agreement | None, pixel_score: float = float("inf")) -> str | None:
    """`score`: the keypoint score; `pixel_score`: the calibrated pixel evidence (Calibration.pixel_score).

    A whole or cropped copy needs both scores at the threshold (so its combined score keeps its
    meaning); a pasted region needs the stricter region test instead, whose agreement over the rest
    of the overlap is foreign by construction.

    Not done, on purpose: reading the pixels after a weaker verification (a dozen inliers) would
    recover copies under text + rotation + JPEG q40, but an img2img repaint of a line drawing then
    agrees at 0.93 and passes as a copy; a derivative called a copy is the worse error."""
    if agreement is not None and score >= min_score and (
            (agreement.agree_area >= COPY_AGREE_AREA and agreement.fine_ncc >= COPY_FINE_NCC
             and pixel_score >= min_score)
            or (agreement.agree_area >= PASTE_AGREE_AREA and agreement.region_ncc >= PASTE_REGION_NCC)):
        return "copy"
    if framed is not None and cosine >= DERIVATIVE_COSINE and framed.layout >= DERIVATIVE_LAYOUT:
        return "derivative"
    return None
