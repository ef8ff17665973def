"""The match inbox (decide with one click or a key, alone or in bulk), the case page and its evidence pack."""

from __future__ import annotations

import io
from datetime import date
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
from inkseal.web.pages import PageUser, lang_of, render, scope_of
from inkseal.web.pages_text import text
from inkseal.web.pages_works import thumb_url
from inkseal.web.scope import UserScope

router = APIRouter(include_in_schema=False)
DECISIONS = ("confirmed", "ignored", "whitelisted")
INBOX_LIMIT = 200


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
          done: Annotated[str, Query(max_length=200)] = "") -> HTMLResponse:
    scope = scope_of(request, user)
    rows = scope.matches(status or None, work, limit=INBOX_LIMIT)
    rows = [m for m in rows
            if (since is None or m.created_at.date() >= since) and (until is None or m.created_at.date() <= until)]
    lang = lang_of(request)
    return render(request, "matches.html.j2", user, views=[match_view(m, lang) for m in reversed(rows)],
                  statuses=CASE_STATUSES, works=scope.works(), f_status=status, f_work=work, f_since=since or "",
                  f_until=until or "", done=done, decisions=DECISIONS, thumb_url=thumb_url)


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
def timeline(scope: UserScope, case_id: int, lang: str) -> list[dict]:
    """First seen, each later sighting, each re-check and the latest decision, oldest first."""
    case = scope.case(case_id)
    events = []
    for i, m in enumerate(scope.ink.registry.case_matches(case_id)):
        when = m.suspect.captured_at or m.suspect.seen_at
        events.append({"when": when, "what": text("first_seen" if i == 0 else "seen_again", lang),
                       "detail": m.suspect.page_url or m.suspect.source.rsplit("/", 1)[-1]})
    for c in case.checks:
        events.append({"when": c.checked_at, "what": text("checked", lang, result=status_name(c.result, lang)),
                       "detail": c.note})
    if case.decided_at is not None:
        events.append({"when": case.decided_at, "what": text("decided", lang, status=status_name(case.status, lang)),
                       "detail": case.note})
    return sorted(events, key=lambda e: e["when"].isoformat())


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
    return render(request, "case.html.j2", user, status_code, case=case, events=timeline(scope, case_id, lang),
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
        scope.ink.keys.private(passphrase)  # no key yet / wrong passphrase: a clear line before any work
        with api.upload_dir(scope.ink) as tmp:
            path = scope.ink.evidence(match_id, tmp / name, passphrase=passphrase, lang=lang, as_zip=True,
                                      for_platform=audience == "platform")
            data = path.read_bytes()
    except (InksealError, ValueError) as exc:
        return case_page_response(request, user, case_id, text("pack_failed", lang_of(request), reason=str(exc)), 422)
    return Response(data, media_type="application/zip",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
