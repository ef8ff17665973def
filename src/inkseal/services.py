"""The narrow interfaces the stage services take, so that nothing below the application imports it.

`inkseal.app.Inkseal` satisfies each of these structurally; a web layer, a worker or a test can hand a service
any object that does. Each lists only what its service reads:

    seal.service.seal_work      SealDeps (a dataclass: registry, keys, add_file, max_pixels, checkpoints),
                                built by SealDeps.of from a SealContext
    seal.inspect.inspect_bytes  InspectContext: settings, registry, keys, matcher, works/work
    evidence.pack.build_pack    EvidenceContext: settings, registry, keys, journal
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from inkseal.config import Settings
    from inkseal.imaging import LoadedImage
    from inkseal.journal import Journal
    from inkseal.journal.keys import KeyStore
    from inkseal.match.matcher import Matcher
    from inkseal.registry.models import Work, WorkFile
    from inkseal.registry.store import Registry


class AddFile(Protocol):
    """Register `data` (already decoded as `image`) as another file of a work; fingerprints included."""

    def __call__(self, work_id: int, data: bytes, image: LoadedImage, role: str, name: str,
                 regions: dict | None = None) -> WorkFile: ...


class _Stores(Protocol):
    """What every stage service reads: the settings, the registry (rows and stored objects) and the keys."""

    @property
    def settings(self) -> Settings: ...
    @property
    def registry(self) -> Registry: ...
    @property
    def keys(self) -> KeyStore: ...


class InspectContext(_Stores, Protocol):
    """What `inspect` reads: limits, stored objects, the keys (label signature, C2PA anchor, watermark keys),
    the matcher (to find the registered work a copy derives from) and the works that carry a watermark."""

    @property
    def matcher(self) -> Matcher: ...
    def works(self) -> list[Work]: ...
    def work(self, work_id: int) -> Work: ...


class EvidenceContext(_Stores, Protocol):
    """What an evidence pack reads: limits and contact settings, the match and its files, the keys that sign the
    manifest, and the journal (this work's entries, the signed checkpoint)."""

    @property
    def journal(self) -> Journal: ...


class SealContext(_Stores, Protocol):
    """What `seal.service.SealDeps.of` builds sealing's dependencies from."""

    @property
    def journal(self) -> Journal: ...
    @property
    def add_file(self) -> AddFile: ...
    def sync_indexes(self) -> None: ...
