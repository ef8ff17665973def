"""Images referenced by an HTML page: <img src/srcset>, <picture><source srcset>, CSS
backgrounds (inline style and <style> blocks), <input type=image>, <video poster> and inline
`data:` URIs - each with the page's URL and title and where on the page it sits (DOM path,
document order, alt text, declared size). Parsing is selectolax (lexbor), which tolerates broken
HTML the way browsers do.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urljoin, urlparse

from selectolax.lexbor import LexborHTMLParser, LexborNode

from inkseal.match.sources.base import SuspectItem

SAVED_FROM = re.compile(r"<!--\s*saved from url=\(\d+\)\s*(\S+?)\s*-->", re.I)
CSS_URL = re.compile(r"url\(\s*(['\"]?)(.*?)\1\s*\)", re.I | re.S)
CSS_RULE = re.compile(r"([^{}]+)\{([^{}]*)\}", re.S)


@dataclass
class ImageRef:
    url: str  # as written in the page
    how: str  # img | srcset | picture | css | input | poster
    dom_path: str
    order: int
    alt: str = ""
    declared_size: str = ""


@dataclass
class PageInfo:
    url: str | None
    title: str
    images: list[ImageRef]


def _dom_path(node: LexborNode) -> str:
    parts = []
    cur: LexborNode | None = node
    while cur is not None and cur.tag not in (None, "-document", "html"):
        tag = cur.tag or "?"
        ident = cur.attributes.get("id") if cur.attributes else None
        if ident:
            parts.append(f"{tag}#{ident}")
            break
        idx, sib = 1, cur.prev
        while sib is not None:
            if sib.tag == tag:
                idx += 1
            sib = sib.prev
        parts.append(f"{tag}:nth-of-type({idx})")
        cur = cur.parent
    return " > ".join(reversed(parts))


def _srcset_urls(srcset: str) -> list[str]:
    out = []
    for part in re.split(r",\s+(?=\S)", srcset.strip()):
        url = part.strip().split()[0] if part.strip() else ""
        if url:
            out.append(url)
    return out


def parse_page(html: str, base_url: str | None = None) -> PageInfo:
    tree = LexborHTMLParser(html)
    url = None
    m = SAVED_FROM.search(html[:4096])
    if m:
        url = m.group(1)
    for sel, attr in (('link[rel="canonical"]', "href"), ('meta[property="og:url"]', "content"), ("base[href]", "href")):
        node = tree.css_first(sel)
        if node is not None and node.attributes.get(attr) and not url:
            url = node.attributes[attr]
    url = url or base_url
    title_node = tree.css_first("title")
    title = (title_node.text(strip=True) if title_node else "") or ""
    refs: list[ImageRef] = []
    order = 0

    def add(u: str | None, how: str, node: LexborNode, alt: str = "") -> None:
        nonlocal order
        if not u or u.startswith(("javascript:", "about:", "#")):
            return
        attrs = node.attributes or {}
        size = "x".join(v for v in (attrs.get("width"), attrs.get("height")) if v)
        refs.append(ImageRef(u.strip(), how, _dom_path(node), order, alt, size or ""))
        order += 1

    for node in tree.css("img, picture source, input[type=image], video[poster], [style], style"):
        attrs = node.attributes or {}
        tag = node.tag
        if tag == "img":
            add(attrs.get("src") or attrs.get("data-src"), "img", node, attrs.get("alt") or "")
            for u in _srcset_urls(attrs.get("srcset") or attrs.get("data-srcset") or ""):
                add(u, "srcset", node, attrs.get("alt") or "")
        elif tag == "source":
            for u in _srcset_urls(attrs.get("srcset") or ""):
                add(u, "picture", node)
        elif tag == "input":
            add(attrs.get("src"), "input", node)
        elif tag == "video":
            add(attrs.get("poster"), "poster", node)
        elif tag == "style":
            css = node.text() or ""
            for selector, body in CSS_RULE.findall(css):
                for _q, u in CSS_URL.findall(body):
                    add(u, "css", node, alt=f"css: {selector.strip()[:80]}")
        if tag != "style" and attrs.get("style"):
            for _q, u in CSS_URL.findall(attrs["style"] or ""):
                add(u, "css", node)
    # The same URL used several times is scanned once, at its first position.
    seen: set[str] = set()
    unique = []
    for r in refs:
        if r.url not in seen:
            seen.add(r.url)
            unique.append(r)
    return PageInfo(url, title, unique)


def decode_data_uri(uri: str) -> bytes:
    head, _, payload = uri.partition(",")
    if not _:
        raise ValueError("malformed data: URI (no comma)")
    if ";base64" in head.lower():
        try:
            return base64.b64decode(payload, validate=False)
        except (binascii.Error, ValueError) as exc:
            raise ValueError(f"malformed base64 in data: URI ({exc})") from None
    return unquote(payload).encode("latin-1", "replace")


def _location(page: PageInfo, ref: ImageRef, page_source: str) -> dict:
    return {"page": page_source, "page_title": page.title, "dom_path": ref.dom_path, "order": ref.order,
            "how": ref.how, "alt": ref.alt, "declared_size": ref.declared_size, "ref": _abbrev(ref.url)}


def _abbrev(url: str) -> str:
    return url if not url.startswith("data:") else url[:40] + f"...({len(url)} chars)"


def iter_saved_page(path: Path, *, max_bytes: int) -> Iterator[SuspectItem]:
    """A page saved by a browser: images are resolved against the page's own folder."""
    try:
        raw = path.read_bytes()
        if len(raw) > max_bytes:
            raise ValueError(f"page too large: {len(raw):,} bytes")
        html = raw.decode("utf-8", errors="replace")
        page = parse_page(html)
    except (OSError, ValueError) as exc:
        yield SuspectItem(kind="page", source=str(path), error=f"cannot read page: {exc}")
        return
    root = path.parent.resolve()
    for ref in page.images:
        loc = _location(page, ref, str(path))
        original = urljoin(page.url, ref.url) if page.url and not ref.url.startswith("data:") else None
        item = SuspectItem(kind="page", source=original or _abbrev(ref.url), page_url=page.url or str(path), location=loc,
                           attachments={"page_html": raw})
        if original:
            loc["image_url"] = original
        try:
            if ref.url.startswith("data:"):
                item.data = decode_data_uri(ref.url)
            else:
                parsed = urlparse(ref.url)
                if parsed.scheme in ("http", "https") and not parsed.path:
                    raise ValueError("remote image with no path")
                # Saved pages point at "./Name_files/x.jpg"; remote URLs may also have a local copy.
                local = (path.parent / unquote(parsed.path)).resolve()
                if parsed.scheme in ("http", "https") or not local.is_relative_to(root):
                    cand = path.parent / (path.stem + "_files") / Path(unquote(parsed.path)).name
                    local = cand.resolve() if cand.exists() else local
                if not local.is_relative_to(root):
                    raise ValueError("image outside the page's folder: not read")
                if not local.is_file():
                    raise ValueError(f"image file not saved with the page: {unquote(parsed.path)}")
                size = local.stat().st_size
                if size > max_bytes:
                    raise ValueError(f"file too large: {size:,} bytes")
                item.data = local.read_bytes()
                loc["local_file"] = str(local)
                if not original:
                    item.source = str(local)
        except (OSError, ValueError) as exc:
            item.error = str(exc)
        yield item
