"""Sitemaps (sitemaps.org): index files and URL sets, plain or gzip, with hard caps.

XML is parsed by defusedxml (no DTDs, no entity expansion: a "billion laughs" file is refused), and only
after the bytes were capped: gzip is inflated with a limit on the *output* (a 10 KB file that inflates to
10 GB stops at `sitemap_max_bytes`), the URL count is capped over all files of a run, and an index may not
nest deeper than `sitemap_max_depth`. Each refusal is one line; the rest of the run goes on.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from inkseal.match.sources.fetch import FetchError
from inkseal.monitor.polite import Fetched
from inkseal.monitor.settings import MonitorSettings


class SitemapError(Exception):
    pass


def inflate(body: bytes, limit: int, what: str) -> bytes:
    """gzip bytes inflated to at most `limit` bytes; a bomb is refused, not inflated."""
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = d.decompress(body, limit + 1)
    except zlib.error as exc:
        raise SitemapError(f"{what}: not valid gzip ({exc}) / 不是有效的 gzip 文件") from None
    if len(out) > limit or d.unconsumed_tail:
        raise SitemapError(f"{what}: refused, it inflates to over {limit:,} bytes (a gzip bomb?) / "
                           f"已拒绝：解压后超过 {limit:,} 字节（疑似压缩炸弹）")
    return out


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def parse_sitemap(xml: bytes, what: str) -> tuple[str, list[str]]:
    """('index' | 'urlset', the <loc> URLs)."""
    try:
        root = fromstring(xml)
    except DefusedXmlException as exc:
        raise SitemapError(f"{what}: refused, the XML declares entities or a DTD ({type(exc).__name__}) / "
                           "已拒绝：XML 含实体或 DTD 声明") from None
    except ParseError as exc:
        raise SitemapError(f"{what}: invalid XML ({exc}) / XML 格式无效") from None
    kind = {"sitemapindex": "index", "urlset": "urlset"}.get(_local(root.tag))
    if kind is None:
        raise SitemapError(f"{what}: not a sitemap (root element <{_local(root.tag)[:40]}>) / 不是站点地图")
    locs = []
    for entry in root:
        for child in entry:
            if _local(child.tag) == "loc" and child.text and child.text.strip():
                locs.append(child.text.strip())
    return kind, locs


@dataclass
class SitemapResult:
    pages: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    files: int = 0


def read_sitemaps(start: list[str], site_host: str, fetch: Callable[[str, int], Fetched],
                  settings: MonitorSettings) -> SitemapResult:
    """Every page URL reachable from these sitemaps, within the caps. `fetch(url, max_bytes)`."""
    out = SitemapResult()
    seen: set[str] = set()
    queue: list[tuple[str, int]] = [(u, 0) for u in start]
    while queue:
        url, depth = queue.pop(0)
        if url in seen:
            continue
        seen.add(url)
        if out.files >= settings.sitemap_max_files:
            out.notes.append(f"sitemap {url[:120]}: not read, over {settings.sitemap_max_files} sitemap files / "
                             "站点地图文件过多，未读取")
            continue
        out.files += 1
        try:
            got = fetch(url, settings.sitemap_max_bytes)
            body = got.body
            if body[:2] == b"\x1f\x8b":  # gzip, whatever the name and type say
                body = inflate(body, settings.sitemap_max_bytes, f"sitemap {url[:120]}")
            kind, locs = parse_sitemap(body, f"sitemap {url[:120]}")
        except (FetchError, SitemapError) as exc:
            out.notes.append(str(exc) if isinstance(exc, SitemapError) else f"sitemap {url[:120]}: {exc}")
            continue
        for loc in locs:
            parts = urlsplit(loc)
            if parts.scheme not in ("http", "https"):
                out.notes.append(f"sitemap {url[:120]}: {loc[:120]} not fetched ({parts.scheme or 'no'} scheme) / "
                                 "非 http(s) 链接，不抓取")
                continue
            if (parts.hostname or "") != site_host:  # the protocol: a sitemap lists its own host's pages
                out.notes.append(f"sitemap {url[:120]}: {loc[:120]} is on another host, skipped / 链接属于其他站点，已跳过")
                continue
            if kind == "index":
                if depth + 1 >= settings.sitemap_max_depth:
                    out.notes.append(f"sitemap {loc[:120]}: refused, sitemap indexes nested deeper than "
                                     f"{settings.sitemap_max_depth} / 已拒绝：站点地图索引嵌套过深")
                    continue
                queue.append((loc, depth + 1))
            else:
                if len(out.pages) >= settings.sitemap_max_urls:
                    out.notes.append(f"sitemaps list over {settings.sitemap_max_urls:,} URLs: the rest was not read / "
                                     f"站点地图网址超过 {settings.sitemap_max_urls:,} 个，其余未读取")
                    return out
                out.pages.append(loc)
    return out
