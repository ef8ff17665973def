"""Journal operations over the registry database: append, checkpoint, import, curate, verify.

Appends from several processes (two `journal import` runs, `watch` beside `generate`) are safe:
the next seq is read and the entries inserted in one transaction under the registry's "journal"
write lock (SQLite BEGIN IMMEDIATE / PostgreSQL advisory lock), so seq stays gap-free and each
leaf is computed over the payload that carries its final seq. One file's entries go in together,
after checking - under the same lock - that no other process journaled those bytes meanwhile.

Entries only ever name works that exist (checked in that same transaction), and curation only
concerns pictures the journal knows (see `_check_curated_file`).
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from inkseal.errors import InksealError
from inkseal.imaging import read_limited
from inkseal.journal import merkle
from inkseal.journal.importers import claimed_keys, import_file, import_metadata
from inkseal.journal.metadata import from_raw_record, raw_record, read_metadata
from inkseal.journal.keys import KeyStore, key_id, public_pem
from inkseal.journal.log import (
    Bundle,
    CheckpointRecord,
    EntryRecord,
    VerifyReport,
    canonical,
    checkpoint_message,
    entry_message,
    verify_bundle,
)
from inkseal.match.sources.files import IMAGE_SUFFIXES
from inkseal.registry.models import JournalCheckpoint, JournalEntry, Work, WorkFile
from inkseal.registry.store import Registry

KINDS = ("generation", "file", "curation", "note")
CURATION = ("selected", "rejected", "edited", "published")


def unknown_work(work_id: int) -> str:
    return (f"no work {work_id}: register it first (`inkseal register`); entries for a work that does not exist "
            f"are refused / 作品 {work_id} 不存在：请先登记作品")


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


@dataclass
class ImportItem:
    path: str
    entries: list[int] = field(default_factory=list)
    tools: list[str] = field(default_factory=list)
    error: str | None = None
    message: str | None = None


class Journal:
    """One author's journal: the `chain` of entries and checkpoints it appends to and reads, in the registry's
    own tables. Chain 0 is the install's own (the CLI, the single local user); on a shared install account N
    signs chain N with its own keys (`Inkseal.author`), so one signed chain never mixes two authors' keys and
    every journal lives in the database of record (PostgreSQL included)."""

    def __init__(self, registry: Registry, keys: KeyStore, pdq: Any = None, *, chain: int = 0) -> None:
        self.registry = registry
        self.chain = chain
        self.keys = keys
        self.pdq = pdq

    # -- appending ----------------------------------------------------------------------------
    def append(self, kind: str, data: dict[str, Any], *, work_id: int | None = None,
               file_sha256: str | None = None, passphrase: str | None = None, time: str | None = None) -> int:
        (seq,), _ = self._append_all([(kind, data)], work_id=work_id, file_sha256=file_sha256,
                                     passphrase=passphrase, time=time)
        return seq

    def _append_all(self, items: list[tuple[str, dict[str, Any]]], *, work_id: int | None,
                    file_sha256: str | None, passphrase: str | None, time: str | None = None,
                    unless_journaled: bool = False) -> tuple[list[int], int | None]:
        """Append `items` as consecutive entries in one locked transaction: (their seqs, None).
        With `unless_journaled`, nothing is appended when `file_sha256` already has an entry:
        ([], that entry's seq)."""
        for kind, _ in items:
            if kind not in KINDS:
                raise ValueError(f"unknown journal entry kind {kind!r}")
        private = self.keys.private(passphrase) if passphrase is not None else None
        kid = key_id(private.public_key()) if private is not None else None

        def attempt() -> tuple[list[int], int | None]:
            with self.registry.writing("journal") as s:
                # Checked in the appending transaction: a signed entry never names a work that is not there
                # (ids are never reused, so it can never come to name another work either).
                if work_id is not None and s.get(Work, work_id) is None:
                    raise InksealError(unknown_work(work_id))
                if unless_journaled and file_sha256 is not None:
                    known = self._known_sha_in(s, file_sha256)
                    if known is not None:
                        return [], known
                seq = int(s.scalar(select(func.count()).select_from(JournalEntry)
                                   .where(JournalEntry.chain == self.chain)) or 0)  # gap-free: count = next
                out = []
                for kind, data in items:
                    payload = {"v": 1, "seq": seq, "kind": kind, "time": time or now_iso(), "work_id": work_id,
                               "file_sha256": file_sha256, "data": data}
                    raw = canonical(payload)
                    leaf = merkle.leaf_hash(raw).hex()
                    sig = None
                    if private is not None:
                        sig = base64.b64encode(private.sign(entry_message(seq, leaf))).decode()
                    s.add(JournalEntry(chain=self.chain, seq=seq, kind=kind, work_id=work_id, file_sha256=file_sha256,
                                       payload=raw.decode("utf-8"), leaf_hash=leaf, key_id=kid, signature=sig))
                    out.append(seq)
                    seq += 1
                s.flush()
                return out, None
        return self.registry.retrying("appending to the journal", attempt)

    def checkpoint(self, passphrase: str, *, tsa_url: str | None = None) -> CheckpointRecord | None:
        """Sign the current tree head (only if the log grew since the last one)."""
        private = self.keys.private(passphrase)
        bundle = self.bundle()
        size = len(bundle.entries)
        if size == 0 or (bundle.checkpoints and max(c.size for c in bundle.checkpoints) == size):
            return None
        root = merkle.root([bytes.fromhex(e.leaf_hash) for e in bundle.entries]).hex()
        kid, signed_at = key_id(private.public_key()), now_iso()
        sig = private.sign(checkpoint_message(size, root, signed_at, kid))
        token = None
        if tsa_url:
            from inkseal.journal.timestamp import request_timestamp

            token = request_timestamp(tsa_url, checkpoint_message(size, root, signed_at, kid))
        cp = CheckpointRecord(size, root, signed_at, kid, public_pem(private.public_key()),
                              base64.b64encode(sig).decode(), token, tsa_url)

        def store() -> CheckpointRecord | None:
            with self.registry.writing("journal") as s:
                # another process may have signed this very size meanwhile: one head per size is enough
                if s.scalar(select(JournalCheckpoint.id).where(JournalCheckpoint.chain == self.chain,
                                                               JournalCheckpoint.size == cp.size).limit(1)):
                    return None
                s.add(JournalCheckpoint(chain=self.chain, size=cp.size, root_hash=cp.root_hash, signed_at=cp.signed_at,
                                        key_id=cp.key_id, public_key=cp.public_key, signature=cp.signature,
                                        timestamp_token=token, tsa_url=tsa_url))
                return cp
        return self.registry.retrying("storing a journal checkpoint", store)

    # -- reading ------------------------------------------------------------------------------
    def bundle(self) -> Bundle:
        with self.registry.session() as s:
            entries = [EntryRecord(e.seq, e.payload, e.leaf_hash, e.key_id, e.signature)
                       for e in s.scalars(select(JournalEntry).where(JournalEntry.chain == self.chain)
                                          .order_by(JournalEntry.seq))]
            cps = [CheckpointRecord(c.size, c.root_hash, c.signed_at, c.key_id, c.public_key, c.signature,
                                    c.timestamp_token, c.tsa_url)
                   for c in s.scalars(select(JournalCheckpoint).where(JournalCheckpoint.chain == self.chain)
                                      .order_by(JournalCheckpoint.size))]
        keys = {c.key_id: c.public_key for c in cps}
        if self.keys.public_path.exists():
            pk = self.keys.public()
            keys.setdefault(key_id(pk), public_pem(pk))
        return Bundle(entries, cps, keys)

    def entries(self, work_id: int | None = None) -> list[dict]:
        with self.registry.session() as s:
            q = select(JournalEntry).where(JournalEntry.chain == self.chain).order_by(JournalEntry.seq)
            if work_id is not None:
                q = q.where(JournalEntry.work_id == work_id)
            return [json.loads(e.payload) for e in s.scalars(q)]

    def verify(self) -> VerifyReport:
        from inkseal.journal.timestamp import check_timestamp

        return verify_bundle(self.bundle(), timestamp_checker=check_timestamp)

    # -- importing ----------------------------------------------------------------------------
    def _known_sha(self, sha: str) -> int | None:
        with self.registry.session() as s:
            return self._known_sha_in(s, sha)

    def _known_sha_in(self, s: Session, sha: str) -> int | None:
        return s.scalar(select(JournalEntry.seq).where(JournalEntry.chain == self.chain, JournalEntry.file_sha256 == sha)
                        .order_by(JournalEntry.seq).limit(1))

    def _source_entry(self, name: str | None) -> int | None:
        """The journaled file an img2img / edit started from, found by its file name."""
        if not name:
            return None
        base = Path(name).name
        with self.registry.session() as s:
            for e in s.scalars(select(JournalEntry).where(JournalEntry.chain == self.chain,
                                                          JournalEntry.kind.in_(("generation", "file")))
                               .order_by(JournalEntry.seq.desc())):
                if f'"file_name":"{base}"' in e.payload:
                    return e.seq
        return None

    def work_exists(self, work_id: int) -> bool:
        with self.registry.session() as s:
            return s.get(Work, work_id) is not None

    def import_file(self, path: Path, *, work_id: int | None = None, passphrase: str | None = None,
                    seen_at: str | None = None, max_bytes: int = 64 * 1024 * 1024) -> ImportItem:
        item = ImportItem(str(path))
        if work_id is not None and not self.work_exists(work_id):
            item.error = unknown_work(work_id)
            return item
        try:
            data = read_limited(path, max_bytes)  # also cuts off a file that grows while being read
        except OSError as exc:
            item.error = f"cannot read file: {exc.strerror or exc}"
            return item
        except InksealError as exc:
            item.error = str(exc)
            return item
        if not data:
            item.error = "empty file (0 bytes): nothing imported"
            return item
        sha = hashlib.sha256(data).hexdigest()
        existing = self._known_sha(sha)
        if existing is not None:
            item.message = f"already journaled as entry {existing}"
            return item
        meta, gens, problems = import_file(data)
        if meta.format == "" and not gens:
            item.error = problems[0] if problems else "not an image"
            return item
        work = work_id if work_id is not None else self._work_for(sha)
        mtime = datetime.fromtimestamp(path.stat().st_mtime, UTC).isoformat().replace("+00:00", "Z")
        file_info = {"file_name": path.name, "size_bytes": len(data), "format": meta.format,
                     "width": meta.width, "height": meta.height, "file_time": mtime, "seen_at": seen_at or now_iso(),
                     "pdq": self._pdq(data), "problems": problems}
        if not gens:
            batch: list[tuple[str, dict[str, Any]]] = [("file", {**file_info, "parameters": None})]
        else:
            batch = [("generation", {**file_info, "generation": g.as_dict(),
                                     "derived_from_entry": self._source_entry(g.source_image)}) for g in gens]
        # Nothing lost: the file's raw metadata, verbatim, in its first entry (`journal import --reparse`)
        batch[0][1]["raw_metadata"] = raw_record(meta, claimed_keys(gens))
        seqs, known = self._append_all(batch, work_id=work, file_sha256=sha, passphrase=passphrase,
                                       unless_journaled=True)
        if known is not None:  # another process journaled these bytes between our check and now
            item.message = f"already journaled as entry {known}"
            return item
        item.entries = seqs
        if not gens:
            item.message = "no generation parameters found: journaled as a file without parameters"
        item.tools = [g.tool for g in gens]
        return item

    def _work_for(self, sha: str) -> int | None:
        files = self.registry.files_by_sha256(sha)
        return files[0].work_id if files else None

    def _pdq(self, data: bytes) -> str | None:
        if self.pdq is None:
            return None
        try:
            from inkseal.imaging import load_image

            packed, _q = self.pdq.compute(load_image(data).rgb)
            return packed.tobytes().hex()
        except Exception:
            return None

    def import_paths(self, paths: Iterable[str | Path], *, work_id: int | None = None, passphrase: str | None = None,
                     on_item: Callable[[ImportItem], None] | None = None) -> list[ImportItem]:
        if work_id is not None and not self.work_exists(work_id):
            raise InksealError(unknown_work(work_id))  # one line for the batch, not one per file
        files: list[Path] = []
        for p in map(Path, paths):
            if p.is_dir():
                files += sorted((f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES),
                                key=lambda f: (f.stat().st_mtime, f.name))  # creation order, as the tool wrote them
            else:
                files.append(p)
        out = []
        for f in files:
            item = self.import_file(f, work_id=work_id, passphrase=passphrase)
            out.append(item)
            if on_item:
                on_item(item)
        if passphrase is not None and any(i.entries for i in out):
            self.checkpoint(passphrase)
        return out

    # -- re-reading stored metadata with the current importers ----------------------------------------
    def reparse(self, paths: list[str | Path] | tuple = (), *, passphrase: str | None = None,
                on_item: Callable[[ImportItem], None] | None = None) -> list[ImportItem]:
        """Re-read each journaled file's metadata with today's importers; where they now read more (or
        otherwise) than the entries say, append new generation entries citing the old ones (`reparse_of`).
        Signed entries never change. Without `paths`, the raw metadata stored in the entries is re-read;
        with paths, the files themselves (which must already be journaled)."""
        by_sha: dict[str, list[dict]] = {}
        for e in self.entries():
            if e.get("file_sha256") and e["kind"] in ("generation", "file") and not e["data"].get("recorder"):
                by_sha.setdefault(e["file_sha256"], []).append(e)
        out: list[ImportItem] = []
        sources: list[tuple[str, str, Any]] = []  # (label, sha, RawMetadata or None)
        for p in map(Path, paths):
            try:
                data = read_limited(p, 64 * 1024 * 1024)
            except (OSError, InksealError) as exc:
                out.append(ImportItem(str(p), error=f"cannot read file: {getattr(exc, 'strerror', None) or exc}"))
                continue
            sources.append((str(p), hashlib.sha256(data).hexdigest(), read_metadata(data)))
        if not paths:
            for sha, group in by_sha.items():
                raw = next((e["data"].get("raw_metadata") for e in group if e["data"].get("raw_metadata")), None)
                label = f"entry #{group[0]['seq']} ({group[0]['data'].get('file_name', '')})"
                sources.append((label, sha, from_raw_record(raw) if isinstance(raw, dict) else None))
        for label, sha, meta in sources:
            out.append(self._reparse_one(label, sha, meta, by_sha.get(sha, []), passphrase))
        for item in out:
            if on_item:
                on_item(item)
        if passphrase is not None and any(i.entries for i in out):
            self.checkpoint(passphrase)
        return out

    def _reparse_one(self, label: str, sha: str, meta: Any, group: list[dict], passphrase: str | None) -> ImportItem:
        item = ImportItem(label)
        if not group:
            item.error = "not journaled yet: use `inkseal journal import` first / 尚未记入创作日志，请先导入"
            return item
        if meta is None:
            item.message = ("no raw metadata stored (journaled before it was kept): give the file itself to "
                            "`journal import --reparse FILE`")
            return item
        gens, problems = import_metadata(meta)
        gens = [g for g in gens if g.source_key != "c2pa"]  # C2PA needs the file's bytes: its entry stands
        # the latest reading of this file: the last reparse's entries if any, else the original ones
        last_batch = max((e["data"].get("reparse_batch", 0) for e in group), default=0)
        current = [e for e in group if e["data"].get("reparse_batch", 0) == last_batch and e["kind"] == "generation"
                   and (e["data"].get("generation") or {}).get("source_key") != "c2pa"]
        new = [g.as_dict() for g in gens]
        if sorted(map(canonical, new)) == sorted(canonical(e["data"]["generation"]) for e in current):
            item.message = "unchanged"
            return item
        first = group[0]
        base = {k: first["data"].get(k) for k in ("file_name", "size_bytes", "format", "width", "height", "file_time")}
        cites = [e["seq"] for e in (current or group)]
        batch = [("generation", {**base, "generation": g, "problems": problems, "reparse_of": cites,
                                 "reparse_batch": last_batch + 1}) for g in new]
        if not batch:
            item.message = "the current importers read nothing from it"
            return item
        item.entries, _ = self._append_all(batch, work_id=first.get("work_id"), file_sha256=sha, passphrase=passphrase)
        item.tools = [g["tool"] for g in new]
        item.message = "re-read: " + ", ".join(item.tools) + " (cites " + ", ".join(f"#{s}" for s in cites) + ")"
        return item

    def curate(self, action: str, *, work_id: int | None, file: Path | None = None, source: Path | None = None,
               note: str = "", where: str = "", passphrase: str | None = None) -> int:
        """Record a human decision: selected / rejected / edited (from `source`) / published (where)."""
        if action not in CURATION:
            raise ValueError(f"action must be one of {', '.join(CURATION)}")
        if work_id is not None and not self.work_exists(work_id):
            raise InksealError(unknown_work(work_id))
        data: dict[str, Any] = {"action": action, "note": note}
        sha = None
        if file is not None:
            raw = file.read_bytes()
            sha = hashlib.sha256(raw).hexdigest()
            subject = self._known_sha(sha)
            self._check_curated_file(action, file, sha, subject, work_id)
            data.update({"file_name": file.name, "pdq": self._pdq(raw), "subject_entry": subject})
        if source is not None:
            src_sha = hashlib.sha256(source.read_bytes()).hexdigest()
            src_entry = self._known_sha(src_sha)
            if src_entry is None:
                raise InksealError(f"{source.name} was never journaled: journal it first (`inkseal journal import`) "
                                   f"/ {source.name} 未记入创作日志：请先导入")
            data.update({"source_file": source.name, "source_sha256": src_sha, "source_entry": src_entry})
        if where:
            data["where"] = where
        seq = self.append("curation", data, work_id=work_id, file_sha256=sha, passphrase=passphrase)
        if passphrase is not None:
            self.checkpoint(passphrase)
        return seq

    def _check_curated_file(self, action: str, file: Path, sha: str, subject: int | None, work_id: int | None) -> None:
        """A decision is about a picture the journal knows: selected / rejected need a journaled file
        (of this work, when it has one); published also accepts a registered file of the work (a
        sealed copy); edited records a new result, so its --from source must be journaled instead."""
        if action == "edited":
            return
        if subject is not None:
            with self.registry.session() as s:
                owner = s.scalar(select(JournalEntry.work_id).where(JournalEntry.chain == self.chain,
                                                                    JournalEntry.seq == subject))
            if work_id is not None and owner is not None and owner != work_id:
                raise InksealError(f"{file.name} is journaled for work {owner}, not work {work_id} / "
                                   f"{file.name} 属于作品 {owner} 的创作日志，而非作品 {work_id}")
            return
        if action == "published" and work_id is not None:
            with self.registry.session() as s:
                if s.scalar(select(WorkFile.id).where(WorkFile.sha256 == sha, WorkFile.work_id == work_id)):
                    return
        also = f" nor registered for work {work_id}" if action == "published" and work_id is not None else ""
        raise InksealError(f"{file.name} was never journaled{also}: journal it first (`inkseal journal import`) / "
                           f"{file.name} 未记入创作日志：请先导入")

    def watch(self, directory: Path, *, work_id: int | None = None, passphrase: str | None = None,
              interval_s: float = 1.0, stop: Callable[[], bool] = lambda: False,
              on_item: Callable[[ImportItem], None] | None = None,
              on_ready: Callable[[], None] | None = None) -> list[ImportItem]:
        """Journal every new image appearing in `directory` until `stop()` says so.

        Polling (not inotify) so that it works on network shares and in containers; a file is taken
        once its size has been stable for one interval, so half-written outputs are never read."""
        import time as _time

        if work_id is not None and not self.work_exists(work_id):
            raise InksealError(unknown_work(work_id))
        seen: dict[Path, tuple[int, float]] = {}
        done: set[Path] = {p for p in directory.rglob("*") if p.is_file()}  # existing files: use `import`
        out: list[ImportItem] = []
        if on_ready:
            on_ready()
        while not stop():
            for p in sorted(directory.rglob("*")):
                if p in done or not p.is_file() or p.suffix.lower() not in IMAGE_SUFFIXES:
                    continue
                st = p.stat()
                sig = (st.st_size, st.st_mtime)
                if seen.get(p) == sig and st.st_size > 0:
                    item = self.import_file(p, work_id=work_id, passphrase=passphrase, seen_at=now_iso())
                    done.add(p)
                    out.append(item)
                    if on_item:
                        on_item(item)
                    if passphrase is not None and item.entries:
                        self.checkpoint(passphrase)
                else:
                    seen[p] = sig
            _time.sleep(interval_s)
        return out

