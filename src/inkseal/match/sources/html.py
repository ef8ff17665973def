"""Images referenced by an HTML page: <img src/srcset>, <picture><source srcset>, CSS
backgrounds (inline style and <style> blocks), <input type=image>, <video poster>, inline `data:`
URIs, and the places pages hide pictures from a plain reader: lazy-loading attributes (`data-src`,
`data-original`, `data-srcset`, ... see `pictures.LAZY_ATTRS`; a placeholder `src` beside them is
not reported), `<noscript>` fallbacks, `og:image` / `twitter:image` metadata, `<link rel=image_src>`,
links straight to a picture file, and JSON state in `<script>` tags (`scripts`). Each comes with
the page's URL and title, where on the page it sits (DOM path, document order, alt text, declared
size) and `how` it was found (the attribute or JSON path). Parsing is selectolax (lexbor), which
tolerates broken HTML the way browsers do.

Work per page is bounded and linear in its size: one iterative walk of the tree (no per-node
sibling or ancestor scans), srcset/CSS read by `markup`'s linear scanners, and caps (`PageLimits`)
on pictures, srcset entries, style text, script size and nesting depth. A cap that cuts a page is
noted on every item and reported as one failed item ("page only partly read: ..."), so the scan
does not exit 0.
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
from inkseal.match.sources.pictures import (AMBIGUOUS_ATTRS, LAZY_ATTRS, LAZY_SRCSET_ATTRS, META_PICTURES,
                                            is_placeholder, picture_value, refused_scheme)
from inkseal.match.sources.scripts import ScriptNotes, script_pictures

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
    # One <script>'s text read for JSON state; article states run to a few hundred KB.
    max_script_bytes: int = 4_000_000

    @classmethod
    def from_settings(cls, settings: Settings) -> PageLimits:
        return cls(settings.max_page_images, settings.max_srcset_entries, settings.max_style_bytes)


@dataclass
class ImageRef:
    url: str  # as written in the page
    # img | srcset | picture | css | input | poster, or where it hid: "img[data-src]",
    # "noscript img", "meta[og:image]", "link[rel=image_src]", "script: window.__INITIAL_STATE__ note...."
    how: str
    dom_path: str
    order: int
    alt: str = ""
    declared_size: str = ""
    # A real `src` of an <img> whose lazy attribute names an absolute URL: the same picture as
    # loaded, and where it came from (a saved page's local copy keeps that URL).
    lazy_original: str = ""


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
        self.noscript = 0  # how many <noscript> elements the walk is inside
        self.scripts = ScriptNotes()
        # Metadata and script state name pictures the article usually shows too: they are added after the
        # walk, so a picture is reported at its place in the article, not at the <meta> in the head.
        self.deferred: list[tuple[str, str, list[str], dict]] = []

    def later(self, url: str | None, how: str, path: list[str], attrs: dict) -> None:
        if not url:
            return
        if len(self.deferred) >= self.limits.max_images:
            self.notes["images"] = f"only the first {self.limits.max_images:,} pictures on the page were read"
            return
        self.deferred.append((url, how, list(path), attrs))

    def add_deferred(self) -> None:
        self.noscript = 0
        for url, how, path, attrs in self.deferred:
            if self.full:
                return
            self.add(url, how, path, attrs)

    def add(self, url: str | None, how: str, path: list[str], attrs: dict, alt: str = "",
            lazy_original: str = "") -> None:
        url = (url or "").strip()
        if not url or url.startswith(("about:", "#")) or url in self.seen:
            return  # the same URL used several times is scanned once, at its first position
        if len(self.refs) >= self.limits.max_images:
            self.full = True
            self.notes["images"] = f"only the first {self.limits.max_images:,} pictures on the page were read"
            return
        self.seen.add(url)
        size = "x".join(v for v in (attrs.get("width"), attrs.get("height")) if v)
        if self.noscript:
            how = "noscript " + how
        self.refs.append(ImageRef(url, how, _dom_path(path), len(self.refs), alt, size or "", lazy_original))

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
        _img(attrs, path, out)
    elif tag == "source" and parent_tag == "picture":
        out.srcset(attrs.get("srcset"), "picture", path, attrs)
        for name in LAZY_SRCSET_ATTRS:
            out.srcset(attrs.get(name), f"picture[{name}]", path, attrs)
    elif tag == "input" and (attrs.get("type") or "").lower() == "image":
        out.add(attrs.get("src"), "input", path, attrs)
    elif tag == "video":
        out.add(attrs.get("poster"), "poster", path, attrs)
    elif tag == "meta":
        name = (attrs.get("property") or attrs.get("name") or attrs.get("itemprop") or "").strip().lower()
        if name in META_PICTURES:
            out.later(attrs.get("content"), f"meta[{name}]", path, attrs)
    elif tag == "link":
        if "image_src" in (attrs.get("rel") or "").lower().split():
            out.later(attrs.get("href"), "link[rel=image_src]", path, attrs)
    elif tag == "a" or tag == "image":  # a link straight to the full-size picture; SVG <image>
        for name in ("href", "xlink:href"):
            if (value := attrs.get(name)) and picture_value(value, name):
                out.add(value, f"{tag}[{name}]", path, attrs)
    elif tag == "script" and not attrs.get("src"):
        for url, how in script_pictures(node.text() or "", attrs.get("type") or "", attrs.get("id") or "",
                                        out.limits.max_script_bytes, out.scripts):
            out.later(url, how, path, attrs)
    elif tag == "style":
        for selector, body in css_rules(out.style(node.text() or "")):
            for u in out.css(body):
                out.add(u, "css", path, attrs, alt=f"css: {selector[:80]}")
    if tag != "img":  # lazy backgrounds and pictures on other elements: only values that look like pictures
        for name in LAZY_ATTRS:
            if (value := attrs.get(name)) and picture_value(value, name):
                out.add(value, f"{tag}[{name}]", path, attrs)
    if tag != "style" and attrs.get("style"):
        for u in out.css(out.style(attrs["style"] or "")):
            out.add(u, "css", path, attrs)


def _img(attrs: dict, path: list[str], out: _Collector) -> None:
    """An <img>: its lazy attributes are the real picture; `src` counts too unless it is a placeholder."""
    alt = attrs.get("alt") or ""
    lazy = [(name, attrs[name].strip()) for name in LAZY_ATTRS if (attrs.get(name) or "").strip()
            and (name not in AMBIGUOUS_ATTRS or picture_value(attrs[name], name) or refused_scheme(attrs[name]))]
    lazy_sets = [(name, attrs[name]) for name in LAZY_SRCSET_ATTRS if (attrs.get(name) or "").strip()]
    src = (attrs.get("src") or "").strip()
    if not (lazy or lazy_sets) or not is_placeholder(src):
        absolute = next((v for _n, v in lazy if v.startswith(("http://", "https://", "//")) and v != src), "")
        out.add(src, "img", path, attrs, alt, lazy_original=absolute)
    for name, value in lazy:
        out.add(value, f"img[{name}]", path, attrs, alt)
    out.srcset(attrs.get("srcset"), "srcset", path, attrs, alt)
    for name, value in lazy_sets:
        out.srcset(value, f"srcset[{name}]", path, attrs, alt)


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
                out.noscript += tag == "noscript"
                node = child
                continue
            path.pop()
        while node is not None and node.next is None:  # climb back to the next unvisited sibling
            if not tags:
                return
            node = node.parent
            path.pop()
            out.noscript -= tags.pop() == "noscript"
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
        out.add_deferred()
    notes = list(out.notes.values()) + list(out.scripts.lines.values())
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
    """A page saved by a browser (`page.html` + `page_files/`): each picture is read from the page's
    own folder. It is named by the URL it was saved from when the page says so - an absolute URL in
    the markup, a lazy attribute beside a local `src` holding the original, or a relative `src` that
    is not a local copy, resolved against the page's URL (`saved from url=`, canonical, og:url,
    <base>) - and otherwise by its local file, relative to the page; never by a URL made up from the
    local folder's name."""
    try:
        raw = path.read_bytes()
        if len(raw) > max_bytes:
            raise ValueError(f"page too large: {len(raw):,} bytes")
        html = raw.decode("utf-8", errors="replace")
        page = parse_page(html, limits=limits)
    except (OSError, ValueError) as exc:
        yield SuspectItem(kind="page", source=str(path), error=f"cannot read page: {exc}")
        return
    named_by_lazy: set[str] = set()  # lazy URLs already given to their <img>'s local copy
    for ref in page.images:
        if ref.url in named_by_lazy:
            continue
        loc = _location(page, ref, str(path))
        item = SuspectItem(kind="page", source=_abbrev(ref.url), page_url=page.url or str(path), location=loc,
                           attachments={"page_html": raw})
        try:
            if ref.url.startswith("data:"):
                item.data = decode_data_uri(ref.url)
            elif (scheme := refused_scheme(ref.url)) is not None:
                raise ValueError(f"not fetched: a {scheme} URL in {ref.how}")
            else:
                _read_saved_picture(path, page.url, ref, item, max_bytes)
                if ref.lazy_original and "local_file" in loc:
                    named_by_lazy.add(ref.lazy_original)
        except (OSError, ValueError) as exc:
            item.error = str(exc)
        yield item
    if (cut := truncation_item(page, "page", str(path))) is not None:
        yield cut


def _read_saved_picture(path: Path, page_url: str | None, ref: ImageRef, item: SuspectItem, max_bytes: int) -> None:
    """Names `item` (see iter_saved_page) and reads its bytes from the page's folder."""
    root = path.parent.resolve()
    files_dir = path.parent / (path.stem + "_files")
    loc = item.location
    parsed = urlparse(ref.url)
    remote = parsed.scheme in ("http", "https") or ref.url.startswith("//")
    if remote or parsed.path.startswith("/"):  # a root-relative src is the original site's, not a local file
        if not parsed.path:
            raise ValueError("remote image with no path")
        item.source = urljoin(page_url or "https:", ref.url) if remote or page_url else ref.url
        cand = files_dir / Path(unquote(parsed.path)).name  # a browser saves remote pictures under <page>_files/
        local = cand.resolve() if cand.is_file() else None
    else:
        local = (path.parent / unquote(parsed.path)).resolve()
        if not local.is_relative_to(root):
            raise ValueError("image outside the page's folder: not read")
        if local.is_file():
            item.source = local.relative_to(root).as_posix()
            if ref.lazy_original:  # the lazy attribute kept the URL this local copy was saved from
                item.source = urljoin(page_url or "https:", ref.lazy_original)
                loc["saved_from_attribute"] = True
        else:
            into_files = Path(unquote(parsed.path)).parts[:1] == (files_dir.name,)
            item.source = urljoin(page_url, ref.url) if page_url and not into_files else unquote(parsed.path)
            local = None
    if item.source.startswith(("http://", "https://")):
        loc["image_url"] = item.source
    if local is None:
        raise ValueError(f"image file not saved with the page: {unquote(parsed.path)}")
    size = local.stat().st_size
    if size > max_bytes:
        raise ValueError(f"file too large: {size:,} bytes")
    item.data = local.read_bytes()
    loc["local_file"] = str(local)
