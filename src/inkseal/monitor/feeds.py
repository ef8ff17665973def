"""RSS / Atom feeds: the entries' links, read with feedparser from bytes already capped.

feedparser is the maintained reader for every RSS/Atom dialect (and the broken ones that are real); it is
handed bytes we fetched within `feed_max_bytes` (it never fetches anything itself), its SAX parser does not
resolve external entities, and Python's expat refuses entity amplification ("billion laughs"). A body that
is not a feed at all (an HTML page, junk) gives one line.
"""

from __future__ import annotations

import feedparser
from feedparser.exceptions import CharacterEncodingOverride, NonXMLContentType

from inkseal.errors import one_line

# A feed served as text/html or with a wrong charset label is still a feed: not worth a line.
HARMLESS = (CharacterEncodingOverride, NonXMLContentType)


class FeedError(Exception):
    pass


def feed_links(body: bytes, url: str, max_entries: int) -> tuple[list[str], list[str]]:
    """(entry page URLs, notes)."""
    parsed = feedparser.parse(body, response_headers={"content-location": url})
    notes: list[str] = []
    exc = parsed.get("bozo_exception")
    reason = one_line(exc)[:160] if exc is not None else ""
    if not parsed.get("version") and not parsed.entries:
        raise FeedError(f"feed {url[:120]}: not a readable RSS/Atom feed{f' ({reason})' if reason else ''} / "
                        "不是可读的 RSS/Atom 订阅源")
    if parsed.bozo and exc is not None and not isinstance(exc, HARMLESS):
        notes.append(f"feed {url[:120]}: invalid XML ({reason}); what could be read was used / "
                     "订阅源 XML 格式有误，仅读取了可读部分")
    links = []
    for entry in parsed.entries[:max_entries]:
        link = entry.get("link")
        if link:
            links.append(link)
    if len(parsed.entries) > max_entries:
        notes.append(f"feed {url[:120]}: over {max_entries:,} entries, the rest not read / 订阅条目过多，其余未读取")
    return links, notes
