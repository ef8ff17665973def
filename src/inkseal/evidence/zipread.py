"""Reading a zipped pack someone else sent: bounded, and never writing outside a folder we chose.

A pack zip is untrusted input. Before any byte is inflated the listing is checked: member count,
declared total size, names (relative, no `..`, no backslashes or drive letters, no symlinks), duplicates
(also ones differing only in case: a fake `evidence.json` placed first), and a name that is both a file
and a folder. Members are then streamed in chunks with the real inflated bytes counted (headers can lie),
so a zip bomb stops at the limit instead of filling the disk or memory.
"""

from __future__ import annotations

import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

CHUNK = 1 << 20


class PackArchiveError(ValueError):
    """The archive is refused; the message is one line naming why."""


@dataclass
class ZipLimits:
    max_members: int = 10_000
    max_total_bytes: int = 2 << 30  # 2 GiB inflated: originals and page captures can be large
    max_ratio: float = 200.0  # inflated/compressed for members over ratio_floor (deflate tops out near 1000)
    ratio_floor: int = 1 << 20


def safe_relative(name: str) -> bool:
    """A member or listed path that stays inside the pack on every system."""
    if not name or "\\" in name or "\x00" in name or name.startswith("/") or ":" in name:
        return False
    parts = PurePosixPath(name).parts
    return all(p not in ("", ".", "..") for p in parts) and not name.endswith("/")


class ZipPack:
    """A checked listing of a pack zip; `read` and `extract_to` enforce the limits while inflating."""

    def __init__(self, path: Path, limits: ZipLimits | None = None) -> None:
        self.limits = limits or ZipLimits()
        try:
            self.zip = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError) as exc:
            raise PackArchiveError(f"not a readable zip: {exc}") from None
        self.files: dict[str, zipfile.ZipInfo] = {}
        try:
            self._check_listing()
        except PackArchiveError:
            self.zip.close()
            raise

    def _check_listing(self) -> None:
        infos = self.zip.infolist()
        lim = self.limits
        if len(infos) > lim.max_members:
            raise PackArchiveError(f"the zip has {len(infos)} members, more than the limit of {lim.max_members}")
        seen: dict[str, str] = {}
        folders: set[str] = set()
        total = 0
        for info in infos:
            name = info.filename
            if stat.S_ISLNK(info.external_attr >> 16):
                raise PackArchiveError(f"symbolic link in the zip: {name}")
            is_dir = name.endswith("/")
            bare = name.rstrip("/")
            if not safe_relative(bare):
                raise PackArchiveError(f"unsafe path in the zip: {name!r}")
            key = bare.casefold()
            if key in seen:
                raise PackArchiveError(f"duplicate name in the zip: {name} (also {seen[key]})")
            seen[key] = name
            parts = PurePosixPath(bare).parts
            folders.update("/".join(parts[:i]).casefold() for i in range(1, len(parts)))
            if is_dir:
                folders.add(key)
                continue
            total += info.file_size
            if total > lim.max_total_bytes:
                raise PackArchiveError(f"the zip inflates to more than {lim.max_total_bytes} bytes (zip bomb?)")
            if info.file_size > lim.ratio_floor and info.file_size > lim.max_ratio * max(info.compress_size, 1):
                raise PackArchiveError(f"{name} inflates {info.file_size / max(info.compress_size, 1):.0f}× "
                                       f"(limit {lim.max_ratio:.0f}×): zip bomb?")
            self.files[bare] = info
        clash = sorted(n for n in self.files if n.casefold() in folders)
        if clash:
            raise PackArchiveError(f"{clash[0]} is both a file and a folder in the zip")

    def _stream(self, info: zipfile.ZipInfo, budget: list[int]):  # type: ignore[no-untyped-def]
        """Inflated chunks of one member, counting real bytes against its declared size and the budget."""
        done = 0
        try:
            with self.zip.open(info) as f:
                while chunk := f.read(CHUNK):
                    done += len(chunk)
                    budget[0] -= len(chunk)
                    if done > info.file_size or budget[0] < 0:
                        raise PackArchiveError(f"{info.filename} inflates past its declared size or the limit")
                    yield chunk
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
            if isinstance(exc, PackArchiveError):
                raise
            raise PackArchiveError(f"{info.filename} is unreadable: {exc}") from None

    def read(self, name: str, max_bytes: int = 64 << 20) -> bytes:
        info = self.files.get(name)
        if info is None:
            raise KeyError(name)
        return b"".join(self._stream(info, [min(max_bytes, self.limits.max_total_bytes)]))

    def extract_to(self, dest: Path) -> None:
        """Write every file member under `dest` (a fresh folder of ours), names already checked."""
        budget = [self.limits.max_total_bytes]
        base = dest.resolve()
        for name, info in self.files.items():
            target = (base / name).resolve()
            if not target.is_relative_to(base):  # cannot happen after safe_relative; kept as the last guard
                raise PackArchiveError(f"unsafe path in the zip: {name!r}")
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(target, "xb") as out:  # "x": a name seen twice can never overwrite
                for chunk in self._stream(info, budget):
                    out.write(chunk)

    def close(self) -> None:
        self.zip.close()

    def __enter__(self) -> ZipPack:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
