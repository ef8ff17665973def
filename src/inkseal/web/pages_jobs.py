"""Background jobs as pages: start a scan (URLs, pictures, saved pages, WARCs) and follow any job.

The scan form goes through the API's job route (`api_jobs.scan_job`); the job page reads the job with the
API's `get_job` and follows it with `static/job.js` (EventSource on `/api/v1/jobs/{id}/events`), which
reloads the page when the job ends so the result is drawn by the server. Without JS the page refreshes
itself while the job runs (a `<meta refresh>` inside `<noscript>`: not a script, so the CSP allows it)."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from inkseal.web import api, api_jobs
from inkseal.web.jobs import queue_of
from inkseal.web.messages import ApiError
from inkseal.web.pages import PageUser, lang_of, recent_scans, render, scope_of
from inkseal.web.pages_works import thumb_url

router = APIRouter(include_in_schema=False)
RECENT_JOBS = 10


def _recent_scan_jobs(request: Request, user: PageUser) -> list[dict]:
    """This user's latest scan jobs, newest first (the store lists oldest first by id)."""
    jobs = [j for j in queue_of(request.app).store.list(user.id, limit=10_000) if j.kind == "scan"]
    return [j.as_dict() | {"finished": j.finished} for j in jobs[-RECENT_JOBS:][::-1]]


def scans_page_response(request: Request, user: PageUser, error: str | None = None, urls: str = "",
                        status_code: int = 200) -> HTMLResponse:
    scope = scope_of(request, user)
    return render(request, "scans.html.j2", user, status_code, error=error, urls=urls, scans=recent_scans(scope),
                  jobs=_recent_scan_jobs(request, user))


@router.get("/scans")
def scans_page(request: Request, user: PageUser) -> HTMLResponse:
    return scans_page_response(request, user)


@router.post("/scans")
def scan_form(request: Request, user: PageUser,
              file: Annotated[list[UploadFile] | None, File()] = None,
              urls: Annotated[str, Form(max_length=120_000)] = "") -> Response:
    """The API's scan job with the form's files and URLs (one a line); the job page follows it."""
    scope = scope_of(request, user)
    url_list = [u.strip() for u in urls.splitlines() if u.strip()]
    try:
        answer = api_jobs.scan_job(scope=scope, request=request, file=[f for f in file or [] if f.filename],
                                   url=url_list)
    except ApiError as exc:
        return scans_page_response(request, user, exc.error.get(lang_of(request), exc.error["en"]), urls,
                                   exc.status)
    return RedirectResponse(f"/jobs/{json.loads(bytes(answer.body))['job_id']}", status_code=303)


@router.get("/jobs/{job_id}")
def job_page(request: Request, user: PageUser, job_id: api.Id) -> HTMLResponse:
    job = json.loads(bytes(api_jobs.get_job(scope=scope_of(request, user), request=request, job_id=job_id).body))
    return render(request, "job.html.j2", user, job=job, result=job.get("result") or {}, thumb_url=thumb_url)


@router.post("/jobs/{job_id}/cancel")
def cancel_form(request: Request, user: PageUser, job_id: api.Id) -> Response:
    api_jobs.cancel_job(scope=scope_of(request, user), request=request, job_id=job_id)
    return RedirectResponse(f"/jobs/{job_id}", status_code=303)
