"""Linear-time helpers for reading hostile markup: srcset lists, CSS `url(...)`, nesting depth.

Each one is hand-rolled on `str.find` / anchored regex matches rather than a single regex over the
whole text, because the obvious regexes (`url\\((.*?)\\)`, `([^{}]+)\\{...\\}`) rescan the rest of
the text from every start position: 160 KB of `url(` took minutes. Here every character is looked
at a bounded number of times.
"""

from __future__ import annotations

import re

_URL_OPEN = re.compile(r"url\(", re.I)
_SPACE = re.compile(r"[ \t\r\n\f]*")
_SEPARATORS = re.compile(r"[\s,]*")
_TOKEN = re.compile(r"\S+")
# A tag opening or closing, or something that hides tags from the parser (comments, raw text).
_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]*)|<!--")
_RAW_TEXT_END = {"script": re.compile(r"</script", re.I), "style": re.compile(r"</style", re.I),
                 "textarea": re.compile(r"</textarea", re.I), "title": re.compile(r"</title", re.I)}
# Elements that never nest (void) or whose end tag is implied by the next sibling: not depth.
_FLAT = frozenset("area base br col embed hr img input link meta param source track wbr "
                  "p li dt dd option optgroup tr td th thead tbody tfoot colgroup caption rb rt rp".split())


def srcset_urls(srcset: str, limit: int) -> tuple[list[str], bool]:
    """The URLs of a srcset (HTML's parsing rules: a URL runs to whitespace, so `data:` URIs with
    commas survive), at most `limit` of them; the flag says entries were left out."""
    out: list[str] = []
    pos, n = 0, len(srcset)
    while True:
        pos = _SEPARATORS.match(srcset, pos).end()  # type: ignore[union-attr]
        if pos >= n:
            return out, False
        if len(out) >= limit:
            return out, True
        token = _TOKEN.match(srcset, pos)
        assert token is not None
        url, pos = token.group(), token.end()
        if url.endswith(","):
            url = url.rstrip(",")
        else:  # descriptors ("480w", "2x") up to the next comma
            comma = srcset.find(",", pos)
            pos = n if comma < 0 else comma + 1
        if url:
            out.append(url)


def css_urls(css: str) -> tuple[list[str], bool]:
    """Every `url(...)` in a piece of CSS, quoted or not, in order; the flag says an unclosed
    `url(` ended the scan (nothing after it can be closed either)."""
    out: list[str] = []
    pos = 0
    while (m := _URL_OPEN.search(css, pos)) is not None:
        start = _SPACE.match(css, m.end()).end()  # type: ignore[union-attr]
        if start < len(css) and css[start] in "\"'":
            end_quote = css.find(css[start], start + 1)
            if end_quote < 0:
                return out, True
            url = css[start + 1:end_quote]
            close = css.find(")", end_quote + 1)
        else:
            close = css.find(")", start)
            url = css[start:close].strip() if close >= 0 else ""
        if close < 0:
            return out, True
        if url:
            out.append(url)
        pos = close + 1
    return out, False


def css_rules(css: str) -> list[tuple[str, str]]:
    """(selector, declarations) for each `selector { declarations }` in a style sheet, nested
    at-rules flattened (`@media x { .a { ... } }` gives `.a`). One pass over the text."""
    rules = []
    for chunk in css.split("}"):
        head, brace, body = chunk.rpartition("{")
        if brace:
            rules.append((head.rpartition("{")[2].rpartition(";")[2].strip(), body))
    return rules


def cut_deep_nesting(html: str, max_depth: int) -> tuple[str, bool]:
    """The markup up to where it nests deeper than `max_depth` elements.

    Lexbor itself takes quadratic time on deeply nested block elements (100,000 nested `<div>`s:
    15 s), so the text is bounded *before* parsing. The depth is estimated from the tags (void and
    optional-end-tag elements do not count; comments and raw text are skipped), which can only
    over-estimate real depth; browsers stop nesting at 512 levels, so a generous cap cuts no real page.
    """
    depth, pos = 0, 0
    while (m := _TAG.search(html, pos)) is not None:
        pos = m.end()
        if m.group(0) == "<!--":
            end = html.find("-->", pos)
            if end < 0:
                break
            pos = end + 3
            continue
        name = m.group(2).lower()
        if m.group(1):
            depth = max(0, depth - 1) if name not in _FLAT else depth
            continue
        if name in _RAW_TEXT_END:
            end_tag = _RAW_TEXT_END[name].search(html, pos)
            if end_tag is None:
                break
            pos = end_tag.end()
            continue
        if name in _FLAT:
            continue
        close = html.find(">", pos, pos + 1024)  # bounded look-ahead: no rescanning to the end
        if close > 0 and html[close - 1] == "/":  # <svg/>: self-closed
            continue
        depth += 1
        if depth > max_depth:
            return html[:m.start()], True
    return html, False
