"""Discovery documents (listing pages, feeds, sitemaps) fetched conditionally, their bodies kept.

On a re-run a listing page or sitemap that did not change answers 304 and its links are read again
from the kept body, so a run where nothing changed costs conditional requests and (almost) no bytes.
Bodies live in `$INKSEAL_HOME/monitor-cache/<sha256>` (they are not evidence, so not in the object
store); a replaced body's file is deleted.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from inkseal.monitor.polite import Fetched, PoliteClient, http_date_ok
from inkseal.registry.monitors import MonitorStore


class DocumentCache:
    def __init__(self, folder: Path, store: MonitorStore, monitor_id: int, client: PoliteClient) -> None:
        self.folder, self.store, self.monitor_id, self.client = folder, store, monitor_id, client
        self.reused = 0  # documents answered 304 and read from the cache

    def _read(self, sha: str) -> bytes | None:
        try:
            data = (self.folder / sha).read_bytes()
        except OSError:
            return None
        return data if hashlib.sha256(data).hexdigest() == sha else None  # a damaged copy is fetched again

    def _write(self, data: bytes) -> str:
        sha = hashlib.sha256(data).hexdigest()
        path = self.folder / sha
        if not path.exists():
            self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_bytes(data)
            os.replace(tmp, path)
        return sha

    def get(self, url: str, found_on: str | None, max_bytes: int | None = None) -> Fetched:
        known = self.store.document(self.monitor_id, url)
        cached = self._read(known.body_sha256) if known is not None else None
        got = self.client.get(url, found_on, etag=known.etag if cached is not None and known else None,
                              last_modified=known.last_modified if cached is not None and known else None,
                              max_bytes=max_bytes)
        if got.status == 304 and cached is not None:
            self.reused += 1
            return Fetched(got.url, 200, got.headers, cached)
        etag, modified = got.headers.get("etag"), http_date_ok(got.headers.get("last-modified"))
        if got.status == 200 and (etag or modified):  # worth keeping only when it can be asked for conditionally
            old = self.store.save_document(self.monitor_id, url, etag, modified, self._write(got.body))
            if old:
                (self.folder / old).unlink(missing_ok=True)
        return got
