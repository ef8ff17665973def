"""What a score means: the expected number of false matches at that strength.

For an unrelated suspect and reference we model two tail probabilities, fitted by
`benchmarks/calibrate.py` on real unrelated images (Kodak + flower photos, attacked and not) and
stored in calibration.json beside this file with their provenance:

    P(SSCD cosine >= c)         log10 P = cos_a - cos_b * c
    P(ORB RANSAC inliers >= k)  log10 P = inl_a - inl_b * k   (best of the mirrored/unmirrored try)

and, because the two are not independent (similar-looking pictures score higher on both), their
combination is calibrated on its own rather than multiplied:

    t = -(log10 P(cosine >= c) + log10 P(inliers >= k))
    P(T >= t)                   log10 P = joint_a - joint_b * t   (fitted on verified candidates)

For one suspect the expected number of false matches is
    E_cos   = (number of reference embeddings searched) * P(cosine >= c)
    E_geo   = (number of candidates verified) * P(inliers >= k)
    E_joint = (number of candidates verified) * P(T >= t)
and the keypoint evidence uses E = 3 * min(E_cos, E_geo, E_joint) (Bonferroni for the best of three).

Unrelated pictures are not the only false matches: another picture of the same character or object
verifies too (a shared tattoo, a printed label). For those, the pixel agreement after verification
(match/agreement.py; match/tiers.pixel_statistic, in Fisher z) has its own tail, fitted on the
calibration half of the hard-negative groups (other pictures of the same subject):

    P(Z >= z)                   log10 P = px_a - px_b * z
    E_pix = (number of candidates verified) * P(Z >= z)

A copy's score is -log10 of the larger of the two expected counts (the weaker evidence), so it keeps
its meaning - expected false matches per suspect - whichever kind of look-alike the registry holds:
3 means one false match in a thousand suspects, 6 in a million. Scores are capped at SCORE_CAP:
beyond that the tails are extrapolated far past anything observed, and a bigger number would claim a
precision the calibration cannot back.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

PATH = Path(__file__).with_name("calibration.json")
SCORE_CAP = 15.0


@dataclass(frozen=True)
class Calibration:
    cos_a: float
    cos_b: float
    inl_a: float
    inl_b: float
    joint_a: float = 0.0
    joint_b: float = 0.0  # 0 disables the joint test
    px_a: float = 0.0
    px_b: float = 0.0  # pixel-agreement tail (match/agreement.py), fitted on hard negatives; 0 disables
    source: str = ""

    def log10_p_cos(self, c: float) -> float:
        return min(0.0, self.cos_a - self.cos_b * c)

    def log10_p_inliers(self, k: int) -> float:
        return min(0.0, self.inl_a - self.inl_b * k) if k > 0 else 0.0

    def joint_statistic(self, cosine: float, inliers: int) -> float:
        return -(self.log10_p_cos(cosine) + self.log10_p_inliers(inliers))

    def log10_p_joint(self, t: float) -> float:
        return min(0.0, self.joint_a - self.joint_b * t) if self.joint_b > 0 else 0.0

    def score(self, *, cosine: float, n_refs: int, inliers: int, n_verified: int) -> float:
        """-log10 of the expected number of false matches (higher is stronger)."""
        log_n = math.log10(max(1, n_verified))
        log_e_cos = math.log10(max(1, n_refs)) + self.log10_p_cos(cosine)
        log_e_geo = log_n + self.log10_p_inliers(inliers) if inliers else 0.0
        log_e_joint = log_n + self.log10_p_joint(self.joint_statistic(cosine, inliers))
        return min(SCORE_CAP, -(math.log10(3) + min(log_e_cos, log_e_geo, log_e_joint)))

    def log10_p_pixels(self, z: float) -> float:
        return min(0.0, self.px_a - self.px_b * z) if self.px_b > 0 else 0.0

    def pixel_score(self, *, agreement: float, n_verified: int) -> float:
        """-log10 of the expected number of look-alikes per suspect whose pixels agree this well.

        The tail is fitted on candidates that passed the keypoint test but are *other pictures* of
        the same subject (benchmarks/calibrate.py, hard negatives), so it answers the question the
        keypoint score cannot: is it this picture?"""
        if self.px_b <= 0:
            return SCORE_CAP  # no pixel tail fitted: the keypoint score alone decides
        log_e = math.log10(max(1, n_verified)) + self.log10_p_pixels(agreement)
        return min(SCORE_CAP, -(math.log10(3) + log_e))

    def save(self, path: Path = PATH) -> None:
        path.write_text(json.dumps(asdict(self), indent=2) + "\n")


def load(path: Path = PATH) -> Calibration:
    return Calibration(**json.loads(path.read_text()))


def odds(score: float) -> str:
    """Human phrasing of a score: 'one in 1.2 million'."""
    if score >= SCORE_CAP:
        return f"over 10^{SCORE_CAP:.0f}"
    n = 10 ** max(0.0, score)
    for unit, div in (("trillion", 1e12), ("billion", 1e9), ("million", 1e6), ("thousand", 1e3)):
        if n >= div:
            return f"{n / div:.1f} {unit}" if n / div < 1000 else f"{n / div:.0f} {unit}"
    return f"{n:.0f}"
