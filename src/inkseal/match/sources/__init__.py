"""Scan sources: everything that can hand the matcher a suspect image, with where it was found.

Each source yields `SuspectItem`s. A source that cannot read one item yields that item with an
`error` and carries on; a source that cannot be read at all yields one error item. Kinds:

    file   an image file, or every image under a folder (recursively)
    page   a saved web page (HTML + its files folder), or a page fetched by URL
    warc   every image response in a WARC / WARC.gz archive
    url    a URL or a text file of URLs (one per line), fetched with size and time limits; with a
           `PageBrowser`, pages are opened in headless Chromium (screenshot, rendered DOM, boxes)
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from inkseal.match.sources.base import SuspectItem
from inkseal.match.sources.browser import PageBrowser, iter_browser_page
from inkseal.match.sources.files import iter_folder, item_from_file
from inkseal.match.sources.html import PageLimits, iter_saved_page
from inkseal.match.sources.urls import Fetcher, iter_url, iter_url_list
from inkseal.match.sources.warc import iter_warc

__all__ = ["PageLimits", "SuspectItem", "iter_source", "source_kind"]

PAGE_SUFFIXES = (".html", ".htm", ".xhtml")
WARC_SUFFIXES = (".warc", ".warc.gz", ".arc.gz")
URL_LIST_SUFFIXES = (".txt", ".urls", ".lst")


def source_kind(source: str) -> str:
    low = source.lower()
    if low.startswith(("http://", "https://")):
        return "url"
    if Path(source).is_dir():
        return "folder"
    if low.endswith(PAGE_SUFFIXES):
        return "page"
    if low.endswith(WARC_SUFFIXES):
        return "warc"
    if low.endswith(URL_LIST_SUFFIXES):
        return "urls"
    return "file"


def iter_source(source: str, *, max_bytes: int, fetcher: Fetcher | None = None,
                browser: PageBrowser | None = None, limits: PageLimits | None = None) -> Iterator[SuspectItem]:
    """`limits`: bounded work per page; by default the fetcher's (its settings), else the defaults."""
    kind = source_kind(source)
    limits = limits or (fetcher.limits if fetcher is not None else PageLimits())
    if kind == "url" and browser is not None:
        yield from iter_browser_page(source, browser)
    elif kind == "url":
        yield from iter_url(source, fetcher or Fetcher(max_bytes=max_bytes, limits=limits))
    elif kind == "folder":
        for path, sub_kind in iter_folder(Path(source), PAGE_SUFFIXES, WARC_SUFFIXES):
            if sub_kind == "page":
                yield from iter_saved_page(path, max_bytes=max_bytes, limits=limits)
            elif sub_kind == "warc":
                yield from iter_warc(path, max_bytes=max_bytes)
            else:
                yield item_from_file(path, max_bytes)
    elif kind == "page":
        yield from iter_saved_page(Path(source), max_bytes=max_bytes, limits=limits)
    elif kind == "warc":
        yield from iter_warc(Path(source), max_bytes=max_bytes)
    elif kind == "urls":
        yield from iter_url_list(Path(source), fetcher or Fetcher(max_bytes=max_bytes, limits=limits), browser)
    else:
        yield item_from_file(Path(source), max_bytes)
