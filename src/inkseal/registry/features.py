"""Which fingerprints are local features, and how to get them back when their blob is gone.

Local features (ORB keypoints and descriptors, ~55 KB per file) are stored in the `FeatureStore` on
disk, not in the database: at a million works they were ~66 GB of rows that only verification reads,
one file at a time. Global fingerprints (SSCD, PDQ) stay rows: their ids key the search indexes.

The feature store is a cache of something the object store can always rebuild: a missing blob (an
install migrated by hand, a deleted folder) or a damaged one is recomputed from the registered
original and written back.
"""

from __future__ import annotations

import importlib
from functools import cache
from typing import Protocol

from inkseal.errors import BadImage
from inkseal.imaging import DEFAULT_MAX_PIXELS, load_image
from inkseal.registry.objects import ObjectStore

# Local-feature signals: name -> the SignalType class ("module:Class"), imported only when a blob must be
# recomputed, so the registry neither imports OpenCV nor repeats the signal's version (the class says it;
# a new version never reads an older one's blob). Better as a class attribute of SignalType
# (`local: ClassVar[bool]`), the app handing the registry its signals; until then, this one place.
LOCAL_SIGNALS: dict[str, str] = {"orb": "inkseal.signals.orb:ORBSignal"}


def is_local(signal: str, variant: str) -> bool:
    """Stored in the feature store, not as a row. Only whole-file ("full") features are local: the
    store has one blob per file and signal version."""
    return signal in LOCAL_SIGNALS and variant == "full"


@cache
def local_signal(name: str) -> Recomputable:
    """The default instance of a local-feature signal (what `Inkseal` uses), for `file_fingerprint`."""
    module, _, cls = LOCAL_SIGNALS[name].partition(":")
    return getattr(importlib.import_module(module), cls)()


class Recomputable(Protocol):
    """The part of a SignalType that recomputing needs (the registry never imports the signals)."""

    name: str
    version: int

    def compute(self, rgb): ...  # type: ignore[no-untyped-def]

    def serialize(self, fp) -> bytes: ...  # type: ignore[no-untyped-def]


def recompute(objects: ObjectStore, signal: Recomputable, sha256: str, max_pixels: int | None = None) -> bytes | None:
    """The signal's features of the registered file, from its stored bytes; None when those are gone too."""
    try:
        data = objects.get(sha256)
    except FileNotFoundError:
        return None
    try:
        image = load_image(data, max_pixels=max_pixels or DEFAULT_MAX_PIXELS)
    except BadImage:
        return None  # registered under a larger pixel limit than this process allows
    return signal.serialize(signal.compute(image.rgb))
