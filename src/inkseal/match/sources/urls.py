"""Scanning URLs: a single URL or a text file of URLs, fetched by `fetch.Fetcher` (its limits
and network policy are described there). A URL that returns HTML is treated as a page: its images
are fetched too, each reported with the page's URL, title and position; a URL declared an image
that holds HTML (a login wall, an error page) is a failed item, not a page. A `javascript:`,
`file:` or other non-HTTP URL found in a page is never fetched: it is a failed item, one line.

Each fetched picture carries, as its `warc_record` attachment, a WARC of the page's and the
picture's requests and responses as served (`warcwrite`), kept with the match when it is one.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from urllib.parse import urljoin

from inkseal.match.sources.base import SuspectItem
from inkseal.match.sources.browser import PageBrowser, iter_browser_page
from inkseal.match.sources.fetch import FetchError, Fetcher, looks_like_html
from inkseal.match.sources.html import _abbrev, _location, decode_data_uri, parse_page, truncation_item
from inkseal.match.sources.pictures import refused_scheme
from inkseal.match.sources.warcwrite import Exchange, page_warc, picture_warc

__all__ = ["FetchError", "Fetcher", "iter_url", "iter_url_list", "looks_like_html"]

def _picture_magic(body: bytes) -> bool:
    """JPEG, PNG, GIF, WebP, TIFF or AVIF by their first bytes (text never starts so)."""
    head = body[:32]
    return (head.startswith((b"\xff\xd8\xff", b"\x89PNG\r\n", b"GIF87a", b"GIF89a", b"II*\x00", b"MM\x00*"))
            or (head[:4] == b"RIFF" and head[8:12] == b"WEBP") or (head[4:8] == b"ftyp" and b"avif" in head[8:32]))


def _not_image_reason(body: bytes, ctype: str) -> str | None:
    if looks_like_html(body):
        return f"HTML where an image was expected (served as {ctype or 'no content type'})"
    return None


def iter_url(url: str, fetcher: Fetcher) -> Iterator[SuspectItem]:
    now = datetime.now(UTC)
    page_exchanges: list[Exchange] = []
    try:
        body, ctype, final = fetcher.get(url, exchanges=page_exchanges)
    except FetchError as exc:
        yield SuspectItem(kind="url", source=url, error=str(exc))
        return
    declared_image = ctype.lower().startswith("image/")
    # A picture served as text/html (a lying server) is still a picture: its magic bytes say so.
    if declared_image or ("html" not in ctype.lower() and not looks_like_html(body)) or _picture_magic(body):
        item = SuspectItem(kind="url", source=final, data=body, captured_at=now,
                           location={"requested": url, "content_type": ctype},
                           attachments={"warc_record": partial(picture_warc, b"", [], None, page_exchanges)})
        if (reason := _not_image_reason(body, ctype)) is not None:
            item.data, item.error, item.attachments = None, reason, {}
        yield item
        return
    page = parse_page(body.decode("utf-8", errors="replace"), base_url=final, limits=fetcher.limits)
    page_part, page_notes = page_warc(final, page_exchanges)
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
        if (scheme := refused_scheme(ref.url)) is not None:
            yield SuspectItem(kind="url", source=_abbrev(ref.url)[:200], page_url=final, location=loc,
                              error=f"not fetched: a {scheme} URL in {ref.how}")
            continue
        try:
            img_url = urljoin(final, ref.url)
        except ValueError as exc:
            yield SuspectItem(kind="url", source=ref.url[:200], page_url=final, location=loc, error=f"bad URL: {exc}")
            continue
        item = SuspectItem(kind="url", source=img_url, page_url=final, location=loc)
        exchanges: list[Exchange] = []
        try:
            data, ctype_img, _final = fetcher.get(img_url, found_on=final, exchanges=exchanges)
            item.captured_at = datetime.now(UTC)
            loc["content_type"] = ctype_img
            reason = _not_image_reason(data, ctype_img)
            item.data, item.error = (None, reason) if reason else (data, None)
            if item.data is not None:
                item.attachments["warc_record"] = partial(picture_warc, page_part, page_notes, final, exchanges)
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
