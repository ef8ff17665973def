"""Links in a listing page: the pages it lists, its pagination (rel=next, `?page=N`, `/page/N`), and the
feeds it advertises (<link rel=alternate type=application/rss+xml|atom+xml>). Parsed with selectolax."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urldefrag, urljoin, urlsplit

from selectolax.lexbor import LexborHTMLParser

# Schemes that are links but not pages: skipped without a word (every page has them).
QUIET_SCHEMES = ("mailto", "tel", "javascript", "data", "sms", "about", "blob")
PAGE_PATH = re.compile(r"/page/(\d+)/?$")
FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/feed+json", "application/rss",
              "text/xml")


@dataclass
class PageLinks:
    pages: list[str] = field(default_factory=list)  # same-site links, in page order
    next_pages: list[str] = field(default_factory=list)  # pagination
    feeds: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # links never fetched (file://, ftp:// ...)


def page_number(url: str) -> int | None:
    parts = urlsplit(url)
    for key in ("page", "p", "paged", "pg"):
        vals = parse_qs(parts.query).get(key)
        if vals and vals[0].isdigit():
            return int(vals[0])
    m = PAGE_PATH.search(parts.path)
    return int(m.group(1)) if m else None


def read_links(html: str, base_url: str, site_host: str, max_links: int = 20_000) -> PageLinks:
    out = PageLinks()
    tree = LexborHTMLParser(html)
    base = tree.css_first("base[href]")
    if base is not None and base.attributes.get("href"):
        base_url = urljoin(base_url, base.attributes["href"] or "")
    seen: set[str] = set()

    def resolve(href: str | None) -> str | None:
        href = (href or "").strip()
        if not href or href.startswith("#"):
            return None
        scheme = href.split(":", 1)[0].lower() if ":" in href.split("/", 1)[0] else ""
        if scheme in QUIET_SCHEMES:
            return None
        try:
            url = urldefrag(urljoin(base_url, href))[0]
        except ValueError:
            out.notes.append(f"bad link {href[:120]} on {base_url[:120]}, skipped / 链接无效，已跳过")
            return None
        if urlsplit(url).scheme not in ("http", "https"):
            out.notes.append(f"{url[:120]} on {base_url[:120]}: not fetched ({urlsplit(url).scheme} scheme) / "
                             "非 http(s) 链接，不抓取")
            return None
        return url

    for node in tree.css("link[rel]"):
        rel = (node.attributes.get("rel") or "").lower().split()
        url = resolve(node.attributes.get("href"))
        if url is None:
            continue
        if "next" in rel:
            out.next_pages.append(url)
        elif "alternate" in rel and (node.attributes.get("type") or "").lower() in FEED_TYPES:
            out.feeds.append(url)
    current = page_number(base_url) or 1
    for node in tree.css("a[href], area[href]"):
        url = resolve(node.attributes.get("href"))
        if url is None or url in seen or (urlsplit(url).hostname or "") != site_host:
            continue
        seen.add(url)
        rel = (node.attributes.get("rel") or "").lower().split()
        n = page_number(url)
        if "next" in rel or (n is not None and n > current):
            out.next_pages.append(url)
        elif len(out.pages) < max_links:
            out.pages.append(url)
    out.next_pages = list(dict.fromkeys(out.next_pages))
    return out
