"""Content-addressed store for the bytes of registered files: objects/ab/<sha256>.

Keeping the exact bytes matters: verification needs the original's pixels, and evidence needs
the very file that was registered, hash-checkable years later.
"""

from __future__ import annotations

import hashlib
import os
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
