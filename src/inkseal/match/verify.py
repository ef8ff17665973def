"""Geometric verification: do the suspect's local features map onto a registered file by one affine?

ORB matches (Hamming, Lowe ratio test) are fitted with RANSAC to a full 2x3 affine from suspect
to reference coordinates. A full affine (not a similarity) so that aspect-ratio changes, as when
a page squeezes a picture into a box, still verify; reflections are handled by the caller, which
mirrors the suspect, because ORB descriptors are not mirror-invariant.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from inkseal.signals.orb import LocalFeatures

RATIO = 0.8
RANSAC_PX = 6.0  # reprojection threshold in reference pixels (at ORB's 640-px working size ~ 5 px)
MIN_INLIERS = 8


@dataclass
class Verification:
    inliers: int
    putative: int
    affine: np.ndarray  # 2x3, suspect pixel -> reference pixel
    suspect_points: np.ndarray  # inlier points in the suspect
    reference_points: np.ndarray  # inlier points in the reference


_MATCHER = cv2.BFMatcher(cv2.NORM_HAMMING)


def verify(suspect: LocalFeatures, reference: LocalFeatures) -> Verification | None:
    if len(suspect) < MIN_INLIERS or len(reference) < MIN_INLIERS:
        return None
    pairs = _MATCHER.knnMatch(suspect.descriptors, reference.descriptors, k=2)
    good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < RATIO * p[1].distance]
    if len(good) < MIN_INLIERS:
        return None
    src = suspect.points[[g.queryIdx for g in good]]
    dst = reference.points[[g.trainIdx for g in good]]
    scale = max(reference.width, reference.height) / 640.0
    affine, mask = cv2.estimateAffine2D(
        src, dst, method=cv2.RANSAC, ransacReprojThreshold=RANSAC_PX * max(1.0, scale),
        maxIters=2000, confidence=0.995, refineIters=10,
    )
    if affine is None or mask is None:
        return None
    keep = mask.ravel().astype(bool)
    n = int(keep.sum())
    if n < MIN_INLIERS or not _plausible(affine):
        return None
    # Many-to-one matches onto a single reference point are not independent evidence.
    n = min(n, len(np.unique(np.round(dst[keep]), axis=0)))
    return Verification(n, len(good), affine, src[keep], dst[keep])


def _plausible(affine: np.ndarray) -> bool:
    """Reject degenerate maps: collapsed, wildly anisotropic or absurdly scaled."""
    lin = affine[:, :2]
    sv = np.linalg.svd(lin, compute_uv=False)
    if sv[1] <= 1e-6:
        return False
    return bool(sv[0] / sv[1] < 4.0 and 1 / 30 < np.sqrt(sv[0] * sv[1]) < 30)


def mirror_affine(affine: np.ndarray, width: int) -> np.ndarray:
    """Compose an affine found on the mirrored suspect with the mirror, giving suspect -> reference."""
    flip = np.array([[-1.0, 0.0, width - 1.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    return (np.vstack([affine, [0, 0, 1]]) @ flip)[:2]

