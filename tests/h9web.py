"""Helpers for the desk's tests: a real uvicorn server on 127.0.0.1 in a thread, over a real registry."""

from __future__ import annotations

import http.server
import io
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import uvicorn
from fastapi import FastAPI
from PIL import Image

from inkseal import Inkseal
from inkseal.registry.accounts import Accounts
from inkseal.web import create_app


def accounts_for(ink: Inkseal) -> Accounts:
    return Accounts(ink.registry)  # its tables come from migration 0007, applied at open


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def live_server(ink: Inkseal, *, listen_host: str = "127.0.0.1", proxy_headers: bool = False,
                extend: Callable[[FastAPI], None] | None = None) -> Iterator[str]:
    """Serve the desk over `ink` with uvicorn on a free loopback port; yields its base URL.
    `listen_host` is what the app is told it listens on (the socket is always 127.0.0.1);
    `extend` may add routes first, as the pages will."""
    app = create_app(ink, listen_host=listen_host)
    if extend is not None:
        extend(app)
    config = uvicorn.Config(app, host="127.0.0.1", port=_free_port(), log_level="warning",
                            proxy_headers=proxy_headers, forwarded_allow_ips="127.0.0.1")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60  # generous: a bound on a hang, not a timing claim
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{config.port}"
    finally:
        server.should_exit = True
        thread.join(timeout=60)


@contextmanager
def static_site(routes: dict[str, tuple[str, bytes]]) -> Iterator[str]:
    """A re-poster's site on 127.0.0.1 serving `routes` (path -> (content type, body)), 404 elsewhere; its base URL."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            path = self.path.split("?")[0]
            ctype, body = routes.get(path, ("text/plain", b"nope"))
            self.send_response(200 if path in routes else 404)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def client(base: str, token: str | None = None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=base, headers=headers, timeout=300)


def user_with_token(accounts: Accounts, name: str, password: str = "correct horse battery") -> str:
    accounts.add_user(name, password)
    return accounts.create_token(name, "tests")[1]


def attacked_copy(path: Path) -> bytes:
    """A cropped, resized JPEG re-encode of a picture: what a re-poster uploads."""
    im = Image.open(path).convert("RGB")
    w, h = im.size
    im = im.crop((int(0.08 * w), int(0.1 * h), int(0.92 * w), int(0.95 * h))).resize((int(0.6 * w), int(0.55 * h)))
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=75)
    return buf.getvalue()


def png_bytes(size: tuple[int, int] = (64, 48), color: tuple[int, int, int] = (40, 90, 160)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "PNG")
    return buf.getvalue()


def valid_body_for(op: dict, spec: dict) -> dict:
    """httpx arguments carrying a VALID body for the operation, so that only ownership can refuse it."""
    content = (op.get("requestBody") or {}).get("content") or {}
    if "application/json" in content:
        schema = content["application/json"]["schema"]
        if "$ref" in schema:
            schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
        body = {}
        for name in schema.get("required", []):
            prop = schema["properties"][name]
            body[name] = prop["enum"][0] if "enum" in prop else "x"
        if "status" in schema.get("properties", {}):
            body["status"] = "confirmed"  # a step the workflow allows from `new`
        return {"json": body}
    if "multipart/form-data" in content:
        return {"files": {"file": ("a.png", png_bytes(), "image/png")}}
    return {}


def sweep_as_other_user(b: httpx.Client, ids: dict[str, int]) -> set[str]:
    """Call every method of every path with an id in the OpenAPI document, as user B with user A's `ids`
    (with a valid body, so only ownership can refuse): each must be 404 with an en/zh error. New endpoints
    are covered without touching the tests; one whose id kind is missing from `ids` fails, naming it."""
    spec = b.get("/api/v1/openapi.json").json()
    tried: set[str] = set()
    for path, ops in spec["paths"].items():
        params = re.findall(r"{(\w+)}", path)
        if not params or path.startswith(("/api/v1/c2pa/", "/v1/")):  # public by design: C2PA soft-binding resolution
            continue
        assert set(params) <= set(ids), f"{path}: add an object of user A for {params} to this test"
        url = path.format(**ids)
        for method, op in ops.items():
            r = b.request(method.upper(), url, **valid_body_for(op, spec))
            assert r.status_code == 404, f"{method.upper()} {url} as B: {r.status_code} {r.text[:200]}"
            assert set(r.json()["error"]) == {"en", "zh"}
            tried.add(f"{method.upper()} {path}")
    return tried
