"""One monitor run: discover -> fetch (conditional) -> scan what changed -> re-check cases -> digest.

Each phase leaves its progress in the database (`monitor_runs.phase`, `monitor_pages.pending`), so a
run that was killed goes on where it stopped: discovery is repeated (it only re-queues), pages already
fetched are not fetched again, pages already scanned are not scanned again.

Pages are scanned by the application's own `scan` (the same pipeline as `inkseal scan URL`), in
batches of `scan_batch`; the frontier is saved after each batch. A changed page is requested once per
run: the fetch phase hands its responses to the scan in memory (up to HANDOVER_MAX_BYTES of bodies), and
only a page beyond that, or one left over by a killed run, is fetched again by the scan.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpcore

from inkseal.match.sources.fetch import FetchError, Fetcher
from inkseal.match.sources.netpolicy import Resolver
from inkseal.match.sources.warcwrite import Exchange
from inkseal.monitor.doccache import DocumentCache
from inkseal.monitor.notify import Sent, digest, notify
from inkseal.monitor.polite import Disallowed, HostGate, PoliteClient, bilingual, http_date_ok
from inkseal.monitor.providers import Discovery, providers_for
from inkseal.monitor.settings import MonitorSettings, load_monitor_settings
from inkseal.registry.models import utcnow
from inkseal.registry.monitors import Monitor, MonitorStore, PageState
from inkseal.registry.statuses import TRANSITIONS

if TYPE_CHECKING:
    from inkseal.app import Inkseal
    from inkseal.match.scan import ItemResult

FETCH_BATCH = 200
# step, done, total: what the CLI's progress bar shows
ProgressFn = Callable[[str, int, int], None]


@dataclass
class RunReport:
    monitor_id: int
    run_id: int
    resumed: bool
    counts: dict[str, Any] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)  # one line per thing that went wrong (en / zh)
    info: list[str] = field(default_factory=list)  # left out on purpose: robots.txt, caps
    new_matches: list[dict] = field(default_factory=list)
    sent: list[Sent] = field(default_factory=list)

    @property
    def failed(self) -> int:
        return len(self.lines)

    def as_dict(self) -> dict[str, Any]:
        return {"monitor_id": self.monitor_id, "run_id": self.run_id, "resumed": self.resumed,
                "counts": self.counts, "problems": self.lines, "info": self.info, "new_matches": self.new_matches,
                "notifications": [s.__dict__ for s in self.sent]}


# bytes: every body the monitor received (discovery included); page_bytes: the fetch phase's pages only.
# The scan's own requests (pictures, and the changed pages it was not handed) are not counted here;
# pages_handed_over: changed pages the scan read from the fetch phase's responses instead of the site.
COUNTERS = ("discovered", "queued", "robots_disallowed", "fetched", "not_modified", "unchanged", "changed",
            "fetch_failed", "pages_scanned", "pictures", "pictures_failed", "pictures_too_small", "matches",
            "rechecked", "requests", "bytes", "page_bytes", "documents_not_modified", "pages_handed_over")
HANDOVER_MAX_BYTES = 256 * 2**20  # changed pages' bodies kept in memory for the scan; past this, it fetches them


class MonitorRunner:
    """`resolver` / `dial`: the network seams of match.sources.fetch (tests give a host a public address)."""

    def __init__(self, app: Inkseal, settings: MonitorSettings | None = None, *, resolver: Resolver | None = None,
                 dial: httpcore.NetworkBackend | None = None, progress: ProgressFn | None = None,
                 scan_lock: AbstractContextManager | None = None) -> None:
        """`scan_lock`: held around each scanned batch (the desk's WORK_LOCK: its scans and registrations
        touch the same in-process indexes)."""
        self.app = app
        self.scan_lock = scan_lock or nullcontext()
        self.settings = settings or load_monitor_settings(app.settings.home)
        self.store = MonitorStore(app.registry)
        allow = self.settings.allow_private_addresses
        self.allow_private = app.settings.allow_private_addresses if allow is None else bool(allow)
        self.resolver, self.dial = resolver, dial
        self.progress = progress or (lambda step, done, total: None)
        self.handover: dict[str, list[Exchange]] = {}  # page URL -> the fetch phase's exchanges, for the scan
        self.handover_bytes = 0  # the budget is spent by the fetch phase only (nothing is handed over later)

    def run(self, monitor_id: int) -> RunReport:
        monitor = self.store.get(monitor_id)
        run, resumed = self.store.open_run(monitor.id)
        counts = {k: 0 for k in COUNTERS} | {"scan_ids": []} | json.loads(run.counts or "{}")
        report = RunReport(monitor.id, run.id, resumed, counts)
        client = PoliteClient(self.settings, allow_private=self.allow_private, resolver=self.resolver, dial=self.dial)
        requests_before, bytes_before = counts["requests"], counts["bytes"]
        self.handover.clear()  # a resumed run's pages were fetched by the process that died: fetched again
        self.handover_bytes = 0
        try:
            if run.phase == "discover":
                self._discover(monitor, client, report)
                self.store.set_phase(run.id, "fetch", json.dumps(counts))
            if run.phase != "notify":
                self._fetch(monitor, client, report)
                self.store.set_phase(run.id, "scan", json.dumps(counts))
                self._scan(monitor, report, run.id, client.gate)
                if self.settings.recheck_cases and monitor.kind != "feed":
                    self._recheck(monitor, client, report)
                self.store.set_phase(run.id, "notify", json.dumps(counts))
            found = self.store.new_matches(run.after_match_id, counts["scan_ids"])
            d = digest(monitor.id, monitor.url, run.id, found)
            report.new_matches = d["matches"]
            counts["matches"] = len(found)
            report.sent = self._notify(run.id, d, report)
            report.lines += [s.detail for s in report.sent if not s.ok]
        finally:
            self.handover.clear()
            counts["requests"] = requests_before + client.requests
            counts["bytes"] = bytes_before + client.received
            report.lines = [bilingual(line) for line in report.lines]
            client.close()
        self.store.finish_run(run, json.dumps(counts), monitor.every_s)
        return report

    def _notify(self, run_id: int, d: dict[str, Any], report: RunReport) -> list[Sent]:
        """The digest to every notifier that has not had it yet. Each delivery is recorded as it happens
        (`counts["notified"]`), so a run killed while notifying sends, when resumed, only to those it had not
        reached: a notifier gets a run's digest at least once, and twice only if the kill falls between its
        delivery and that record (the digest carries the run id for such a receiver to drop)."""
        counts = report.counts
        delivered = set(counts.get("notified", []))
        pending = [n for n in self.store.notifiers() if n.id not in delivered]
        if delivered and d["matches"]:
            report.info.append(f"digest already delivered to {len(delivered)} notifier(s) before this run was "
                               f"interrupted: not sent to them again / 中断前已发送给 {len(delivered)} 个通知对象，"
                               f"不再重复发送")

        def sent(one: Sent) -> None:
            if one.ok:
                delivered.add(one.notifier_id)
                counts["notified"] = sorted(delivered)
                self.store.set_phase(run_id, "notify", json.dumps(counts))

        return notify(pending, d, self.settings, on_sent=sent)

    # -- phases ----------------------------------------------------------------------------------
    def _discover(self, monitor: Monitor, client: PoliteClient, report: RunReport) -> None:
        docs = DocumentCache(self.app.settings.home / "monitor-cache", self.store, monitor.id, client)
        ctx = Discovery(client, monitor.max_pages, progress=lambda step: self.progress(f"discovering: {step}", 0, 0),
                        fetch_doc=docs.get)
        seen: set[str] = set()
        queue: list[str] = []
        for provider in providers_for(monitor.kind):
            for cand in provider.discover(monitor, ctx):
                if cand.url in seen:
                    continue
                seen.add(cand.url)
                report.counts["discovered"] += 1
                try:
                    allowed = client.robots.allowed(cand.url)
                except FetchError:
                    allowed = False
                if not allowed:
                    report.counts["robots_disallowed"] += 1
                    continue
                queue.append(cand.url)
                if len(queue) >= monitor.max_pages:
                    break
            if len(queue) >= monitor.max_pages:
                ctx.inform(f"{monitor.url[:120]}: stopped at {monitor.max_pages:,} pages (--max-pages) / "
                         f"已达页数上限 {monitor.max_pages:,}")
                break
        report.lines += list(dict.fromkeys(ctx.notes + client.robots.notes()))
        ctx.info += client.robots.info()
        report.info += list(dict.fromkeys(ctx.info))
        if report.counts["robots_disallowed"]:
            report.info.append(f"{report.counts['robots_disallowed']} page(s) not fetched: robots.txt disallows them "
                                f"for {client.agent_token} / {report.counts['robots_disallowed']} 个网页按 robots.txt 规则未抓取")
        report.counts["queued"] = len(queue)
        report.counts["documents_not_modified"] = docs.reused
        self.store.enqueue(monitor.id, queue)

    def _fetch(self, monitor: Monitor, client: PoliteClient, report: RunReport) -> None:
        c = report.counts
        total = c["queued"] or len(self.store.pending(monitor.id, "fetch"))
        done = 0
        self.progress("fetching pages", 0, total)

        def one(page: PageState) -> tuple[PageState, Any, list[Exchange]]:
            found_on = None if page.url == monitor.url else monitor.url
            exchanges: list[Exchange] = []
            try:
                return page, client.get(page.url, found_on, etag=page.etag, last_modified=page.last_modified,
                                        exchanges=exchanges), exchanges
            except FetchError as exc:
                return page, exc, exchanges

        with ThreadPoolExecutor(max_workers=max(1, self.settings.concurrency)) as pool:
            while batch := self.store.pending(monitor.id, "fetch", FETCH_BATCH):
                results = []
                for page, got, exchanges in pool.map(one, batch):
                    done += 1
                    now = utcnow()
                    if isinstance(got, FetchError):
                        c["fetch_failed"] += 1
                        if not isinstance(got, Disallowed):
                            report.lines.append(f"{page.url[:160]}: {got}")
                        results.append((page.id, {"pending": None, "last_fetched": now, "last_error": str(got)[:500]}))
                        continue
                    c["fetched"] += 1
                    c["page_bytes"] += len(got.body)
                    if got.status == 304:
                        c["not_modified"] += 1
                        results.append((page.id, {"pending": None, "last_fetched": now, "last_error": None}))
                        continue
                    digest_ = hashlib.sha256(got.body).hexdigest()
                    values = {"last_fetched": now, "last_error": None, "etag": got.headers.get("etag"),
                              "last_modified": http_date_ok(got.headers.get("last-modified")),
                              "content_hash": digest_}
                    if digest_ == page.content_hash:
                        c["unchanged"] += 1
                        values["pending"] = None
                    else:
                        c["changed"] += 1
                        values |= {"pending": "scan", "last_changed": now}
                        self._hand_over(page.url, exchanges)
                    results.append((page.id, values))
                self.store.fetched(results)
                self.progress("fetching pages", done, max(total, done))

    def _hand_over(self, url: str, exchanges: list[Exchange]) -> None:
        """Keep a changed page's responses for the scan, within HANDOVER_MAX_BYTES (else it fetches it)."""
        size = sum(len(x.body) for x in exchanges)
        if exchanges and self.handover_bytes + size <= HANDOVER_MAX_BYTES:
            self.handover[url] = exchanges
            self.handover_bytes += size

    def _scan(self, monitor: Monitor, report: RunReport, run_id: int, gate: HostGate) -> None:
        c = report.counts
        total = len(self.store.pending(monitor.id, "scan"))
        done = 0
        self.progress("scanning pages", 0, total)
        while batch := self.store.pending(monitor.id, "scan", max(1, self.settings.scan_batch)):
            urls = [p.url for p in batch]
            page_failed: set[str] = set()

            def on_item(r: ItemResult) -> None:
                item = r.item
                if item.page_url is None and r.error:  # the page itself could not be read
                    page_failed.add(item.source)
                    report.lines.append(f"{item.source[:160]}: {r.error}")
                    return
                c["pictures"] += 1
                if r.error and r.error.startswith("image too small"):
                    # A lazy loader's 1x1 placeholder: nothing to compare, nothing wrong (counted, not reported).
                    c["pictures_too_small"] += 1
                elif r.error:
                    c["pictures_failed"] += 1
                    report.lines.append(f"{item.source[:120]} (on {str(item.page_url)[:120]}): {r.error}")

            fetcher = self._scan_fetcher(gate)
            fetcher.handover = {u: self.handover.pop(u) for u in urls if u in self.handover}
            handed = len(fetcher.handover)
            with self.scan_lock:
                scan = self.app.scan(urls, on_item=on_item, fetcher=fetcher)
            c["pages_handed_over"] += handed - len(fetcher.handover)  # those the scan read (a browser may not)
            c["scan_ids"].append(scan.scan_id)
            c["pages_scanned"] += len(batch)
            # A page the scan could not read is fetched in full next run (its validators are dropped).
            self.store.scanned(run_id, [p.id for p in batch], json.dumps(c),
                               rescan=[p.id for p in batch if p.url in page_failed])
            done += len(batch)
            self.progress("scanning pages", done, max(total, done))

    def _scan_fetcher(self, gate: HostGate) -> Fetcher:
        """The scan's HTTP client as the monitor's own: its user agent, its private-address rule, its seams,
        and its per-host gate (rate, concurrency, Crawl-delay) for the pictures it fetches."""
        fetcher = Fetcher.from_settings(self.app.settings, resolver=self.resolver, dial=self.dial)
        fetcher.policy.allow_private = self.allow_private
        fetcher.gate = gate
        # the same identity (robots rules for our token apply), marked so a site's log tells the two passes apart
        fetcher.client.headers["User-Agent"] = f"{self.settings.user_agent} scan"
        return fetcher

    def _recheck(self, monitor: Monitor, client: PoliteClient, report: RunReport) -> None:
        """Known cases on this site: is the picture still served? Recorded as a case check (its time)
        where the case's workflow takes one (registry.statuses: confirmed and later)."""
        parts = urlsplit(monitor.url)
        site = parts.netloc.lower()  # host and port: one site
        checkable = tuple(st for st, nxt in TRANSITIONS.items() if "still_online" in nxt and "removed" in nxt)
        for case in self.store.cases_on_host(parts.hostname or "", checkable):
            where = case.page_url or case.image_url or ""
            if urlsplit(where).netloc.lower() != site:
                continue
            target = case.image_url if (case.image_url or "").startswith(("http://", "https://")) else where
            try:
                got = client.get(target, monitor.url, error_body=True)
                result = "removed" if got.status in (404, 410) else "still_online" if got.status < 400 else None
            except FetchError as exc:
                report.lines.append(f"re-check of case {case.id} ({target[:120]}): {exc} / 复查失败")
                continue
            if result is None:
                report.lines.append(f"re-check of case {case.id}: HTTP {got.status}, not recorded / 复查结果不明，未记录")
                continue
            self.app.check_case(case.id, result, note=f"monitor {monitor.id} re-check: HTTP {got.status}")
            report.counts["rechecked"] += 1
