"""`create_app`: the desk's FastAPI application over one `Inkseal` object.

    app = create_app(Inkseal.open(home))                  # or create_app(home)
    uvicorn.run(app, host="127.0.0.1", port=8000)         # what `inkseal serve` does

The pages (`inkseal.web.pages`: server-rendered HTML and /static) are on the same app and reuse
`inkseal.web.auth.current_user` (bearer, session cookie + CSRF, or the local user) and
`inkseal.web.scope.UserScope` (ownership).

Every response carries the security headers below; every error is {"error": {"en": ..., "zh": ...}} with
its status, never a traceback. Request bodies are capped at the registry's `max_bytes` plus room for the
multipart framing (413), before any parsing.
"""

from __future__ import annotations

import logging
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from inkseal.app import Inkseal
from inkseal.errors import BadImage, InksealError, NotFound
from inkseal.registry.accounts import Accounts
from inkseal.registry.cases import CaseRefused
from inkseal.web import api, api_bindings, auth, pages
from inkseal.web.messages import ApiError, message, split_reason

log = logging.getLogger("inkseal.web")
MULTIPART_ROOM = 1024 * 1024  # form fields and boundaries around the file itself

# Strict: no inline script or style, nothing from elsewhere, no framing, no plugins.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
       "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
       "frame-ancestors 'none'")
SECURITY_HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
}


class SecurityHeaders:
    """Adds the security headers to every HTTP response (pure ASGI: streaming responses pass untouched).
    `Cache-Control: no-store` unless a route chose otherwise: answers are one user's data.
    HSTS only when the request came over https (directly, or as told by trusted proxy headers)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(msg: Message) -> None:
            if msg["type"] == "http.response.start":
                headers = list(msg.get("headers", []))
                have = {k.decode().lower() for k, _v in headers}
                extra = dict(SECURITY_HEADERS, **{"cache-control": "no-store"})
                if scope.get("scheme") == "https":
                    extra["strict-transport-security"] = "max-age=31536000"
                headers += [(k.encode(), v.encode()) for k, v in extra.items() if k not in have]
                msg = {**msg, "headers": headers}
            await send(msg)

        await self.app(scope, receive, send_with_headers)


class BodyLimit:
    """Refuses request bodies past `max_bytes` with 413: at once when Content-Length says so, else as the
    bytes arrive (raised inside the body parsing, so the app's JSON error and headers answer it).
    Hand-rolled (a few lines): Starlette's own limiter answers in plain text, outside the error format."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_bytes:
            response = _error(413, message("too_large", limit=self.max_bytes), dict(SECURITY_HEADERS))
            response.headers["connection"] = "close"  # the unread body is not waited for
            await response(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            msg = await receive()
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > self.max_bytes:
                    raise StarletteHTTPException(413)
            return msg

        await self.app(scope, counted, send)


def _error(status: int, error: dict[str, str], headers: dict[str, str] | None = None, **extra: object) -> JSONResponse:
    return JSONResponse({"error": error, **extra}, status_code=status, headers=headers)


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(_r: Request, exc: ApiError) -> JSONResponse:
        return _error(exc.status, exc.error, exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 413:
            err = message("too_large", limit=request.app.state.ink.settings.max_bytes + MULTIPART_ROOM)
        elif exc.status_code == 404:
            err = message("no_route", path=request.url.path[:200])
        elif exc.status_code == 405:
            err = message("method")
        else:
            err = message("bad_request", reason=str(exc.detail)[:300])
        return _error(exc.status_code, err, dict(exc.headers or {}))

    @app.exception_handler(RequestValidationError)
    async def invalid(_r: Request, exc: RequestValidationError) -> JSONResponse:
        details = [{"loc": [str(x) for x in e.get("loc", ())], "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
                   for e in exc.errors()]
        first = details[0] if details else {"loc": [], "msg": "invalid"}
        reason = f"{'.'.join(first['loc'])}: {first['msg']}"
        return _error(422, message("bad_request", reason=reason[:300]), detail=details[:20])

    @app.exception_handler(NotFound)
    async def missing(_r: Request, exc: NotFound) -> JSONResponse:
        return _error(404, split_reason(str(exc)))

    @app.exception_handler(CaseRefused)
    async def refused(_r: Request, exc: CaseRefused) -> JSONResponse:
        return _error(409, split_reason(str(exc)))

    @app.exception_handler(BadImage)
    async def bad_image(_r: Request, exc: BadImage) -> JSONResponse:
        return _error(422, message("bad_image", reason=str(exc)))

    @app.exception_handler(InksealError)
    async def refused_other(_r: Request, exc: InksealError) -> JSONResponse:
        return _error(422, split_reason(str(exc)))

    @app.exception_handler(ValueError)
    async def bad_value(_r: Request, exc: ValueError) -> JSONResponse:
        return _error(422, message("bad_request", reason=str(exc)[:300]))

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception) -> JSONResponse:
        # Served by Starlette's outermost middleware, outside SecurityHeaders: the headers go on here.
        log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return _error(500, message("internal"), SECURITY_HEADERS)


def create_app(source: Inkseal | str | Path | None = None, *, listen_host: str = "127.0.0.1") -> FastAPI:
    """The desk over `source` (an open Inkseal, or a home folder to open). `listen_host` is where the
    server listens: the passwordless local user is only ever used on a loopback address."""
    ink = source if isinstance(source, Inkseal) else Inkseal.open(source)
    accounts = Accounts(ink.registry)
    app = FastAPI(title="inkseal desk API", version="1", openapi_url="/api/v1/openapi.json", docs_url=None,
                  redoc_url=None,
                  description="Register works, scan for copies, decide on matches and follow cases. "
                              "Authenticate with `Authorization: Bearer <token>` (`inkseal token create NAME`).")
    app.state.ink, app.state.accounts = ink, accounts
    app.state.auth = auth.Auth(accounts, listen_host)
    app.add_middleware(BodyLimit, max_bytes=ink.settings.max_bytes + MULTIPART_ROOM)
    app.add_middleware(SecurityHeaders)  # added last: the outer one, so it also marks BodyLimit's answers
    _install_error_handlers(app)
    app.include_router(auth.router)
    app.include_router(api.router)
    app.include_router(api_bindings.router)
    app.include_router(api_bindings.spec_router)
    pages.install(app)  # the pages, /static, HTML errors on page paths (after the JSON handlers it wraps)
    return app
