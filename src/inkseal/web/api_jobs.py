"""The API's job routes (on `inkseal.web.api.router`, which imports this module at its end):

    POST /api/v1/jobs/scan                 upload images / saved pages / WARCs and/or name URLs -> 202 {job_id}
    POST /api/v1/works/{id}/seal           what `inkseal seal` does, as a job -> 202 {job_id}
    POST /api/v1/cases/{id}/pack           the evidence pack of the case's latest sighting, as a job -> 202
    GET  /api/v1/cases/{id}/pack           the newest finished pack of the case (zip)
    GET  /api/v1/jobs                      your jobs (keyset pages)
    GET  /api/v1/jobs/{id}                 one job: state, done/total, step, result or error
    GET  /api/v1/jobs/{id}/events          server-sent events: `progress` while it runs, then `done`
    GET  /api/v1/jobs/{id}/result          a finished pack job's zip
    POST /api/v1/jobs/{id}/cancel          cancel (queued: at once; running: at its next step)

Another user's job is 404, like any other object.
"""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Annotated, Literal

from fastapi import File, Form, Request, Response, UploadFile
from fastapi.responses import FileResponse, StreamingResponse
from pydantic import BaseModel, Field, field_validator
from starlette.concurrency import run_in_threadpool

from inkseal.match.sources import PAGE_SUFFIXES, WARC_SUFFIXES
from inkseal.match.sources.files import IMAGE_SUFFIXES
from inkseal.registry.jobs import JobView
from inkseal.web.api import MAX_SCAN_FILES, After, Id, Limit, Scope, answer, read_upload, router
from inkseal.web.jobs import lifespan, pack_path, queue_of
from inkseal.web.messages import ApiError, message
from inkseal.web.webhooks import check_target

router.lifespan_context = lifespan  # the consumer starts and stops with the server (see inkseal.web.jobs)

MAX_URLS = 50
SSE_POLL_S = 0.25
SSE_HEARTBEAT_S = 15.0


def _job_not_found(job_id: int) -> ApiError:
    return ApiError(404, {"en": f"no job {job_id}", "zh": f"无任务 {job_id}"})


def _own_job(request: Request, scope: Scope, job_id: int) -> JobView:
    job = queue_of(request.app).store.get(job_id, scope.user.id)
    if job is None:
        raise _job_not_found(job_id)
    return job


def _job_dict(job: JobView) -> dict:
    return job.as_dict() | {"finished": job.finished, "events": f"/api/v1/jobs/{job.id}/events"}


def _accepted(job: JobView) -> Response:
    return answer({"job_id": job.id, "state": job.state, "job": f"/api/v1/jobs/{job.id}",
                   "events": f"/api/v1/jobs/{job.id}/events"}, 202)


def _scan_name(i: int, filename: str | None) -> str:
    """NN-name.suffix inside the job's folder: word characters only, never a path; the suffix says how the
    scan reads it (image, saved page, WARC); anything else is read as an image (never as a URL list)."""
    base = Path((filename or "").replace("\\", "/")).name.lower()
    suffix = next((s for s in (*WARC_SUFFIXES, *PAGE_SUFFIXES, *IMAGE_SUFFIXES) if base.endswith(s)), ".img")
    stem = re.sub(r"[^\w\-]+", "_", base[: len(base) - len(suffix)] if base.endswith(suffix) else base)
    return f"{i:02d}-{stem.strip('_.')[:60] or 'upload'}{suffix}"


# -- scans ----------------------------------------------------------------------------------------------
@router.post("/jobs/scan", status_code=202, summary="Scan uploads (images, saved pages, WARCs) and/or URLs in the "
             "background (like `inkseal scan`) -> job")
def scan_job(scope: Scope, request: Request,
             file: Annotated[list[UploadFile] | None, File(description="Images, saved pages (.html) or WARCs.")] = None,
             url: Annotated[list[str] | None, Form(description="Page or image URLs (http/https).")] = None) -> Response:
    files, urls = file or [], [u.strip() for u in (url or []) if u.strip()]
    if not files and not urls:
        raise ApiError(422, message("bad_request", reason="send at least one file or url"))
    if len(files) > MAX_SCAN_FILES or len(urls) > MAX_URLS:
        raise ApiError(422, message("bad_request", reason=f"at most {MAX_SCAN_FILES} files and {MAX_URLS} urls"))
    queue = queue_of(request.app)
    private_ok = queue.webhooks.private_allowed(scope.user)
    for u in urls:
        if len(u) > 2000 or any(ord(c) < 33 for c in u):
            raise ApiError(422, message("bad_request", reason="a url is too long or contains spaces"))
        refused = check_target(u, private_ok)
        if refused:
            en, _, zh = refused.partition(" / ")
            raise ApiError(422, {"en": en.replace("webhooks go", "scans go"), "zh": zh or en})
    blobs = [(_scan_name(i, f.filename), read_upload(f, queue.ink.settings.max_bytes)) for i, f in enumerate(files)]
    if not private_ok and any(n.endswith((*WARC_SUFFIXES, *PAGE_SUFFIXES)) for n, _ in blobs):
        # A saved page is "a page the user named": the pictures it links may be fetched from any address,
        # the server's own network included. Fine for the machine's own user, not for a shared server's accounts.
        raise ApiError(422, {"en": "saved pages and web archives are scanned here only for the local user (their "
                                   "links could reach this server's own network); send the pictures, or the page's URL",
                             "zh": "保存的网页和网页存档仅限本机用户在此扫描（其中的链接可能访问服务器所在的内网）；"
                                   "请上传图片，或提交网页地址"})

    def prepare(folder: Path) -> None:
        inputs = folder / "in"
        inputs.mkdir(mode=0o700, exist_ok=True)
        for name, data in blobs:
            (inputs / name).write_bytes(data)

    job = queue.submit(scope.user, "scan", {"files": [n for n, _ in blobs], "urls": urls},
                       total=len(blobs) + len(urls), prepare=prepare)
    return _accepted(job)


# -- seal ---------------------------------------------------------------------------------------------------
class SealRequest(BaseModel):
    passphrase: str = Field(min_length=1, max_length=1000, description="Your key passphrase (kept in memory only).")
    signature: str = Field(min_length=1, max_length=200, description="Visible signature: your name or handle.")
    corner: Literal["bottom-right", "bottom-left", "top-right", "top-left"] = "bottom-right"
    signature_size: float = Field(0.06, gt=0, le=0.5)
    signature_opacity: float = Field(0.85, ge=0, le=1)
    ai_label: bool = True
    label_text: str = Field("AI生成", min_length=1, max_length=50)
    label_corner: Literal["top-left", "top-right", "bottom-left", "bottom-right"] = "top-left"
    format: Literal["png", "jpg", "webp"] = "png"

    @field_validator("signature", "label_text", "passphrase")
    @classmethod
    def _no_controls(cls, v: str) -> str:
        if any(ord(c) < 32 for c in v):
            raise ValueError("contains control characters")
        return v


@router.post("/works/{work_id}/seal", status_code=202, summary="Seal a work (like `inkseal seal`): signature, AI "
             "labels, rights, watermark, C2PA -> job")
def seal_job(scope: Scope, request: Request, work_id: Id, body: SealRequest) -> Response:
    scope.work(work_id)
    scope.signing_author()  # no key yet: 409 now, not a failed job later
    options = body.model_dump(exclude={"passphrase", "format"})
    job = queue_of(request.app).submit(scope.user, "seal", {"work_id": work_id, "format": body.format,
                                                            "options": options}, total=1, secret=body.passphrase)
    return _accepted(job)


# -- evidence packs ---------------------------------------------------------------------------------------
class PackRequest(BaseModel):
    passphrase: str = Field(min_length=1, max_length=1000, description="Your key passphrase (kept in memory only).")
    lang: Literal["zh", "en", "both"] = "zh"
    for_: Literal["court", "platform"] = Field("court", alias="for", description="court: the full pack; platform: "
                                               "the redacted pack a takedown needs.")
    model_config = {"populate_by_name": True}


@router.post("/cases/{case_id}/pack", status_code=202, summary="Build the evidence pack of a case's latest sighting "
             "(like `inkseal evidence`) -> job")
def pack_job(scope: Scope, request: Request, case_id: Id, body: PackRequest) -> Response:
    scope.case(case_id)
    scope.signing_author()  # no key yet: 409 now, not a failed job later
    sightings = scope.ink.registry.case_matches(case_id)
    if not sightings:
        raise ApiError(422, message("bad_request", reason=f"case {case_id} has no sighting"))
    latest = max(sightings, key=lambda m: m.id)
    job = queue_of(request.app).submit(scope.user, "pack", {"case_id": case_id, "match_id": latest.id,
                                                            "lang": body.lang, "for": body.for_},
                                       total=2 if body.lang == "both" else 1, secret=body.passphrase)
    return _accepted(job)


def _zip(request: Request, job: JobView) -> FileResponse:
    path = pack_path(queue_of(request.app), job.id)
    if job.kind != "pack" or job.state != "done" or not path.exists():
        raise ApiError(404, {"en": f"job {job.id} has no pack to download", "zh": f"任务 {job.id} 没有可下载的证据包"})
    return FileResponse(path, media_type="application/zip",
                        filename=f"case{job.params['case_id']}-{job.params['lang']}-{job.params['for']}-pack.zip")


@router.get("/cases/{case_id}/pack", summary="Download the case's newest finished evidence pack (zip)",
            response_class=Response)
def download_case_pack(scope: Scope, request: Request, case_id: Id) -> Response:
    scope.case(case_id)
    store = queue_of(request.app).store
    packs = [j for j in store.list(scope.user.id, limit=10_000)
             if j.kind == "pack" and j.state == "done" and j.params.get("case_id") == case_id]
    if not packs:
        raise ApiError(404, {"en": f"case {case_id} has no finished pack: POST /api/v1/cases/{case_id}/pack",
                             "zh": f"案件 {case_id} 还没有已完成的证据包"})
    return _zip(request, packs[-1])


# -- jobs -------------------------------------------------------------------------------------------------------
@router.get("/jobs", summary="Your jobs (keyset pages)")
def list_jobs(scope: Scope, request: Request, limit: Limit = 100, after: After = None) -> Response:
    rows = queue_of(request.app).store.list(scope.user.id, after, limit + 1)
    return answer({"items": [_job_dict(j) for j in rows[:limit]],
                   "next_after": rows[limit - 1].id if len(rows) > limit else None})


@router.get("/jobs/{job_id}", summary="One job: state, progress, result or error")
def get_job(scope: Scope, request: Request, job_id: Id) -> Response:
    return answer(_job_dict(_own_job(request, scope, job_id)))


@router.post("/jobs/{job_id}/cancel", summary="Cancel a job (queued: at once; running: at its next step)")
def cancel_job(scope: Scope, request: Request, job_id: Id) -> Response:
    job = _own_job(request, scope, job_id)
    if not job.finished:
        job = queue_of(request.app).store.request_cancel(job_id) or job
    return answer(_job_dict(job))


@router.get("/jobs/{job_id}/result", summary="A finished pack job's zip", response_class=Response)
def job_result(scope: Scope, request: Request, job_id: Id) -> Response:
    return _zip(request, _own_job(request, scope, job_id))


@router.get("/jobs/{job_id}/events", summary="Server-sent events: `progress` while the job runs, then `done`",
            response_class=StreamingResponse)
async def job_events(scope: Scope, request: Request, job_id: Id) -> StreamingResponse:
    """Hand-rolled SSE (a dozen lines): the stream is a poll of the job's row, turned into `progress`
    events when it changes and one `done` event at the end; a comment line keeps proxies from timing out."""
    store = queue_of(request.app).store
    user_id = scope.user.id
    if await run_in_threadpool(store.get, job_id, user_id) is None:
        raise _job_not_found(job_id)

    async def events():  # type: ignore[no-untyped-def]
        from inkseal.web.api import plain

        last, quiet = None, 0.0
        while True:
            job = await run_in_threadpool(store.get, job_id, user_id)
            if job is None:
                return
            now = (job.state, job.done, job.total, job.step)
            if job.finished:
                yield f"event: done\ndata: {json.dumps(plain(_job_dict(job)), ensure_ascii=False)}\n\n"
                return
            if now != last:
                last, quiet = now, 0.0
                data = {"id": job.id, "state": job.state, "done": job.done, "total": job.total, "step": job.step}
                yield f"event: progress\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"
            elif quiet >= SSE_HEARTBEAT_S:
                quiet = 0.0
                yield ": still working\n\n"
            if await request.is_disconnected():
                return
            await asyncio.sleep(SSE_POLL_S)
            quiet += SSE_POLL_S

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


