"""Works: the gallery with upload-to-register, one work with its versions, its journal and statement."""

from __future__ import annotations

import json
from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, Response

from inkseal.web import api
from inkseal.web.messages import ApiError
from inkseal.web.pages import PageUser, keyset, lang_of, page_links, render, scope_of

router = APIRouter(include_in_schema=False)

# The statement is a standalone document with its own inline <style> and a data: chart: it is served in a
# sandbox that runs no script at all and loads nothing, so the desk's CSP stays strict where it matters.
STATEMENT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox"


def thumb_url(work_id: int, file_id: int) -> str:
    return f"/api/v1/works/{work_id}/files/{file_id}/image?size=thumb"


def gallery(request: Request, user: PageUser, after: int | None) -> dict:
    """One page of the user's works (keyset, in id order) and the links to the next and the first page."""
    scope = scope_of(request, user)
    works, next_after = keyset(lambda a, n: scope.works(a, n), after)
    return {"works": works, **page_links(request, next_after)}


@router.get("/works")
def works_page(request: Request, user: PageUser, after: api.After = None) -> HTMLResponse:
    return render(request, "works.html.j2", user, results=[], thumb_url=thumb_url, **gallery(request, user, after))


@router.post("/works")
def register_form(request: Request, user: PageUser, file: Annotated[list[UploadFile], File()],
                  title: Annotated[str, Form(max_length=500)] = "") -> HTMLResponse:
    """The no-JS upload: each file through the API's `register_work`; one line per file, the batch goes on."""
    scope = scope_of(request, user)
    lang = lang_of(request)
    files = [f for f in file if f.filename]
    results = []
    for f in files:
        try:
            one_title = (title or None) if len(files) == 1 else None  # a title names one picture
            body = json.loads(bytes(api.register_work(scope=scope, file=f, title=one_title).body))
            results.append({"name": f.filename, "id": body["id"], "existing": body["existing"], "error": None})
        except ApiError as exc:
            results.append({"name": f.filename, "id": None, "existing": False,
                            "error": exc.error.get(lang, exc.error["en"])})
    status = 200 if all(r["error"] is None for r in results) else 422
    return render(request, "works.html.j2", user, status, results=results, thumb_url=thumb_url,
                  **gallery(request, user, None))


@router.get("/works/{work_id}")
def work_page(request: Request, user: PageUser, work_id: api.Id) -> HTMLResponse:
    scope = scope_of(request, user)
    work = scope.work(work_id)
    return render(request, "work.html.j2", user, work=work, matches=scope.matches(work_id=work_id, limit=50),
                  thumb_url=thumb_url)


@router.get("/works/{work_id}/journal")
def journal_page(request: Request, user: PageUser, work_id: api.Id) -> HTMLResponse:
    from inkseal.journal.statement import gather

    scope = scope_of(request, user)
    work = scope.work(work_id)
    facts = gather(scope.author.journal.entries(work_id), work_id, work.title, work.author.name)  # the user's journal
    files_by_sha = {f.sha256: f.id for f in work.files}
    timeline = sorted(facts.generations + facts.curation + facts.files, key=lambda e: e["seq"])
    return render(request, "journal.html.j2", user, work=work, facts=facts, timeline=timeline,
                  files_by_sha=files_by_sha, thumb_url=thumb_url)


@router.get("/works/{work_id}/statement")
def statement_page(request: Request, user: PageUser, work_id: api.Id,
                   lang: Annotated[Literal["en", "zh"] | None, Query()] = None) -> Response:
    """`Inkseal.statement` (HTML only), as `inkseal journal statement` writes it."""
    scope = scope_of(request, user)
    scope.work(work_id)
    lang = lang or lang_of(request)
    with api.upload_dir(scope.ink) as tmp:
        paths = scope.author.statement(work_id, tmp, langs=(lang,), pdf=False)  # from the user's own journal
        html = paths[lang]["html"].read_text(encoding="utf-8")
    return HTMLResponse(html, headers={"content-security-policy": STATEMENT_CSP})
