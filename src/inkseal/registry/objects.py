"""Content-addressed stores on disk.

`ObjectStore`: the bytes of registered files, objects/ab/<sha256>. Keeping the exact bytes matters:
verification needs the original's pixels, and evidence needs the very file that was registered,
hash-checkable years later.

`FeatureStore`: a file's local features (ORB keypoints, ~55 KB each), features/<signal>-v<version>/ab/<sha256>,
keyed by the registered file's SHA-256. They are too big for a database row at a million works (~66 GB)
and are only read to verify a candidate already found, so they live beside the objects. They are a derived
cache: a missing or damaged blob is recomputed from the original in the object store
(`Registry.local_features`). The version is part of the path, so a new version of a signal never reads
an older version's blob.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
from pathlib import Path


class ObjectStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256

    def put(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        target = self.path(digest)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_suffix(f".tmp{os.getpid()}")
            tmp.write_bytes(data)
            os.replace(tmp, target)  # atomic: a crash leaves either nothing or the whole file
        return digest

    def get(self, sha256: str) -> bytes:
        return self.path(sha256).read_bytes()

    def has(self, sha256: str) -> bool:
        return self.path(sha256).exists()


_SHA256 = re.compile(r"[0-9a-f]{64}")
_SIGNAL = re.compile(r"[a-z0-9_-]{1,40}")
# Blob layout: MAGIC, SHA-256 of the payload, payload. The key is the *file's* hash, not the blob's, so
# nothing else tells a torn or bit-rotted blob from a good one; with the digest, `get` never hands a
# damaged payload to a deserialiser (which could fail in many different ways, or not at all).
_MAGIC = b"inkfeat1"
_HEADER = len(_MAGIC) + 32


class FeatureStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, signal: str, version: int, sha256: str) -> Path:
        # The parts come from our own code and the database, but they name a path: checked all the same.
        if not (_SIGNAL.fullmatch(signal) and _SHA256.fullmatch(sha256)):
            raise ValueError(f"not a feature key: {signal!r} {sha256!r}")
        return self.root / f"{signal}-v{int(version)}" / sha256[:2] / sha256

    def put(self, signal: str, version: int, sha256: str, payload: bytes, *, durable: bool = True,
            replace: bool = False) -> None:
        """Write atomically (temp file, fsync, rename): readers see the whole blob or none, and a crash
        can at worst lose the rename (a missing blob, recomputed), never leave a torn one. An existing blob
        is kept (same key: same bytes, same signal version) unless `replace` (it was found damaged).
        `durable=False` skips the per-file fsync for bulk writers that sync once at the end (migration)."""
        target = self.path(signal, version, sha256)
        if target.exists() and not replace:
            return
        _make_private_dirs(target.parent)
        tmp = target.with_name(f"{target.name}.tmp{os.getpid()}-{secrets.token_hex(4)}")  # threads too
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(_MAGIC + hashlib.sha256(payload).digest() + payload)
                if durable:
                    f.flush()
                    os.fsync(f.fileno())
            os.replace(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def get(self, signal: str, version: int, sha256: str) -> bytes | None:
        """The payload, or None when missing or damaged (the caller recomputes)."""
        try:
            raw = self.path(signal, version, sha256).read_bytes()
        except FileNotFoundError:
            return None
        payload = raw[_HEADER:]
        if raw[: len(_MAGIC)] != _MAGIC or hashlib.sha256(payload).digest() != raw[len(_MAGIC) : _HEADER]:
            return None
        return payload

    def delete_all_versions(self, sha256: str) -> None:
        """Every signal's and version's blob of one file (its registration was removed)."""
        if not _SHA256.fullmatch(sha256):
            raise ValueError(f"not a SHA-256: {sha256!r}")
        if not self.root.is_dir():
            return
        for folder in self.root.iterdir():
            (folder / sha256[:2] / sha256).unlink(missing_ok=True)

    @staticmethod
    def sync() -> None:
        """Make everything written with `durable=False` durable (files and directory entries)."""
        os.sync()


def _make_private_dirs(path: Path) -> None:
    """mkdir -p, each new folder 0700 (makedirs applies its mode to the last folder only); the folder
    names say which files a creator registered."""
    missing = []
    while not path.exists():
        missing.append(path)
        path = path.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=0o700)
        except FileExistsError:  # another process made it first
            pass
