"""What a score means: the expected number of false matches at that strength.

For an unrelated suspect and reference we model two tail probabilities, fitted by
`benchmarks/calibrate.py` on real unrelated images (Kodak + flower photos, attacked and not) and
stored in calibration.json beside this file with their provenance:

    P(SSCD cosine >= c)         log10 P = cos_a - cos_b * c
    P(ORB RANSAC inliers >= k)  log10 P = inl_a - inl_b * k   (best of the mirrored/unmirrored try)

For one suspect the expected number of false matches is
    E_geo = (number of candidates verified) * P(inliers >= k)
    E_cos = (number of reference embeddings searched) * P(cosine >= c)
and the verdict uses E = 2 * min(E_geo, E_cos) (Bonferroni for taking the better of two tests).
The score is -log10(E): 3 means one false match in a thousand suspects, 6 in a million.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

PATH = Path(__file__).with_name("calibration.json")


@dataclass(frozen=True)
class Calibration:
    cos_a: float
    cos_b: float
    inl_a: float
    inl_b: float
    source: str = ""

    def log10_p_cos(self, c: float) -> float:
        return min(0.0, self.cos_a - self.cos_b * c)

    def log10_p_inliers(self, k: int) -> float:
        return min(0.0, self.inl_a - self.inl_b * k) if k > 0 else 0.0

    def score(self, *, cosine: float, n_refs: int, inliers: int, n_verified: int) -> float:
        """-log10 of the expected number of false matches (higher is stronger)."""
        log_e_cos = math.log10(max(1, n_refs)) + self.log10_p_cos(cosine)
        log_e_geo = math.log10(max(1, n_verified)) + self.log10_p_inliers(inliers) if inliers else 0.0
        return -(math.log10(2) + min(log_e_cos, log_e_geo))

    def save(self, path: Path = PATH) -> None:
        path.write_text(json.dumps(asdict(self), indent=2) + "\n")


def load(path: Path = PATH) -> Calibration:
    return Calibration(**json.loads(path.read_text()))


def odds(score: float) -> str:
    """Human phrasing of a score: 'one in 1.2 million'."""
    if score >= 15:
        return f"10^{score:.0f}"  # beyond any real registry's size; say the order of magnitude
    n = 10 ** max(0.0, score)
    for unit, div in (("trillion", 1e12), ("billion", 1e9), ("million", 1e6), ("thousand", 1e3)):
        if n >= div:
            return f"{n / div:.1f} {unit}" if n / div < 1000 else f"{n / div:.0f} {unit}"
    return f"{n:.0f}"
