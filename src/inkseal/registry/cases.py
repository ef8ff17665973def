"""Sightings, matches and cases: the part of the Registry that files what scans find.

A scan's suspect that matches a work is one sighting (a Match row). Sightings of the same work at
the same place (registry.places) are one Case, however often and by however many processes the
place is scanned; the case carries first / last seen, times seen and the workflow status
(registry.statuses), and its Match rows are the history. Mixed into `Registry` (registry.store),
whose `writing()`, `session()` and `retrying()` these methods use.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session, selectinload

from inkseal.errors import InksealError, NotFound
from inkseal.registry.models import Allowance, Case, CaseCheck, CaseDecision, Match, Suspect, Work, utcnow
from inkseal.registry.paging import keyset_page
from inkseal.registry.places import Sighting, same_place
from inkseal.registry.statuses import CASE_STATUSES, CHECK_RESULTS, refusal

if TYPE_CHECKING:
    from collections.abc import Callable
    from contextlib import AbstractContextManager
    from typing import TypeVar

    T = TypeVar("T")


class CaseRefused(InksealError, ValueError):
    """A status change the case workflow does not allow (one line, naming what may come next)."""


class CaseStore:
    if TYPE_CHECKING:  # provided by Registry
        def session(self) -> Session: ...
        def writing(self, lock: str) -> AbstractContextManager[Session]: ...
        def retrying(self, what: str, attempt: Callable[[], T], tries: int = 6) -> T: ...

    def record_matches(self, suspect: Suspect, matches: list[Match]) -> list[Match]:
        """Store one sighting: the suspect, and each match filed under the case of its (work, place).

        A place seen before (a re-scan, another scanning process, the image reached directly and
        through its page) updates its case - last seen, times seen, best-matching version - and keeps
        its status (`ignored` stays ignored); the new Match row is the case's history of sightings.
        Runs under the "scan" lock, so two processes never open two cases for one place.
        Returns the stored matches (new objects; their `case_id` names their case)."""
        fields = {c.key: getattr(suspect, c.key) for c in Suspect.__table__.columns
                  if c.key != "id" and getattr(suspect, c.key) is not None}
        kept = ("work_id", "file_id", "score", "scores", "localisation")
        wanted = [{k: getattr(m, k) for k in kept if getattr(m, k) is not None} for m in matches]

        def attempt() -> list[Match]:
            with self.writing("scan") as s:
                sus = Suspect(**fields)
                sus.seen_at = sus.seen_at or utcnow()
                s.add(sus)
                s.flush()
                seen = Sighting(sus.sha256, sus.source_kind, sus.source, sus.page_url)
                when = _utc(sus.captured_at or sus.seen_at)
                out = []
                for kw in wanted:
                    case = self._case_for(s, kw["work_id"], seen)
                    if case is None:
                        case = Case(work_id=kw["work_id"], file_id=kw["file_id"], sha256=seen.sha256,
                                    source_kind=seen.source_kind, page_url=seen.page_url, image_url=seen.source,
                                    host=seen.host, first_seen=when, last_seen=when, times_seen=1, status="new",
                                    note="")
                        s.add(case)
                        s.flush()
                    else:
                        best = s.scalar(select(func.max(Match.score)).where(Match.case_id == case.id))
                        if best is None or kw.get("score", 0.0) > best:
                            case.file_id = kw["file_id"]  # the version this copy derives from, best verified
                        case.times_seen += 1
                        case.first_seen = min(_utc(case.first_seen), when)
                        case.last_seen = max(_utc(case.last_seen), when)
                        if case.page_url is None and seen.page_url:  # first seen directly, now through its page
                            case.page_url, case.source_kind = seen.page_url, seen.source_kind
                            taken = select(Case.id).where(Case.work_id == case.work_id, Case.host == seen.host,
                                                          Case.sha256 == case.sha256, Case.id != case.id)
                            if s.scalar(taken) is None:  # the site is the page's (unique per work and bytes)
                                case.host = seen.host
                    m = Match(**kw, suspect_id=sus.id, case_id=case.id, status=case.status,
                              decided_at=case.decided_at)
                    s.add(m)
                    out.append(m)
                s.flush()
                for m in out:
                    s.refresh(m, ["suspect"])
                return out
        return self.retrying("recording a match", attempt)

    @staticmethod
    def _case_for(s: Session, work_id: int, seen: Sighting) -> Case | None:
        """The case of this work at the place of `seen` (see registry.places), the oldest if several."""
        q = (select(Match.case_id, Suspect.sha256, Suspect.source_kind, Suspect.source, Suspect.page_url)
             .join(Suspect, Suspect.id == Match.suspect_id)
             .where(Match.work_id == work_id, Match.case_id.is_not(None),
                    or_(Suspect.sha256 == seen.sha256, Suspect.source == seen.source))
             .order_by(Match.case_id, Match.id))
        for case_id, *old in s.execute(q):
            if same_place(seen, Sighting(*old)):
                return s.get(Case, case_id)
        return None

    def is_allowed(self, work_id: int, sha256: str, urls: Iterable[str | None]) -> bool:
        urls = [u for u in urls if u]
        with self.session() as s:
            cond = [Allowance.sha256 == sha256]
            if urls:
                cond.append(Allowance.url.in_(urls))
            q = select(Allowance.id).where(Allowance.work_id == work_id, or_(*cond)).limit(1)
            return s.scalar(q) is not None

    def matches(self, status: str | None = None, work_id: int | None = None, *, history: bool = False,
                after_id: int | None = None, limit: int | None = None) -> list[Match]:
        """Stored matches: the latest sighting of each case (one row per case), or every sighting with
        `history`. `status` is the case's status. `after_id`/`limit`: keyset pages in id order."""
        with self.session() as s:
            q = select(Match).options(selectinload(Match.suspect), selectinload(Match.work).selectinload(Work.author))
            if not history:
                latest = select(func.max(Match.id)).where(Match.case_id.is_not(None)).group_by(Match.case_id)
                q = q.where(or_(Match.id.in_(latest), Match.case_id.is_(None)))
            if status:
                q = q.where(Match.status == status)
            if work_id:
                q = q.where(Match.work_id == work_id)
            return list(s.scalars(keyset_page(q, Match.id, after_id, limit)))

    def match(self, match_id: int) -> Match:
        with self.session() as s:
            m = s.get(Match, match_id, options=[selectinload(Match.suspect), selectinload(Match.work)])
            if m is None:
                raise NotFound(f"no match {match_id} / 无匹配 {match_id}")
            return m

    def set_match_status(self, match_id: int, status: str, note: str = "") -> Match:
        """Marking a match marks its case (every sighting of that place)."""
        if status not in CASE_STATUSES:
            raise ValueError(f"status must be one of {', '.join(CASE_STATUSES)}")
        m = self.match(match_id)
        if m.case_id is None:  # cannot happen after migration 0004; said clearly rather than crash
            raise NotFound(f"match {match_id} has no case / 匹配 {match_id} 无对应案件")
        self.set_case_status(m.case_id, status, note)
        return self.match(match_id)

    # -- cases --------------------------------------------------------------------------------
    def cases(self, work_id: int | None = None, status: str | None = None, *, after_id: int | None = None,
              limit: int | None = None) -> list[Case]:
        """Cases in id order; `after_id`/`limit` page through them (keyset)."""
        with self.session() as s:
            q = select(Case).options(selectinload(Case.work).selectinload(Work.author), selectinload(Case.checks))
            if work_id is not None:
                q = q.where(Case.work_id == work_id)
            if status:
                q = q.where(Case.status == status)
            return list(s.scalars(keyset_page(q, Case.id, after_id, limit)))

    def case(self, case_id: int) -> Case:
        with self.session() as s:
            c = s.get(Case, case_id, options=[selectinload(Case.work).selectinload(Work.author),
                                              selectinload(Case.checks)])
            if c is None:
                raise NotFound(f"no case {case_id} / 无案件 {case_id}")
            return c

    def case_matches(self, case_id: int) -> list[Match]:
        """Every sighting of a case, oldest first."""
        with self.session() as s:
            q = (select(Match).where(Match.case_id == case_id).order_by(Match.id)
                 .options(selectinload(Match.suspect), selectinload(Match.work)))
            return list(s.scalars(q))

    def set_case_status(self, case_id: int, status: str, note: str = "") -> Case:
        """Move a case along its workflow (registry.statuses); a change it does not allow is refused
        with one line. `still_online` / `removed` are also recorded as a check with its time."""
        def attempt() -> None:
            with self.writing("scan") as s:
                case = s.get(Case, case_id)
                if case is None:
                    raise NotFound(f"no case {case_id} / 无案件 {case_id}")
                reason = refusal(case_id, case.status, status)
                if reason:
                    raise CaseRefused(reason)
                now = utcnow()
                s.add(CaseDecision(case_id=case_id, decided_at=now, status=status, previous=case.status, note=note))
                case.status, case.decided_at = status, now
                if note:
                    case.note = note
                if status in CHECK_RESULTS:
                    s.add(CaseCheck(case_id=case_id, checked_at=now, result=status, note=note))
                values: dict = {"status": status, "decided_at": now} | ({"note": note} if note else {})
                s.execute(update(Match).where(Match.case_id == case_id).values(**values))
                if status == "whitelisted":
                    # Authorise the exact bytes of every sighting, and the pages (or URLs) they were on.
                    places = s.execute(select(Suspect.sha256, Suspect.page_url, Suspect.source, Suspect.source_kind)
                                       .join(Match, Match.suspect_id == Suspect.id)
                                       .where(Match.case_id == case_id)).all()
                    for sha, page, source, kind in sorted(set(places), key=str):
                        s.add(Allowance(work_id=case.work_id, sha256=sha,
                                        url=page or (source if kind != "file" else None),
                                        note=note or f"from case {case_id}"))
        self.retrying("changing a case", attempt)
        return self.case(case_id)

    def case_decisions(self, case_id: int) -> list[CaseDecision]:
        """Every move of the case along its workflow, oldest first (rows `backfilled` by migration 0012 stand
        for the one decision older versions kept)."""
        with self.session() as s:
            return list(s.scalars(select(CaseDecision).where(CaseDecision.case_id == case_id)
                                  .order_by(CaseDecision.id)))

    def check_case(self, case_id: int, result: str, note: str = "") -> Case:
        """Record a re-check of the place: the copy is `still_online` or `removed` (now)."""
        if result not in CHECK_RESULTS:
            raise ValueError(f"a check's result is one of {', '.join(CHECK_RESULTS)}")
        return self.set_case_status(case_id, result, note)


def _utc(dt: datetime) -> datetime:
    """SQLite hands back naive datetimes (stored as UTC): make them comparable with aware ones."""
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
