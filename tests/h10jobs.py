"""Helpers for the jobs/webhooks tests: the desk with its job consumer on a real uvicorn, a local site whose
one page blocks until the test lets it go (so a job is caught mid-run without any timing), a webhook receiver."""

from __future__ import annotations

import hashlib
import hmac
import http.server
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI

from h9web import live_server
from inkseal import Inkseal

WAIT_S = 180  # a bound on a hang, never a timing claim


@contextmanager
def desk(ink: Inkseal, **state: Any) -> Iterator[tuple[str, FastAPI]]:
    """The desk over `ink`; `state` goes on app.state before it starts (run_jobs, allow_private_targets,
    webhook_retry_base_s)."""
    holder: dict[str, FastAPI] = {}

    def extend(app: FastAPI) -> None:
        for k, v in state.items():
            setattr(app.state, k, v)
        holder["app"] = app

    with live_server(ink, extend=extend) as base:
        yield base, holder["app"]


def wait_until(check: Any, what: str, timeout: float = WAIT_S) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.05)


def wait_job(c: httpx.Client, job_id: int) -> dict:
    def finished() -> dict | None:
        job = c.get(f"/api/v1/jobs/{job_id}").json()
        return job if job["finished"] else None

    return wait_until(finished, f"job {job_id} to finish")


@dataclass
class GatedSite:
    """Serves `images` at /NAME; /gate/NAME answers only once `gate` is set."""

    images: dict[str, bytes]
    gate: threading.Event = field(default_factory=threading.Event)
    waiting: threading.Event = field(default_factory=threading.Event)  # a request is held at the gate
    base: str = ""
    requests: list[str] = field(default_factory=list)  # every path asked for, in order


@contextmanager
def gated_site(images: dict[str, bytes]) -> Iterator[GatedSite]:
    site = GatedSite(images)

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802
            name = self.path.rsplit("/", 1)[-1]
            site.requests.append(self.path)
            if self.path.startswith("/gate/"):
                site.waiting.set()
                site.gate.wait(WAIT_S)
            data = site.images.get(name)
            if data is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    site.base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield site
    finally:
        site.gate.set()
        server.shutdown()
        server.server_close()


@dataclass
class Receiver:
    """A webhook receiver: answers `fail_first` requests with 500, then 200; keeps what it got."""

    fail_first: int = 0
    got: list[tuple[dict[str, str], bytes, int]] = field(default_factory=list)  # headers, body, status answered
    url: str = ""

    def verified(self, secret: str) -> list[dict]:
        """The bodies of the requests it accepted whose signature checks out (timestamp included in the MAC)."""
        out = []
        for headers, body, status in self.got:
            if status != 200:
                continue
            ts = headers["x-inkseal-timestamp"]
            mac = hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
            if hmac.compare_digest(headers["x-inkseal-signature"], f"sha256={mac}"):
                out.append(json.loads(body))
        return out


@contextmanager
def receiver(fail_first: int = 0) -> Iterator[Receiver]:
    rec = Receiver(fail_first)
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with lock:
                status = 500 if len(rec.got) < rec.fail_first else 200
                rec.got.append(({k.lower(): v for k, v in self.headers.items()}, body, status))
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    rec.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    try:
        yield rec
    finally:
        server.shutdown()
        server.server_close()
