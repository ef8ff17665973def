"""Who is asking. In order:

1. `Authorization: Bearer <token>` (API clients): the token's sha256 must name an unrevoked token.
   Needs no CSRF token: a browser never adds this header by itself.
2. The session cookie set by `POST /login` (pages): unsafe methods (POST, PUT, PATCH, DELETE) must
   carry the session's CSRF token, in the `X-CSRF-Token` header or a `csrf_token` form field.
3. The local user, only while the install is single-user: no account has a password yet, the server
   listens on a loopback address, the request comes from a loopback address, and its Host header names
   a loopback host (a DNS-rebinding page cannot pass that), and no proxy says it relayed it. Unsafe
   requests that a browser marks as sent by another site (Origin) are refused, so a web page cannot
   drive the local desk. A reverse proxy in front of the desk needs accounts: it may hide all of this.
Otherwise: 401.

Login failures are counted per (name, client address): 5 in 15 minutes and that pair gets 429 until the
window passes. The counter lives in this process (one uvicorn worker); a restart clears it.
"""

from __future__ import annotations

import hmac
import ipaddress
import threading
import time
from collections import OrderedDict, deque
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from inkseal.registry.accounts import Account, Accounts
from inkseal.web.messages import ApiError, message

SESSION_COOKIE = "inkseal_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
MAX_FAILURES, WINDOW_S = 5, 15 * 60
FORWARDING_HEADERS = ("forwarded", "x-forwarded-for", "x-real-ip", "via")

bearer_scheme = HTTPBearer(auto_error=False, description="A token from `inkseal token create NAME`.")


def is_loopback(host: str | None) -> bool:
    host = (host or "").strip("[]")
    if host in LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class LoginLimiter:
    """Failed sign-ins per (name, address) in a sliding window. Hand-rolled: a few lines of state in one
    process; a limiter library would add a storage backend for what a dict holds."""

    def __init__(self, max_failures: int = MAX_FAILURES, window_s: float = WINDOW_S, max_keys: int = 10_000):
        self.max_failures, self.window_s, self.max_keys = max_failures, window_s, max_keys
        self._fails: OrderedDict[tuple[str, str], deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        q = self._fails.get(key, deque())
        while q and now - q[0] > self.window_s:
            q.popleft()
        return q

    def blocked_for(self, name: str, addr: str) -> float:
        """Seconds until this pair may try again (0: now)."""
        now = time.monotonic()
        with self._lock:
            q = self._recent((name.lower(), addr), now)
            return self.window_s - (now - q[0]) if len(q) >= self.max_failures else 0.0

    def failed(self, name: str, addr: str) -> None:
        now, key = time.monotonic(), (name.lower(), addr)
        with self._lock:
            q = self._recent(key, now)
            q.append(now)
            self._fails[key] = q
            self._fails.move_to_end(key)
            while len(self._fails) > self.max_keys:  # memory stays bounded under a spray of names
                self._fails.popitem(last=False)

    def succeeded(self, name: str, addr: str) -> None:
        with self._lock:
            self._fails.pop((name.lower(), addr), None)


class Auth:
    """The authentication state of one server: its accounts, whether it listens on loopback, the limiter."""

    def __init__(self, accounts: Accounts, listen_host: str) -> None:
        self.accounts = accounts
        self.loopback_only = is_loopback(listen_host)
        self.limiter = LoginLimiter()

    def local_user(self, request: Request) -> Account | None:
        """The local user when the single-user rules hold for this request (see the module doc)."""
        if not self.loopback_only or not is_loopback(request.client.host if request.client else None):
            return None
        if not is_loopback(urlsplit(f"//{request.headers.get('host', '')}").hostname):
            return None
        if any(h in request.headers for h in FORWARDING_HEADERS):
            return None  # a proxy relayed this request: it may come from anywhere
        if self.accounts.has_login_users():
            return None
        return self.accounts.local_user()


def _same_origin(request: Request) -> None:
    """Unsafe cookie/local requests a browser marks as coming from another site are refused."""
    origin = request.headers.get("origin")
    if request.method in SAFE_METHODS or origin is None:
        return
    o = urlsplit(origin)
    if origin == "null" or o.netloc.lower() != request.headers.get("host", "").lower():
        raise ApiError(403, message("cross_origin", origin=origin[:200]))


async def _csrf_token_sent(request: Request) -> str:
    sent = request.headers.get(CSRF_HEADER, "")
    if not sent and request.headers.get("content-type", "").startswith(("multipart/form-data",
                                                                        "application/x-www-form-urlencoded")):
        form = await request.form()  # parsed once: FastAPI reuses the same parsed form for the endpoint
        value = form.get("csrf_token")
        sent = value if isinstance(value, str) else ""
    return sent


async def current_user(request: Request,
                       bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)]) -> Account:
    """The dependency every API route takes: the signed-in account, or 401/403."""
    auth: Auth = request.app.state.auth
    if bearer is not None:
        user = await run_in_threadpool(auth.accounts.by_token, bearer.credentials)
        if user is None:
            raise ApiError(401, message("bad_token"), {"WWW-Authenticate": "Bearer"})
        return user
    if request.headers.get("authorization"):
        raise ApiError(401, message("bad_token"), {"WWW-Authenticate": "Bearer"})
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        user = await run_in_threadpool(auth.accounts.by_session, cookie)
        if user is not None:
            _same_origin(request)
            if request.method not in SAFE_METHODS:
                if not hmac.compare_digest((await _csrf_token_sent(request)).encode(), user.csrf_token.encode()):
                    raise ApiError(403, message("csrf"))
            return user
    local = await run_in_threadpool(auth.local_user, request)
    if local is not None:
        _same_origin(request)
        return local
    raise ApiError(401, message("sign_in"), {"WWW-Authenticate": "Bearer"})


CurrentUser = Annotated[Account, Depends(current_user)]


async def optional_user(request: Request,
                        bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)]) -> Account | None:
    """For pages: the signed-in account, or None when nobody is (a page then shows the login form).
    A refused write (CSRF, another site) is still refused."""
    try:
        return await current_user(request, bearer)
    except ApiError as exc:
        if exc.status == 401:
            return None
        raise

router = APIRouter()


def safe_next(target: str | None) -> str | None:
    """Only a path on this site (no scheme, no host, no '//' or '\\' tricks) may be a redirect target."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")) or any(ord(c) < 32 for c in target):
        return None
    return target


@router.post("/login", include_in_schema=False)
def login(request: Request, name: Annotated[str, Form(max_length=200)], password: Annotated[str, Form(max_length=1000)],
          next: Annotated[str | None, Form(max_length=2000)] = None) -> Response:
    """Sign in with a name and password: sets the session cookie; answers the CSRF token for later writes."""
    auth: Auth = request.app.state.auth
    _same_origin(request)
    addr = request.client.host if request.client else "?"
    wait = auth.limiter.blocked_for(name, addr)
    if wait > 0:
        minutes = max(1, round(wait / 60))
        raise ApiError(429, message("too_many_logins", minutes=minutes), {"Retry-After": str(int(wait) + 1)})
    user = auth.accounts.check_password(name, password)
    if user is None:
        auth.limiter.failed(name, addr)
        raise ApiError(401, message("bad_login"))
    auth.limiter.succeeded(name, addr)
    cookie, csrf = auth.accounts.open_session(user.id)
    target = safe_next(next)
    response: Response = (RedirectResponse(target, status_code=303) if target else
                          JSONResponse({"user": user.name, "is_admin": user.is_admin, "csrf_token": csrf}))
    response.set_cookie(SESSION_COOKIE, cookie, httponly=True, samesite="lax", path="/",
                        secure=request.url.scheme == "https", max_age=14 * 24 * 3600)
    return response


@router.post("/logout", include_in_schema=False)
def logout(request: Request, user: CurrentUser) -> Response:
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        request.app.state.auth.accounts.close_session(cookie)
    response = JSONResponse({"signed_out": user.name})
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax",
                           secure=request.url.scheme == "https")
    return response
