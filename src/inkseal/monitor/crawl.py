"""The crawler, the first discovery provider: a page, a feed, or a whole site.

    page   the URL itself
    feed   the links of its entries (RSS / Atom)
    site   the start page and its listing pages (pagination within `max_listing_pages`), the pages they
           link to on the same host, the feeds they advertise, and the sitemaps named in robots.txt (or
           /sitemap.xml); robots.txt Disallow and Crawl-delay are obeyed for our user agent throughout

Candidates come in that order (what the site shows first is newest), unique, capped at the monitor's
`max_pages`. Links to other hosts are not followed (feeds excepted: a feed may point anywhere), and a
link found on a public page that resolves to a private address is refused here with one line.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urljoin, urlsplit

from inkseal.match.sources.fetch import FetchError, looks_like_html
from inkseal.match.sources.netpolicy import RefusedAddress, ResolveError
from inkseal.monitor.feeds import FeedError, feed_links
from inkseal.monitor.links import read_links
from inkseal.monitor.providers import Candidate, Discovery
from inkseal.monitor.sitemaps import read_sitemaps
from inkseal.registry.monitors import Monitor


def _html(body: bytes, ctype: str) -> str | None:
    if "html" in ctype or looks_like_html(body):
        return body.decode("utf-8", errors="replace")
    return None


class CrawlProvider:
    name = "crawl"
    kinds = ("site", "feed", "page")

    def discover(self, monitor: Monitor, ctx: Discovery) -> Iterator[Candidate]:
        if monitor.kind == "page":
            yield Candidate(monitor.url, None)
        elif monitor.kind == "feed":
            yield from self._feed(monitor.url, None, ctx)
        else:
            yield from self._site(monitor, ctx)

    # -- helpers -------------------------------------------------------------------------------
    def _allowed(self, url: str, found_on: str | None, ctx: Discovery) -> bool:
        """The network policy, before the URL is queued (one line when refused)."""
        try:
            ctx.client._fetcher(ctx.client.settings.page_max_bytes).policy.check(url, found_on)
        except RefusedAddress as exc:
            ctx.note(f"{exc} / 已拒绝：公开网页中的链接指向内网地址")
            return False
        except ResolveError as exc:
            ctx.note(f"{url[:120]}: {exc} / 无法解析主机名")
            return False
        return True

    def _feed(self, url: str, found_on: str | None, ctx: Discovery) -> Iterator[Candidate]:
        ctx.progress(f"feed {url}")
        try:
            got = ctx.get_doc(url, found_on, ctx.client.settings.feed_max_bytes)
            links, notes = feed_links(got.body, got.url, ctx.client.settings.feed_max_entries)
        except (FetchError, FeedError) as exc:
            ctx.note(str(exc) if isinstance(exc, FeedError) else f"feed {url[:120]}: {exc}")
            return
        for line in notes:
            ctx.note(line)
        for link in links:
            scheme = urlsplit(link).scheme.lower()
            if scheme not in ("http", "https"):
                ctx.note(f"feed {url[:120]}: {link[:120]} not fetched ({scheme or 'no'} scheme) / 非 http(s) 链接，不抓取")
            elif self._allowed(link, got.url, ctx):
                yield Candidate(link, got.url)

    def _site(self, monitor: Monitor, ctx: Discovery) -> Iterator[Candidate]:
        start = monitor.url
        host = urlsplit(start).hostname or ""
        client = ctx.client
        listing_queue, listed, feeds = [start], set(), []
        sitemap_pages: list[str] = []
        yield Candidate(start, None)
        # Listing pages: the start page and its pagination, breadth first.
        while listing_queue and len(listed) < client.settings.max_listing_pages:
            url = listing_queue.pop(0)
            if url in listed:
                continue
            listed.add(url)
            ctx.progress(f"listing {url}")
            try:
                got = ctx.get_doc(url, None if url == start else start)
            except FetchError as exc:
                ctx.note(f"{url[:120]}: {exc}")
                continue
            html = _html(got.body, got.content_type)
            if html is None:
                ctx.note(f"{url[:120]}: not an HTML page ({got.content_type or 'no content type'}): no links read / "
                         "不是网页，未读取链接")
                continue
            links = read_links(html, got.url, host)
            for line in links.notes:
                ctx.note(line)
            feeds.extend(f for f in links.feeds if f not in feeds)
            listing_queue.extend(u for u in links.next_pages if u not in listed)
            if url != start:
                yield Candidate(url, start)
            for page in links.pages:
                if self._allowed(page, got.url, ctx):
                    yield Candidate(page, got.url)
        if listing_queue:
            ctx.inform(f"{start[:120]}: pagination stopped at {client.settings.max_listing_pages} listing pages "
                     "(max_listing_pages) / 已达分页上限")
        for feed in feeds:
            yield from self._feed(feed, start, ctx)
        # Sitemaps: those robots.txt names, else the conventional place.
        try:
            named = client.robots.sitemaps(start)
        except FetchError:
            named = []
        sitemaps = named or [urljoin(start, "/sitemap.xml")]
        ctx.progress("sitemaps")

        def fetch(url: str, max_bytes: int):  # type: ignore[no-untyped-def]
            return ctx.get_doc(url, start, max_bytes)

        result = read_sitemaps(sitemaps, host, fetch, client.settings)
        for line in result.notes:
            if named or "HTTP 404" not in line:  # no /sitemap.xml where none was promised is not news
                ctx.note(line)
        sitemap_pages = result.pages
        for page in sitemap_pages:
            if self._allowed(page, start, ctx):
                yield Candidate(page, start)
