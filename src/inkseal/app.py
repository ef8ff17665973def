"""The one application object. The CLI (and later the API) are thin layers over these methods.

    app = Inkseal.open()                      # settings from $INKSEAL_HOME, TOML, environment
    app.register(["art.png"], author="Li")    # -> RegisterReport
    app.publish(work_id, signature="@li")     # signed copy registered as a published version
    app.scan(["suspects/", "page.html"])      # -> ScanReport, matches stored
    app.matches(); app.set_match_status(1, "whitelisted")
    app.cases(); app.set_case_status(1, "notice_sent"); app.check_case(1, "still_online")
"""

from __future__ import annotations

import hashlib
import inspect
import io
import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from pathlib import Path
from types import FunctionType, MethodType
from typing import Any

from PIL import Image
from sqlalchemy import select

from inkseal import fingerprinting
from inkseal.config import Settings, load_settings
from inkseal.errors import BadImage, InksealError
from inkseal.imaging import LoadedImage, load_image, read_limited
from inkseal.journal import Journal
from inkseal.journal.keys import KeyStore
from inkseal.match import calibration
from inkseal.match.index import SignalIndex
from inkseal.match.matcher import Matcher
from inkseal.match.scan import ItemResult, ScanReport, run_scan
from inkseal.match.sources.urls import Fetcher
from inkseal.match.sources.files import IMAGE_SUFFIXES
from inkseal.registry.models import Case, Fingerprint, Match, Work, WorkFile
from inkseal.registry.store import Registry
from inkseal.seal.signature import add_signature
from inkseal.signals import ORBSignal, PDQSignal, SSCDSignal


@dataclass
class RegisterItem:
    path: str
    work_id: int | None = None
    file_id: int | None = None
    error: str | None = None
    skipped: str | None = None  # e.g. already registered
    notes: list[str] = field(default_factory=list)


@dataclass
class RegisterReport:
    items: list[RegisterItem] = field(default_factory=list)

    @property
    def failed(self) -> list[RegisterItem]:
        return [i for i in self.items if i.error]


def make_private_dir(path: Path) -> None:
    """Create `path` 0700, or take group/other bits off an existing one (it holds keys and prompts)."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        mode = path.stat().st_mode & 0o777
        if mode & 0o077:
            os.chmod(path, mode & 0o700)
    except OSError:
        pass  # not ours to change: keep working


def expand_paths(paths: Iterable[str | Path]) -> list[Path]:
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out += sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES)
        else:
            out.append(p)
    return out


class Inkseal:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        make_private_dir(settings.home)
        self.registry = Registry(settings.database_url, settings.objects_dir)
        KeyStore(settings.home / "keys").fix_permissions()
        self.sscd = SSCDSignal(settings.sscd_model, threads=settings.threads)
        self.pdq = PDQSignal()
        self.orb = ORBSignal()
        self._authors: dict[int, AuthorView] = {}
        self._authors_lock = threading.Lock()

    @classmethod
    def open(cls, home: str | Path | None = None, **overrides: object) -> Inkseal:
        return cls(load_settings(home, **overrides))

    def close(self) -> None:
        with self._authors_lock:
            self._authors.clear()
        for idx in self.__dict__.get("indexes", {}).values():  # an embedded engine is released and flushed
            getattr(idx, "close", lambda: None)()
        self.registry.close()

    # -- indexes --------------------------------------------------------------------------------
    @cached_property
    def indexes(self) -> dict[str, SignalIndex]:
        backend = str(getattr(self.settings, "index_backend", "faiss-flat"))
        out: dict[str, SignalIndex] = {}
        for s in (self.sscd, self.pdq):
            if backend == "milvus" and s.index_kind == "ip":
                from inkseal.match.index_milvus import MilvusIndex  # imported only when chosen: pymilvus takes ~0.7 s

                out[s.name] = MilvusIndex(s, self.settings.index_dir, str(self.settings.milvus_uri))  # type: ignore[assignment]
            else:  # PDQ stays in FAISS under "milvus" (milvus-lite has no binary vectors)
                out[s.name] = SignalIndex(s, self.settings.index_dir, "faiss-flat" if backend == "milvus" else backend)
        for idx in out.values():
            idx.sync(self.registry)  # reconcile with the database (crash recovery, other writers)
        return out

    def sync_indexes(self) -> None:
        if "indexes" not in self.__dict__:
            _ = self.indexes  # opening reconciles: a one-shot CLI run checks each index once, not twice
            return
        for idx in self.indexes.values():
            idx.sync(self.registry)

    def rebuild_index(self) -> dict[str, int]:
        return {name: idx.rebuild(self.registry) for name, idx in self.indexes.items()}

    def compact_index(self) -> dict[str, int]:
        """Merge each index's delta log into a new base file (also done automatically as it grows)."""
        for idx in self.indexes.values():
            idx.compact()
        return {name: len(idx) for name, idx in self.indexes.items()}

    @cached_property
    def matcher(self) -> Matcher:
        return Matcher(self.registry, self.sscd, self.pdq, self.orb, self.indexes[self.sscd.name],
                       self.indexes[self.pdq.name], calibration.load(),
                       max_false_matches=self.settings.max_false_matches, max_pixels=self.settings.max_pixels)

    # -- journal --------------------------------------------------------------------------------
    @cached_property
    def keys(self) -> KeyStore:
        return KeyStore(self.settings.home / "keys")

    @cached_property
    def journal(self) -> Journal:
        return Journal(self.registry, self.keys, self.pdq)

    # -- authors: on a shared install each account signs with its own keys --------------------------
    def account_home(self, account_id: int) -> Path:
        """An account's private folder: its keys/ (as $HOME/keys: 0700, files 0600)."""
        home = self.settings.home / "accounts" / str(int(account_id))
        make_private_dir(home.parent)
        make_private_dir(home)
        return home

    def author(self, account_id: int | None) -> Inkseal | AuthorView:
        """The application as one account's author: its own signing keys and its own journal, the same
        registry, indexes and matcher. None: the install's own author (the CLI, the single local user):
        $HOME/keys and the registry's journal, i.e. this object itself."""
        if account_id is None:
            return self
        with self._authors_lock:
            view = self._authors.get(account_id)
            if view is None:
                home = self.account_home(account_id)
                keys = KeyStore(home / "keys")
                keys.fix_permissions()
                # The journal is one signed, append-only chain per author (its first signature sets its key):
                # each account appends to its own chain, in the registry's own tables (migration 0011).
                view = self._authors[account_id] = AuthorView(self, keys, Journal(self.registry, keys, self.pdq,
                                                                                   chain=account_id))
            return view

    def statement(self, work_id: int, out_dir: Path, langs: Iterable[str] = ("en", "zh"),
                  pdf: bool = True) -> dict[str, dict[str, Path]]:
        """Write the authorship statement of a work (HTML and PDF per language)."""
        from inkseal.journal.statement import gather, render

        work = self.registry.work(work_id)
        facts = gather(self.journal.entries(work_id), work_id, work.title, work.author.name)
        report = self.journal.verify()
        return {lang: render(facts, report, lang, out_dir, pdf=pdf) for lang in langs}

    # -- registration ---------------------------------------------------------------------------
    def fingerprints(self, image: LoadedImage) -> list[tuple[str, int, str, bytes]]:
        return fingerprinting.compute(self.sscd, self.pdq, self.orb, image)

    def add_file(self, work_id: int, data: bytes, image: LoadedImage, role: str, name: str,
                  regions: dict | None = None) -> WorkFile:
        wf, _ = self.registry.add_file(
            work_id, role=role, data=data, sha256=image.sha256, fmt=image.format, width=image.width,
            height=image.height, source_name=name, regions=regions, fingerprints=self.fingerprints(image),
        )
        return wf

    def register(self, paths: Iterable[str | Path], *, author: str, title: str | None = None,
                 work_id: int | None = None, role: str = "original", created_at: datetime | None = None,
                 on_item: Callable[[RegisterItem], None] | None = None, jobs: int = 1) -> RegisterReport:
        """Register each file as a new work (or as another file of `work_id`). Failures stay per file.

        `jobs` > 1: fingerprints are computed by that many worker processes (see inkseal.fingerprinting);
        this process stays the only writer. Bytes already registered are skipped before any work, so
        re-running a killed bulk registration goes on where it stopped."""
        files = expand_paths(paths)
        report = RegisterReport()
        # Reconcile the indexes before writing: a removal that a killed process committed but never
        # indexed must be seen before SQLite hands its fingerprint ids out again.
        _ = self.indexes
        s = self.settings
        known = {p: self._registered_as(p) for p in files}  # hashing is cheap next to fingerprinting
        todo = [p for p in files if known[p] is None]
        if jobs > 1 and len(todo) > 1:
            fresh = fingerprinting.prepare_parallel(todo, jobs, s.sscd_model, s.max_bytes, s.max_pixels)
        else:
            fresh = (fingerprinting.prepare(p, self.sscd, self.pdq, self.orb, s.max_bytes, s.max_pixels) for p in todo)
        for path in files:
            item = RegisterItem(str(path))
            if known.get(path) is not None:
                item.work_id = known[path]
                item.skipped = f"already registered as work {item.work_id}"
            else:
                self._store_prepared(next(fresh), item, author=author, title=title, work_id=work_id, role=role,
                                     created_at=created_at, single=len(files) == 1)
            report.items.append(item)
            if on_item:
                on_item(item)
        self.sync_indexes()
        return report

    def _registered_as(self, path: Path) -> int | None:
        """The work already holding these exact bytes, if any (unreadable files are left to the worker)."""
        try:
            digest = hashlib.sha256(read_limited(path, self.settings.max_bytes)).hexdigest()
        except (OSError, InksealError):
            return None
        existing = self.registry.files_by_sha256(digest)
        return existing[0].work_id if existing else None

    def _store_prepared(self, prep: fingerprinting.Prepared, item: RegisterItem, *, author: str, title: str | None,
                        work_id: int | None, role: str, created_at: datetime | None, single: bool) -> None:
        if prep.error:
            item.error = prep.error
            return
        item.notes = prep.notes
        try:
            path = prep.path
            name = title if (title and single) else (f"{title} - {path.stem}" if title else path.stem)
            done = self.registry.register_file(
                author=author, title=name, created_at=created_at, work_id=work_id, role=role, data=prep.data,
                sha256=prep.sha256, fmt=prep.fmt, width=prep.width, height=prep.height,
                source_name=path.name, fingerprints=prep.fingerprints)
            item.work_id = done.work_id
            # "Same file" = same SHA-256 of the bytes: already registered (by us or by a process racing
            # us, found inside register_file's transaction) is reported as skipped, never a second work.
            if done.existing:
                item.skipped = f"already registered as work {done.work_id}"
            else:
                item.file_id = done.file_id
        except (BadImage, InksealError) as exc:
            item.error = str(exc)
        except OSError as exc:
            item.error = f"cannot store file: {exc.strerror or exc}"

    def publish(self, work_id: int, *, signature: str, corner: str = "bottom-right",
                out: Path | None = None) -> tuple[WorkFile, Path]:
        """Draw a visible signature on the work's original and register it as a published version."""
        work = self.registry.work(work_id)
        _ = self.indexes  # reconciled before writing (see register)
        original = next((f for f in work.files if f.role == "original"), None) or work.files[0]
        image = load_image(self.registry.objects.get(original.sha256), max_pixels=self.settings.max_pixels)
        signed, box = add_signature(image.rgb, signature, corner)
        buf = io.BytesIO()
        Image.fromarray(signed).save(buf, "PNG")
        data = buf.getvalue()
        published = load_image(data)
        wf = self.add_file(work_id, data, published, "published", f"{Path(original.source_name).stem}.signed.png",
                            regions={"signature": box})
        target = out or self.settings.home / "published" / f"work{work_id}-{wf.id}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        self.sync_indexes()
        return wf, target

    # -- reading --------------------------------------------------------------------------------
    def works(self, after_id: int | None = None, limit: int | None = None) -> list[Work]:
        return self.registry.works(after_id, limit)

    def work(self, work_id: int) -> Work:
        return self.registry.work(work_id)

    def remove_work(self, work_id: int) -> None:
        indexes = self.indexes  # opened before the removal, so it can be told exactly which ids went
        with self.registry.session() as s:
            rows = s.execute(select(Fingerprint.signal, Fingerprint.id).join(WorkFile, WorkFile.id == Fingerprint.file_id)
                             .where(WorkFile.work_id == work_id)).all()
        self.registry.remove_work(work_id)
        for name, idx in indexes.items():
            idx.sync(self.registry, removed=[fid for sig, fid in rows if sig == name])

    # -- matching -------------------------------------------------------------------------------
    def match_image(self, data: bytes, **kw: object):  # type: ignore[no-untyped-def]
        return self.matcher.match(load_image(data, max_pixels=self.settings.max_pixels), **kw)  # type: ignore[arg-type]

    def scan(self, sources: Iterable[str], on_item: Callable[[ItemResult], None] | None = None, *,
             browser: bool = False, fetcher: Fetcher | None = None) -> ScanReport:
        """`browser`: open URLs in headless Chromium and keep each page's screenshot as evidence. `fetcher`:
        the HTTP client for pages and pictures (a monitor's carries its own user agent and network policy);
        by default one from the settings."""
        self.sync_indexes()
        return run_scan(self.registry, self.matcher, sources, max_bytes=self.settings.max_bytes,
                        max_pixels=self.settings.max_pixels, http_timeout_s=self.settings.http_timeout_s,
                        on_item=on_item, browser=browser, chromium=self.settings.chromium or None,
                        fetcher=fetcher or Fetcher.from_settings(self.settings))

    def matches(self, status: str | None = None, work_id: int | None = None, *, history: bool = False,
                after_id: int | None = None, limit: int | None = None) -> list[Match]:
        """The latest sighting of each case; every sighting with `history`. Keyset pages by id."""
        return self.registry.matches(status, work_id, history=history, after_id=after_id, limit=limit)

    def match_figure(self, match_id: int) -> Image.Image:
        """Side-by-side picture of a stored match (registered file | suspect) with its localisation."""
        from inkseal.match.visual import render_match

        m = self.registry.match(match_id)
        wf = self.registry.file(m.file_id)
        original = load_image(self.registry.objects.get(wf.sha256), max_pixels=self.settings.max_pixels)
        suspect = load_image(self.registry.objects.get(m.suspect.sha256), max_pixels=self.settings.max_pixels)
        caption = f"match {m.id}: work {m.work_id} '{m.work.title}', score {m.score:.1f}"
        return render_match(original.rgb, suspect.rgb, m.localisation, caption)

    def evidence(self, match_id: int, out: Path, *, passphrase: str, lang: str = "zh", damages=None,  # type: ignore[no-untyped-def]
                 as_zip: bool = False, tsa_url: str | None = None, force: bool = False,
                 include_originals: bool = False, include_watermark_key: bool = False,
                 for_platform: bool = False) -> Path:
        """Write the evidence pack of a stored match (see inkseal.evidence)."""
        from inkseal.evidence.pack import build_pack

        if self.keys.watermark_path.exists():
            self.keys.unlock_watermark(passphrase)  # the informed watermark re-check needs the work's key
        return build_pack(self, match_id, out, passphrase=passphrase, lang=lang, damages=damages, as_zip=as_zip,
                          tsa_url=tsa_url, force=force, include_originals=include_originals,
                          include_watermark_key=include_watermark_key, for_platform=for_platform)

    def set_match_status(self, match_id: int, status: str, note: str = "") -> Match:
        return self.registry.set_match_status(match_id, status, note)

    # -- cases: one per (work, place), whatever the number of sightings ---------------------------
    def cases(self, work_id: int | None = None, status: str | None = None, *, after_id: int | None = None,
              limit: int | None = None) -> list[Case]:
        return self.registry.cases(work_id=work_id, status=status, after_id=after_id, limit=limit)

    def case(self, case_id: int) -> Case:
        return self.registry.case(case_id)

    def set_case_status(self, case_id: int, status: str, note: str = "") -> Case:
        return self.registry.set_case_status(case_id, status, note)

    def check_case(self, case_id: int, result: str, note: str = "") -> Case:
        return self.registry.check_case(case_id, result, note)


class AuthorView:
    """`Inkseal` for one account: its `keys` and `journal`; everything else (registry, indexes, matcher,
    settings) is the application's own, shared. Inkseal's methods run with this view as `self`, so
    `evidence`, `statement`, `publish` and the services handed this object (seal, evidence packs)
    sign with the account's keys and read only the account's journal."""

    def __init__(self, app: Inkseal, keys: KeyStore, journal: Journal) -> None:
        self.app, self.keys, self.journal = app, keys, journal

    def __getattr__(self, name: str) -> Any:
        attr = inspect.getattr_static(Inkseal, name, None)
        if isinstance(attr, FunctionType):
            return MethodType(attr, self)  # runs on this view: self.keys / self.journal are the account's
        return getattr(self.app, name)  # data and cached properties: the one shared instance
