"""PDQ perceptual hash (Meta) through `pdqhash`, with the 8 dihedral variants for flips/rotations.

References are hashed once; a suspect is hashed in all 8 orientations, so a mirrored or
rotated-by-90° copy still lands within the usual Hamming radius (31 of 256 bits).
"""

from __future__ import annotations

import numpy as np

from inkseal.imaging import resize_max
from inkseal.signals.base import SignalType

# pdqhash.compute_dihedral returns the hashes in this order.
DIHEDRAL = ("identity", "rot90", "rot180", "rot270", "flip-h", "flip-v", "transpose", "transverse")
MATCH_RADIUS = 31  # Meta's recommended threshold for PDQ matches


class PDQSignal(SignalType):
    name = "pdq"
    version = 1
    index_kind = "hamming"
    dim = 256

    def _prep(self, rgb: np.ndarray) -> np.ndarray:
        # PDQ downsamples to 64x64 internally; pre-shrinking large images saves time, not accuracy.
        small = resize_max(rgb, 512)[0]
        h, w = small.shape[:2]
        if min(h, w) < 8:
            # Defensive: PDQ's 64x64 filter assumes some pixels on each side; stretch a sliver
            # (nearest neighbour) rather than hand the C code a 1-px line.
            import cv2

            small = cv2.resize(small, (max(8, w), max(8, h)), interpolation=cv2.INTER_NEAREST)
        return np.ascontiguousarray(small)

    def compute(self, rgb: np.ndarray) -> tuple[np.ndarray, int]:
        import pdqhash

        bits, quality = pdqhash.compute(self._prep(rgb))
        return np.packbits(bits.astype(np.uint8)), int(quality)

    def compute_dihedral(self, rgb: np.ndarray) -> list[tuple[str, np.ndarray]]:
        import pdqhash

        hashes, _quality = pdqhash.compute_dihedral(self._prep(rgb))
        return [(name, np.packbits(h.astype(np.uint8))) for name, h in zip(DIHEDRAL, hashes, strict=True)]

    def serialize(self, fp: tuple[np.ndarray, int]) -> bytes:
        packed, quality = fp
        return packed.tobytes() + bytes([max(0, min(100, quality))])

    def deserialize(self, data: bytes) -> tuple[np.ndarray, int]:
        return np.frombuffer(data[:32], dtype=np.uint8).copy(), data[32]

    def compare(self, a: tuple[np.ndarray, int], b: tuple[np.ndarray, int]) -> float:
        """Similarity = 256 - Hamming distance."""
        return float(256 - int(np.unpackbits(a[0] ^ b[0]).sum()))

    def as_index_vector(self, fp: tuple[np.ndarray, int]) -> np.ndarray:
        return fp[0]
