"""Registry: the storage interface over SQLAlchemy. SQLite (WAL) by default, PostgreSQL by URL.

The same class serves both databases; tests run the same suite against a real SQLite file and a
real PostgreSQL server. Schema changes go through Alembic migrations, applied at open.

Several processes may write at once (two `register` runs, a `journal import` beside a `scan`).
Writes that read-then-insert (registration, journal appends, migrations) run in `writing()`: one
transaction holding a lock named for that kind of write - SQLite's database write lock taken at
BEGIN (BEGIN IMMEDIATE, so a transaction never has to upgrade a stale read snapshot), PostgreSQL's
transaction-scoped advisory lock. Unique constraints stay as the safety net; a lost race
(IntegrityError, "database is locked") is retried, then reported as one line, never a traceback.

Local features (ORB) are not rows: they live in the feature store beside the objects (registry/features.py),
keyed by the file's SHA-256, signal and version; migration 0006 moved the rows of older versions there.

At open, `recover()` closes scans whose process died as "interrupted". Works that older versions
left without a file (they created the work before its file) are removed once, by migration 0005.
"""

from __future__ import annotations

import functools
import os
import socket
import sqlite3
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import Engine, create_engine, delete, event, func, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, selectinload, sessionmaker

from inkseal.errors import InksealError, NotFound
from inkseal.registry.models import (
    Allowance,
    Author,
    Case,
    CaseCheck,
    Fingerprint,
    Match,
    Scan,
    Work,
    WorkFile,
    utcnow,
)
from inkseal.registry.cases import CaseRefused, CaseStore
from inkseal.registry.features import Recomputable, is_local, local_signal, recompute
from inkseal.registry.objects import FeatureStore, ObjectStore
from inkseal.registry.paging import keyset_page
from inkseal.registry.statuses import CASE_STATUSES

MIGRATIONS = Path(__file__).parent / "migrations"
__all__ = ["CaseRefused", "Registry", "Registered", "FingerprintRow", "MIGRATIONS", "MATCH_STATUSES"]
MATCH_STATUSES = CASE_STATUSES  # marking a match marks its case
T = TypeVar("T")


@functools.cache
def schema_head() -> str:
    """The newest migration revision: what a freshly migrated database reports."""
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return str(ScriptDirectory.from_config(cfg).get_current_head())


def _lock_key(name: str) -> int:
    """A stable PostgreSQL advisory lock key (a bigint) per kind of write ("register", "journal", ...)."""
    return zlib.crc32(f"inkseal:{name}".encode()) | (0x1A5E << 32)


def this_owner() -> str:
    """Who is working something (a scan, a monitor run): this host and process id."""
    return f"{socket.gethostname()}:{os.getpid()}"


def process_gone(owner: str | None) -> bool | None:
    """Is the process that `owner` (this_owner()'s "host:pid") names gone? True also for no owner; None for a
    process on another host (shared PostgreSQL), whose liveness this host cannot see."""
    if not owner:
        return True
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return None
    return not pid_alive(int(pid))


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, belongs to someone else
    return True


def make_private_file(path: Path) -> None:
    """Create `path` as 0600 if missing; take group/other bits off an existing one."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.close(fd)
    except FileExistsError:
        try:
            mode = path.stat().st_mode & 0o777
            if mode & 0o077:
                os.chmod(path, mode & 0o700)
        except OSError:
            pass


def _vacuum_if_mostly_free(raw) -> None:  # type: ignore[no-untyped-def]
    """After 0006 moved the ORB rows out, SQLite keeps their pages as free space until a VACUUM. Rewrite the
    file once, here, when a good part of it is free: the VACUUM then costs no more than the rows it gives back
    (it copies only what is left), and an old home shrinks to its new size without a separate command.
    A reader in another process blocks it ("locked"): the file then keeps its size, and SQLite fills the free
    pages with later writes before it grows again."""
    free = raw.execute("PRAGMA freelist_count").fetchone()[0]
    pages = raw.execute("PRAGMA page_count").fetchone()[0]
    if pages and free * 4 > pages:  # a quarter free: the ORB rows were most of any real registry
        try:
            raw.execute("VACUUM")
            raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # VACUUM in WAL mode goes through the log
        except sqlite3.OperationalError:
            pass


@dataclass(frozen=True)
class Registered:
    """What `register_file` did: `existing` is True when the bytes were already registered."""

    work_id: int
    file_id: int
    existing: bool


@dataclass(frozen=True)
class FingerprintRow:
    id: int
    file_id: int
    work_id: int
    variant: str
    data: bytes


def _make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            # We emit BEGIN ourselves (below), so that writers can take the write lock up front.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
            cur.execute("PRAGMA foreign_keys=ON")  # cascades on removal
            cur.execute("PRAGMA synchronous=NORMAL")  # safe with WAL, much faster than FULL
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):  # type: ignore[no-untyped-def]
            immediate = conn.get_execution_options().get("inkseal_write", False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine
    return create_engine(url, pool_pre_ping=True)


class Registry(CaseStore):
    def __init__(self, url: str, objects_dir: Path) -> None:
        self.db_path: Path | None = None
        if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
            self.db_path = Path(url.removeprefix("sqlite:///"))
            self.db_path.parent.mkdir(parents=True, exist_ok=True)
            make_private_file(self.db_path)  # holds prompts and file names: 0600 before SQLite opens it
        self.url = url
        self.engine = _make_engine(url)
        self.objects = ObjectStore(objects_dir)
        self.features = FeatureStore(objects_dir.parent / "features")
        self._session = sessionmaker(self.engine, expire_on_commit=False)
        self._write_session = sessionmaker(self.engine.execution_options(inkseal_write=True), expire_on_commit=False)
        self.migrate()
        self.fix_permissions()
        self.recover()

    # -- schema -------------------------------------------------------------------------------
    def migrate(self) -> None:
        """Bring the schema to head; two processes opening a new home at once migrate one after the other."""
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        with self.engine.connect() as conn:
            sqlite = conn.dialect.name == "sqlite"
            raw = conn.connection.dbapi_connection if sqlite else None
            if raw is not None:
                # SQLite rebuilds a table to change it (batch mode): with foreign keys on, dropping the old
                # `works` would cascade-delete every file and match. The pragma only works outside a
                # transaction, so it is set here, before BEGIN, and checked and restored after.
                raw.execute("PRAGMA foreign_keys=OFF")
            try:
                with conn.execution_options(inkseal_write=True).begin():
                    if conn.dialect.name == "postgresql":
                        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _lock_key("migrate")})
                    if MigrationContext.configure(conn).get_current_revision() == schema_head():
                        return  # at head: nothing to apply, and nothing to check (the check reads every row:
                        # 4.8 s of each start-up at 1M works)
                    cfg.attributes["connection"] = conn
                    cfg.attributes["feature_store"] = self.features  # 0006 moves ORB rows there
                    command.upgrade(cfg, "head")
                    if sqlite and conn.exec_driver_sql("PRAGMA foreign_key_check").first() is not None:
                        raise InksealError("the database schema upgrade left dangling references; nothing was "
                                           "changed / 数据库升级发现无效引用，未做任何更改")
            finally:
                if raw is not None:
                    raw.execute("PRAGMA foreign_keys=ON")
            if raw is not None and cfg.attributes.get("features_moved"):
                _vacuum_if_mostly_free(raw)

    def fix_permissions(self) -> None:
        """registry.sqlite and its -wal/-shm hold prompts and file names: owner only (0600)."""
        if self.db_path is None:
            return
        for suffix in ("", "-wal", "-shm", "-journal"):
            p = self.db_path.with_name(self.db_path.name + suffix)
            if p.exists():
                make_private_file(p)

    def session(self) -> Session:
        return self._session()

    @contextmanager
    def writing(self, lock: str) -> Iterator[Session]:
        """One write transaction holding the `lock` for this kind of write until it commits."""
        with self._write_session() as s, s.begin():
            s.connection()  # BEGIN now (IMMEDIATE on SQLite), not at the first statement
            if self.engine.dialect.name == "postgresql":
                s.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _lock_key(lock)})
            yield s

    def retrying(self, what: str, attempt: Callable[[], T], tries: int = 6) -> T:
        """Run a write again when it lost a race to another process; one clear line if it keeps losing."""
        for n in range(tries):
            try:
                return attempt()
            except (IntegrityError, OperationalError) as exc:
                transient = isinstance(exc, IntegrityError) or "locked" in str(exc) or "deadlock" in str(exc)
                if not transient or n == tries - 1:
                    raise InksealError(f"{what}: the database stayed busy or conflicting ({exc.orig}) / "
                                       "数据库繁忙或写入冲突，请重试") from None
                time.sleep(0.05 * (n + 1))
        raise AssertionError("unreachable")

    # -- recovery at open ---------------------------------------------------------------------
    def recover(self) -> dict[str, int]:
        """Clean what a killed writer left; returns counts of what was repaired."""
        return self.retrying("recovering after an interrupted run", self._recover)

    @staticmethod
    def _dead_scans(s: Session) -> list[int]:
        """Ids of scans whose process is gone (works left without a file are removed once, by migration 0005)."""
        # scans of other hosts (shared PostgreSQL) are theirs to close: process_gone says None for those
        return [scan_id for scan_id, owner in s.execute(select(Scan.id, Scan.owner).where(Scan.finished_at.is_(None)))
                if process_gone(owner) is True]

    def _recover(self) -> dict[str, int]:
        with self.session() as s:  # the usual case, nothing to repair, takes no write lock
            dead = self._dead_scans(s)
        if dead:
            with self.writing("register") as s:
                dead = self._dead_scans(s)  # again, under the lock
                if dead:
                    s.execute(update(Scan).where(Scan.id.in_(dead)).values(status="interrupted", finished_at=utcnow()))
        return {"interrupted_scans": len(dead)}

    def close(self) -> None:
        self.engine.dispose()

    # -- authors and works --------------------------------------------------------------------
    def _author_id(self, s: Session, name: str) -> int:
        """Upsert: two processes adding the same new author both get its one row."""
        insert = pg_insert if s.bind.dialect.name == "postgresql" else sqlite_insert  # type: ignore[union-attr]
        s.execute(insert(Author).values(name=name, created_at=utcnow()).on_conflict_do_nothing(index_elements=["name"]))
        return int(s.scalar(select(Author.id).where(Author.name == name)))  # type: ignore[arg-type]

    def add_work(self, author: str, title: str, created_at: datetime | None = None) -> Work:
        """A work with no file yet (e.g. to journal its making first). `register_file` is the usual way."""
        def attempt() -> Work:
            with self.writing("register") as s:
                work = Work(author_id=self._author_id(s, author), title=title, created_at=created_at)
                s.add(work)
                s.flush()
                s.refresh(work, ["author"])
                return work
        return self.retrying("adding a work", attempt)

    def register_file(self, *, author: str, title: str, created_at: datetime | None, work_id: int | None,
                      role: str, data: bytes, sha256: str, fmt: str, width: int, height: int,
                      source_name: str = "", regions: dict | None = None,
                      fingerprints: Iterable[tuple[str, int, str, bytes]] = ()) -> Registered:
        """Register bytes atomically: the work (when `work_id` is None), its file and fingerprints
        are one transaction, so a kill leaves all of them or none. Bytes already registered (same
        SHA-256, by anyone, even a process racing this one) are reported, not stored twice."""
        fps = self._store_local_features(sha256, fingerprints)
        self.objects.put(data)  # before the row: a row never points at missing bytes

        def attempt() -> Registered:
            with self.writing("register") as s:
                existing = s.execute(select(WorkFile.work_id, WorkFile.id).where(WorkFile.sha256 == sha256)).first()
                if existing is not None:
                    return Registered(existing[0], existing[1], True)
                wid = work_id
                if wid is None:
                    work = Work(author_id=self._author_id(s, author), title=title, created_at=created_at)
                    s.add(work)
                    s.flush()
                    wid = work.id
                elif s.get(Work, wid) is None:
                    raise NotFound(f"no work {wid}")
                wf, _ = self._insert_file(s, wid, role, data, sha256, fmt, width, height, source_name, regions, fps)
                return Registered(wid, wf.id, False)
        return self.retrying("registering a file", attempt)

    def _store_local_features(self, sha256: str, fingerprints: Iterable[tuple[str, int, str, bytes]]
                              ) -> list[tuple[str, int, str, bytes]]:
        """Write the local features to the feature store (before the row, like the bytes); return the rest."""
        rows = []
        for sig, ver, var, blob in fingerprints:
            if is_local(sig, var):
                self.features.put(sig, ver, sha256, blob)
            else:
                rows.append((sig, ver, var, blob))
        return rows

    @staticmethod
    def _insert_file(s: Session, work_id: int, role: str, data: bytes, sha256: str, fmt: str, width: int,
                     height: int, source_name: str, regions: dict | None,
                     fingerprints: list[tuple[str, int, str, bytes]]) -> tuple[WorkFile, list[Fingerprint]]:
        wf = WorkFile(work_id=work_id, role=role, sha256=sha256, size_bytes=len(data), format=fmt,
                      width=width, height=height, source_name=source_name, regions=regions or {})
        s.add(wf)
        s.flush()
        rows = [Fingerprint(file_id=wf.id, signal=sig, signal_version=ver, variant=var, data=blob)
                for sig, ver, var, blob in fingerprints]
        s.add_all(rows)
        s.flush()
        return wf, rows  # type: ignore[return-value]

    def add_file(
        self,
        work_id: int,
        *,
        role: str,
        data: bytes,
        sha256: str,
        fmt: str,
        width: int,
        height: int,
        source_name: str = "",
        regions: dict | None = None,
        fingerprints: Iterable[tuple[str, int, str, bytes]] = (),
    ) -> tuple[WorkFile, list[tuple[int, str, str]]]:
        """Store the bytes and the file row with its fingerprints in one transaction.

        Returns the file and (fingerprint id, signal, variant) for each fingerprint, so the caller
        can add exactly those ids to the indexes after the commit.
        """
        fps = self._store_local_features(sha256, fingerprints)
        self.objects.put(data)  # before the row: a row never points at missing bytes

        def attempt() -> tuple[WorkFile, list[tuple[int, str, str]]]:
            with self.writing("register") as s:
                if s.get(Work, work_id) is None:
                    raise NotFound(f"no work {work_id}")
                same = s.scalar(select(WorkFile).where(WorkFile.sha256 == sha256))
                if same is not None:
                    if same.work_id != work_id:
                        raise InksealError(f"these bytes are already registered as work {same.work_id} / "
                                           f"该文件已登记为作品 {same.work_id}")
                    return same, []  # the very same file again (e.g. publishing twice): nothing new
                wf, rows = self._insert_file(s, work_id, role, data, sha256, fmt, width, height, source_name,
                                             regions, fps)
                return wf, [(r.id, r.signal, r.variant) for r in rows]
        return self.retrying("adding a file", attempt)

    def works(self, after_id: int | None = None, limit: int | None = None) -> list[Work]:
        """Works in id order; `after_id`/`limit` page through them (keyset: cheap at any depth)."""
        with self.session() as s:
            q = select(Work).options(selectinload(Work.author), selectinload(Work.files))
            return list(s.scalars(keyset_page(q, Work.id, after_id, limit)))

    def work(self, work_id: int) -> Work:
        with self.session() as s:
            q = select(Work).where(Work.id == work_id).options(selectinload(Work.author), selectinload(Work.files))
            work = s.scalar(q)
            if work is None:
                raise NotFound(f"no work {work_id}")
            return work

    def file(self, file_id: int) -> WorkFile:
        with self.session() as s:
            wf = s.get(WorkFile, file_id, options=[selectinload(WorkFile.work).selectinload(Work.author)])
            if wf is None:
                raise NotFound(f"no file {file_id}")
            return wf

    def files_by_sha256(self, sha256: str) -> list[WorkFile]:
        with self.session() as s:
            return list(s.scalars(select(WorkFile).where(WorkFile.sha256 == sha256)))

    def remove_work(self, work_id: int) -> None:
        with self.writing("register") as s:
            work = s.get(Work, work_id)
            if work is None:
                raise NotFound(f"no work {work_id}")
            file_ids = select(WorkFile.id).where(WorkFile.work_id == work_id)
            gone = list(s.scalars(select(WorkFile.sha256).where(WorkFile.work_id == work_id)))
            s.execute(delete(Fingerprint).where(Fingerprint.file_id.in_(file_ids)))
            s.execute(delete(Match).where(Match.work_id == work_id))
            s.execute(delete(CaseCheck).where(CaseCheck.case_id.in_(select(Case.id).where(Case.work_id == work_id))))
            s.execute(delete(Case).where(Case.work_id == work_id))
            s.execute(delete(Allowance).where(Allowance.work_id == work_id))
            s.execute(delete(WorkFile).where(WorkFile.work_id == work_id))
            s.delete(work)
        # After the commit (a crash before it must not lose a registered file's features; a crash after it
        # leaves an orphan blob, harmless). Bytes registered again meanwhile keep theirs (sha256 is unique
        # since 0003, so no other file shares them otherwise); a blob lost to a race is recomputed.
        with self.session() as s:
            kept = set(s.scalars(select(WorkFile.sha256).where(WorkFile.sha256.in_(gone)))) if gone else set()
        for sha256 in set(gone) - kept:
            self.features.delete_all_versions(sha256)

    # -- fingerprints -------------------------------------------------------------------------
    def fingerprint_ids(self, signal: str) -> list[int]:
        with self.session() as s:
            return list(s.scalars(select(Fingerprint.id).where(Fingerprint.signal == signal).order_by(Fingerprint.id)))

    def fingerprints(self, signal: str, ids: Iterable[int] | None = None, batch: int = 2000) -> Iterator[FingerprintRow]:
        """Stream fingerprints of one signal (optionally only `ids`), in id order."""
        wanted = sorted(ids) if ids is not None else None
        with self.session() as s:
            base = (select(Fingerprint.id, Fingerprint.file_id, WorkFile.work_id, Fingerprint.variant, Fingerprint.data)
                    .join(WorkFile, WorkFile.id == Fingerprint.file_id).where(Fingerprint.signal == signal))
            if wanted is None:
                last = 0
                while True:
                    rows = s.execute(base.where(Fingerprint.id > last).order_by(Fingerprint.id).limit(batch)).all()
                    if not rows:
                        return
                    for r in rows:
                        yield FingerprintRow(*r)
                    last = rows[-1][0]
            else:
                for i in range(0, len(wanted), batch):
                    chunk = wanted[i : i + batch]
                    for r in s.execute(base.where(Fingerprint.id.in_(chunk)).order_by(Fingerprint.id)).all():
                        yield FingerprintRow(*r)

    def fingerprint_owners(self, ids: Iterable[int]) -> dict[int, tuple[int, int]]:
        """fingerprint id -> (file id, work id)."""
        ids = list(ids)
        if not ids:
            return {}
        with self.session() as s:
            q = (select(Fingerprint.id, Fingerprint.file_id, WorkFile.work_id)
                 .join(WorkFile, WorkFile.id == Fingerprint.file_id).where(Fingerprint.id.in_(ids)))
            return {fid: (file_id, work_id) for fid, file_id, work_id in s.execute(q)}

    def file_fingerprint(self, file_id: int, signal: str, variant: str = "full") -> bytes | None:
        """One stored fingerprint of a file. Local features come from the feature store, recomputed with the
        signal's default settings when missing or damaged (`local_features` with the caller's own signal
        object is the exact way)."""
        if is_local(signal, variant):
            return self.local_features(file_id, local_signal(signal))
        with self.session() as s:
            q = select(Fingerprint.data).where(
                Fingerprint.file_id == file_id, Fingerprint.signal == signal, Fingerprint.variant == variant
            )
            return s.scalar(q)

    def local_features(self, file_id: int, signal: Recomputable, *, max_pixels: int | None = None) -> bytes | None:
        """The serialised local features of a registered file for this signal and version: read from the
        feature store, or recomputed from the stored original when missing or damaged (and written back).
        None when the file or its bytes are gone."""
        with self.session() as s:
            sha256 = s.scalar(select(WorkFile.sha256).where(WorkFile.id == file_id))
        if sha256 is None:
            return None
        blob = self.features.get(signal.name, signal.version, sha256)
        if blob is None:
            blob = recompute(self.objects, signal, sha256, max_pixels)
            if blob is not None:
                try:
                    self.features.put(signal.name, signal.version, sha256, blob, replace=True)
                except OSError:
                    pass  # a cache that cannot be written (disk full, read-only home) costs time, not the answer
        return blob

    def count(self, model: type) -> int:
        with self.session() as s:
            return int(s.scalar(select(func.count()).select_from(model)) or 0)

    # -- scans, suspects and matches ------------------------------------------------------------
    def start_scan(self, sources: list[str]) -> int:
        with self.session() as s, s.begin():
            scan = Scan(sources=sources, status="running", owner=this_owner())
            s.add(scan)
            s.flush()
            return scan.id

    def finish_scan(self, scan_id: int, items: int, failed: int, matched: int) -> None:
        with self.writing("scan") as s:  # read-then-write: take the write lock first (see module doc)
            scan = s.get(Scan, scan_id)
            if scan is not None:
                scan.items, scan.failed, scan.matched, scan.finished_at = items, failed, matched, utcnow()
                scan.status = "done"
