"""The desk's pages: server-rendered HTML (Jinja2, autoescape on) over the same operations as the API.

    pages.py          install(app): routers, /static, HTML errors for page paths; sign in/out, language, dashboard
    pages_works.py    works gallery + upload, one work, its journal and authorship statement
    pages_matches.py  match inbox (decide with one click or a key), case page, evidence pack download
    pages_tools.py    inspect an image, scan uploaded images

Each handler calls the API's route function or the `UserScope` / `Inkseal` method the API calls (one code
path per operation); forms carry the session's CSRF token (`csrf_token` field), checked by
`auth.current_user`. The language is a cookie (`inkseal_lang`: en or zh). No inline script or style
anywhere: the CSP forbids both, so the JS and CSS are files under /static.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader

from inkseal.registry.accounts import Account
from inkseal.registry.statuses import status_name
from inkseal.web import auth
from inkseal.web.messages import ApiError
from inkseal.web.pages_text import text
from inkseal.web.scope import UserScope

HERE = Path(__file__).parent
LANG_COOKIE = "inkseal_lang"
LANGS = ("en", "zh")
OPEN_STATUSES = ("new", "confirmed", "notice_sent", "still_online")

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
        signed_in=bool(user and not user.is_local), **ctx)
    # `same-origin`, not the API's `no-referrer`: under no-referrer Chromium sends `Origin: null` with a
    # form's POST, which `auth._same_origin` (rightly) refuses; same-origin still tells other sites nothing.
    return HTMLResponse(html, status_code=status_code, headers={"referrer-policy": "same-origin"})


def error_page(request: Request, status: int, error: dict[str, str]) -> HTMLResponse:
    return render(request, "error.html.j2", None, status, message=error.get(lang_of(request), error["en"]))


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
def dashboard(request: Request, user: PageUser) -> HTMLResponse:
    scope = scope_of(request, user)
    new = scope.matches("new")
    open_cases = [c for c in scope.cases() if c.status in OPEN_STATUSES]
    by_site = Counter(c.host for c in open_cases).most_common()
    online = scope.cases(status="still_online")
    return render(request, "dashboard.html.j2", user, new_count=len(new), latest=new[-6:][::-1], by_site=by_site,
                  online=online[-10:][::-1], scans=recent_scans(scope))


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
    from inkseal.web import pages_matches, pages_tools, pages_works

    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    for r in (router, pages_works.router, pages_matches.router, pages_tools.router):
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
