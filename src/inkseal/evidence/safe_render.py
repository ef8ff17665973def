"""Reports are documents, not programs: render HTML from templates that escape everything, check the result
holds no live markup, and let WeasyPrint read nothing but the report's own folder.

Page-derived strings (URL, title, alt text, file names) come from an infringer's page: they may carry
`<script>`, `<link rel=attachment href=file:///etc/passwd>` (WeasyPrint embeds link targets as PDF
attachments) or `url(http://127.0.0.1/...)` (fetched while rendering). Three layers keep them inert:

1. Jinja2 autoescape is on for every HTML template (`html_env`), so data can only ever be text.
2. `check_html` parses the rendered page (selectolax) and refuses any element, attribute or URL the
   templates themselves never produce - a template bug cannot slip live markup through either.
3. `FolderFetcher` is WeasyPrint's only way out: it serves files inside the given folder (resolved path
   must stay inside, symlinks resolved) and PNG/JPEG `data:` images; everything else - http(s), `file:`
   outside the folder, other schemes - is refused without any request being made.
"""

from __future__ import annotations

import base64
import mimetypes
import re
from pathlib import Path
from urllib.parse import unquote, urlparse

from jinja2 import Environment, FileSystemLoader
from weasyprint.urls import URLFetcher, URLFetcherResponse

from inkseal.errors import InksealError

# What our own templates produce; anything else in a rendered report came from data and is refused.
ALLOWED_TAGS = {"html", "head", "meta", "title", "style", "body", "h1", "h2", "h3", "p", "br", "b", "i", "code",
                "span", "div", "table", "tr", "th", "td", "ul", "ol", "li", "img", "-text", "-comment", "thead",
                "tbody", "small", "strong", "em", "hr", "section", "figure", "figcaption", "a", "pre"}
ALLOWED_ATTRS = {"lang", "charset", "id", "class", "src", "alt", "style", "colspan", "rowspan", "title"}
SAFE_STYLE = re.compile(r"^[\w\s:;.%#,-]*$")  # inline styles: sizes and colours only, never url(
DATA_IMAGE = re.compile(r"^data:image/(png|jpeg);base64,[A-Za-z0-9+/=]*$")
DATA_HEADER = re.compile(r"data:image/(png|jpeg);base64,")


class UnsafeReport(InksealError, ValueError):
    """A rendered report holds markup its template does not make: refused instead of written."""


def html_env(folder: Path, **options: object) -> Environment:
    """A Jinja2 environment with autoescape on for every template, whatever its file name."""
    return Environment(loader=FileSystemLoader(folder), autoescape=True, **options)  # type: ignore[arg-type]


def _inside(path: str, root: Path) -> bool:
    """A relative reference that stays inside `root` once resolved (no absolute path, no `..`, no scheme)."""
    if not path or "://" in path or path.startswith(("/", "\\")) or ":" in path.split("/", 1)[0]:
        return False
    try:
        return (root / unquote(path)).resolve().is_relative_to(root.resolve())
    except (OSError, ValueError):
        return False


def check_html(html: str, root: Path, *, allow_data_images: bool = False) -> None:
    """Raise UnsafeReport unless every element and attribute is one our templates make and every
    src points inside `root` (or is an inline PNG/JPEG image where allowed)."""
    from selectolax.lexbor import LexborHTMLParser

    tree = LexborHTMLParser(html)
    for node in tree.root.traverse(include_text=False) if tree.root else []:
        tag = node.tag or ""
        if tag not in ALLOWED_TAGS:
            raise UnsafeReport(f"unexpected <{tag}> element in the report")
        for name, value in (node.attributes or {}).items():
            if name not in ALLOWED_ATTRS:
                raise UnsafeReport(f"unexpected attribute {name!r} on <{tag}>")
            value = value or ""
            if name == "style" and not SAFE_STYLE.match(value):
                raise UnsafeReport(f"unexpected style {value[:60]!r} on <{tag}>")
            if name == "src" and not (_inside(value, root) or (allow_data_images and DATA_IMAGE.match(value))):
                raise UnsafeReport(f"image source outside the report folder: {value[:80]!r}")
        if tag == "style" and re.search(r"url\s*\(|@import", node.text(deep=True) or "", re.I):
            raise UnsafeReport("style sheet loads a resource")


class FolderFetcher(URLFetcher):
    """WeasyPrint URL fetcher that serves only files inside `root` and inline PNG/JPEG images.
    Refused URLs raise ValueError: WeasyPrint then leaves the resource out (the report shows no picture
    there) - nothing outside the folder is ever read or requested."""

    def __init__(self, root: Path, *, allow_data_images: bool = True) -> None:
        super().__init__(allowed_protocols={"file", "data"}, allow_redirects=False, timeout=1)
        self.root = root.resolve()
        self.allow_data_images = allow_data_images
        self.refused: list[str] = []

    def fetch(self, url: str, headers: dict | None = None) -> URLFetcherResponse:
        if url.startswith("data:"):
            m = DATA_HEADER.match(url)
            if self.allow_data_images and m:
                body = base64.b64decode(url[m.end():], validate=True)
                return URLFetcherResponse(url, body, {"Content-Type": f"image/{m.group(1)}"})
        elif url.startswith("file:"):
            parsed = urlparse(url)
            if parsed.netloc in ("", "localhost"):
                path = Path(unquote(parsed.path)).resolve()
                if path.is_relative_to(self.root) and path.is_file():
                    kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
                    return URLFetcherResponse(url, path.read_bytes(), {"Content-Type": kind})
        self.refused.append(url[:200])
        raise ValueError(f"refused: {url[:80]} (reports read only their own folder)")


def write_pdf(html: str, root: Path, target: Path, *, allow_data_images: bool = False) -> list[str]:
    """Render `html` to `target` with `root` as the only readable place; returns the refused URLs."""
    from weasyprint import HTML

    fetcher = FolderFetcher(root, allow_data_images=allow_data_images)
    HTML(string=html, base_url=str(root.resolve()) + "/", url_fetcher=fetcher).write_pdf(target)
    return fetcher.refused
