"""The signal plug-in interface: one class per kind of fingerprint.

A `SignalType` knows how to compute its fingerprint from RGB pixels, serialise it for the
registry, compare two of them, and which kind of index (if any) makes it searchable. New kinds of
fingerprint plug in by subclassing and adding the class to `inkseal.signals.SIGNALS`.

    compute(rgb) -> fp          pixels to fingerprint (numpy array or small object)
    serialize(fp) -> bytes      what the registry stores in fingerprints.data
    deserialize(bytes) -> fp
    compare(a, b) -> float      similarity, higher is closer (cosine, 256 - Hamming, inliers)
    index_kind                  "ip" (dense, inner product), "hamming" (binary) or None
    as_index_vector(fp)         the row that goes into the index
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np


class SignalType(ABC):
    name: ClassVar[str]
    version: ClassVar[int] = 1
    index_kind: ClassVar[str | None] = None
    dim: ClassVar[int] = 0  # vector length for "ip", bits for "hamming"

    @abstractmethod
    def compute(self, rgb: np.ndarray) -> Any: ...

    @abstractmethod
    def serialize(self, fp: Any) -> bytes: ...

    @abstractmethod
    def deserialize(self, data: bytes) -> Any: ...

    @abstractmethod
    def compare(self, a: Any, b: Any) -> float: ...

    def as_index_vector(self, fp: Any) -> np.ndarray:
        raise NotImplementedError(f"{self.name} is not indexable")
