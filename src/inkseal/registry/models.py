"""SQLAlchemy 2 tables. Portable across SQLite and PostgreSQL: no dialect-specific types."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import JSON, BigInteger, Boolean, DateTime, Float, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy import false as sa_false
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class Author(Base):
    __tablename__ = "authors"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    works: Mapped[list[Work]] = relationship(back_populates="author")


class Work(Base):
    __tablename__ = "works"
    # Ids are never reused (SQLite AUTOINCREMENT, PostgreSQL sequence): journal entries and evidence
    # name works by id, so a removed work's id must never come back as another work.
    __table_args__ = {"sqlite_autoincrement": True}
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("authors.id"))
    title: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    registered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    author: Mapped[Author] = relationship(back_populates="works")
    files: Mapped[list[WorkFile]] = relationship(
        back_populates="work", cascade="all, delete-orphan", order_by="WorkFile.id", passive_deletes=True
    )


class WorkFile(Base):
    """One file of a work: the original, or a published version (e.g. with a visible signature)."""

    __tablename__ = "work_files"
    __table_args__ = (UniqueConstraint("work_id", "sha256"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    work_id: Mapped[int] = mapped_column(ForeignKey("works.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(20))  # original | published
    # Unique: the same bytes are one file of one work ("already registered"), even when two
    # processes register them at the same moment (migration 0003).
    sha256: Mapped[str] = mapped_column(String(64), index=True, unique=True)
    size_bytes: Mapped[int] = mapped_column(Integer)
    format: Mapped[str] = mapped_column(String(20))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    source_name: Mapped[str] = mapped_column(Text, default="")
    # Regions of interest in this file's pixel coordinates, e.g. {"signature": [x0, y0, x1, y1]}.
    regions: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    work: Mapped[Work] = relationship(back_populates="files")
    fingerprints: Mapped[list[Fingerprint]] = relationship(
        back_populates="file", cascade="all, delete-orphan", passive_deletes=True
    )


class Fingerprint(Base):
    """One signal's output for one file. `variant` names the region it was computed on ("full", "crop3x3:4")."""

    __tablename__ = "fingerprints"
    __table_args__ = (Index("ix_fingerprints_signal", "signal", "id"), {"sqlite_autoincrement": True})
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    file_id: Mapped[int] = mapped_column(ForeignKey("work_files.id", ondelete="CASCADE"), index=True)
    signal: Mapped[str] = mapped_column(String(40))
    signal_version: Mapped[int] = mapped_column(Integer)
    variant: Mapped[str] = mapped_column(String(40), default="full")
    data: Mapped[bytes] = mapped_column(LargeBinary)
    file: Mapped[WorkFile] = relationship(back_populates="fingerprints")


class FingerprintMark(Base):
    """How many fingerprints of one signal there are and a checksum of their ids: the indexes'
    watermark (inkseal.match.index_delta.Watermark), kept by database triggers on `fingerprints`
    (migration 0009) in the same transaction as each insert or delete, so reading it is one lookup."""

    __tablename__ = "fingerprint_marks"
    signal: Mapped[str] = mapped_column(String(40), primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger)
    checksum: Mapped[int] = mapped_column(BigInteger)


class Scan(Base):
    __tablename__ = "scans"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    sources: Mapped[list] = mapped_column(JSON, default=list)
    items: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    matched: Mapped[int] = mapped_column(Integer, default=0)
    # running | done | interrupted (a scan whose process died is closed as interrupted at open)
    status: Mapped[str | None] = mapped_column(String(20), nullable=True)
    owner: Mapped[str | None] = mapped_column(String(200), nullable=True)  # "host:pid" of the scanning process


class Suspect(Base):
    """An image seen during a scan: where it came from and exactly which bytes were seen."""

    __tablename__ = "suspects"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scan_id: Mapped[int | None] = mapped_column(ForeignKey("scans.id", ondelete="SET NULL"), nullable=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    source_kind: Mapped[str] = mapped_column(String(20))  # file | page | warc | url
    source: Mapped[str] = mapped_column(Text)  # path or URL of the image itself
    page_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    location: Mapped[dict] = mapped_column(JSON, default=dict)  # page title, DOM path, WARC offset, ...
    captured_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Match(Base):
    """One sighting of a work: a suspect (bytes seen at a place, at a time) that matched it.

    Re-finding the same place adds another Match (the history of sightings) to the same Case."""

    __tablename__ = "matches"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    suspect_id: Mapped[int] = mapped_column(ForeignKey("suspects.id", ondelete="CASCADE"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), nullable=True, index=True)
    work_id: Mapped[int] = mapped_column(ForeignKey("works.id", ondelete="CASCADE"), index=True)
    file_id: Mapped[int] = mapped_column(ForeignKey("work_files.id", ondelete="CASCADE"))
    score: Mapped[float] = mapped_column(Float)  # -log10(expected false matches)
    scores: Mapped[dict] = mapped_column(JSON, default=dict)  # sscd cosine, inliers, pdq distance, ...
    localisation: Mapped[dict] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(20), default="new")  # a copy of its case's status
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    suspect: Mapped[Suspect] = relationship()
    work: Mapped[Work] = relationship()


class Case(Base):
    """One use of a work at one place: every sighting of it (re-scans, other processes, the image
    reached directly and through its page) updates this row instead of adding another.

    Same place = the same image URL (on the same page, or one of the two sightings without a page),
    or the same bytes on the same site (host; local files count as one site)."""

    __tablename__ = "cases"
    __table_args__ = (UniqueConstraint("work_id", "host", "sha256"), {"sqlite_autoincrement": True})
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    work_id: Mapped[int] = mapped_column(ForeignKey("works.id", ondelete="CASCADE"), index=True)
    file_id: Mapped[int] = mapped_column(ForeignKey("work_files.id", ondelete="CASCADE"))  # best-matching version
    sha256: Mapped[str] = mapped_column(String(64))  # the bytes first seen here
    source_kind: Mapped[str] = mapped_column(String(20))  # file | page | warc | url (of the latest sighting)
    page_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    image_url: Mapped[str | None] = mapped_column(Text, nullable=True)  # the image's URL (or path, for files)
    host: Mapped[str] = mapped_column(String(300), default="")  # site of the page (else of the image); "" = local
    first_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    times_seen: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(20), default="new")
    note: Mapped[str] = mapped_column(Text, default="")
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    work: Mapped[Work] = relationship()
    checks: Mapped[list[CaseCheck]] = relationship(
        back_populates="case", cascade="all, delete-orphan", order_by="CaseCheck.id", passive_deletes=True
    )


class CaseCheck(Base):
    """A re-check of a case's place: was the copy still online, or removed, at that time."""

    __tablename__ = "case_checks"
    __table_args__ = {"sqlite_autoincrement": True}
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    checked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    result: Mapped[str] = mapped_column(String(20))  # still_online | removed
    note: Mapped[str] = mapped_column(Text, default="")
    case: Mapped[Case] = relationship(back_populates="checks")


class CaseDecision(Base):
    """One move of a case along its workflow (registry.statuses), kept with its time, what it moved from and
    its note (migration 0012), so a case's timeline shows every decision, not only the latest. `backfilled`:
    made by the migration from the one decision older versions kept (earlier ones were never stored)."""

    __tablename__ = "case_decisions"
    __table_args__ = {"sqlite_autoincrement": True}
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    decided_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    status: Mapped[str] = mapped_column(String(20))
    previous: Mapped[str | None] = mapped_column(String(20), nullable=True)
    note: Mapped[str] = mapped_column(Text, default="")
    backfilled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false())


class Allowance(Base):
    """An authorised use: later scans do not report this work at these bytes or under this page/URL."""

    __tablename__ = "allowances"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    work_id: Mapped[int] = mapped_column(ForeignKey("works.id", ondelete="CASCADE"), index=True)
    sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    url: Mapped[str | None] = mapped_column(Text, nullable=True)
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class JournalEntry(Base):
    """One append-only journal event; `payload` is its canonical JSON, the Merkle leaf's data.

    No foreign key to works on purpose: removing a work must never rewrite its history.
    """

    __tablename__ = "journal_entries"
    __table_args__ = (UniqueConstraint("chain", "seq", name="uq_journal_entries_chain_seq"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # whose journal: 0 the install's own (the CLI, the single local user), N account N's (migration 0011)
    chain: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    seq: Mapped[int] = mapped_column(Integer)  # leaf index in its chain, 0-based, gap-free
    kind: Mapped[str] = mapped_column(String(20))
    work_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    file_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    payload: Mapped[str] = mapped_column(Text)
    leaf_hash: Mapped[str] = mapped_column(String(64))
    key_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    signature: Mapped[str | None] = mapped_column(Text, nullable=True)  # base64 Ed25519 over the leaf


class JournalCheckpoint(Base):
    """A signed statement of the log's size and root at a moment (RFC 9162 tree head)."""

    __tablename__ = "journal_checkpoints"
    __table_args__ = (Index("ix_journal_checkpoints_chain_size", "chain", "size"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    chain: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # as JournalEntry.chain
    size: Mapped[int] = mapped_column(Integer)
    root_hash: Mapped[str] = mapped_column(String(64))
    signed_at: Mapped[str] = mapped_column(String(40))  # ISO 8601 UTC, part of the signed text
    key_id: Mapped[str] = mapped_column(String(64))
    public_key: Mapped[str] = mapped_column(Text)  # PEM, so the journal verifies offline on its own
    signature: Mapped[str] = mapped_column(Text)
    timestamp_token: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)  # RFC 3161 token (DER)
    tsa_url: Mapped[str | None] = mapped_column(Text, nullable=True)
