"""What "the same place" means for a case: one rule, used by the registry and by migration 0004.

A sighting (a suspect that matched a work) is at the same place as an earlier sighting of that work when
- it is the same image URL (the path, for local files) on the same page - or one of the two has no page:
  an image reached directly and the same image reached through its page are one use; or
- it is the same bytes on the same site (host of the page, else of the image; all local files are one site).
The same bytes on two different sites are two uses (two places), and count twice in the scale of use.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit


def host_of(url: str | None) -> str:
    if not url:
        return ""
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:  # a malformed URL still is a place: compare it whole
        return url.lower()[:300]


@dataclass(frozen=True)
class Sighting:
    sha256: str
    source_kind: str  # file | page | warc | url
    source: str  # the image's URL, or its path for a local file
    page_url: str | None

    @property
    def host(self) -> str:
        if self.source_kind == "file" and not self.page_url:
            return ""
        return host_of(self.page_url) or host_of(self.source)


def same_place(new: Sighting, old: Sighting) -> bool:
    if new.source == old.source and (new.page_url is None or old.page_url is None or new.page_url == old.page_url):
        return True
    return new.sha256 == old.sha256 and new.host == old.host
