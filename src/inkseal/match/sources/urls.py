"""Scanning URLs: a single URL or a text file of URLs, fetched by `fetch.Fetcher` (its limits
and network policy are described there). A URL that returns HTML is treated as a page: its images
are fetched too, each reported with the page's URL, title and position; a URL declared an image
that holds HTML (a login wall, an error page) is a failed item, not a page.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urljoin, urlparse

from inkseal.match.sources.base import SuspectItem
from inkseal.match.sources.browser import PageBrowser, iter_browser_page
from inkseal.match.sources.fetch import FetchError, Fetcher, looks_like_html
from inkseal.match.sources.html import _abbrev, _location, decode_data_uri, parse_page, truncation_item

__all__ = ["FetchError", "Fetcher", "iter_url", "iter_url_list", "looks_like_html"]

def _not_image_reason(body: bytes, ctype: str) -> str | None:
    if looks_like_html(body):
        return f"HTML where an image was expected (served as {ctype or 'no content type'})"
    return None


def iter_url(url: str, fetcher: Fetcher) -> Iterator[SuspectItem]:
    now = datetime.now(UTC)
    try:
        body, ctype, final = fetcher.get(url)
    except FetchError as exc:
        yield SuspectItem(kind="url", source=url, error=str(exc))
        return
    declared_image = ctype.lower().startswith("image/")
    if declared_image or ("html" not in ctype.lower() and not looks_like_html(body)):
        item = SuspectItem(kind="url", source=final, data=body, captured_at=now,
                           location={"requested": url, "content_type": ctype})
        if (reason := _not_image_reason(body, ctype)) is not None:
            item.data, item.error = None, reason
        yield item
        return
    page = parse_page(body.decode("utf-8", errors="replace"), base_url=final, limits=fetcher.limits)
    for ref in page.images:
        loc = _location(page, ref, final)
        if ref.url.startswith("data:"):
            item = SuspectItem(kind="url", source=_abbrev(ref.url), page_url=final, location=loc, captured_at=now)
            try:
                item.data = decode_data_uri(ref.url)
            except ValueError as exc:
                item.error = str(exc)
            yield item
            continue
        try:
            img_url = urljoin(final, ref.url)
        except ValueError as exc:
            yield SuspectItem(kind="url", source=ref.url[:200], page_url=final, location=loc, error=f"bad URL: {exc}")
            continue
        item = SuspectItem(kind="url", source=img_url, page_url=final, location=loc)
        try:
            data, ctype_img, _final = fetcher.get(img_url, found_on=final)
            item.captured_at = datetime.now(UTC)
            loc["content_type"] = ctype_img
            reason = _not_image_reason(data, ctype_img)
            item.data, item.error = (None, reason) if reason else (data, None)
        except FetchError as exc:
            item.error = str(exc)
        yield item
    if (cut := truncation_item(page, "url", final)) is not None:
        yield cut


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
