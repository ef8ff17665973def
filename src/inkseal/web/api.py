"""The REST API under /api/v1: the CLI's operations, as resources, for the signed-in user's objects only.

Each route calls the method the matching CLI command calls (`Inkseal.register`, `.remove_work`, `.scan`,
`.set_match_status`, `.set_case_status`, `.match_figure`, `seal.inspect.inspect_bytes`) and answers the
shape that command prints with `--json` (the same dict builders). Listings are keyset pages like
`--limit/--after`: {"items": [...], "next_after": id or null}.
"""

from __future__ import annotations

import io
import math
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Form, Path as PathParam, Query, Request, Response, UploadFile
from fastapi.responses import JSONResponse
from PIL import Image
from pydantic import BaseModel, Field, field_validator

from inkseal.app import Inkseal
from inkseal.cli import _match_dict, _work_dict
from inkseal.cli_cases import case_dict
from inkseal.imaging import load_image
from inkseal.match.sources.files import IMAGE_SUFFIXES
from inkseal.registry.statuses import CASE_STATUSES
from inkseal.web.auth import CurrentUser
from inkseal.web.messages import ApiError, message
from inkseal.web.scope import WORK_LOCK, OwnedMatcher, UserScope
from inkseal.web.uploads import names_in, restamp

MAX_ID = 2**31 - 1  # ids are 32-bit integers on PostgreSQL: larger ones simply do not exist
MAX_SCAN_FILES = 50
THUMB_PX = 320
CONTENT_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp", "GIF": "image/gif",
                 "BMP": "image/bmp", "TIFF": "image/tiff", "AVIF": "image/avif", "JPEG2000": "image/jp2",
                 "ICO": "image/x-icon", "MPO": "image/jpeg"}

Id = Annotated[int, PathParam(ge=1, le=MAX_ID)]
Limit = Annotated[int, Query(ge=1, le=1000, description="At most this many rows (like --limit).")]
After = Annotated[int | None, Query(ge=0, le=MAX_ID, description="Rows with an id above this one (like --after).")]
Status = Literal[CASE_STATUSES]  # type: ignore[valid-type]


def _text_ok(value: str | None, what: str) -> str | None:
    """User text that goes into the database: no control characters (PostgreSQL refuses NUL outright)."""
    if value is not None and any(ord(c) < 32 and c not in "\t\n" for c in value):
        raise ApiError(422, message("bad_request", reason=f"{what} contains control characters"))
    return value


def plain(obj: Any) -> Any:
    """JSON-ready data: datetimes as ISO 8601, numpy scalars as numbers, NaN/±Infinity as strings
    (as inkseal.safejson stores them), anything else unknown as its text."""
    if isinstance(obj, dict):
        return {str(k): plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [plain(v) for v in obj]
    if isinstance(obj, bool) or obj is None or isinstance(obj, (int, str)):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else str(obj)
    if isinstance(obj, (datetime, date)):
        return obj.isoformat()
    if hasattr(obj, "item") and callable(obj.item):  # numpy scalar
        return plain(obj.item())
    if isinstance(obj, bytes):
        return obj.hex()
    return str(obj)


# Where the desk keeps uploads while it scans them (upload_dir, and a scan job's folder): a suspect's
# `source` there is the server's path, of which the client only needs the upload's name.
_UPLOAD_FOLDER = re.compile(r"^.*/(?:tmp/upload-[^/]+|jobs/job\d+/in)/")


def shown_source(source: str | None) -> str | None:
    return _UPLOAD_FOLDER.sub("", source) if source else source


def match_json(m: Any) -> dict:
    """As `inkseal match show --json`, with an uploaded suspect's server path reduced to its upload name."""
    d = _match_dict(m)
    d["suspect"]["source"] = shown_source(d["suspect"]["source"])
    return d


def case_json(c: Any) -> dict:
    """As `inkseal case show --json`, with an uploaded suspect's server path reduced to its upload name."""
    d = case_dict(c)
    d["page_url"], d["image_url"] = shown_source(d["page_url"]), shown_source(d["image_url"])
    return d


def answer(content: Any, status_code: int = 200) -> JSONResponse:
    return JSONResponse(plain(content), status_code=status_code)


def page(rows: list, limit: int, to_dict: Any) -> JSONResponse:
    """One keyset page, fetched with one row more than asked to tell whether another page follows."""
    next_after = rows[limit - 1].id if len(rows) > limit else None
    return answer({"items": [to_dict(r) for r in rows[:limit]], "next_after": next_after})


# -- dependencies ------------------------------------------------------------------------------------
def user_scope(request: Request, user: CurrentUser) -> UserScope:
    return UserScope(request.app.state.ink, request.app.state.accounts, user)


Scope = Annotated[UserScope, Depends(user_scope)]
router = APIRouter(prefix="/api/v1", tags=["api"])


def read_upload(upload: UploadFile, max_bytes: int) -> bytes:
    """The upload's bytes, refused past the same byte limit `register` and `scan` apply (413)."""
    data = upload.file.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ApiError(413, message("too_large", limit=max_bytes))
    return data


def safe_name(filename: str | None, fallback: str = "upload") -> tuple[str, str]:
    """(stem, suffix) for a temporary file: the client's name reduced to word characters, never a path;
    the suffix is an image suffix or '.img', so an upload is always read as an image, never as a page."""
    base = Path((filename or "").replace("\\", "/")).name
    stem = re.sub(r"[^\w\-]+", "_", Path(base).stem).strip("_.")[:80] or fallback
    suffix = Path(base).suffix.lower()
    return stem, suffix if suffix in IMAGE_SUFFIXES else ".img"


@contextmanager
def upload_dir(ink: Inkseal) -> Iterator[Path]:
    """A private temporary folder inside the home for the uploads of one request."""
    root = ink.settings.home / "tmp"
    root.mkdir(mode=0o700, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="upload-", dir=root) as tmp:
        yield Path(tmp)


@contextmanager
def owned_matching(scope: UserScope) -> Iterator[None]:
    """While held, the application's matcher reports only this user's works, so `Inkseal.scan` and
    `inspect_bytes` run unchanged. Held under WORK_LOCK: one scan or inspection at a time."""
    ink = scope.ink
    with WORK_LOCK:
        real = ink.matcher
        ink.__dict__["matcher"] = OwnedMatcher(real, scope.accounts.owned_work_ids(scope.user))
        try:
            yield
        finally:
            ink.__dict__["matcher"] = real  # the cached_property's slot: the real matcher again


# -- who am I -------------------------------------------------------------------------------------------
@router.get("/me", summary="The signed-in account")
def me(user: CurrentUser) -> JSONResponse:
    return answer({"id": user.id, "name": user.name, "is_admin": user.is_admin, "local": user.is_local,
                   "csrf_token": user.csrf_token})


# -- works --------------------------------------------------------------------------------------------
@router.post("/works", status_code=201, summary="Register a work (like `inkseal register`)")
def register_work(scope: Scope, file: Annotated[UploadFile, File(description="The image.")],
                  title: Annotated[str | None, Form(max_length=500)] = None) -> JSONResponse:
    ink = scope.ink
    data = read_upload(file, ink.settings.max_bytes)
    _text_ok(title, "title")
    stem, suffix = safe_name(file.filename)
    with upload_dir(ink) as tmp:
        path = tmp / f"{stem}{suffix}"
        path.write_bytes(data)
        with WORK_LOCK:
            item = ink.register([path], author=scope.user.name, title=title or None).items[0]
    if item.error:
        raise ApiError(422, message("bad_image", reason=item.error.replace(f"{tmp}/", "")))
    assert item.work_id is not None
    if item.skipped:  # the same bytes were registered before: by this user (fine) or by another (refused)
        if not scope.accounts.owns_work(scope.user, item.work_id):
            raise ApiError(409, message("taken"))
        return answer({"id": item.work_id, "existing": True}, 200)
    scope.accounts.set_owner(item.work_id, scope.user.id)
    return answer({"id": item.work_id, "file_id": item.file_id, "existing": False, "notes": item.notes}, 201)


@router.get("/works", summary="List works (keyset pages, like `inkseal works --limit --after`)")
def list_works(scope: Scope, limit: Limit = 100, after: After = None) -> JSONResponse:
    return page(scope.works(after, limit + 1), limit, _work_dict)


@router.get("/works/{work_id}", summary="One work and its files (like `inkseal work show`)")
def get_work(scope: Scope, work_id: Id) -> JSONResponse:
    return answer(_work_dict(scope.work(work_id)))


@router.delete("/works/{work_id}", status_code=204, summary="Remove a work (like `inkseal work remove`)")
def delete_work(scope: Scope, work_id: Id) -> Response:
    scope.work(work_id)
    with WORK_LOCK:
        scope.ink.remove_work(work_id)
    return Response(status_code=204)


def jpeg_thumb(data: bytes, max_pixels: int, px: int = THUMB_PX) -> bytes:
    """A JPEG at most `px` on a side (the stored picture is decoded under the same limits as a registration)."""
    im = Image.fromarray(load_image(data, max_pixels=max_pixels).rgb)
    im.thumbnail((px, px))
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=85)
    return buf.getvalue()


@router.get("/works/{work_id}/files/{file_id}/image", summary="A file's bytes, or a thumbnail",
            response_class=Response)
def file_image(scope: Scope, work_id: Id, file_id: Id,
               size: Annotated[Literal["original", "thumb"], Query()] = "original") -> Response:
    wf = scope.file(work_id, file_id)
    data = scope.ink.registry.objects.get(wf.sha256)
    if size == "thumb":
        return Response(jpeg_thumb(data, scope.ink.settings.max_pixels), media_type="image/jpeg")
    return Response(data, media_type=CONTENT_TYPES.get(wf.format.upper(), "application/octet-stream"),
                    headers={"Content-Disposition": f'inline; filename="work{work_id}-file{file_id}"'})


@router.get("/works/{work_id}/journal", summary="The work's journal entries (like `inkseal journal list --work`)")
def work_journal(scope: Scope, work_id: Id) -> JSONResponse:
    scope.work(work_id)
    return answer({"work_id": work_id, "items": scope.author.journal.entries(work_id)})


# -- inspect and scan --------------------------------------------------------------------------------------
@router.post("/inspect", summary="What `inkseal inspect` reports about an image")
def inspect_image(scope: Scope, file: Annotated[UploadFile, File(description="The image.")],
                  lang: Annotated[Literal["en", "zh"] | None, Query()] = None) -> JSONResponse:
    from inkseal.seal.inspect import inspect_bytes

    data = read_upload(file, scope.ink.settings.max_bytes)
    with owned_matching(scope):
        report = inspect_bytes(scope, data, lang=lang or scope.ink.settings.lang)
    return answer({"file": safe_name(file.filename)[0], **report})


@router.post("/scans", summary="Scan uploaded images for copies of your works (like `inkseal scan FILES`)")
def scan_images(scope: Scope, request: Request, file: Annotated[list[UploadFile], File(description="One or more images.")]) -> JSONResponse:
    ink = scope.ink
    if len(file) > MAX_SCAN_FILES:
        raise ApiError(422, message("bad_request", reason=f"at most {MAX_SCAN_FILES} files per scan"))
    blobs = [(safe_name(f.filename, f"upload{i}"), read_upload(f, ink.settings.max_bytes)) for i, f in enumerate(file)]
    with upload_dir(ink) as tmp:
        sources = []
        for i, ((stem, suffix), data) in enumerate(blobs):
            path = tmp / f"{i:02d}-{stem}{suffix}"
            path.write_bytes(data)
            sources.append(str(path))
        names = names_in(tmp)
        try:
            with owned_matching(scope):
                report = ink.scan(sources)
        finally:
            restamp(ink.registry, tmp, names)  # the suspects keep `upload:<sha>/<name>`, never the temp path
        failed = [{"item": Path(r.item.label).name, "error": (r.error or "").replace(f"{tmp}/", "")}
                  for r in report.failed]
        if report.results and len(failed) == len(report.results):
            raise ApiError(422, message("bad_image", reason="; ".join(f"{f['item']}: {f['error']}" for f in failed)))
        matches = [match_json(ink.registry.match(m.id)) for r in report.matched for m in r.matches]
    if matches:
        from inkseal.web.jobs import queue_of

        queue_of(request.app).poke_webhooks()  # the new matches' webhooks: now, not at the next sweep
    return answer({"scan_id": report.scan_id, "items": len(report.results), "failed": failed,
                   "whitelisted": report.suppressed, "matches": matches})


# -- matches -----------------------------------------------------------------------------------------------
class StatusChange(BaseModel):
    status: Status = Field(description="confirmed, ignored, whitelisted, or any case status.")  # type: ignore[valid-type]
    note: str = Field("", max_length=2000)

    @field_validator("note")
    @classmethod
    def _no_controls(cls, v: str) -> str:
        if any(ord(c) < 32 and c not in "\t\n" for c in v):
            raise ValueError("the note contains control characters")
        return v


@router.get("/matches", summary="Matches: the latest sighting of each case (like `inkseal matches`)")
def list_matches(scope: Scope, status: Annotated[Status | None, Query()] = None,  # type: ignore[valid-type]
                 work: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
                 limit: Limit = 100, after: After = None) -> JSONResponse:
    return page(scope.matches(status, work, after_id=after, limit=limit + 1), limit, match_json)


@router.get("/matches/{match_id}", summary="One match (like `inkseal match show --json`)")
def get_match(scope: Scope, match_id: Id) -> JSONResponse:
    return answer(match_json(scope.match(match_id)))


@router.post("/matches/{match_id}", summary="Decide on a match: marks its case (like `inkseal match mark`)")
def mark_match(scope: Scope, match_id: Id, change: StatusChange) -> JSONResponse:
    scope.match(match_id)
    return answer(match_json(scope.ink.set_match_status(match_id, change.status, change.note)))


@router.get("/matches/{match_id}/figure", summary="Side-by-side figure: registered file | suspect (PNG)",
            response_class=Response)
def match_figure(scope: Scope, match_id: Id) -> Response:
    scope.match(match_id)
    buf = io.BytesIO()
    scope.ink.match_figure(match_id).save(buf, "PNG")
    return Response(buf.getvalue(), media_type="image/png")


# -- cases -------------------------------------------------------------------------------------------------
@router.get("/cases", summary="Cases: each use of a work at one place (like `inkseal cases`)")
def list_cases(scope: Scope, status: Annotated[Status | None, Query()] = None,  # type: ignore[valid-type]
               work: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
               limit: Limit = 100, after: After = None) -> JSONResponse:
    return page(scope.cases(work, status, after_id=after, limit=limit + 1), limit, case_json)


def _case_detail(ink: Inkseal, case_id: int) -> dict:
    """As `inkseal case show --json`: the case with every sighting."""
    sightings = ink.registry.case_matches(case_id)
    return case_json(ink.case(case_id)) | {"matches": [
        {"id": m.id, "score": round(m.score, 2), "file_id": m.file_id,
         "seen_at": m.suspect.captured_at or m.suspect.seen_at, "source": shown_source(m.suspect.source),
         "page_url": m.suspect.page_url, "sha256": m.suspect.sha256} for m in sightings]}


@router.get("/cases/{case_id}", summary="One case with its sightings (like `inkseal case show --json`)")
def get_case(scope: Scope, case_id: Id) -> JSONResponse:
    scope.case(case_id)
    return answer(_case_detail(scope.ink, case_id))


def case_history(ink: Inkseal, case_id: int) -> dict:
    """A case's timeline, oldest first: each sighting (the first is `first_seen`), each decision along its
    workflow (`status`, with what it moved from) and each re-check (`check`: still online / removed). Decisions
    made before migration 0012 were not kept, only a case's latest one: `complete` is false for such a case."""
    case = ink.case(case_id)
    events: list[dict] = []
    for i, m in enumerate(ink.registry.case_matches(case_id)):
        events.append({"at": m.suspect.captured_at or m.suspect.seen_at, "event": "first_seen" if i == 0 else "seen",
                       "match_id": m.id, "score": round(m.score, 2), "source": shown_source(m.suspect.source),
                       "page_url": m.suspect.page_url})
    decisions = ink.registry.case_decisions(case_id)
    checks = {(k.checked_at, k.result) for k in case.checks}
    for d in decisions:
        if (d.decided_at, d.status) not in checks:  # a re-check is one event, not also a decision
            events.append({"at": d.decided_at, "event": "status", "status": d.status, "previous": d.previous,
                           "note": d.note})
    for k in case.checks:
        events.append({"at": k.checked_at, "event": "check", "result": k.result, "note": k.note})
    order = {"first_seen": 0, "seen": 1, "status": 2, "check": 3}

    def when(at: datetime | None) -> datetime:  # SQLite hands back naive UTC, PostgreSQL aware times
        return datetime.min if at is None else at.astimezone(UTC).replace(tzinfo=None) if at.tzinfo else at
    events.sort(key=lambda e: (when(e["at"]), order[e["event"]]))
    complete = not any(d.backfilled for d in decisions)
    note = ({"en": "every sighting, decision and re-check", "zh": "包括每次发现、处理决定和复查"} if complete else
            {"en": "decisions before this version were not kept: only the latest of them is shown",
             "zh": "此版本之前的处理决定未保存，仅显示其中最近的一次"})
    return {"case_id": case_id, "status": case.status, "events": events, "complete": complete, "note": note}


@router.get("/cases/{case_id}/history", summary="A case's timeline: sightings, decisions, re-checks")
def get_case_history(scope: Scope, case_id: Id) -> JSONResponse:
    scope.case(case_id)
    return answer(case_history(scope.ink, case_id))


@router.post("/cases/{case_id}", summary="Move a case along its workflow (like `inkseal case mark`)")
def mark_case(scope: Scope, case_id: Id, change: StatusChange) -> JSONResponse:
    scope.case(case_id)
    scope.ink.set_case_status(case_id, change.status, change.note)
    return answer(_case_detail(scope.ink, case_id))



# The job, pack, seal and webhook routes add themselves to `router` (they import this module's helpers).
from inkseal.web import api_jobs, api_keys, webhooks  # noqa: E402,F401
