"""Inspect an image: the API's own route function, shown as a page (scans: pages_jobs)."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, File, Request, UploadFile
from fastapi.responses import HTMLResponse

from inkseal.web import api
from inkseal.web.messages import ApiError
from inkseal.web.pages import PageUser, lang_of, render, scope_of
from inkseal.web.scope import UserScope

router = APIRouter(include_in_schema=False)


def _error_text(request: Request, exc: ApiError) -> str:
    return exc.error.get(lang_of(request), exc.error["en"])


@router.get("/inspect")
def inspect_page(request: Request, user: PageUser) -> HTMLResponse:
    return render(request, "inspect.html.j2", user, report=None, error=None)


@router.post("/inspect")
def inspect_form(request: Request, user: PageUser, file: Annotated[UploadFile, File()]) -> HTMLResponse:
    """The report of `POST /api/v1/inspect` (`seal.inspect.inspect_bytes` on the user's works)."""
    scope = scope_of(request, user)
    try:
        answer = api.inspect_image(scope=scope, file=file, lang=lang_of(request))
    except ApiError as exc:
        return render(request, "inspect.html.j2", user, exc.status, report=None, error=_error_text(request, exc))
    report = json.loads(bytes(answer.body))  # its c2pa part carries the whole manifest and the signer
    return render(request, "inspect.html.j2", user, report=report, error=None)
