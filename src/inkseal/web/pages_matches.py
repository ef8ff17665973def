"""The match inbox (decide with one click or a key, alone or in bulk), the case page and its evidence pack."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from inkseal.cli import _verdict_line
from inkseal.errors import InksealError
from inkseal.i18n import describe_localisation
from inkseal.imaging import load_image
from inkseal.registry.models import Match
from inkseal.registry.statuses import CASE_STATUSES, TRANSITIONS, status_name
from inkseal.web import api, auth
from inkseal.web.messages import ApiError
from inkseal.web.pages import PageUser, keyset, lang_of, page_links, render, scope_of
from inkseal.web.pages_drafts import case_drafts, case_pack_jobs
from inkseal.web.pages_text import text
from inkseal.web.pages_works import thumb_url
from inkseal.web.scope import UserScope

router = APIRouter(include_in_schema=False)
DECISIONS = ("confirmed", "ignored", "whitelisted")
INBOX_LIMIT = 200  # ids decided in one bulk action
INBOX_PAGE = 50


def match_view(m: Match, lang: str) -> dict:
    """What the inbox says about one match: the CLI's verdict sentence, the cuts in words, the overlay."""
    loc = m.localisation or {}
    polygon = loc.get("polygon_in_suspect") or []
    return {"m": m, "tier": (m.scores or {}).get("tier") or "copy",
            "verdict": _verdict_line(m, m.suspect.page_url or m.suspect.source.rsplit("/", 1)[-1], m.work.title, lang),
            "cuts": describe_localisation(loc, lang),
            "points": " ".join(f"{x:.1f},{y:.1f}" for x, y in polygon)}


@router.get("/matches")
def inbox(request: Request, user: PageUser,
          status: Annotated[Literal[CASE_STATUSES] | Literal[""], Query()] = "new",  # type: ignore[valid-type]
          work: Annotated[int | None, Query(ge=1, le=api.MAX_ID)] = None,
          since: Annotated[date | None, Query()] = None, until: Annotated[date | None, Query()] = None,
          done: Annotated[str, Query(max_length=200)] = "", after: api.After = None) -> HTMLResponse:
    """One page of matches (keyset: `after`, in id order) under the filters; the page links keep them."""
    scope = scope_of(request, user)

    def in_dates(m: Match) -> bool:
        return (since is None or m.created_at.date() >= since) and (until is None or m.created_at.date() <= until)

    rows, next_after = keyset(lambda a, n: scope.matches(status or None, work, after_id=a, limit=n), after,
                              INBOX_PAGE, keep=in_dates if since or until else None)
    lang = lang_of(request)
    return render(request, "matches.html.j2", user, views=[match_view(m, lang) for m in rows],
                  statuses=CASE_STATUSES, works=scope.works(), f_status=status, f_work=work, f_since=since or "",
                  f_until=until or "", done=done, decisions=DECISIONS, thumb_url=thumb_url,
                  **page_links(request, next_after))


@router.post("/matches/decide")
def decide(request: Request, user: PageUser, act: Annotated[str, Form(max_length=40)] = "",
           ids: Annotated[list[int], Form()] = [],  # noqa: B006 - FastAPI reads the default, never mutates it
           status: Annotated[str, Form(max_length=20)] = "",
           back: Annotated[str, Form(max_length=2000)] = "/matches") -> Response:
    """One click (`act` = "ID:STATUS") or the selected ids with one status: each through the API's
    `mark_match`; then back to the inbox, which says what was done."""
    scope = scope_of(request, user)
    if act:
        one, _, status = act.partition(":")
        ids = [int(one)] if one.isdigit() else []
    if status not in CASE_STATUSES or not ids:
        raise ApiError(422, {"en": "choose matches and a decision", "zh": "请选择匹配和处理方式"})
    done = []
    for match_id in ids[:INBOX_LIMIT]:
        api.mark_match(scope=scope, match_id=match_id, change=api.StatusChange(status=status))
        done.append(str(match_id))
    target = (auth.safe_next(back) if back.startswith("/matches") else None) or "/matches"
    sep = "&" if "?" in target else "?"
    return RedirectResponse(f"{target}{sep}done={','.join(done)}:{status}", status_code=303)


@router.get("/matches/{match_id}/suspect")
def suspect_image(request: Request, user: PageUser, match_id: api.Id,
                  size: Annotated[Literal["original", "thumb"], Query()] = "original") -> Response:
    scope = scope_of(request, user)
    m = scope.match(match_id)
    data = scope.ink.registry.objects.get(m.suspect.sha256)
    if size == "thumb":
        return Response(api.jpeg_thumb(data, scope.ink.settings.max_pixels), media_type="image/jpeg")
    fmt = load_image(data, max_pixels=scope.ink.settings.max_pixels).format
    return Response(data, media_type=api.CONTENT_TYPES.get(fmt.upper(), "application/octet-stream"))


# -- cases -----------------------------------------------------------------------------------------------------
def _utc_naive(at: datetime | None) -> datetime:
    """SQLite hands back naive UTC times, PostgreSQL and the job store aware ones: one kind, to sort."""
    if at is None:
        return datetime.min
    return at.astimezone(UTC).replace(tzinfo=None) if at.tzinfo else at


def timeline(scope: UserScope, case_id: int, lang: str, packs: list | None = None) -> tuple[list[dict], str]:
    """The API's case history (`api.case_history`: sightings, decisions, re-checks), in words, with
    each evidence pack built for the case (the job store keeps those, with their time); oldest first.
    Also the history's own note on what the registry does not keep."""
    scope.case(case_id)
    history = api.case_history(scope.ink, case_id)
    rows = []
    for e in history["events"]:
        kind = e["event"]
        if kind in ("first_seen", "seen"):
            row = {"what": text("first_seen" if kind == "first_seen" else "seen_again", lang), "status": "",
                   "detail": e.get("page_url") or (e.get("source") or "").rsplit("/", 1)[-1]}
        elif kind == "check":
            row = {"what": text("checked", lang, result=status_name(e["result"], lang)), "status": e["result"],
                   "detail": e.get("note") or ""}
        else:  # a decision along the workflow, with the time it was made
            row = {"what": text("decided", lang, status=status_name(e["status"], lang)), "status": e["status"],
                   "detail": e.get("note") or ""}
        rows.append(row | {"when": e["at"]})
    for job in packs or []:
        rows.append({"when": job.finished_at, "what": text("pack_built", lang), "status": "",
                     "detail": text("for_" + job.params.get("for", "court"), lang), "job": job.id})
    rows.sort(key=lambda r: _utc_naive(r["when"]))
    note = history.get("note") or {}
    return rows, note.get(lang, note.get("en", ""))


def _screenshot_digest(scope: UserScope, case_id: int) -> tuple[str, Match] | None:
    for m in reversed(scope.ink.registry.case_matches(case_id)):
        digest = ((m.suspect.location or {}).get("attachments") or {}).get("page_screenshot")
        if digest:
            return digest, m
    return None


def case_page_response(request: Request, user: PageUser, case_id: int, error: str | None = None,
                       status_code: int = 200) -> HTMLResponse:
    scope = scope_of(request, user)
    case = scope.case(case_id)
    lang = lang_of(request)
    sightings = scope.ink.registry.case_matches(case_id)
    packs = case_pack_jobs(request, scope, case_id)
    events, history_note = timeline(scope, case_id, lang, packs)
    return render(request, "case.html.j2", user, status_code, case=case, events=events, history_note=history_note,
                  drafts=case_drafts(request, packs),
                  latest=match_view(sightings[-1], lang) if sightings else None,
                  has_screenshot=_screenshot_digest(scope, case_id) is not None,
                  next_statuses=TRANSITIONS.get(case.status, ()), error=error)


@router.get("/cases/{case_id}")
def case_page(request: Request, user: PageUser, case_id: api.Id) -> HTMLResponse:
    return case_page_response(request, user, case_id)


@router.post("/cases/{case_id}/status")
def case_status(request: Request, user: PageUser, case_id: api.Id, status: Annotated[str, Form(max_length=20)],
                note: Annotated[str, Form(max_length=2000)] = "") -> Response:
    api.mark_case(scope=scope_of(request, user), case_id=case_id, change=api.StatusChange(status=status, note=note))
    return RedirectResponse(f"/cases/{case_id}", status_code=303)


@router.get("/cases/{case_id}/screenshot")
def case_screenshot(request: Request, user: PageUser, case_id: api.Id) -> Response:
    """The page as the browser saw it, with the copy outlined (as the evidence pack draws it)."""
    from inkseal.evidence.capture import marked_screenshot

    scope = scope_of(request, user)
    scope.case(case_id)
    found = _screenshot_digest(scope, case_id)
    if found is None:
        raise ApiError(404, {"en": f"case {case_id} has no page screenshot",
                             "zh": f"案件 {case_id} 没有网页截图"})
    digest, m = found
    box = (m.suspect.location or {}).get("box")
    polygon = (m.localisation or {}).get("polygon_in_suspect")
    if box is None and polygon:  # the suspect is the screenshot itself
        xs, ys = zip(*polygon, strict=True)
        box = [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)]
    buf = io.BytesIO()
    marked_screenshot(scope.ink.registry.objects.get(digest), box).save(buf, "PNG")
    return Response(buf.getvalue(), media_type="image/png")


@router.post("/cases/{case_id}/pack")
def case_pack(request: Request, user: PageUser, case_id: api.Id,
              passphrase: Annotated[str, Form(max_length=1000)] = "",
              lang: Annotated[Literal["zh", "en"], Form()] = "zh",
              audience: Annotated[Literal["court", "platform"], Form()] = "court") -> Response:
    """`Inkseal.evidence` (what `inkseal evidence MATCH -o PACK.zip [--for platform]` runs) on the case's
    latest sighting, synchronously; answers the zip as a download, or the case page with the reason."""
    scope = scope_of(request, user)
    scope.case(case_id)
    sightings = scope.ink.registry.case_matches(case_id)
    if not sightings:
        return case_page_response(request, user, case_id, "no sighting", 422)
    match_id = sightings[-1].id
    name = f"inkseal-case{case_id}-match{match_id}-{audience}-{lang}.zip"
    try:
        author = scope.signing_author()  # the user's own keys and journal sign the pack
        author.keys.private(passphrase)  # wrong passphrase: a clear line before any work
        with api.upload_dir(scope.ink) as tmp:
            path = author.evidence(match_id, tmp / name, passphrase=passphrase, lang=lang, as_zip=True,
                                      for_platform=audience == "platform")
            data = path.read_bytes()
    except ApiError as exc:
        if exc.status == 404:
            raise
        reason = exc.error.get(lang_of(request), exc.error["en"])
        return case_page_response(request, user, case_id, text("pack_failed", lang_of(request), reason=reason), 422)
    except (InksealError, ValueError) as exc:
        return case_page_response(request, user, case_id, text("pack_failed", lang_of(request), reason=str(exc)), 422)
    return Response(data, media_type="application/zip",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
