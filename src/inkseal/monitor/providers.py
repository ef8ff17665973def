"""Discovery providers: where a monitor's candidate pages come from.

A provider is given a monitor and a `Discovery` context (the polite HTTP client, the network policy,
a place for one-line notes) and yields `Candidate`s: page URLs, each with the page it was found on.
The run then fetches each candidate conditionally and hands the new or changed ones to the ordinary
`scan` pipeline, so whatever finds a page, matches, cases and captures are made the one same way.

The crawler (`inkseal.monitor.crawl.CrawlProvider`: robots.txt, sitemaps, feeds, listing pages) is the
first provider. A reverse-image-search service would plug in as another:

    class TinEyeProvider:                       # hypothetical: not shipped, nothing here fakes one
        name = "tineye"
        kinds = ("works",)                      # a new monitor kind: "find my works anywhere"
        def discover(self, monitor, ctx):
            for work in the registry's works:   # its API key from monitor settings, its rate limit in ctx
                for hit in service.search(image bytes):    # the service's own client, HTTPS only
                    yield Candidate(hit.backlink_page_url, found_on=hit.service_url)

    register_provider(TinEyeProvider())

Its candidates pass the same gates as the crawler's: the network policy (`ctx.check`, so a result
pointing to a private address is refused), robots.txt of the page's host, the per-host rate limit, the
conditional fetch (an unchanged page is not scanned twice), and `max_pages`. A provider never matches
pictures itself: the scan does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

from inkseal.monitor.polite import Fetched, PoliteClient
from inkseal.registry.monitors import Monitor


@dataclass(frozen=True)
class Candidate:
    url: str
    found_on: str | None  # None: named by the user (the monitor's own URL)


@dataclass
class Discovery:
    client: PoliteClient
    max_pages: int
    notes: list[str] = field(default_factory=list)  # what went wrong, one line each
    info: list[str] = field(default_factory=list)  # what was left out on purpose (robots, caps)
    progress: Callable[[str], None] = lambda step: None
    # Fetches a discovery document (listing page, feed, sitemap): conditionally, from the kept copy when
    # unchanged (doccache.DocumentCache.get); None: plainly with the client.
    fetch_doc: Callable[..., Fetched] | None = None

    def get_doc(self, url: str, found_on: str | None, max_bytes: int | None = None) -> Fetched:
        if self.fetch_doc is not None:
            return self.fetch_doc(url, found_on, max_bytes)
        return self.client.get(url, found_on, max_bytes=max_bytes)

    def note(self, line: str) -> None:
        self.notes.append(line)

    def inform(self, line: str) -> None:
        self.info.append(line)


class DiscoveryProvider(Protocol):
    name: str
    kinds: tuple[str, ...]  # the monitor kinds it serves

    def discover(self, monitor: Monitor, ctx: Discovery) -> Iterator[Candidate]: ...


PROVIDERS: dict[str, DiscoveryProvider] = {}


def register_provider(provider: DiscoveryProvider) -> None:
    PROVIDERS[provider.name] = provider


def providers_for(kind: str) -> list[DiscoveryProvider]:
    if not PROVIDERS:
        from inkseal.monitor.crawl import CrawlProvider  # the built-in one, registered on first use

        register_provider(CrawlProvider())
    return [p for p in PROVIDERS.values() if kind in p.kinds]
