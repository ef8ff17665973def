"""Image files and folders."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from inkseal.match.sources.base import SuspectItem

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff", ".avif", ".jfif", ".jp2", ".ico"}


def item_from_file(path: Path, max_bytes: int, **extra: object) -> SuspectItem:
    item = SuspectItem(kind="file", source=str(path), **extra)  # type: ignore[arg-type]
    try:
        size = path.stat().st_size
        if size > max_bytes:
            item.error = f"file too large: {size:,} bytes exceeds the {max_bytes:,} limit"
            return item
        item.data = path.read_bytes()
        item.captured_at = datetime.fromtimestamp(path.stat().st_mtime, UTC)
    except OSError as exc:
        item.error = f"cannot read file: {exc.strerror or exc}"
    return item


def iter_folder(root: Path, page_suffixes: tuple[str, ...], warc_suffixes: tuple[str, ...]) -> Iterator[tuple[Path, str]]:
    """Files under `root` in a stable order. A saved page's `<name>_files` folder is scanned through
    its page (so each image keeps its page context) rather than again as loose files."""
    pages: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            if name.lower().endswith(page_suffixes):
                pages.append(Path(dirpath) / name)
    page_dirs = {p.with_name(p.stem + "_files").resolve() for p in pages}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if (Path(dirpath) / d).resolve() not in page_dirs)
        for name in sorted(filenames):
            path = Path(dirpath) / name
            low = name.lower()
            if low.endswith(page_suffixes):
                yield path, "page"
            elif low.endswith(warc_suffixes):
                yield path, "warc"
            elif path.suffix.lower() in IMAGE_SUFFIXES:
                yield path, "file"
