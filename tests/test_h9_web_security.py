"""Sign-in, sessions, CSRF, rate limiting, security headers, and the account commands of the CLI."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pytest
from fastapi import Depends, FastAPI
from sqlalchemy import text
from typer.testing import CliRunner

import inkseal.cli_web  # noqa: F401  (registers `serve`, `user` and `token` on the Typer app)
from h9web import accounts_for, client, live_server, png_bytes, user_with_token
from inkseal import Inkseal
from inkseal.cli import app as cli_app
from inkseal.registry.accounts import Account
from inkseal.web.auth import optional_user

PASSWORD = "correct horse battery"


@pytest.fixture
def ink(tmp_path: Path):  # type: ignore[no-untyped-def]
    a = Inkseal.open(tmp_path / "home")
    yield a
    a.close()


def _headers_ok(r) -> None:  # type: ignore[no-untyped-def]
    csp = r.headers["content-security-policy"]
    for part in ("default-src 'self'", "script-src 'self'", "object-src 'none'", "frame-ancestors 'none'"):
        assert part in csp
    assert "unsafe-inline" not in csp
    assert r.headers["x-content-type-options"] == "nosniff" and r.headers["referrer-policy"] == "no-referrer"


def _login(c, name: str = "ana", password: str = PASSWORD):  # type: ignore[no-untyped-def]
    return c.post("/login", data={"name": name, "password": password})


def test_session_cookie_csrf_and_logout(ink: Inkseal) -> None:
    accounts_for(ink).add_user("ana", PASSWORD)
    with live_server(ink) as base, client(base) as c:
        r = _login(c)
        assert r.status_code == 200, r.text
        csrf = r.json()["csrf_token"]
        cookie = r.headers["set-cookie"]
        assert "inkseal_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")
        assert "Secure" not in cookie  # plain http on loopback
        assert c.get("/api/v1/works").status_code == 200  # reads need no CSRF token
        assert c.get("/api/v1/me").json()["csrf_token"] == csrf

        upload = {"file": ("a.png", png_bytes(), "image/png")}
        no_token = c.post("/api/v1/works", files=upload)
        assert no_token.status_code == 403 and "CSRF" in no_token.json()["error"]["en"]
        assert c.post("/api/v1/works", files=upload, headers={"X-CSRF-Token": "wrong"}).status_code == 403
        assert ink.works() == []
        assert c.post("/api/v1/works", files=upload, headers={"X-CSRF-Token": csrf}).status_code == 201
        as_field = c.post("/api/v1/works", files={"file": ("b.png", png_bytes(color=(9, 9, 9)), "image/png")},
                          data={"csrf_token": csrf})
        assert as_field.status_code == 201
        cross = c.post("/api/v1/works", files={"file": ("c.png", png_bytes(color=(7, 7, 7)), "image/png")},
                       headers={"X-CSRF-Token": csrf, "Origin": "https://evil.example"})
        assert cross.status_code == 403
        assert c.post("/logout").status_code == 403  # logging out is a write too
        assert c.post("/logout", headers={"X-CSRF-Token": csrf}).status_code == 200
        c.cookies.set("inkseal_session", cookie.split(";")[0].split("=", 1)[1])  # the old cookie, replayed
        assert c.get("/api/v1/works").status_code == 401

        redirected = c.post("/login", data={"name": "ana", "password": PASSWORD, "next": "/works"})
        assert redirected.status_code == 303 and redirected.headers["location"] == "/works"
        offsite = c.post("/login", data={"name": "ana", "password": PASSWORD, "next": "//evil.example/x"})
        assert offsite.status_code == 200 and "location" not in offsite.headers


def test_secure_cookie_and_hsts_behind_a_tls_proxy(ink: Inkseal) -> None:
    accounts_for(ink).add_user("ana", PASSWORD)
    with live_server(ink, proxy_headers=True) as base, client(base) as c:
        r = c.post("/login", data={"name": "ana", "password": PASSWORD}, headers={"X-Forwarded-Proto": "https"})
        assert r.status_code == 200 and "Secure" in r.headers["set-cookie"]
        assert r.headers["strict-transport-security"].startswith("max-age=")


def test_login_rate_limit(ink: Inkseal) -> None:
    accounts = accounts_for(ink)
    accounts.add_user("ana", PASSWORD)
    accounts.add_user("bo", PASSWORD)
    with live_server(ink) as base, client(base) as c:
        assert _login(c, "nobody", "whatever1").status_code == 401  # an unknown name reads as a wrong password
        for _ in range(5):
            r = _login(c, "ana", "wrong password")
            assert r.status_code == 401 and r.json()["error"]["en"] == "wrong name or password"
        blocked = _login(c, "ana", PASSWORD)  # even the right password waits now
        assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) > 0
        assert set(blocked.json()["error"]) == {"en", "zh"}
        _headers_ok(blocked)
        assert _login(c, "ANA", PASSWORD).status_code == 429  # names are counted case-blind
        assert _login(c, "bo", PASSWORD).status_code == 200  # another name is not held up


def test_tokens_and_security_headers_everywhere(ink: Inkseal) -> None:
    accounts = accounts_for(ink)
    token = user_with_token(accounts, "ana")
    with ink.registry.session() as s:
        stored = " ".join(str(v) for row in s.execute(text("SELECT * FROM api_tokens")) for v in row)
    assert token not in stored  # only its SHA-256
    with live_server(ink) as base, client(base, token) as c, client(base) as anonymous:
        responses = [c.get("/api/v1/works"), c.get("/api/v1/works/7"), c.get("/api/v1/works/x"),
                     anonymous.get("/api/v1/works"), c.get("/api/v1/openapi.json"), c.delete("/api/v1/me")]
        assert [r.status_code for r in responses] == [200, 404, 422, 401, 200, 405]
        for r in responses:
            _headers_ok(r)
            assert "Traceback" not in r.text
        assert client(base, "isk_not-a-token").get("/api/v1/works").status_code == 401
        token_id = accounts.tokens("ana")[0]["id"]
        assert accounts.tokens("ana")[0]["last_used_at"] is not None
        accounts.revoke_token(token_id)
        assert c.get("/api/v1/works").status_code == 401


def test_cli_accounts_and_serve_refusal(tmp_path: Path) -> None:
    home = tmp_path / "home"
    runner = CliRunner()

    def run(*args: str, **kw):  # type: ignore[no-untyped-def]
        return runner.invoke(cli_app, ["--home", str(home), *args], **kw)

    refused = run("serve", "--host", "0.0.0.0", "--port", "1")
    assert refused.exit_code == 2 and "refusing to listen on 0.0.0.0 without accounts" in refused.output
    pw = tmp_path / "pw"
    pw.write_text(PASSWORD + "\n")
    assert run("user", "add", "ana", "--password-file", str(pw), "--admin").exit_code == 0
    again = run("user", "add", "ana", "--password-file", str(pw))
    assert again.exit_code == 3 and "already exists" in again.output
    short = tmp_path / "short"
    short.write_text("abc\n")
    assert run("user", "add", "bo", "--password-file", str(short)).exit_code == 3
    assert run("user", "add", "bo", "--password-file", "-", input=PASSWORD + "\n").exit_code == 0
    listed = run("user", "list", "--json")
    assert '"name": "ana"' in listed.output and '"is_admin": true' in listed.output and '"name": "bo"' in listed.output
    made = run("token", "create", "ana", "--label", "laptop")
    assert made.exit_code == 0
    token = made.stdout.strip().splitlines()[-1]
    assert token.startswith("isk_")
    assert run("token", "create", "nobody").exit_code == 3

    ink = Inkseal.open(home)
    try:
        with live_server(ink) as base, client(base, token) as c:
            assert c.get("/api/v1/me").json()["name"] == "ana"
            token_id = accounts_for(ink).tokens("ana")[0]["id"]
            assert run("token", "revoke", str(token_id)).exit_code == 0
            assert c.get("/api/v1/me").status_code == 401
        assert run("token", "revoke", "999").exit_code == 3
    finally:
        ink.close()


def test_pages_can_reuse_the_sign_in(ink: Inkseal) -> None:
    """What phase 2's pages build on: `optional_user` is None for nobody, the account for a session."""
    def extend(app: FastAPI) -> None:
        @app.post("/probe")
        def probe(user: Annotated[Account | None, Depends(optional_user)]) -> dict:
            return {"user": user.name if user else None}

    accounts_for(ink).add_user("ana", PASSWORD)
    with live_server(ink, extend=extend) as base, client(base) as c:
        assert c.post("/probe").json() == {"user": None}
        csrf = _login(c).json()["csrf_token"]
        assert c.post("/probe", headers={"X-CSRF-Token": csrf}).json() == {"user": "ana"}
        assert c.post("/probe").status_code == 403  # signed in, but a write without the CSRF token
        _headers_ok(c.get("/probe"))  # 405, still with the headers
