"""Registry: the storage interface over SQLAlchemy. SQLite (WAL) by default, PostgreSQL by URL.

The same class serves both databases; tests run the same suite against a real SQLite file and a
real PostgreSQL server. Schema changes go through Alembic migrations, applied at open.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, delete, event, func, or_, select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from inkseal.errors import NotFound
from inkseal.registry.models import Allowance, Author, Fingerprint, Match, Scan, Suspect, Work, WorkFile, utcnow
from inkseal.registry.objects import ObjectStore

MIGRATIONS = Path(__file__).parent / "migrations"
MATCH_STATUSES = ("new", "confirmed", "ignored", "whitelisted")


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
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
            cur.execute("PRAGMA foreign_keys=ON")  # cascades on removal
            cur.execute("PRAGMA synchronous=NORMAL")  # safe with WAL, much faster than FULL
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


class Registry:
    def __init__(self, url: str, objects_dir: Path) -> None:
        if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        self.url = url
        self.engine = _make_engine(url)
        self.objects = ObjectStore(objects_dir)
        self._session = sessionmaker(self.engine, expire_on_commit=False)
        self.migrate()

    # -- schema -------------------------------------------------------------------------------
    def migrate(self) -> None:
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        with self.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")

    def session(self) -> Session:
        return self._session()

    def close(self) -> None:
        self.engine.dispose()

    # -- authors and works --------------------------------------------------------------------
    def add_work(self, author: str, title: str, created_at: datetime | None = None) -> Work:
        with self.session() as s, s.begin():
            who = s.scalar(select(Author).where(Author.name == author))
            if who is None:
                who = Author(name=author)
                s.add(who)
                s.flush()
            work = Work(author_id=who.id, title=title, created_at=created_at)
            s.add(work)
            s.flush()
            s.refresh(work, ["author"])
            return work

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
        self.objects.put(data)  # before the row: a row never points at missing bytes
        with self.session() as s, s.begin():
            if s.get(Work, work_id) is None:
                raise NotFound(f"no work {work_id}")
            wf = WorkFile(
                work_id=work_id, role=role, sha256=sha256, size_bytes=len(data), format=fmt,
                width=width, height=height, source_name=source_name, regions=regions or {},
            )
            s.add(wf)
            s.flush()
            rows = [Fingerprint(file_id=wf.id, signal=sig, signal_version=ver, variant=var, data=blob)
                    for sig, ver, var, blob in fingerprints]
            s.add_all(rows)
            s.flush()
            return wf, [(r.id, r.signal, r.variant) for r in rows]

    def works(self) -> list[Work]:
        with self.session() as s:
            q = select(Work).options(selectinload(Work.author), selectinload(Work.files)).order_by(Work.id)
            return list(s.scalars(q))

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
        with self.session() as s, s.begin():
            work = s.get(Work, work_id)
            if work is None:
                raise NotFound(f"no work {work_id}")
            file_ids = select(WorkFile.id).where(WorkFile.work_id == work_id)
            s.execute(delete(Fingerprint).where(Fingerprint.file_id.in_(file_ids)))
            s.execute(delete(Match).where(Match.work_id == work_id))
            s.execute(delete(Allowance).where(Allowance.work_id == work_id))
            s.execute(delete(WorkFile).where(WorkFile.work_id == work_id))
            s.delete(work)

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
        with self.session() as s:
            q = select(Fingerprint.data).where(
                Fingerprint.file_id == file_id, Fingerprint.signal == signal, Fingerprint.variant == variant
            )
            return s.scalar(q)

    def count(self, model: type) -> int:
        with self.session() as s:
            return int(s.scalar(select(func.count()).select_from(model)) or 0)

    # -- scans, suspects and matches ------------------------------------------------------------
    def start_scan(self, sources: list[str]) -> int:
        with self.session() as s, s.begin():
            scan = Scan(sources=sources)
            s.add(scan)
            s.flush()
            return scan.id

    def finish_scan(self, scan_id: int, items: int, failed: int, matched: int) -> None:
        with self.session() as s, s.begin():
            scan = s.get(Scan, scan_id)
            if scan is not None:
                scan.items, scan.failed, scan.matched, scan.finished_at = items, failed, matched, utcnow()

    def record_matches(self, suspect: Suspect, matches: list[Match]) -> list[Match]:
        """Store one suspect with its matches atomically; returns the stored matches."""
        with self.session() as s, s.begin():
            s.add(suspect)
            s.flush()
            for m in matches:
                m.suspect_id = suspect.id
            s.add_all(matches)
            s.flush()
            return matches

    def is_allowed(self, work_id: int, sha256: str, urls: Iterable[str | None]) -> bool:
        urls = [u for u in urls if u]
        with self.session() as s:
            cond = [Allowance.sha256 == sha256]
            if urls:
                cond.append(Allowance.url.in_(urls))
            q = select(Allowance.id).where(Allowance.work_id == work_id, or_(*cond)).limit(1)
            return s.scalar(q) is not None

    def matches(self, status: str | None = None, work_id: int | None = None) -> list[Match]:
        with self.session() as s:
            q = select(Match).options(selectinload(Match.suspect), selectinload(Match.work).selectinload(Work.author))
            if status:
                q = q.where(Match.status == status)
            if work_id:
                q = q.where(Match.work_id == work_id)
            return list(s.scalars(q.order_by(Match.id)))

    def match(self, match_id: int) -> Match:
        with self.session() as s:
            m = s.get(Match, match_id, options=[selectinload(Match.suspect), selectinload(Match.work)])
            if m is None:
                raise NotFound(f"no match {match_id}")
            return m

    def set_match_status(self, match_id: int, status: str, note: str = "") -> Match:
        if status not in MATCH_STATUSES:
            raise ValueError(f"status must be one of {', '.join(MATCH_STATUSES)}")
        with self.session() as s, s.begin():
            m = s.get(Match, match_id, options=[selectinload(Match.suspect)])
            if m is None:
                raise NotFound(f"no match {match_id}")
            m.status, m.decided_at = status, datetime.now(UTC)
            if note:
                m.note = note
            if status == "whitelisted":
                # Authorise these exact bytes, and the page (or URL) they were found on.
                s.add(Allowance(work_id=m.work_id, sha256=m.suspect.sha256,
                                url=m.suspect.page_url or (m.suspect.source if m.suspect.source_kind != "file" else None),
                                note=note or f"from match {m.id}"))
            return m
