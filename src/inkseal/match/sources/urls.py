"""Fetching over HTTP(S) with httpx: a single URL or a text file of URLs.

Limits: a connect/read timeout, a cap on bytes read (streamed, so a huge or endless body is cut
off rather than buffered), at most 5 redirects, http(s) only. A URL that returns HTML is treated
as a page: its images are fetched too, each reported with the page's URL, title and position.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urljoin, urlparse

import httpx

from inkseal import __version__
from inkseal.match.sources.base import SuspectItem
from inkseal.match.sources.browser import PageBrowser, iter_browser_page
from inkseal.match.sources.html import _abbrev, _location, decode_data_uri, parse_page

MAX_PAGE_IMAGES = 200


class FetchError(Exception):
    pass


class Fetcher:
    def __init__(self, *, max_bytes: int = 64 * 1024 * 1024, timeout_s: float = 20.0) -> None:
        self.max_bytes = max_bytes
        self.client = httpx.Client(
            timeout=httpx.Timeout(timeout_s), follow_redirects=True, max_redirects=5,
            headers={"User-Agent": f"inkseal/{__version__} (copy detection for artists)"},
        )

    def get(self, url: str) -> tuple[bytes, str, str]:
        """Returns (body, content type, final URL) or raises FetchError with a one-line reason."""
        if urlparse(url).scheme not in ("http", "https"):
            raise FetchError(f"unsupported URL scheme: {url}")
        try:
            with self.client.stream("GET", url) as resp:
                if resp.status_code >= 400:
                    raise FetchError(f"HTTP {resp.status_code}")
                declared = resp.headers.get("content-length")
                if declared and declared.isdigit() and int(declared) > self.max_bytes:
                    raise FetchError(f"too large: {int(declared):,} bytes declared")
                chunks, total = [], 0
                for chunk in resp.iter_bytes():
                    total += len(chunk)
                    if total > self.max_bytes:
                        raise FetchError(f"too large: over {self.max_bytes:,} bytes")
                    chunks.append(chunk)
                return b"".join(chunks), resp.headers.get("content-type", ""), str(resp.url)
        except httpx.TimeoutException:
            raise FetchError("timed out") from None
        except httpx.HTTPError as exc:
            raise FetchError(f"{type(exc).__name__}: {exc}") from None

    def close(self) -> None:
        self.client.close()


def iter_url(url: str, fetcher: Fetcher) -> Iterator[SuspectItem]:
    now = datetime.now(UTC)
    try:
        body, ctype, final = fetcher.get(url)
    except FetchError as exc:
        yield SuspectItem(kind="url", source=url, error=str(exc))
        return
    if "html" not in ctype.lower() and not body.lstrip()[:15].lower().startswith((b"<!doctype html", b"<html")):
        yield SuspectItem(kind="url", source=final, data=body, captured_at=now,
                          location={"requested": url, "content_type": ctype})
        return
    page = parse_page(body.decode("utf-8", errors="replace"), base_url=final)
    for ref in page.images[:MAX_PAGE_IMAGES]:
        loc = _location(page, ref, final)
        if ref.url.startswith("data:"):
            item = SuspectItem(kind="url", source=_abbrev(ref.url), page_url=final, location=loc, captured_at=now)
            try:
                item.data = decode_data_uri(ref.url)
            except ValueError as exc:
                item.error = str(exc)
            yield item
            continue
        img_url = urljoin(final, ref.url)
        item = SuspectItem(kind="url", source=img_url, page_url=final, location=loc)
        try:
            item.data, ctype_img, _final = fetcher.get(img_url)
            item.captured_at = datetime.now(UTC)
            loc["content_type"] = ctype_img
        except FetchError as exc:
            item.error = str(exc)
        yield item


def iter_url_list(path: Path, fetcher: Fetcher, browser: PageBrowser | None = None) -> Iterator[SuspectItem]:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as exc:
        yield SuspectItem(kind="url", source=str(path), error=f"cannot read URL list: {exc.strerror or exc}")
        return
    for line in lines:
        url = line.strip()
        if url and not url.startswith("#"):
            yield from iter_browser_page(url, browser) if browser is not None else iter_url(url, fetcher)
