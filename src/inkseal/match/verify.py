"""Geometric verification: do the suspect's local features map onto a registered file by one affine?

ORB matches (Hamming, Lowe ratio test) are fitted with RANSAC to a full 2x3 affine from suspect
to reference coordinates. A full affine (not a similarity) so that aspect-ratio changes, as when
a page squeezes a picture into a box, still verify; reflections are handled by the caller, which
mirrors the suspect, because ORB descriptors are not mirror-invariant.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import faiss
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


def two_nearest(query: np.ndarray, train: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact Hamming distances and indices of each query descriptor's two nearest train descriptors.

    The same answer as OpenCV's BFMatcher.knnMatch(k=2) (checked equal on real ORB sets), from FAISS's
    binary flat index: 7 ms instead of 53 ms for 1,500 x 1,500 descriptors on this machine, and no
    Python object per match. A train set of one descriptor leaves the second neighbour at index -1."""
    index = faiss.IndexBinaryFlat(train.shape[1] * 8)
    index.add(np.ascontiguousarray(train, dtype=np.uint8))
    return index.search(np.ascontiguousarray(query, dtype=np.uint8), 2)


def verify(suspect: LocalFeatures, reference: LocalFeatures) -> Verification | None:
    if len(suspect) < MIN_INLIERS or len(reference) < MIN_INLIERS:
        return None
    dist, idx = two_nearest(suspect.descriptors, reference.descriptors)
    keep = (idx[:, 1] >= 0) & (dist[:, 0] < RATIO * dist[:, 1])  # Lowe's ratio test
    if int(keep.sum()) < MIN_INLIERS:
        return None
    src = suspect.points[np.flatnonzero(keep)]
    dst = reference.points[idx[keep, 0]]
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
    return Verification(n, len(src), affine, src[keep], dst[keep])


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

