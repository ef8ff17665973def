"""FAISS indexes over the registry's fingerprints, persisted beside the database.

The database is the truth; an index is a cache of it, kept in three files per signal:

    <signal>.json                 which generation is current (written last, by rename)
    <signal>.<gen>.faiss          the base: every vector at the last compaction
    <signal>.<gen>.delta          adds and removes since then, appended (see index_delta.py)

Opening reads the base once and replays the delta. `sync()` then compares a watermark of what is
indexed (count, highest id, checksum of ids) with the same three numbers from one SQL aggregate:
equal, nothing else is read; the highest id grew, only the rows above it are fetched; anything
else (a crash between a database commit and the index, a removal behind our back) falls back to
the full id diff. Changes are appended to the delta, never a whole-file rewrite; when the delta
passes a share of the base, or on `inkseal index compact`, a new generation is written (temp +
rename, then the pointer file) and the old one deleted. A crash at any point leaves the previous
generation current, a torn delta record ends the log early, a corrupt file reads as empty: each
costs a re-sync, never a wrong answer. Writers across processes hold one file lock.

With `index_backend = "faiss-ivfpq"` a large registry's SSCD base is an IVF-PQ index (compressed codes,
trained from a database sample; index_ivf.py) instead of the flat one; the delta and the watermark work
the same, and every result is re-scored exactly from the database. Other backends refuse such a base
(read as unusable: a rebuild, never PQ-estimated scores).
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import secrets
from collections.abc import Iterable
from contextlib import contextmanager
from pathlib import Path

import faiss
import numpy as np
from sqlalchemy import BigInteger, cast, func, select

from inkseal.errors import InksealError
from inkseal.match import index_delta as delta
from inkseal.match import index_ivf as ivf
from inkseal.match.index_ann import HnswCandidates
from inkseal.match.index_delta import HASH_MOD, HASH_MUL, Watermark
from inkseal.registry.models import Fingerprint, FingerprintMark, WorkFile
from inkseal.registry.store import FingerprintRow, Registry

# Exact search over a creator's registry is small work per query; OpenMP's thread start-up and
# spinning cost more than they save (28 ms vs < 1 ms per binary search measured on 2 cores).
faiss.omp_set_num_threads(1)
from inkseal.signals.base import SignalType  # noqa: E402

COMPACT_SHARE = 0.25  # merge the delta into a new base when it holds this share of the base...
COMPACT_MIN_RECORDS = 4096  # ...and at least this many records (small registries rarely compact)
COMPACT_MAX_RECORDS = 65536  # always merge past this: replaying the delta at open stays cheap


def db_watermark(registry: Registry, signal: str) -> Watermark:
    """The watermark of the database's fingerprints of `signal`: count and checksum from the row the
    database's triggers keep (migration 0009), the highest id by a seek on the (signal, id) index, so the
    cost does not grow with the registry (the aggregate over every row took ~1.5 s at 1M works)."""
    with registry.session() as s:
        mark = s.get(FingerprintMark, signal)
        top = s.execute(select(func.max(Fingerprint.id)).where(Fingerprint.signal == signal)).scalar()
    if mark is None or not mark.count:
        return Watermark(0, 0, 0) if top is None else counted_watermark(registry, signal)
    return Watermark(int(mark.count), int(top or 0), int(mark.checksum))


def counted_watermark(registry: Registry, signal: str) -> Watermark:
    """The same watermark counted over every row (one aggregate query; 64-bit products, since PostgreSQL's
    integer would overflow): what the triggers' row must always equal."""
    with registry.session() as s:
        count, top, checksum = s.execute(
            select(func.count(Fingerprint.id), func.max(Fingerprint.id),
                   func.sum((cast(Fingerprint.id, BigInteger) * HASH_MUL) % HASH_MOD)).where(Fingerprint.signal == signal)).one()
    return Watermark(int(count or 0), int(top or 0), int(checksum or 0))


def _rows_above(registry: Registry, signal: str, last: int, batch: int = 2000) -> Iterable[FingerprintRow]:
    """Fingerprints of `signal` with id > `last`, in id order (keyset pages on the (signal, id) index)."""
    with registry.session() as s:
        while True:
            rows = s.execute(
                select(Fingerprint.id, Fingerprint.file_id, WorkFile.work_id, Fingerprint.variant, Fingerprint.data)
                .join(WorkFile, WorkFile.id == Fingerprint.file_id)
                .where(Fingerprint.signal == signal, Fingerprint.id > last).order_by(Fingerprint.id).limit(batch)).all()
            if not rows:
                return
            for r in rows:
                yield FingerprintRow(*r)
            last = rows[-1][0]


BACKENDS = ("faiss-flat", "faiss-hnsw", "faiss-ivfpq")


class SignalIndex:
    def __init__(self, signal: SignalType, directory: Path, backend: str = "faiss-flat") -> None:
        """`backend`: "faiss-flat" searches every vector exactly; "faiss-hnsw" adds an HNSW graph that
        proposes candidates, re-scored exactly (index_ann.py); "faiss-ivfpq" keeps only compressed IVF-PQ
        codes in RAM once the registry is large and re-scores candidates exactly with vectors read from
        the database (index_ivf.py). Hamming indexes stay exact."""
        if signal.index_kind not in ("ip", "hamming"):
            raise ValueError(f"signal {signal.name} has no index")
        if backend not in BACKENDS:
            raise InksealError(f"index backend {backend!r} is not available; use one of {', '.join(BACKENDS)} / "
                               f"索引后端 {backend!r} 不可用")
        self.signal = signal
        self.directory = directory
        self.meta_path = directory / f"{signal.name}.json"
        self.vector_bytes = signal.dim * 4 if signal.index_kind == "ip" else signal.dim // 8
        self.index = self._empty()
        self.generation: str | None = None  # None: nothing usable on disk, the next sync writes a base
        self._delta_offset = 0
        self._delta_records = 0
        self._torn_tail = False
        self._compact_due = False  # a catch-up too big for the delta: written as a new base instead
        self._mark = Watermark(0, 0, 0)
        self.ann = HnswCandidates(signal.dim) if backend == "faiss-hnsw" and signal.index_kind == "ip" else None
        self.compressed = backend == "faiss-ivfpq" and signal.index_kind == "ip"
        self._registry: Registry | None = None  # the database the compressed index re-ranks from (set by sync)

    # -- files ----------------------------------------------------------------------------------
    @property
    def path(self) -> Path:
        """The current base file (a generation that does not exist yet when there is none)."""
        return self.directory / f"{self.signal.name}.{self.generation or 'none'}.faiss"

    @property
    def delta_path(self) -> Path:
        return self.directory / f"{self.signal.name}.{self.generation or 'none'}.delta"

    def _ann_path(self, generation: str) -> Path:
        return self.directory / f"{self.signal.name}.{generation}.hnsw"

    def _empty(self):  # type: ignore[no-untyped-def]
        if self.signal.index_kind == "ip":
            return faiss.IndexIDMap2(faiss.IndexFlatIP(self.signal.dim))
        return faiss.IndexBinaryIDMap2(faiss.IndexBinaryFlat(self.signal.dim))

    @contextmanager
    def _locked(self):  # type: ignore[no-untyped-def]
        self.directory.mkdir(parents=True, exist_ok=True)
        with open(self.directory / ".lock", "w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)  # one writer at a time across processes
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _current_generation(self) -> str | None:
        try:
            meta = json.loads(self.meta_path.read_text())
        except (OSError, ValueError):
            return None
        gen = meta.get("generation") if isinstance(meta, dict) else None
        if meta.get("signal_version") != self.signal.version or not isinstance(gen, str) \
                or not re.fullmatch(r"[0-9a-f]{32}", gen):
            return None  # stale format or an older layout: start empty, sync refills from the database
        return gen

    def _refresh(self) -> None:
        """Catch up with the files: reload the base if another process compacted, replay new delta records."""
        gen = self._current_generation()
        if gen != self.generation or gen is None:
            self.index, self.generation, self._delta_offset, self._delta_records = self._empty(), None, 0, 0
            if gen is not None:
                try:
                    reader = faiss.read_index if self.signal.index_kind == "ip" else faiss.read_index_binary
                    self.index = reader(str(self.directory / f"{self.signal.name}.{gen}.faiss"))
                    if ivf.is_ivf(self.index) and not self.compressed:
                        raise ValueError("a compressed base: its codes cannot give exact scores here")
                    self.generation, self._delta_offset = gen, delta.header_size()
                except Exception:
                    self.index = self._empty()  # unreadable base: the watermark check re-syncs it all
            self._mark = Watermark.of_ids(self.ids())
            if self.ann is not None:
                if self.generation is None:
                    self.ann.build(self.index)
                else:
                    self.ann.load(self._ann_path(self.generation), self.index)
        if self.generation is None:
            return
        try:
            with open(self.delta_path, "rb") as fh:
                head = fh.read(delta.header_size())
        except OSError:
            head = b""
        if not delta.header_matches(head, self.signal.version, self.vector_bytes, self.generation):
            self._torn_tail = True  # missing or foreign delta: rewritten at the next append
            self._delta_offset = delta.header_size()
            return
        recs = delta.read_records(self.delta_path, self._delta_offset, self.vector_bytes)
        self._torn_tail = recs.torn
        self._delta_offset = recs.good_until
        self._delta_records += recs.count
        if recs.count:
            self._apply(recs.removes, list(recs.adds), [recs.adds[i] for i in recs.adds])

    def _append(self, records: list[bytes]) -> None:
        if not records or self.generation is None:
            return
        if self._torn_tail:  # drop what a crashed writer left half-written before adding after it
            with open(self.delta_path, "r+b" if self.delta_path.exists() else "w+b") as fh:
                fh.seek(0)
                head = fh.read(delta.header_size())
                if not delta.header_matches(head, self.signal.version, self.vector_bytes, self.generation):
                    fh.seek(0)
                    fh.write(delta.header(self.signal.version, self.vector_bytes, self.generation))
                    self._delta_offset = delta.header_size()
                fh.truncate(self._delta_offset)
            self._torn_tail = False
        with open(self.delta_path, "ab") as fh:
            fh.write(b"".join(records))
            self._delta_offset = fh.tell()
        self._delta_records += len(records)

    def compact(self) -> None:
        """Write the index as a new generation and make it current; the old one is deleted."""
        with self._locked():
            self._refresh()
            self._compact_locked()

    def _compact_locked(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        gen = secrets.token_hex(16)
        base = self.directory / f"{self.signal.name}.{gen}.faiss"
        tmp = base.with_name(base.name + f".tmp{os.getpid()}")
        writer = faiss.write_index if self.signal.index_kind == "ip" else faiss.write_index_binary
        writer(self.index, str(tmp))
        os.replace(tmp, base)
        dtmp = self.directory / f"{self.signal.name}.{gen}.delta.tmp{os.getpid()}"
        dtmp.write_bytes(delta.header(self.signal.version, self.vector_bytes, gen))
        os.replace(dtmp, self.directory / f"{self.signal.name}.{gen}.delta")
        if self.ann is not None:
            if self.ann.tombstones:
                self.ann.build(self.index)  # HNSW cannot delete: a new generation gets a clean graph
            self.ann.save(self._ann_path(gen))
        meta = {"signal": self.signal.name, "signal_version": self.signal.version, "generation": gen,
                "count": self._mark.count, "max_id": self._mark.max_id, "checksum": self._mark.checksum}
        mtmp = self.meta_path.with_name(self.meta_path.name + f".tmp{os.getpid()}")
        mtmp.write_text(json.dumps(meta))
        os.replace(mtmp, self.meta_path)  # the switch: before it the old generation is whole and current
        self.generation, self._delta_offset, self._delta_records, self._torn_tail = gen, delta.header_size(), 0, False
        self._compact_due = False
        self._remove_other_generations()

    def _remove_other_generations(self) -> None:
        mine = re.compile(rf"{re.escape(self.signal.name)}\.([0-9a-f]{{32}}|none)\.(faiss|delta|hnsw)(\.tmp\d+)?$"
                          rf"|{re.escape(self.signal.name)}\.(faiss|json\.tmp\d+|tmp\d+)$")
        for p in self.directory.iterdir():
            m = mine.match(p.name)
            if m and not (m.group(1) == self.generation and m.group(3) is None):
                p.unlink(missing_ok=True)

    def _should_compact(self) -> bool:
        if self.generation is None or self._compact_due:
            return True
        n = self._delta_records
        return n >= COMPACT_MAX_RECORDS or (n >= COMPACT_MIN_RECORDS and n >= COMPACT_SHARE * max(len(self), 1))

    # -- content --------------------------------------------------------------------------------
    def ids(self) -> np.ndarray:
        if self.index.ntotal == 0:
            return np.zeros(0, dtype=np.int64)
        if ivf.is_ivf(self.index):
            return ivf.ids_of(self.index)
        return faiss.vector_to_array(self.index.id_map).astype(np.int64)

    def _apply(self, removes: list[int], add_ids: list[int], add_vectors: list[bytes]) -> None:
        """Removes, then adds (an add of an id already present replaces it); the watermark follows.

        Kept incremental (no pass over every id) unless an id at or below the top is touched."""
        drop = np.asarray(sorted(set(removes)), dtype=np.int64)
        add = np.asarray(add_ids, dtype=np.int64)
        touches_old = len(add) and int(add.min()) <= self._mark.max_id
        if len(drop) or touches_old:
            have = self.ids()
            drop = np.union1d(drop[np.isin(drop, have)], add[np.isin(add, have)] if touches_old else drop[:0])
            if len(drop):
                self.index.remove_ids(drop)
                if self.ann is not None:
                    self.ann.remove(drop)
        if len(add):
            dtype = np.float32 if self.signal.index_kind == "ip" else np.uint8
            mat = np.frombuffer(b"".join(add_vectors), dtype=dtype).reshape(len(add), -1)
            self.index.add_with_ids(np.ascontiguousarray(mat), add)
            if self.ann is not None:
                self.ann.add(add, mat)
        if len(drop) and int(drop.max()) >= self._mark.max_id:
            self._mark = Watermark.of_ids(self.ids())  # the top went: recount
        else:
            m = self._mark
            gone, new = Watermark.of_ids(drop), Watermark.of_ids(add)
            self._mark = Watermark(m.count - gone.count + new.count, max(m.max_id, new.max_id),
                                   m.checksum - gone.checksum + new.checksum)

    def _vector_bytes(self, data: bytes) -> bytes:
        vec = self.signal.as_index_vector(self.signal.deserialize(data))
        return np.ascontiguousarray(vec, dtype=np.float32 if self.signal.index_kind == "ip" else np.uint8).tobytes()

    def sync(self, registry: Registry, removed: Iterable[int] = ()) -> int:
        """Reconcile with the database; returns the number of entries added or removed.

        `removed`: fingerprint ids the caller just deleted, so a removal costs no full id diff."""
        self._registry = registry
        with self._locked():
            self._refresh()
            changed = self._sync_locked(registry, list(removed))
            if self._should_compact():
                self._compact_locked()
            return changed

    def _sync_locked(self, registry: Registry, removed: list[int]) -> int:
        records: list[bytes] = []
        changed = 0
        if removed:
            present = [int(i) for i in np.asarray(removed, dtype=np.int64)[np.isin(removed, self.ids())]]
            if present:
                self._apply(present, [], [])
                self._record(records, [delta.encode(delta.REMOVE, i) for i in present])
                changed += len(present)
        want = db_watermark(registry, self.signal.name)
        if self.compressed and ivf.needs_training(self.index, want.count):
            # a newly trained compressed index, filled from the database below and written as a new base
            self.index = ivf.train(registry, self.signal, want.count)
            self._mark, self._compact_due = Watermark(0, 0, 0), True
            records.clear()
        if want != self._mark and want.max_id > self._mark.max_id:
            changed += self._add_rows(_rows_above(registry, self.signal.name, self._mark.max_id), records)
        if want != self._mark:
            changed += self._full_diff(registry, records)
        if not self._compact_due:
            self._append(records)
        return changed

    def _add_rows(self, rows: Iterable[FingerprintRow], records: list[bytes]) -> int:
        ids: list[int] = []
        vecs: list[bytes] = []
        n = 0
        for row in rows:
            ids.append(row.id)
            vecs.append(self._vector_bytes(row.data))
            if len(ids) >= 4096:
                n += self._add_batch(ids, vecs, records)
                ids, vecs = [], []
        return n + self._add_batch(ids, vecs, records)

    def _add_batch(self, ids: list[int], vecs: list[bytes], records: list[bytes]) -> int:
        if not ids:
            return 0
        self._apply([], ids, vecs)
        self._record(records, [delta.encode(delta.ADD, i, v) for i, v in zip(ids, vecs)])
        return len(ids)

    def _record(self, records: list[bytes], new: list[bytes]) -> None:
        """Queue delta records; a change bigger than the delta may hold (a first catch-up of a large
        registry) is not queued at all - the new base written at the end holds it (no second copy in RAM)."""
        if self.generation is None or self._compact_due:
            return
        if len(records) + len(new) + self._delta_records >= COMPACT_MAX_RECORDS:
            records.clear()
            self._compact_due = True
            return
        records += new

    def _full_diff(self, registry: Registry, records: list[bytes]) -> int:
        db_ids = set(registry.fingerprint_ids(self.signal.name))
        have = set(self.ids().tolist())
        extra, missing = sorted(have - db_ids), db_ids - have
        if extra:
            self._apply(extra, [], [])
            self._record(records, [delta.encode(delta.REMOVE, i) for i in extra])
        added = self._add_rows(registry.fingerprints(self.signal.name, missing), records) if missing else 0
        return len(extra) + added

    def rebuild(self, registry: Registry) -> int:
        self._registry = registry
        with self._locked():
            self.index, self.generation, self._mark = self._empty(), None, Watermark(0, 0, 0)
            if self.ann is not None:
                self.ann.build(self.index)
            self._sync_locked(registry, [])
            self._compact_locked()
            return int(self.index.ntotal)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-k per query: (similarities or distances, fingerprint ids; -1 where fewer exist)."""
        if self.index.ntotal == 0 or len(queries) == 0:
            n = len(queries)
            return np.zeros((n, 0)), np.zeros((n, 0), dtype=np.int64)
        k = min(k, int(self.index.ntotal))
        if self.ann is not None:
            return self.ann.search(self.index, queries, k)
        if ivf.is_ivf(self.index):
            if self._registry is None:
                raise InksealError("the compressed index re-ranks from the database: sync it first / "
                                   "压缩索引需要先与数据库同步")
            return ivf.search(self.index, self._registry, self.signal, queries, k)
        return self.index.search(np.ascontiguousarray(queries), k)

    def __len__(self) -> int:
        return int(self.index.ntotal)
