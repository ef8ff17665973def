"""Dataset layouts as they come, cut into shards (the unit of work and of resumption).

    a folder of images            shards of FOLDER_SHARD files, in sorted path order
    WebDataset tar shards         one shard per .tar (samples grouped by key: image + .txt/.json caption)
    Parquet / CSV of URLs         one shard per file (img2dataset / LAION: `url`, `caption`)
    Parquet with image bytes      one shard per file (Hugging Face: `image` struct with `bytes` / `path`)

A shard is described by a small dict (`Shard`) so that it travels to a Ray worker cheaply; the worker reads
its items itself (`read_items`). A shard that cannot be read (a broken tar, a truncated Parquet) yields the
items read before the damage and then one `broken_shard` item: the audit goes on and the report counts it.
"""

from __future__ import annotations

import csv
import json
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict

from inkseal.errors import one_line

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff", ".avif"}
FOLDER_SHARD = 256  # files per shard of a plain folder: small enough to resume cheaply, big enough to batch
CAPTION_SUFFIXES = (".txt", ".caption")


class Shard(TypedDict):
    shard_id: str
    layout: str  # folder | webdataset | urls | hf-parquet
    path: str  # the file (or, for a folder shard, the folder)
    files: list[str]  # folder shards only: the image files


@dataclass
class Item:
    """One dataset item: bytes to check (files, tars, HF Parquet) or a URL to fetch (URL tables).
    `error` set: the item could not even be read (its kind in `error_kind`); it is reported as such."""

    item_id: str
    source: str
    caption: str = ""
    data: bytes | None = None
    url: str = ""
    error_kind: str = ""
    error: str = ""


class DatasetError(Exception):
    """The dataset itself cannot be audited (missing, no known layout): one line, the audit does not start."""


def _table_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in (".parquet", ".csv"))


def list_shards(dataset: str | Path) -> list[Shard]:
    root = Path(dataset)
    if not root.exists():
        raise DatasetError(f"dataset not found: {root} / 找不到数据集：{root}")
    if root.is_file():
        files = [root]
    else:
        tars = sorted(p for p in root.rglob("*.tar") if p.is_file())
        files = tars or _table_files(root)
        if not files:
            images = sorted(str(p) for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
            if not images:
                raise DatasetError(f"no images, .tar, .parquet or .csv under {root} / {root} 下没有图片或数据文件")
            return [Shard(shard_id=f"folder-{i // FOLDER_SHARD:06d}", layout="folder", path=str(root),
                          files=images[i:i + FOLDER_SHARD]) for i in range(0, len(images), FOLDER_SHARD)]
    shards = []
    for f in files:
        suffix = f.suffix.lower()
        if suffix == ".tar":
            layout = "webdataset"
        elif suffix in (".parquet", ".csv"):
            layout = _table_layout(f)
        elif suffix in IMAGE_SUFFIXES:
            return [Shard(shard_id="folder-000000", layout="folder", path=str(f.parent), files=[str(f)])]
        else:
            raise DatasetError(f"unknown dataset file type: {f.name} / 无法识别的数据集文件类型：{f.name}")
        rel = f.name if root.is_file() else str(f.relative_to(root))
        shards.append(Shard(shard_id=rel, layout=layout, path=str(f), files=[]))
    return shards


def _table_layout(path: Path) -> str:
    """urls or hf-parquet, from the columns; a file whose schema cannot be read is left to the reader
    (which reports it as a broken shard) and assumed to hold URLs."""
    if path.suffix.lower() == ".csv":
        return "urls"
    import pyarrow.parquet as pq

    try:
        names = pq.read_schema(path).names
    except Exception:  # noqa: BLE001 - any damage: the shard reader says what it is
        return "urls"
    return "hf-parquet" if "image" in names and "url" not in names else "urls"


def read_items(shard: Shard) -> Iterator[Item]:
    reader = {"folder": _folder, "webdataset": _webdataset, "urls": _urls, "hf-parquet": _hf_parquet}[shard["layout"]]
    try:
        yield from reader(shard)
    except Exception as exc:  # noqa: BLE001 - a damaged shard is a finding, never the end of the audit
        yield Item(item_id=f"{shard['shard_id']}#broken", source=shard["path"], error_kind="broken_shard",
                   error=one_line(exc, with_type=True, limit=300))


def _folder(shard: Shard) -> Iterator[Item]:
    root = Path(shard["path"])
    for f in shard["files"]:
        p = Path(f)
        rel = str(p.relative_to(root)) if p.is_relative_to(root) else p.name
        try:
            data = p.read_bytes()
        except OSError as exc:
            yield Item(item_id=rel, source=str(p), error_kind="unreadable", error=one_line(exc, limit=300))
            continue
        yield Item(item_id=rel, source=str(p), data=data)


def _webdataset(shard: Shard) -> Iterator[Item]:
    """Samples are consecutive members sharing a key (the name up to the first dot of its basename)."""
    name = Path(shard["path"]).name
    current: dict[str, bytes] = {}
    key = None

    def flush(k: str, members: dict[str, bytes]) -> Item:
        caption = ""
        for ext in CAPTION_SUFFIXES:
            if ext in members:
                caption = members[ext].decode("utf-8", "replace").strip()
        if not caption and ".json" in members:
            try:
                meta = json.loads(members[".json"])
                caption = str(meta.get("caption", "")) if isinstance(meta, dict) else ""
            except ValueError:
                pass
        image = next((members[e] for e in members if e in IMAGE_SUFFIXES), None)
        if image is None:
            return Item(item_id=f"{name}/{k}", source=f"{shard['path']}:{k}", caption=caption,
                        error_kind="missing_field", error="sample has no image member")
        return Item(item_id=f"{name}/{k}", source=f"{shard['path']}:{k}", caption=caption, data=image)

    with tarfile.open(shard["path"], mode="r:*") as tar:
        for member in tar:
            if not member.isfile():
                continue
            base = member.name.rsplit("/", 1)[-1]
            dot = base.find(".")
            k = member.name[: len(member.name) - len(base) + dot] if dot > 0 else member.name
            ext = "." + base[dot + 1:].lower().rsplit(".", 1)[-1] if dot > 0 else ""
            if key is not None and k != key:
                yield flush(key, current)
                current = {}
            key = k
            fh = tar.extractfile(member)
            current[ext] = fh.read() if fh else b""
        if key is not None:
            yield flush(key, current)


def _rows(path: str) -> Iterator[dict[str, Any]]:
    """Rows of a CSV or Parquet file, one record batch at a time (a truncated file yields what it can
    and then raises, which `read_items` turns into a broken_shard finding)."""
    if path.lower().endswith(".csv"):
        with open(path, newline="", encoding="utf-8", errors="replace") as fh:
            yield from csv.DictReader(fh)
        return
    import pyarrow.parquet as pq

    with pq.ParquetFile(path) as pf:
        for batch in pf.iter_batches(batch_size=512):
            yield from batch.to_pylist()


def _urls(shard: Shard) -> Iterator[Item]:
    name = Path(shard["path"]).name
    for i, row in enumerate(_rows(shard["path"])):
        url = str(row.get("url") or row.get("URL") or "").strip()
        caption = str(row.get("caption") or row.get("TEXT") or row.get("text") or "")
        item_id = str(row.get("key") or f"{name}#{i}")
        if not url:
            yield Item(item_id=item_id, source=f"{shard['path']}#{i}", caption=caption,
                       error_kind="missing_field", error="row has no url")
            continue
        yield Item(item_id=item_id, source=url, caption=caption, url=url)


def _hf_parquet(shard: Shard) -> Iterator[Item]:
    name = Path(shard["path"]).name
    base = Path(shard["path"]).parent
    for i, row in enumerate(_rows(shard["path"])):
        image = row.get("image")
        caption = str(row.get("caption") or row.get("text") or "")
        item_id = f"{name}#{i}"
        data = None
        if isinstance(image, dict):
            data = image.get("bytes")
            if not data and image.get("path"):
                # Only files beside the Parquet: a row may not make the audit read anywhere else.
                p = (base / str(image["path"])).resolve()
                data = p.read_bytes() if p.is_relative_to(base.resolve()) and p.is_file() else None
        elif isinstance(image, bytes | bytearray):
            data = bytes(image)
        if not data:
            yield Item(item_id=item_id, source=f"{shard['path']}#{i}", caption=caption,
                       error_kind="missing_field", error="row has no image bytes (image.bytes / image.path)")
            continue
        src = str(image.get("path") or f"{shard['path']}#{i}") if isinstance(image, dict) else f"{shard['path']}#{i}"
        yield Item(item_id=item_id, source=src, caption=caption, data=bytes(data))
