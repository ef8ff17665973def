"""Scale of use: distinct places where THIS work is used on the same site, from the stored matches.

A place is a case: the same suspect bytes, or the same image URL on the same page, of one work is one
case however often it was scanned (re-scans, concurrent scans, an image reached directly and through
its page). Where the registry already gives each match a `case_id`, that is the key; otherwise the
same rule is applied here over the stored matches (union of the two keys). Cases marked `ignored` or
`whitelisted` (on any of their rows) are decided and never counted.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlparse

DECIDED = {"ignored", "whitelisted"}
# Second-level labels under which registrable names sit one level deeper (example.com.cn, example.co.uk).
# Hand-rolled instead of the full Public Suffix List: no maintained PSL package is installed here, and
# for counting places on "the same site" a wrong split only merges or splits sites of one owner.
_SECOND_LEVEL = {"com", "net", "org", "gov", "edu", "ac", "co", "or", "ne", "go", "mil"}


def host(url: str | None) -> str | None:
    if not url or "://" not in url:
        return None
    h = urlparse(url).hostname
    return h.lower().rstrip(".") if h else None


def site(url: str | None) -> str | None:
    """The registrable part of a URL's host: img.example.com.cn -> example.com.cn; an IP stays itself."""
    h = host(url)
    if h is None:
        return None
    try:
        ipaddress.ip_address(h)
        return h
    except ValueError:
        pass
    labels = h.split(".")
    if len(labels) >= 3 and len(labels[-1]) == 2 and labels[-2] in _SECOND_LEVEL:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


def _keys(m: Any) -> list[tuple]:
    case_id = getattr(m, "case_id", None)
    if case_id is not None:
        return [("case", case_id)]
    s = m.suspect
    keys: list[tuple] = [("bytes", m.work_id, s.sha256)]
    if s.source and "://" in s.source:
        keys.append(("place", m.work_id, s.source, s.page_url or ""))
    return keys


def group_cases(matches: Iterable[Any]) -> list[list[Any]]:
    """Matches grouped into cases (union-find over the case keys), in the order first seen."""
    parent: dict[tuple, tuple] = {}

    def find(k: tuple) -> tuple:
        while parent.setdefault(k, k) != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    rows = list(matches)
    for m in rows:
        ks = _keys(m)
        for k in ks[1:]:
            parent[find(k)] = find(ks[0])
    groups: dict[tuple, list[Any]] = {}
    for m in rows:
        groups.setdefault(find(_keys(m)[0]), []).append(m)
    return list(groups.values())


def places_on_site(matches: Iterable[Any], this: Any) -> dict:
    """The cases of this match's work on this match's site: {"site", "places": [...], "excluded": {...}}.
    `places` lists each case once (this one first), with the match ids merged into it."""
    rows = [m for m in matches if m.work_id == this.work_id]
    if all(m.id != this.id for m in rows):
        rows.append(this)
    where = site(this.suspect.page_url) or site(this.suspect.source)
    places, excluded = [], {"decided": 0, "duplicates": 0, "other_sites": 0}
    for case in group_cases(rows):
        mine = any(m.id == this.id for m in case)
        if not mine and any(m.status in DECIDED for m in case):
            excluded["decided"] += 1
            continue
        first = min(case, key=lambda m: m.id)
        s = first.suspect
        if not mine and (where is None or where not in (site(s.page_url), site(s.source))):
            excluded["other_sites"] += 1
            continue
        excluded["duplicates"] += len(case) - 1
        place = {"match_ids": sorted(m.id for m in case), "page_url": s.page_url,
                 "image_url": s.source if "://" in (s.source or "") else None, "this": mine}
        places.insert(0, place) if mine else places.append(place)
    return {"site": where, "places": places if where else places[:1], "excluded": excluded}
