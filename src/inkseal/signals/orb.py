"""ORB local features (OpenCV) for geometric verification and localisation.

Chosen over SIFT by measurement on Kodak (docs/benchmarks.md): at a 640-px working size ORB takes
~4 ms per image against ~25 ms for SIFT, with more RANSAC inliers on true copies under JPEG,
crop, scale and rotation, and fewer on unrelated pairs. ORB is not mirror-invariant, so the
matcher also tries the mirrored suspect. Keypoints are stored in the file's own pixel
coordinates so that the affine found by RANSAC maps straight onto the registered file.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import cv2
import numpy as np

from inkseal.imaging import resize_max
from inkseal.signals.base import SignalType

WORK_SIDE = 640  # longest side at which features are detected
MIN_SIDE = 320  # small suspects are upscaled to this so that ORB's pyramid still finds features


@dataclass
class LocalFeatures:
    points: np.ndarray  # N x 2 float32, in the image's own pixel coordinates
    descriptors: np.ndarray  # N x 32 uint8
    width: int
    height: int

    def __len__(self) -> int:
        return len(self.points)


class ORBSignal(SignalType):
    name = "orb"
    version = 1
    index_kind = None

    def __init__(self, nfeatures: int = 1500) -> None:
        self.nfeatures = nfeatures

    def compute(self, rgb: np.ndarray) -> LocalFeatures:
        h, w = rgb.shape[:2]
        if min(h, w) < 3 or max(h, w) > 20 * min(h, w):
            # Defensive (load_image already refuses these): ORB crashed on 1-px lines, and a sliver
            # upscaled for its pyramid costs memory for no keypoints. No features, no match.
            return LocalFeatures(np.zeros((0, 2), np.float32), np.zeros((0, 32), np.uint8), w, h)
        gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        if max(h, w) < MIN_SIDE:
            s = MIN_SIDE / max(h, w)
            gray = cv2.resize(gray, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_CUBIC)
        else:
            gray, s = resize_max(gray, WORK_SIDE)
        orb = cv2.ORB_create(nfeatures=self.nfeatures, fastThreshold=10)
        kps, desc = orb.detectAndCompute(gray, None)
        if desc is None or not kps:
            return LocalFeatures(np.zeros((0, 2), np.float32), np.zeros((0, 32), np.uint8), w, h)
        pts = np.float32([k.pt for k in kps]) / s
        return LocalFeatures(pts, desc, w, h)

    def serialize(self, fp: LocalFeatures) -> bytes:
        buf = io.BytesIO()
        np.savez_compressed(buf, p=fp.points.astype(np.float32), d=fp.descriptors, s=np.int32([fp.width, fp.height]))
        return buf.getvalue()

    def deserialize(self, data: bytes) -> LocalFeatures:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            w, h = (int(v) for v in z["s"])
            return LocalFeatures(z["p"], z["d"], w, h)

    def compare(self, a: LocalFeatures, b: LocalFeatures) -> float:
        """Number of RANSAC inliers of the affine map from a to b."""
        from inkseal.match.verify import verify

        result = verify(a, b)
        return float(result.inliers if result else 0)
