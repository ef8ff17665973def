"""Monitors: sites, feeds and pages watched for copies, and what each run did (migration 0010).

    monitors ──< monitor_pages      every page a monitor knows: its validators (ETag, Last-Modified), the
                                    hash of its last body, when it was fetched / scanned, and `pending`:
                                    the frontier of the run in progress ("fetch", "scan" or NULL)
             ──< monitor_runs       one row per run: state, counts, the match id the run started after
             ──< monitor_documents  listing pages, feeds and sitemaps read to discover pages: their validators
                                    and the hash of the body kept (in $INKSEAL_HOME/monitor-cache), so a
                                    re-run asks for them conditionally too and reads them again from the cache
    monitor_notifiers               where digests go (a webhook URL with its secret, or an e-mail address)

The frontier lives in `monitor_pages.pending`, so a run killed half-way goes on where it stopped: the
next `monitor run` finds the unfinished run, and fetches / scans only what is still pending.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (DateTime, ForeignKey, Integer, String, Text, UniqueConstraint, delete, func, inspect,
                        select, update)
from sqlalchemy.orm import Mapped, mapped_column

from inkseal.errors import InksealError, NotFound
from inkseal.registry.models import Base, Match, utcnow
from inkseal.registry.store import Registry, process_gone, this_owner

MONITOR_KINDS = ("site", "feed", "page")
NOTIFIER_KINDS = ("webhook", "email")


class Monitor(Base):
    __tablename__ = "monitors"
    __table_args__ = {"sqlite_autoincrement": True}
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(10))
    every_s: Mapped[int] = mapped_column(Integer, default=86_400)
    max_pages: Mapped[int] = mapped_column(Integer, default=1_000)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_run_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    next_due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class MonitorPage(Base):
    __tablename__ = "monitor_pages"
    # url_key: sha256 of the URL, so the unique key stays short whatever the URL's length.
    __table_args__ = (UniqueConstraint("monitor_id", "url_key", name="uq_monitor_pages_monitor_url"),
                      {"sqlite_autoincrement": True})
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    monitor_id: Mapped[int] = mapped_column(ForeignKey("monitors.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(Text)
    url_key: Mapped[str] = mapped_column(String(64))
    etag: Mapped[str | None] = mapped_column(Text, nullable=True)
    last_modified: Mapped[str | None] = mapped_column(Text, nullable=True)
    content_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    pending: Mapped[str | None] = mapped_column(String(10), nullable=True, index=True)  # fetch | scan | NULL
    first_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_fetched: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_changed: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_scanned: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)


class MonitorRun(Base):
    __tablename__ = "monitor_runs"
    __table_args__ = {"sqlite_autoincrement": True}
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    monitor_id: Mapped[int] = mapped_column(ForeignKey("monitors.id", ondelete="CASCADE"), index=True)
    state: Mapped[str] = mapped_column(String(20), default="running")  # running | done
    phase: Mapped[str] = mapped_column(String(20), default="discover")  # discover | fetch | scan | notify
    after_match_id: Mapped[int] = mapped_column(Integer, default=0)  # matches past this one are this run's
    counts: Mapped[str] = mapped_column(Text, default="{}")  # JSON: discovered, fetched, unchanged, ...
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # the process working the run (host:pid) and when it last made progress (migration 0013)
    owner: Mapped[str | None] = mapped_column(String(300), nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class MonitorBusy(InksealError):
    """Another live process is working this monitor's run."""


RUN_LEASE = timedelta(minutes=10)  # a run on another host with no progress for this long is taken over


def _owner_gone(owner: str | None, heartbeat: datetime | None, now: datetime) -> bool:
    """May this process take over a run `owner` was working? Yes when there is no owner, when it is this
    very process, when it ran on this host and its pid is gone, or (another host, whose pids we cannot
    see) when it has made no progress for RUN_LEASE."""
    if owner == this_owner():
        return True
    gone = process_gone(owner)
    if gone is not None:
        return gone
    if heartbeat is None:
        return True
    beat = heartbeat if heartbeat.tzinfo else heartbeat.replace(tzinfo=UTC)
    return now - beat > RUN_LEASE


class MonitorDocument(Base):
    __tablename__ = "monitor_documents"
    __table_args__ = (UniqueConstraint("monitor_id", "url_key", name="uq_monitor_documents_monitor_url"),
                      {"sqlite_autoincrement": True})
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    monitor_id: Mapped[int] = mapped_column(ForeignKey("monitors.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(Text)
    url_key: Mapped[str] = mapped_column(String(64))
    etag: Mapped[str | None] = mapped_column(Text, nullable=True)
    last_modified: Mapped[str | None] = mapped_column(Text, nullable=True)
    body_sha256: Mapped[str] = mapped_column(String(64))
    fetched_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class MonitorNotifier(Base):
    __tablename__ = "monitor_notifiers"
    __table_args__ = {"sqlite_autoincrement": True}
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))  # webhook | email
    target: Mapped[str] = mapped_column(Text)  # the webhook URL or the e-mail address
    # Kept as is: an HMAC needs the secret itself to sign (as registry.jobs.Webhook).
    secret: Mapped[str | None] = mapped_column(String(100), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


MONITOR_TABLES = [m.__table__ for m in (Monitor, MonitorPage, MonitorRun, MonitorDocument, MonitorNotifier)]


def url_key(url: str) -> str:
    return hashlib.sha256(url.encode("utf-8", "surrogatepass")).hexdigest()


def _utc(dt: datetime | None) -> datetime | None:
    return dt.replace(tzinfo=UTC) if dt is not None and dt.tzinfo is None else dt  # SQLite hands back naive UTC


@dataclass(frozen=True)
class PageState:
    """What the last fetch of a page left: the validators for a conditional request, and the body's hash."""

    id: int
    url: str
    etag: str | None
    last_modified: str | None
    content_hash: str | None


class MonitorStore:
    """Monitor rows over a Registry's database."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        present = set(inspect(registry.engine).get_table_names())
        missing = [t.name for t in MONITOR_TABLES if t.name not in present]
        if missing:
            raise InksealError(f"the database has no monitor tables ({', '.join(missing)}): migration 0010 is "
                               "missing / 数据库缺少监控表（缺少迁移 0010）")

    # -- monitors --------------------------------------------------------------------------------
    def add(self, url: str, kind: str, every_s: int, max_pages: int) -> Monitor:
        assert kind in MONITOR_KINDS
        with self.registry.writing("monitors") as s:
            m = Monitor(url=url, kind=kind, every_s=every_s, max_pages=max_pages, next_due_at=utcnow())
            s.add(m)
            s.flush()
            s.expunge(m)
            return m

    def get(self, monitor_id: int) -> Monitor:
        with self.registry.session() as s:
            m = s.get(Monitor, monitor_id)
            if m is None:
                raise NotFound(f"no monitor {monitor_id} / 无监控 {monitor_id}")
            return m

    def list(self) -> list[Monitor]:
        with self.registry.session() as s:
            return list(s.scalars(select(Monitor).order_by(Monitor.id)))

    def due(self, now: datetime | None = None) -> list[Monitor]:
        """Monitors whose time has come, and those with an unfinished run (to be resumed)."""
        now = now or utcnow()
        with self.registry.session() as s:
            unfinished = select(MonitorRun.monitor_id).where(MonitorRun.state == "running")
            q = select(Monitor).where((Monitor.next_due_at <= now) | Monitor.id.in_(unfinished)).order_by(Monitor.id)
            return list(s.scalars(q))

    def remove(self, monitor_id: int) -> None:
        self.get(monitor_id)
        with self.registry.writing("monitors") as s:
            s.execute(delete(MonitorPage).where(MonitorPage.monitor_id == monitor_id))  # SQLite without cascade too
            s.execute(delete(MonitorDocument).where(MonitorDocument.monitor_id == monitor_id))
            s.execute(delete(MonitorRun).where(MonitorRun.monitor_id == monitor_id))
            s.execute(delete(Monitor).where(Monitor.id == monitor_id))

    def page_count(self, monitor_id: int) -> int:
        with self.registry.session() as s:
            return int(s.scalar(select(func.count()).select_from(MonitorPage)
                                .where(MonitorPage.monitor_id == monitor_id)) or 0)

    # -- runs ------------------------------------------------------------------------------------
    def open_run(self, monitor_id: int) -> tuple[MonitorRun, bool]:
        """The monitor's unfinished run (resumed: True), else a new one starting after the newest match; taken
        by this process. MonitorBusy when another live process is working it (see `_owner_gone`)."""
        with self.registry.writing("monitors") as s:
            now = utcnow()
            run = s.scalars(select(MonitorRun).where(MonitorRun.monitor_id == monitor_id,
                                                     MonitorRun.state == "running").order_by(MonitorRun.id)).first()
            resumed = run is not None
            if run is not None and not _owner_gone(run.owner, run.heartbeat_at, now):
                raise MonitorBusy(f"monitor {monitor_id} is being run by another process ({run.owner}); its run "
                                  f"goes on there / 监测 {monitor_id} 正由另一进程（{run.owner}）运行")
            if run is None:
                last = s.scalar(select(Match.id).order_by(Match.id.desc()).limit(1)) or 0
                run = MonitorRun(monitor_id=monitor_id, after_match_id=last, state="running", phase="discover")
                s.add(run)
            run.owner, run.heartbeat_at = this_owner(), now
            s.flush()
            s.expunge(run)
            return run, resumed

    def set_phase(self, run_id: int, phase: str, counts: str | None = None) -> None:
        values: dict[str, Any] = {"phase": phase, "heartbeat_at": utcnow()}
        if counts is not None:
            values["counts"] = counts
        with self.registry.writing("monitors") as s:
            s.execute(update(MonitorRun).where(MonitorRun.id == run_id).values(**values))

    def finish_run(self, run: MonitorRun, counts: str, every_s: int) -> None:
        now = utcnow()
        with self.registry.writing("monitors") as s:
            s.execute(update(MonitorRun).where(MonitorRun.id == run.id).values(
                state="done", phase="done", counts=counts, finished_at=now))
            s.execute(update(Monitor).where(Monitor.id == run.monitor_id).values(
                last_run_at=now, next_due_at=now + timedelta(seconds=every_s)))

    def runs(self, monitor_id: int) -> list[MonitorRun]:
        with self.registry.session() as s:
            return list(s.scalars(select(MonitorRun).where(MonitorRun.monitor_id == monitor_id)
                                  .order_by(MonitorRun.id)))

    def new_matches(self, after_match_id: int, scan_ids: list[int]) -> list[Match]:
        """The run's finds: one match per case first seen by these scans (a case sighted before the run
        started is not new), oldest first; ignored and authorised (whitelisted) ones left out."""
        if not scan_ids:
            return []
        from sqlalchemy.orm import selectinload

        from inkseal.registry.models import Suspect

        with self.registry.session() as s:
            older = select(Match.case_id).where(Match.id <= after_match_id, Match.case_id.is_not(None))
            q = (select(Match).join(Suspect, Match.suspect_id == Suspect.id)
                 .where(Match.id > after_match_id, Suspect.scan_id.in_(scan_ids), Match.case_id.not_in(older),
                        Match.status.not_in(("ignored", "whitelisted")))
                 .options(selectinload(Match.suspect), selectinload(Match.work)).order_by(Match.id))
            out, cases = [], set()
            for m in s.scalars(q):
                if m.case_id not in cases:
                    cases.add(m.case_id)
                    out.append(m)
            return out

    # -- pages: the frontier ---------------------------------------------------------------------
    def enqueue(self, monitor_id: int, urls: list[str]) -> int:
        """Mark these pages to be fetched by the run in progress (adding the ones not known yet)."""
        added = 0
        for start in range(0, len(urls), 500):
            chunk = list(dict.fromkeys(urls[start:start + 500]))
            keys = {url_key(u): u for u in chunk}
            with self.registry.writing("monitors") as s:
                known = set(s.scalars(select(MonitorPage.url_key).where(
                    MonitorPage.monitor_id == monitor_id, MonitorPage.url_key.in_(list(keys)))))
                s.execute(update(MonitorPage).where(MonitorPage.monitor_id == monitor_id,
                                                    MonitorPage.url_key.in_(list(known)),
                                                    MonitorPage.pending.is_(None)).values(pending="fetch"))
                for k, u in keys.items():
                    if k not in known:
                        s.add(MonitorPage(monitor_id=monitor_id, url=u, url_key=k, pending="fetch"))
                        added += 1
        return added

    def pending(self, monitor_id: int, what: str, limit: int | None = None) -> list[PageState]:
        with self.registry.session() as s:
            q = (select(MonitorPage).where(MonitorPage.monitor_id == monitor_id, MonitorPage.pending == what)
                 .order_by(MonitorPage.id))
            if limit:
                q = q.limit(limit)
            return [PageState(p.id, p.url, p.etag, p.last_modified, p.content_hash) for p in s.scalars(q)]

    def fetched(self, results: list[tuple[int, dict[str, Any]]]) -> None:
        """Record a batch of fetch results: page id -> the columns to set (pending moves on with them)."""
        if not results:
            return
        with self.registry.writing("monitors") as s:
            for page_id, values in results:
                s.execute(update(MonitorPage).where(MonitorPage.id == page_id).values(**values))

    def scanned(self, run_id: int, page_ids: list[int], counts: str,
                rescan: list[int] | None = None) -> None:
        """A batch scanned, and the run's counts (with the scan's id) saved in the same transaction: a kill
        leaves either both or neither. `rescan`: pages the scan could not read (fetched in full next run)."""
        with self.registry.writing("monitors") as s:
            s.execute(update(MonitorPage).where(MonitorPage.id.in_(page_ids)).values(
                pending=None, last_scanned=utcnow()))
            if rescan:
                s.execute(update(MonitorPage).where(MonitorPage.id.in_(rescan)).values(
                    etag=None, last_modified=None, content_hash=None))
            s.execute(update(MonitorRun).where(MonitorRun.id == run_id).values(counts=counts, heartbeat_at=utcnow()))

    def page_states(self, monitor_id: int) -> list[MonitorPage]:
        with self.registry.session() as s:
            return list(s.scalars(select(MonitorPage).where(MonitorPage.monitor_id == monitor_id)
                                  .order_by(MonitorPage.id)))

    # -- discovery documents ----------------------------------------------------------------------
    def document(self, monitor_id: int, url: str) -> MonitorDocument | None:
        with self.registry.session() as s:
            return s.scalars(select(MonitorDocument).where(MonitorDocument.monitor_id == monitor_id,
                                                           MonitorDocument.url_key == url_key(url))).first()

    def save_document(self, monitor_id: int, url: str, etag: str | None, last_modified: str | None,
                      body_sha256: str) -> str | None:
        """Returns the hash of the body it replaced (its cached copy may go), if any."""
        with self.registry.writing("monitors") as s:
            doc = s.scalars(select(MonitorDocument).where(MonitorDocument.monitor_id == monitor_id,
                                                          MonitorDocument.url_key == url_key(url))).first()
            old = doc.body_sha256 if doc is not None else None
            if doc is None:
                doc = MonitorDocument(monitor_id=monitor_id, url=url, url_key=url_key(url))
                s.add(doc)
            doc.etag, doc.last_modified, doc.body_sha256, doc.fetched_at = etag, last_modified, body_sha256, utcnow()
            return old if old != body_sha256 else None

    def cases_on_host(self, host: str, statuses: tuple[str, ...]) -> list:  # list[Case]
        """Cases on this host (cases.host: the page's host, else the image's) in these statuses."""
        from inkseal.registry.models import Case

        with self.registry.session() as s:
            return list(s.scalars(select(Case).where(Case.host == host.lower(), Case.status.in_(statuses))
                                  .order_by(Case.id)))

    # -- notifiers -------------------------------------------------------------------------------
    def add_notifier(self, kind: str, target: str) -> tuple[MonitorNotifier, str | None]:
        assert kind in NOTIFIER_KINDS
        secret = "whsec_" + secrets.token_urlsafe(32) if kind == "webhook" else None
        with self.registry.writing("monitors") as s:
            n = MonitorNotifier(kind=kind, target=target, secret=secret)
            s.add(n)
            s.flush()
            s.expunge(n)
            return n, secret

    def notifiers(self) -> list[MonitorNotifier]:
        with self.registry.session() as s:
            return list(s.scalars(select(MonitorNotifier).order_by(MonitorNotifier.id)))

    def remove_notifier(self, notifier_id: int) -> None:
        with self.registry.writing("monitors") as s:
            if not s.execute(delete(MonitorNotifier).where(MonitorNotifier.id == notifier_id)).rowcount:
                raise NotFound(f"no notifier {notifier_id} / 无通知方式 {notifier_id}")


def as_dict(m: Monitor) -> dict[str, Any]:
    return {"id": m.id, "url": m.url, "kind": m.kind, "every_s": m.every_s, "max_pages": m.max_pages,
            "created_at": _utc(m.created_at), "last_run_at": _utc(m.last_run_at), "next_due_at": _utc(m.next_due_at)}
