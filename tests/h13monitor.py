"""Test helpers for monitors: a real HTTP site on 127.0.0.1 (ETag / Last-Modified, request log,
slow and endless answers), a webhook receiver and an SMTP server (aiosmtpd)."""

from __future__ import annotations

import gzip
import hashlib
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

LAST_MODIFIED = "Wed, 21 Oct 2026 07:28:00 GMT"


@dataclass
class Resp:
    body: bytes | Callable[[Any], None] = b""  # a callable writes the answer itself (endless, slow ...)
    ctype: str = "text/html; charset=utf-8"
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    validators: str = "etag"  # etag | last-modified | none: what the answer carries and which 304 it honours


class Site:
    def __init__(self) -> None:
        self.routes: dict[str, Resp] = {}
        self.log: list[tuple[str, int, str]] = []  # (path, status, user agent)
        self._lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None
        self.delay = 0.0  # seconds each answer waits (a slow site)

    @property
    def base(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def put(self, path: str, body: bytes | str | Callable[[Any], None], ctype: str = "text/html; charset=utf-8",
            **kw: Any) -> None:
        self.routes[path] = Resp(body.encode() if isinstance(body, str) else body, ctype, **kw)

    def hits(self, prefix: str = "/", status: int | None = None) -> list[str]:
        with self._lock:
            return [p for p, s, _ in self.log if p.startswith(prefix) and (status is None or s == status)]

    def clear_log(self) -> None:
        with self._lock:
            self.log.clear()

    def handler(self) -> type[BaseHTTPRequestHandler]:
        site = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                if site.delay:
                    time.sleep(site.delay)
                r = site.routes.get(self.path)
                status = r.status if r else 404
                if r is not None and callable(r.body):
                    with site._lock:
                        site.log.append((self.path, status, self.headers.get("User-Agent", "")))
                    r.body(self)
                    return
                body = r.body if r else b"not found"
                etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'  # type: ignore[arg-type]
                v = r.validators if r is not None and status == 200 else "none"
                if (v == "etag" and self.headers.get("If-None-Match") == etag) or (
                        v == "last-modified" and self.headers.get("If-Modified-Since") == LAST_MODIFIED):
                    status, body = 304, b""
                with site._lock:
                    site.log.append((self.path, status, self.headers.get("User-Agent", "")))
                self.send_response(status)
                headers = {"Content-Type": r.ctype if r else "text/plain"} | (r.headers if r else {})
                if v == "etag":
                    headers["ETag"] = etag
                elif v == "last-modified":
                    headers["Last-Modified"] = LAST_MODIFIED
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))  # type: ignore[arg-type]
                self.end_headers()
                self.wfile.write(body)  # type: ignore[arg-type]

        return H


@contextmanager
def serve(site: Site) -> Iterator[Site]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), site.handler())
    server.daemon_threads = True
    site.server = server
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()


def gz(data: bytes | str) -> bytes:
    return gzip.compress(data.encode() if isinstance(data, str) else data)


def urlset(urls: list[str]) -> str:
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            + "".join(f"<url><loc>{u}</loc></url>" for u in urls) + "</urlset>")


def sitemap_index(urls: list[str]) -> str:
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            + "".join(f"<sitemap><loc>{u}</loc></sitemap>" for u in urls) + "</sitemapindex>")


def rss(links: list[str]) -> str:
    items = "".join(f"<item><title>post {i}</title><link>{u}</link></item>" for i, u in enumerate(links))
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>feed</title><link>/</link>{items}</channel></rss>'


def slow(seconds: float) -> Callable[[Any], None]:
    def answer(h: Any) -> None:
        time.sleep(seconds)
        try:
            h.send_response(200)
            h.send_header("Content-Type", "text/html")
            h.send_header("Content-Length", "5")
            h.end_headers()
            h.wfile.write(b"<p>x</p>"[:5])
        except OSError:
            pass
    return answer


def endless(h: Any) -> None:
    """A body that never ends (chunks of HTML, forever, until the client hangs up)."""
    try:
        h.send_response(200)
        h.send_header("Content-Type", "text/html")
        h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()
        chunk = b"<p>" + b"a" * 65536 + b"</p>"
        for _ in range(100_000):
            h.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
    except OSError:
        pass


def redirect_to(location: str) -> Resp:
    return Resp(b"", "text/html", status=302, headers={"Location": location}, validators="none")


class Hooks:
    """A webhook receiver: records (headers, body) of each POST; answers `statuses` in turn, then 200."""

    def __init__(self, statuses: list[int] | None = None) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.statuses = list(statuses or [])

    @contextmanager
    def serve(self) -> Iterator[str]:
        hooks = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                hooks.received.append(({k: v for k, v in self.headers.items()}, body))
                status = hooks.statuses.pop(0) if hooks.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        t = threading.Thread(target=server.serve_forever, daemon=True)
        t.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}/hook"
        finally:
            server.shutdown()
            server.server_close()


@contextmanager
def smtp_server() -> Iterator[tuple[int, list]]:
    """A real SMTP server (aiosmtpd) on 127.0.0.1; yields (port, messages received)."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Message

    got: list = []

    class Keep(Message):
        def handle_message(self, message: Any) -> None:
            got.append(message)

    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ctl = Controller(Keep(), hostname="127.0.0.1", port=port)
    ctl.start()
    try:
        yield port, got
    finally:
        ctl.stop()
