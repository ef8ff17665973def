"""Fetching over HTTP(S) with httpx, within limits and the network policy.

Limits: a connect/read timeout, a deadline for the whole fetch (connect + headers + body, so a
server trickling bytes is cut off), a cap on bytes read (streamed, so a huge or endless body is cut
off rather than buffered), at most 5 redirects (followed here, one by one, so each is checked),
http(s) only. Where a URL may point is `netpolicy`'s rule: URLs found in a page or a redirect may
not reach private addresses from a public page. The `--browser` capture fetches a page's resources
through the same fetcher (`PageBrowser`), so one policy and one set of limits hold for both.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol
from urllib.parse import urljoin, urlparse

import httpcore
import httpx

from inkseal import __version__
from inkseal.config import Settings
from inkseal.match.sources.html import PageLimits, _abbrev
from inkseal.match.sources.netpolicy import (Deadline, NetPolicy, PinnedBackend, PinnedTransport, RefusedAddress,
                                             ResolveError, Resolver)
from inkseal.match.sources.warcwrite import Exchange
from inkseal.errors import one_line

class HostGateLike(Protocol):
    def enter(self, host: str) -> None: ...
    def leave(self, host: str) -> None: ...


MAX_REDIRECTS = 5
REDIRECT_CODES = {301, 302, 303, 307, 308}
_DEFAULTS = Settings()


class FetchError(Exception):
    pass


class Fetcher:
    """One per scan (not shared between threads: the deadline belongs to the fetch in progress).

    `resolver` and `dial` are the network seams: how host names become addresses, and what opens
    sockets; production uses the system resolver and httpcore's sockets."""

    def __init__(self, *, max_bytes: int = _DEFAULTS.max_bytes, timeout_s: float = _DEFAULTS.http_timeout_s,
                 deadline_s: float = _DEFAULTS.http_deadline_s,
                 allow_private: bool = _DEFAULTS.allow_private_addresses, limits: PageLimits | None = None,
                 resolver: Resolver | None = None, dial: httpcore.NetworkBackend | None = None) -> None:
        self.max_bytes = max_bytes
        self.deadline_s = deadline_s
        self.limits = limits or PageLimits()
        self.policy = NetPolicy(allow_private=allow_private, resolver=resolver)
        self.deadline = Deadline()
        transport = PinnedTransport(PinnedBackend(self.policy, self.deadline, dial))
        self.client = httpx.Client(
            transport=transport, timeout=httpx.Timeout(timeout_s), follow_redirects=False,
            headers={"User-Agent": f"inkseal/{__version__} (copy detection for artists)"},
        )
        # URL -> the exchanges (redirect hops, then the page) another client of ours just made for it: the
        # monitor's crawler hands the pages it fetched to the scan, which then reads them from here, once each,
        # instead of asking the site again (the WARC records those real exchanges, with their own times).
        self.handover: dict[str, list[Exchange]] = {}
        # Each request waits at `gate.enter(host)` and ends with `gate.leave(host)` when a gate is set: the
        # monitor's per-host rate, concurrency and Crawl-delay then hold for the scan's requests too.
        self.gate: HostGateLike | None = None

    @classmethod
    def from_settings(cls, settings: Settings, **seams: object) -> Fetcher:
        return cls(max_bytes=settings.max_bytes, timeout_s=settings.http_timeout_s,
                   deadline_s=settings.http_deadline_s, allow_private=settings.allow_private_addresses,
                   limits=PageLimits.from_settings(settings), **seams)  # type: ignore[arg-type]

    def get(self, url: str, found_on: str | None = None, *,
            exchanges: list[Exchange] | None = None) -> tuple[bytes, str, str]:
        """Returns (body, content type, final URL) or raises FetchError with a one-line reason.
        `found_on`: the page the URL was found on; None when the user named it. `exchanges`: each
        request and response (redirect hops too) is appended there, for the WARC capture."""
        if (kept := self.handover.pop(url, None)) is not None:
            return self._handed_over(kept, exchanges)
        with self._fetch(url):
            for _hop in range(MAX_REDIRECTS + 1):
                status, headers, body = self._exchange(url, found_on, error_body=False, exchanges=exchanges)
                location = headers.get("location")
                if status in REDIRECT_CODES and location:
                    # The redirect's target was chosen by the server: it is checked as found there.
                    found_on, url = url, urljoin(url, location)
                    continue
                return body, headers.get("content-type", ""), url
            raise FetchError(f"too many redirects (over {MAX_REDIRECTS})")

    def _handed_over(self, kept: list[Exchange], exchanges: list[Exchange] | None) -> tuple[bytes, str, str]:
        """What `get` returns for a page fetched moments ago by another of our clients, under this fetcher's
        own limits (the same answers and errors as fetching it now would give for those responses)."""
        last = kept[-1]
        if last.status >= 400 or last.status in REDIRECT_CODES:
            raise FetchError(f"HTTP {last.status}")
        if len(last.body) > self.max_bytes:
            raise FetchError(f"too large: over {self.max_bytes:,} bytes")
        if exchanges is not None:
            exchanges.extend(kept)
        ctype = next((v for k, v in reversed(last.response_headers) if k.lower() == "content-type"), "")
        return last.body, ctype, last.url

    def get_one(self, url: str, found_on: str | None, headers: dict[str, str] | None = None, *,
                exchanges: list[Exchange] | None = None) -> tuple[int, httpx.Headers, bytes]:
        """One request, redirects not followed, error bodies kept: what a browser asked for. A
        redirect's target is checked here, as found on `url`."""
        with self._fetch(url):
            status, resp_headers, body = self._exchange(url, found_on, error_body=True, headers=headers,
                                                        exchanges=exchanges)
            location = resp_headers.get("location")
            if status in REDIRECT_CODES and location:
                self.policy.check(urljoin(url, location), url)
            return status, resp_headers, body

    def _fetch(self, url: str) -> _Guard:
        return _Guard(self, url)

    def _exchange(self, url: str, found_on: str | None, *, error_body: bool, headers: dict[str, str] | None = None,
                  exchanges: list[Exchange] | None = None) -> tuple[int, httpx.Headers, bytes]:
        if urlparse(url).scheme not in ("http", "https"):
            raise FetchError(f"unsupported URL scheme: {_abbrev(url)[:120]}")
        self.policy.check(url, found_on)
        host = urlparse(url).hostname or ""
        if self.gate is not None:
            waited = time.monotonic()
            self.gate.enter(host)
            if self.deadline.until is not None:  # time spent waiting our turn is not the server's
                self.deadline.until += time.monotonic() - waited
        try:
            return self._request(url, headers, error_body=error_body, exchanges=exchanges)
        finally:
            if self.gate is not None:
                self.gate.leave(host)

    def _request(self, url: str, headers: dict[str, str] | None, *, error_body: bool,
                 exchanges: list[Exchange] | None) -> tuple[int, httpx.Headers, bytes]:
        with self.client.stream("GET", url, headers=headers) as resp:
            at = datetime.now(UTC)
            if resp.status_code in REDIRECT_CODES:
                body = b""
            elif resp.status_code >= 400 and not error_body:
                raise FetchError(f"HTTP {resp.status_code}")
            else:
                body = self._read(resp)
            if exchanges is not None:
                exchanges.append(Exchange(url, list(resp.request.headers.multi_items()), resp.status_code,
                                          resp.reason_phrase, list(resp.headers.multi_items()), body, at,
                                          resp.http_version or "HTTP/1.1"))
            return resp.status_code, resp.headers, body

    def _read(self, resp: httpx.Response) -> bytes:
        declared = resp.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > self.max_bytes:
            raise FetchError(f"too large: {int(declared):,} bytes declared")
        chunks, total = [], 0
        for chunk in resp.iter_bytes():
            total += len(chunk)
            if total > self.max_bytes:
                raise FetchError(f"too large: over {self.max_bytes:,} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    def close(self) -> None:
        self.client.close()


class Refused(FetchError):
    """The network policy refused the URL (or a redirect it led to)."""


class _Guard:
    """One fetch: starts its deadline, and turns every failure into a one-line FetchError."""

    def __init__(self, fetcher: Fetcher, url: str) -> None:
        self.fetcher, self.url = fetcher, url

    def __enter__(self) -> None:
        self.fetcher.deadline.start(self.fetcher.deadline_s)

    def __exit__(self, typ, exc, tb) -> bool:  # type: ignore[no-untyped-def]
        deadline = self.fetcher.deadline
        expired = deadline.expired
        deadline.stop()
        if exc is None or isinstance(exc, FetchError):
            return False
        if isinstance(exc, RefusedAddress):
            raise Refused(str(exc)) from None
        if isinstance(exc, ResolveError):
            raise FetchError(str(exc)) from None
        if isinstance(exc, httpx.TimeoutException):
            if expired:
                raise FetchError(f"timed out: the whole fetch took over {self.fetcher.deadline_s:g} s") from None
            raise FetchError("timed out") from None
        if isinstance(exc, httpx.HTTPError | httpx.InvalidURL | httpx.StreamError):
            raise FetchError(f"{one_line(exc, with_type=True)}") from None
        if isinstance(exc, ValueError):  # urllib on a malformed URL ("Invalid IPv6 URL", a port out of range)
            raise FetchError(f"bad URL {_abbrev(self.url)[:120]}: {exc}") from None
        return False


def looks_like_html(body: bytes) -> bool:
    """Markup rather than a picture: what a login wall, an error page or a hostile server sends
    where an image should be. SVG is markup too but is an image, so it is not counted."""
    head = body[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return head.startswith(b"<") and b"<svg" not in head
