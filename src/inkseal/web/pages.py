"""The desk's pages: server-rendered HTML (Jinja2, autoescape on) over the same operations as the API.

    pages.py          install(app): routers, /static, HTML errors for page paths; sign in/out, language, dashboard
    pages_works.py    works gallery + upload, one work, its journal and authorship statement
    pages_matches.py  match inbox (decide with one click or a key), case page, evidence pack download
    pages_drafts.py   a case's drafts (takedown notice, demand letter; zh and en) from its newest pack
    pages_tools.py    inspect an image
    pages_seal.py     seal a work: form, live preview of signature and AI label, the seal job
    pages_jobs.py     scans (URLs, pictures, saved pages, WARCs) as jobs; any job's page, followed live (SSE)

Each handler calls the API's route function or the `UserScope` / `Inkseal` method the API calls (one code
path per operation); forms carry the session's CSRF token (`csrf_token` field), checked by
`auth.current_user`. The language is a cookie (`inkseal_lang`: en or zh). No inline script or style
anywhere: the CSP forbids both, so the JS and CSS are files under /static.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, FastAPI, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader

from inkseal.registry.accounts import Account
from inkseal.registry.statuses import status_name
from inkseal.web import auth
from inkseal.web.messages import ApiError
from inkseal.web.pages_text import TEXT, text
from inkseal.web.scope import UserScope

HERE = Path(__file__).parent
LANG_COOKIE = "inkseal_lang"
LANGS = ("en", "zh")
OPEN_STATUSES = ("new", "confirmed", "notice_sent", "still_online")
ONLINE_PAGE = 10

# autoescape on: every value is data. The default Undefined (empty) on purpose: journal entries and reports
# are free-form dicts, and a key one tool does not write must leave a blank, not fail the page.
env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=True, trim_blocks=True, lstrip_blocks=True)


class SignInFirst(Exception):
    """Raised by `page_user` when nobody is signed in: answered with a redirect to the login page."""


def lang_of(request: Request) -> str:
    lang = request.cookies.get(LANG_COOKIE, "")
    if lang in LANGS:
        return lang
    return request.app.state.ink.settings.lang if request.app.state.ink.settings.lang in LANGS else "en"


async def page_user(request: Request, user: Annotated[Account | None, Depends(auth.optional_user)]) -> Account:
    if user is None:
        raise SignInFirst()
    return user


PageUser = Annotated[Account, Depends(page_user)]


def scope_of(request: Request, user: Account) -> UserScope:
    return UserScope(request.app.state.ink, request.app.state.accounts, user)


def render(request: Request, template: str, user: Account | None, status_code: int = 200, **ctx: Any) -> HTMLResponse:
    lang = lang_of(request)
    html = env.get_template(template).render(
        lang=lang, user=user, csrf=(user.csrf_token or "") if user else "",
        path=request.url.path + (f"?{request.url.query}" if request.url.query else ""),
        _=lambda key, **kw: text(key, lang, **kw), status_name=lambda s: status_name(s, lang),
        # a name built from data (a job's kind or state): the raw value where no text exists for it yet
        name_of=lambda prefix, value: text(prefix + value, lang) if prefix + value in TEXT else value,
        signed_in=bool(user and not user.is_local), **ctx)
    # `same-origin`, not the API's `no-referrer`: under no-referrer Chromium sends `Origin: null` with a
    # form's POST, which `auth._same_origin` (rightly) refuses; same-origin still tells other sites nothing.
    return HTMLResponse(html, status_code=status_code, headers={"referrer-policy": "same-origin"})


def error_page(request: Request, status: int, error: dict[str, str]) -> HTMLResponse:
    return render(request, "error.html.j2", None, status, message=error.get(lang_of(request), error["en"]))


PAGE_SIZE = 60


def keyset(fetch: Callable[[int | None, int], list], after: int | None, size: int | None = None,
           keep: Callable[[Any], bool] | None = None) -> tuple[list, int | None]:
    """One page of a list in id order (rows after `after`) and the `after` of the next page, or None.
    `fetch(after, limit)` is the store's keyset listing; `keep` a filter the store cannot apply (dates):
    batches are read until the page is full, so a filtered page is never short while more rows follow."""
    size = size or PAGE_SIZE
    out: list = []
    cursor, batch_size = after, size + 1 if keep is None else max(200, size + 1)
    while len(out) <= size:
        batch = fetch(cursor, batch_size)
        out += [row for row in batch if keep is None or keep(row)]
        if len(batch) < batch_size:
            break
        cursor = batch[-1].id
    return out[:size], (out[size - 1].id if len(out) > size else None)


def page_links(request: Request, next_after: int | None) -> dict[str, str | None]:
    """The next page's and the first page's address: the same path and filters, another `after`."""
    def here(url: Any) -> str:
        return url.path + (f"?{url.query}" if url.query else "")

    url = request.url.remove_query_params("done")  # "what was just done" belongs to this page only
    return {"next_url": here(url.include_query_params(after=next_after)) if next_after else None,
            "first_url": here(url.remove_query_params("after")) if request.query_params.get("after") else None}


router = APIRouter(include_in_schema=False)


@router.get("/lang/{lang}")
def switch_language(lang: str, next: str = "/") -> Response:
    response = RedirectResponse(auth.safe_next(next) or "/", status_code=303)
    if lang in LANGS:
        response.set_cookie(LANG_COOKIE, lang, samesite="lax", path="/", max_age=365 * 24 * 3600)
    return response


@router.get("/login")
def login_page(request: Request, next: str = "/") -> HTMLResponse:
    return render(request, "login.html.j2", None, next=auth.safe_next(next) or "/", error=None)


@router.post("/login/page")
def login_form(request: Request, name: Annotated[str, Form(max_length=200)],
               password: Annotated[str, Form(max_length=1000)],
               next: Annotated[str, Form(max_length=2000)] = "/") -> Response:
    """The login form: `auth.login` (rate limit, session cookie) with a page for its refusals."""
    try:
        return auth.login(request, name, password, auth.safe_next(next) or "/")
    except ApiError as exc:
        return render(request, "login.html.j2", None, exc.status, next=auth.safe_next(next) or "/",
                      error=exc.error.get(lang_of(request), exc.error["en"]))


@router.post("/logout/page")
def logout_form(request: Request, user: PageUser) -> Response:
    done = auth.logout(request, user)  # closes the session, clears the cookie
    response = RedirectResponse("/login", status_code=303)
    response.raw_headers += [h for h in done.raw_headers if h[0] == b"set-cookie"]
    return response


@router.get("/")
def dashboard(request: Request, user: PageUser,
              after: Annotated[int | None, Query(ge=0, le=2**31 - 1)] = None) -> HTMLResponse:
    """`after` pages the list of cases still online (keyset, in id order)."""
    scope = scope_of(request, user)
    new = scope.matches("new")
    open_cases = [c for c in scope.cases() if c.status in OPEN_STATUSES]
    by_site = Counter(c.host for c in open_cases).most_common()
    online, next_after = keyset(lambda a, n: scope.cases(status="still_online", after_id=a, limit=n), after,
                                size=ONLINE_PAGE)
    return render(request, "dashboard.html.j2", user, new_count=len(new), latest=new[-6:][::-1], by_site=by_site,
                  online=online, scans=recent_scans(scope), **page_links(request, next_after))


def recent_scans(scope: UserScope, limit: int = 8) -> list[dict]:
    """The scans that found this user's works (a scan's other items are not theirs to see)."""
    from inkseal.registry.models import Scan

    found = Counter(m.suspect.scan_id for m in scope.matches() if m.suspect.scan_id is not None)
    out = []
    with scope.ink.registry.session() as s:
        for scan_id in sorted(found, reverse=True)[:limit]:
            scan = s.get(Scan, scan_id)
            if scan is not None:
                out.append({"id": scan_id, "when": scan.started_at, "matches": found[scan_id]})
    return out


def is_page_path(request: Request) -> bool:
    """Pages answer errors in HTML; the API (and the JSON POST /login, /logout of phase 1) in JSON."""
    path = request.url.path
    if path.startswith(("/api/", "/static/")) or request.method not in ("GET", "POST"):
        return False
    return not (request.method == "POST" and path in ("/login", "/logout"))


def install(app: FastAPI) -> None:
    """Adds the pages, /static, the login redirect and HTML error pages (for paths outside /api/)."""
    from inkseal.errors import BadImage, InksealError, NotFound
    from inkseal.registry.cases import CaseRefused
    from inkseal.web import pages_drafts, pages_jobs, pages_keys, pages_matches, pages_seal, pages_tools, pages_works

    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    for r in (router, pages_works.router, pages_seal.router, pages_matches.router, pages_drafts.router,
              pages_tools.router, pages_jobs.router, pages_keys.router):
        app.include_router(r)

    async def to_login(request: Request, _exc: Exception) -> Response:
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(here, safe='/')}", status_code=303)

    app.add_exception_handler(SignInFirst, to_login)

    def html_for_pages(exc_type: type[Exception]) -> None:
        json_handler = app.exception_handlers[exc_type]

        async def handler(request: Request, exc: Exception) -> Response:
            answer = await json_handler(request, exc)
            if not is_page_path(request):
                return answer
            body = json.loads(bytes(answer.body))
            return error_page(request, answer.status_code, body.get("error") or {"en": "error", "zh": "错误"})

        app.add_exception_handler(exc_type, handler)

    for exc_type in (ApiError, NotFound, CaseRefused, BadImage, InksealError):
        html_for_pages(exc_type)
