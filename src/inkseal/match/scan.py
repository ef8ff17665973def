"""A scan: sources -> suspect items -> safe decode -> matcher -> allowances -> stored matches.

Every item is handled on its own: a failure is one line in the report and the batch goes on.
Matches are committed per suspect, so an interrupted scan keeps everything found so far.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field

from inkseal.errors import BadImage
from inkseal.imaging import load_image
from inkseal.match.matcher import Matcher, Verdict
from inkseal.match.sources import SuspectItem, iter_source, source_kind
from inkseal.match.sources.browser import PageBrowser
from inkseal.match.sources.urls import Fetcher
from inkseal.registry.models import Match, Suspect
from inkseal.registry.store import Registry


@dataclass
class ItemResult:
    item: SuspectItem
    error: str | None = None
    matches: list[Match] = field(default_factory=list)
    verdicts: list[Verdict] = field(default_factory=list)
    suppressed: int = 0  # matches hidden by an allowance (authorised use)
    works_seen: set[int] = field(default_factory=set)  # matched or allowed: what a page screenshot need not repeat
    notes: list[str] = field(default_factory=list)


@dataclass
class ScanReport:
    scan_id: int
    results: list[ItemResult] = field(default_factory=list)

    @property
    def failed(self) -> list[ItemResult]:
        return [r for r in self.results if r.error]

    @property
    def matched(self) -> list[ItemResult]:
        return [r for r in self.results if r.matches]

    @property
    def suppressed(self) -> int:
        return sum(r.suppressed for r in self.results)


def run_scan(registry: Registry, matcher: Matcher, sources: Iterable[str], *, max_bytes: int, max_pixels: int,
             http_timeout_s: float = 20.0, on_item: Callable[[ItemResult], None] | None = None,
             browser: bool = False, chromium: str | None = None, fetcher: Fetcher | None = None) -> ScanReport:
    """`browser`: open URLs in headless Chromium (screenshot + rendered page kept as evidence).
    `fetcher`: the one HTTP client of the scan (network policy, deadline, page limits from the settings);
    the browser's requests go through it too. Raises BrowserUnavailable before anything is recorded when
    no Chromium can be started."""
    sources = list(sources)
    fetcher = fetcher or Fetcher(max_bytes=max_bytes, timeout_s=http_timeout_s)
    page_browser = None
    if browser and any(source_kind(s) in ("url", "urls") for s in sources):
        try:
            page_browser = PageBrowser(chromium=chromium, timeout_s=http_timeout_s, max_bytes=max_bytes,
                                       fetcher=fetcher)
        except BaseException:
            fetcher.close()
            raise
    report = ScanReport(registry.start_scan(sources))
    cache: dict[str, list[Verdict]] = {}  # the same bytes seen twice (srcset, reposts) are matched once
    found_on_page: dict[str, set[int]] = {}  # page URL -> works already matched there in this scan
    try:
        for source in sources:
            for item in iter_source(source, max_bytes=max_bytes, fetcher=fetcher, browser=page_browser):
                skip = found_on_page.get(item.page_url or "", set()) if _whole_page(item) else set()
                result = _scan_item(registry, matcher, item, report.scan_id, max_pixels, cache, skip)
                if item.page_url:
                    found_on_page.setdefault(item.page_url, set()).update(result.works_seen)
                report.results.append(result)
                if on_item:
                    on_item(result)
    finally:
        fetcher.close()
        if page_browser is not None:
            page_browser.close()
        registry.finish_scan(report.scan_id, len(report.results), len(report.failed), len(report.matched))
    return report


def _whole_page(item: SuspectItem) -> bool:
    return item.location.get("shown_via") == "page-screenshot"


def _scan_item(registry: Registry, matcher: Matcher, item: SuspectItem, scan_id: int, max_pixels: int,
               cache: dict[str, list[Verdict]], skip_works: Collection[int] = ()) -> ItemResult:
    """`skip_works`: works already found on the page a whole-page screenshot shows (not counted twice)."""
    result = ItemResult(item)
    if item.error or item.data is None:
        result.error = item.error or "no data"
        return result
    try:
        image = load_image(item.data, max_pixels=max_pixels, name=item.source)
    except BadImage as exc:
        result.error = str(exc)
        return result
    result.notes = image.notes
    verdicts = cache.get(image.sha256)
    if verdicts is None:
        verdicts = cache[image.sha256] = matcher.match(image)
    kept = []
    for v in verdicts:
        if v.work_id in skip_works:
            continue
        result.works_seen.add(v.work_id)
        if registry.is_allowed(v.work_id, image.sha256, [item.page_url, item.source]):
            result.suppressed += 1
        else:
            kept.append(v)
    result.verdicts = kept
    if kept:
        # Keep the exact bytes seen: the figure and, later, the evidence pack are built from them.
        registry.objects.put(item.data)
        kept_attachments = {name: registry.objects.put(blob) for name, blob in item.attachment_bytes().items()}
        suspect = Suspect(scan_id=scan_id, sha256=image.sha256, source_kind=item.kind, source=item.source,
                          page_url=item.page_url,
                          location=item.location | {"notes": image.notes, "attachments": kept_attachments},
                          captured_at=item.captured_at, width=image.width, height=image.height)
        rows = [Match(work_id=v.work_id, file_id=v.file_id, score=v.score, scores=v.scores(),
                      localisation=v.localisation.as_dict() if v.localisation else {}) for v in kept]
        recorded = registry.record_matches(suspect, rows)
        # A sighting of a case already decided as ignored or whitelisted is kept (history) but not reported
        # again; only whitelisted ones count as authorised use (ignoring a case is not a licence).
        result.matches = [m for m in recorded if m.status not in ("ignored", "whitelisted")]
        result.suppressed += sum(m.status == "whitelisted" for m in recorded)
    return result
