"""Inspect an image, scan uploaded images: the API's own route functions, shown as pages."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, File, Request, UploadFile
from fastapi.responses import HTMLResponse

from inkseal.web import api
from inkseal.web.messages import ApiError
from inkseal.web.pages import PageUser, lang_of, recent_scans, render, scope_of

router = APIRouter(include_in_schema=False)


def _error_text(request: Request, exc: ApiError) -> str:
    return exc.error.get(lang_of(request), exc.error["en"])


@router.get("/inspect")
def inspect_page(request: Request, user: PageUser) -> HTMLResponse:
    return render(request, "inspect.html.j2", user, report=None, error=None)


@router.post("/inspect")
def inspect_form(request: Request, user: PageUser, file: Annotated[UploadFile, File()]) -> HTMLResponse:
    """The report of `POST /api/v1/inspect` (`seal.inspect.inspect_bytes` on the user's works)."""
    try:
        answer = api.inspect_image(scope=scope_of(request, user), file=file, lang=lang_of(request))
    except ApiError as exc:
        return render(request, "inspect.html.j2", user, exc.status, report=None, error=_error_text(request, exc))
    return render(request, "inspect.html.j2", user, report=json.loads(bytes(answer.body)), error=None)


@router.get("/scans")
def scans_page(request: Request, user: PageUser) -> HTMLResponse:
    scope = scope_of(request, user)
    return render(request, "scans.html.j2", user, result=None, error=None, scans=recent_scans(scope))


@router.post("/scans")
def scan_form(request: Request, user: PageUser, file: Annotated[list[UploadFile], File()]) -> HTMLResponse:
    """`POST /api/v1/scans` (`Inkseal.scan` on the user's works), synchronously, then its results."""
    scope = scope_of(request, user)
    try:
        answer = api.scan_images(scope=scope, request=request, file=[f for f in file if f.filename])
    except ApiError as exc:
        return render(request, "scans.html.j2", user, exc.status, result=None, error=_error_text(request, exc),
                      scans=recent_scans(scope))
    return render(request, "scans.html.j2", user, result=json.loads(bytes(answer.body)), error=None,
                  scans=recent_scans(scope))
