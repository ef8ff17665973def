"""Images referenced by an HTML page: <img src/srcset>, <picture><source srcset>, CSS
backgrounds (inline style and <style> blocks), <input type=image>, <video poster> and inline
`data:` URIs - each with the page's URL and title and where on the page it sits (DOM path,
document order, alt text, declared size). Parsing is selectolax (lexbor), which tolerates broken
HTML the way browsers do.

Work per page is bounded and linear in its size: one iterative walk of the tree (no per-node
sibling or ancestor scans), srcset/CSS read by `markup`'s linear scanners, and caps (`PageLimits`)
on pictures, srcset entries, style text and nesting depth. A cap that cuts a page is noted on every
item and reported as one failed item ("page only partly read: ..."), so the scan does not exit 0.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urljoin, urlparse

from selectolax.lexbor import LexborHTMLParser, LexborNode

from inkseal.config import Settings
from inkseal.match.sources.base import SuspectItem
from inkseal.match.sources.markup import css_rules, css_urls, cut_deep_nesting, srcset_urls

SAVED_FROM = re.compile(r"<!--\s*saved from url=\(\d+\)\s*(\S+?)\s*-->", re.I)
MAX_PATH_PARTS = 32  # a DOM path names at most this many levels (the nearest ones)
_DEFAULTS = Settings()


@dataclass(frozen=True)
class PageLimits:
    """Bounded work per page (settings `max_page_images`, `max_srcset_entries`, `max_style_bytes`)."""

    max_images: int = _DEFAULTS.max_page_images
    max_srcset_entries: int = _DEFAULTS.max_srcset_entries
    max_style_bytes: int = _DEFAULTS.max_style_bytes
    # Estimated element nesting (see markup.cut_deep_nesting); browsers stop nesting at 512.
    max_depth: int = 1_000

    @classmethod
    def from_settings(cls, settings: Settings) -> PageLimits:
        return cls(settings.max_page_images, settings.max_srcset_entries, settings.max_style_bytes)


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
    truncated: list[str] = field(default_factory=list)  # one line per cap the page ran into


class _Collector:
    """The page's image references, unique by URL, within the limits; notes what a limit cut."""

    def __init__(self, limits: PageLimits) -> None:
        self.limits = limits
        self.refs: list[ImageRef] = []
        self.seen: set[str] = set()
        self.style_left = limits.max_style_bytes
        self.notes: dict[str, str] = {}
        self.full = False

    def add(self, url: str | None, how: str, path: list[str], attrs: dict, alt: str = "") -> None:
        url = (url or "").strip()
        if not url or url.startswith(("javascript:", "about:", "#")) or url in self.seen:
            return  # the same URL used several times is scanned once, at its first position
        if len(self.refs) >= self.limits.max_images:
            self.full = True
            self.notes["images"] = f"only the first {self.limits.max_images:,} pictures on the page were read"
            return
        self.seen.add(url)
        size = "x".join(v for v in (attrs.get("width"), attrs.get("height")) if v)
        self.refs.append(ImageRef(url, how, _dom_path(path), len(self.refs), alt, size or ""))

    def srcset(self, value: str | None, how: str, path: list[str], attrs: dict, alt: str = "") -> None:
        urls, cut = srcset_urls(value or "", self.limits.max_srcset_entries)
        if cut:
            self.notes["srcset"] = (f"a srcset listed more than {self.limits.max_srcset_entries:,} "
                                    "pictures: only the first were read")
        for u in urls:
            self.add(u, how, path, attrs, alt)

    def css(self, css: str) -> list[str]:
        urls, unclosed = css_urls(css)
        if unclosed:
            self.notes["css"] = "CSS with an unclosed url(: the rest of that style was not read"
        return urls

    def style(self, css: str) -> str:
        """The part of `css` still within the page's style budget."""
        if len(css) > self.style_left:
            css = css[:self.style_left]
            self.notes["style"] = f"style text over {self.limits.max_style_bytes:,} bytes: the rest was not read"
        self.style_left -= len(css)
        return css


def _dom_path(path: list[str]) -> str:
    parts = []
    for seg in reversed(path):
        parts.append(seg)
        if "#" in seg:  # an element with an id: the path starts there
            break
        if len(parts) >= MAX_PATH_PARTS:
            parts.append("...")
            break
    return " > ".join(reversed(parts))


def _visit(node: LexborNode, tag: str, attrs: dict, parent_tag: str, path: list[str], out: _Collector) -> None:
    if tag == "img":
        alt = attrs.get("alt") or ""
        out.add(attrs.get("src") or attrs.get("data-src"), "img", path, attrs, alt)
        out.srcset(attrs.get("srcset") or attrs.get("data-srcset"), "srcset", path, attrs, alt)
    elif tag == "source" and parent_tag == "picture":
        out.srcset(attrs.get("srcset"), "picture", path, attrs)
    elif tag == "input" and (attrs.get("type") or "").lower() == "image":
        out.add(attrs.get("src"), "input", path, attrs)
    elif tag == "video":
        out.add(attrs.get("poster"), "poster", path, attrs)
    elif tag == "style":
        for selector, body in css_rules(out.style(node.text() or "")):
            for u in out.css(body):
                out.add(u, "css", path, attrs, alt=f"css: {selector[:80]}")
    if tag != "style" and attrs.get("style"):
        for u in out.css(out.style(attrs["style"] or "")):
            out.add(u, "css", path, attrs)


def _walk(html_node: LexborNode, out: _Collector) -> None:
    """Every element under <html> once, in document order, without recursion: a stack of the
    path so far and of per-parent tag counts gives each element its `tag:nth-of-type(i)` in O(1)
    (computing it per element by walking siblings was quadratic: 8,000 <img>s took 22 s)."""
    path: list[str] = []
    tags: list[str] = []
    counts: list[dict[str, int]] = [{}]
    node = html_node.child
    while node is not None and not out.full:
        if node.is_element_node:
            tag = node.tag or "?"
            attrs = node.attributes or {}
            idx = counts[-1][tag] = counts[-1].get(tag, 0) + 1
            ident = attrs.get("id")
            path.append(f"{tag}#{ident}" if ident else f"{tag}:nth-of-type({idx})")
            _visit(node, tag, attrs, tags[-1] if tags else "html", path, out)
            child = node.child
            if child is not None:
                tags.append(tag)
                counts.append({})
                node = child
                continue
            path.pop()
        while node is not None and node.next is None:  # climb back to the next unvisited sibling
            if not tags:
                return
            node = node.parent
            path.pop()
            tags.pop()
            counts.pop()
        if node is not None:
            node = node.next


def parse_page(html: str, base_url: str | None = None, limits: PageLimits | None = None) -> PageInfo:
    limits = limits or PageLimits()
    html, too_deep = cut_deep_nesting(html, limits.max_depth)
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
    out = _Collector(limits)
    if tree.root is not None:
        _walk(tree.root, out)
    notes = list(out.notes.values())
    if too_deep:
        notes.append(f"markup nested more than {limits.max_depth:,} levels deep: the rest of the page was not read")
    return PageInfo(url, title, out.refs, notes)


def truncation_item(page: PageInfo, kind: str, page_source: str) -> SuspectItem | None:
    """A page a limit cut short is a partial result: one failed item says what was left out."""
    if not page.truncated:
        return None
    return SuspectItem(kind=kind, source=page_source, page_url=page.url or page_source,
                       error="page only partly read: " + "; ".join(page.truncated),
                       location={"page": page_source, "page_title": page.title, "page_truncated": page.truncated})


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
    loc = {"page": page_source, "page_title": page.title, "dom_path": ref.dom_path, "order": ref.order,
           "how": ref.how, "alt": ref.alt, "declared_size": ref.declared_size, "ref": _abbrev(ref.url)}
    if page.truncated:
        loc["page_truncated"] = page.truncated
    return loc


def _abbrev(url: str) -> str:
    return url if not url.startswith("data:") else url[:40] + f"...({len(url)} chars)"


def iter_saved_page(path: Path, *, max_bytes: int, limits: PageLimits | None = None) -> Iterator[SuspectItem]:
    """A page saved by a browser: images are resolved against the page's own folder."""
    try:
        raw = path.read_bytes()
        if len(raw) > max_bytes:
            raise ValueError(f"page too large: {len(raw):,} bytes")
        html = raw.decode("utf-8", errors="replace")
        page = parse_page(html, limits=limits)
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
    if (cut := truncation_item(page, "page", str(path))) is not None:
        yield cut
