"""Stable names for uploaded suspects.

A scan reads an upload from a private folder of the server (a request's temporary folder, or a scan
job's `jobs/jobN/in/`), so the scan records that path as the suspect's `source`. The path means
nothing once the folder is gone and says where the server keeps things, so once the scan has recorded
its sightings the desk renames each upload, in the stored suspects, cases and the scan row, to

    upload:<first 16 hex digits of the upload's SHA-256>/<its sanitised original name>

The same picture uploaded again is the same bytes at the same "place" (local files are one site, see
`registry/places.py`), so it joins the case it opened the first time; the name only labels it.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from sqlalchemy import Text, cast, select

from inkseal.registry.models import Case, Scan, Suspect
from inkseal.registry.store import Registry

SCHEME = "upload:"
_ORDER_PREFIX = re.compile(r"^\d{2}-")  # the NN- the desk puts before each upload of a scan, to keep them apart


def upload_name(data: bytes, file_name: str) -> str:
    """`upload:<sha256 prefix>/<name>`; `file_name` is already sanitised (word characters, no path)."""
    return f"{SCHEME}{hashlib.sha256(data).hexdigest()[:16]}/{_ORDER_PREFIX.sub('', file_name, count=1)}"


def names_in(folder: Path) -> dict[str, str]:
    """{server path: stable name} for every upload in `folder` (read before the scan: the folder goes after)."""
    return {str(p): upload_name(p.read_bytes(), p.name) for p in sorted(folder.iterdir()) if p.is_file()}


def restamp(registry: Registry, folder: Path, names: dict[str, str]) -> None:
    """Replace the server paths under `folder` by the uploads' stable names wherever the scan stored them.
    Found by the folder's path, not the scan id, so a scan stopped half-way is renamed as well."""
    prefix = f"{folder}/"

    def renamed(value: str | None) -> str | None:
        if value is None or not value.startswith(prefix):
            return value
        path, sep, rest = value.partition("#")  # a WARC or page item may name a part of the file
        return names.get(path, SCHEME + path.removeprefix(prefix)) + sep + rest

    def attempt() -> None:
        with registry.writing("scan") as s:  # the lock cases are filed under: no scan files one meanwhile
            for sus in s.scalars(select(Suspect).where(Suspect.source.startswith(prefix, autoescape=True)
                                                       | Suspect.page_url.startswith(prefix, autoescape=True))):
                sus.source, sus.page_url = renamed(sus.source) or "", renamed(sus.page_url)
            for case in s.scalars(select(Case).where(Case.image_url.startswith(prefix, autoescape=True)
                                                     | Case.page_url.startswith(prefix, autoescape=True))):
                case.image_url, case.page_url = renamed(case.image_url), renamed(case.page_url)
            for scan in s.scalars(select(Scan).where(cast(Scan.sources, Text).contains(prefix, autoescape=True))):
                scan.sources = [renamed(src) if isinstance(src, str) else src for src in scan.sources or []]
    registry.retrying("naming uploads", attempt)

