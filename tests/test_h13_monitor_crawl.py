"""Site, feed and page monitors against a real local site: sitemaps (index + gzip), an RSS feed, listing
pages with pagination, robots.txt Disallow honoured, our user agent sent, only new or changed pages scanned
(ETag, Last-Modified, content hash), and a re-run when nothing changed that fetches nothing new."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from warcio.archiveiterator import ArchiveIterator

from h13monitor import Site, gz, rss, serve, sitemap_index, urlset
from inkseal import Inkseal
from inkseal.evidence.capture import check_warc
from inkseal.monitor.runs import MonitorRunner
from inkseal.monitor.settings import MonitorSettings
from inkseal.registry.monitors import MonitorStore

KODAK = sorted((Path(__file__).resolve().parents[2] / "shared" / "data" / "kodak").glob("*.png"))
FAST = MonitorSettings(rate_per_host=0, recheck_cases=False)  # politeness is tested on its own below


def jpeg(path: Path, size: tuple[int, int] = (384, 256), quality: int = 82) -> bytes:
    buf = io.BytesIO()
    Image.open(path).convert("RGB").resize(size).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Inkseal]:
    app = Inkseal.open(tmp_path_factory.mktemp("h13") / "home")
    assert not app.register(KODAK[:3], author="Kodak").failed
    yield app
    app.close()


def build_site(site: Site) -> None:
    b = site.base
    site.put("/robots.txt", f"User-agent: *\nDisallow: /private/\nSitemap: {b}/sitemap_index.xml\n", "text/plain")
    site.put("/", '<html><head><title>home</title><link rel="alternate" type="application/rss+xml" href="/feed.xml">'
                  '</head><body><a href="/post/1">one</a> <a href="/private/secret">hidden</a> '
                  '<a href="mailto:a@b.c">mail</a> <a href="/?page=2">2</a></body></html>')
    site.put("/?page=2", '<a href="/post/2">two</a> <a rel="next" href="/?page=3">3</a>', validators="last-modified")
    site.put("/?page=3", '<a href="/post/5">five</a>', validators="none")
    site.put("/post/1", '<h1>one</h1><img src="/img/1.jpg">')
    site.put("/post/2", '<h1>two</h1><img src="/img/2.jpg">', validators="last-modified")
    site.put("/post/3", '<h1>three</h1><p>no pictures</p>', validators="none")  # only a content hash tells
    site.put("/post/4", '<h1>four</h1><img src="/img/unrelated.jpg">')
    site.put("/post/5", '<h1>five</h1>')
    site.put("/private/secret", '<img src="/img/1.jpg">')
    site.put("/img/1.jpg", jpeg(KODAK[0]), "image/jpeg")
    site.put("/img/2.jpg", jpeg(KODAK[1]), "image/jpeg")
    site.put("/img/unrelated.jpg", jpeg(KODAK[10]), "image/jpeg")
    site.put("/sitemap_index.xml", sitemap_index([f"{b}/sitemaps/a.xml.gz"]), "application/xml")
    site.put("/sitemaps/a.xml.gz", gz(urlset([f"{b}/post/3", f"{b}/post/1", f"{b}/private/also"])), "application/gzip")
    site.put("/feed.xml", rss([f"{b}/post/4", f"{b}/post/2"]), "application/rss+xml")


def test_site_monitor_finds_copies_and_a_rerun_fetches_nothing_new(home: Inkseal) -> None:
    with serve(Site()) as site:
        build_site(site)
        store = MonitorStore(home.registry)
        m = store.add(site.base + "/", "site", 86_400, 100)
        first = MonitorRunner(home, FAST).run(m.id)
        c = first.counts
        assert first.lines == [], first.lines
        # every source of pages was read: pagination (2 and 3), the feed (4), the gzip sitemap under the index (3)
        pages = {p.url.removeprefix(site.base) for p in store.page_states(m.id)}
        assert pages == {"/", "/?page=2", "/?page=3", "/post/1", "/post/2", "/post/3", "/post/4", "/post/5"}
        assert not site.hits("/private/"), "robots.txt Disallow was not honoured"
        assert c["robots_disallowed"] == 2 and any("robots.txt" in line for line in first.info)
        monitor_requests = [ua for p, s, ua in site.log if not p.startswith("/img/")]
        assert monitor_requests and all(ua.startswith("inkseal") for ua in monitor_requests)
        assert c["changed"] == 8 and c["pages_scanned"] == 8 and c["pictures"] == 3
        # each changed page was requested once: the scan read the crawler's responses, and asked only for pictures
        assert c["pages_handed_over"] == 8
        assert [p for p, _s, ua in site.log if ua.endswith(" scan") and not p.startswith("/img/")] == []
        assert all(len([p for p, _s, _ua in site.log if p == post]) == 1 for post in ("/post/1", "/post/2", "/post/4"))
        found = {(m_["work_title"], m_["page_url"].removeprefix(site.base)) for m_ in first.new_matches}
        assert found == {("kodim01", "/post/1"), ("kodim02", "/post/2")}
        assert all(x["tier"] == "copy" and x["picture_url"].startswith(site.base + "/img/") for x in first.new_matches)
        # the matches and cases are the scan's own: the same as `inkseal scan URL` makes
        cases = {cs.page_url for cs in home.cases()}
        assert {site.base + "/post/1", site.base + "/post/2"} <= cases
        # the evidence capture of a found copy holds the crawler's own exchange for its page (request, then the
        # answer), and the picture's bytes: it checks as any scan's capture does
        for m_ in first.new_matches:
            s_ = next(x.suspect for x in home.matches() if x.id == m_["match_id"])
            warc = home.registry.objects.get(s_.location["attachments"]["warc_record"])
            ok, why = check_warc(warc, s_.sha256, s_.source, s_.page_url)
            assert ok, why
            asked = [rec.http_headers.get_header("User-Agent") for rec in ArchiveIterator(io.BytesIO(warc))
                     if rec.rec_type == "request" and rec.rec_headers.get_header("WARC-Target-URI") == s_.page_url]
            assert len(asked) == 1 and not asked[0].endswith(" scan"), asked

        # nothing changed: 304s (ETag, Last-Modified) and an equal hash; nothing scanned, no picture fetched
        site.clear_log()
        again = MonitorRunner(home, FAST).run(m.id)
        assert again.counts["pages_scanned"] == 0 and again.counts["changed"] == 0 and again.new_matches == []
        assert again.counts["not_modified"] == 6 and again.counts["unchanged"] == 2  # /?page=3, /post/3: hash only
        assert not site.hits("/img/")
        assert again.counts["page_bytes"] < 200  # the two validator-less pages' bodies only
        # listing pages, the feed and the sitemaps were asked for conditionally too, and read from the kept copy
        assert again.counts["documents_not_modified"] == 5  # /, /?page=2, feed, index, gzip part (/?page=3: none)
        assert again.counts["bytes"] < 400  # robots.txt and the validator-less pages' bodies only

        # one page changes: only it is scanned, and its new picture is reported once
        site.put("/post/3", '<h1>three</h1><img src="/img/3.jpg">', validators="none")
        site.put("/img/3.jpg", jpeg(KODAK[2], (300, 200), 70), "image/jpeg")
        third = MonitorRunner(home, FAST).run(m.id)
        assert third.counts["changed"] == 1 and third.counts["pages_scanned"] == 1
        assert [(x["work_title"], x["page_url"]) for x in third.new_matches] == [("kodim03", site.base + "/post/3")]
        assert len(store.runs(m.id)) == 3 and all(r.state == "done" for r in store.runs(m.id))


def test_feed_and_page_monitors(home: Inkseal) -> None:
    with serve(Site()) as site:
        b = site.base
        site.put("/atom.xml", f'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>'
                              f'<entry><title>a</title><link href="{b}/a"/><id>1</id></entry></feed>',
                 "application/atom+xml")
        site.put("/a", '<img src="/x.jpg">')
        site.put("/b", '<img src="/y.jpg">')  # other bytes: the same bytes on the same site are one case
        site.put("/x.jpg", jpeg(KODAK[0], (320, 213)), "image/jpeg")
        site.put("/y.jpg", jpeg(KODAK[1], (330, 220)), "image/jpeg")
        store = MonitorStore(home.registry)
        feed = MonitorRunner(home, FAST).run(store.add(b + "/atom.xml", "feed", 3600, 10).id)
        assert feed.lines == [] and feed.counts["pages_scanned"] == 1 and feed.counts["pictures"] == 1
        assert [x["page_url"] for x in feed.new_matches] == [b + "/a"]
        page = MonitorRunner(home, FAST).run(store.add(b + "/b", "page", 3600, 10).id)
        assert page.counts["pages_scanned"] == 1 and [x["page_url"] for x in page.new_matches] == [b + "/b"]


def test_max_pages_caps_a_run_and_politeness_holds(home: Inkseal) -> None:
    """--max-pages stops discovery; robots.txt Crawl-delay (for our agent) spaces the requests to one host."""
    with serve(Site()) as site:
        b = site.base
        site.put("/robots.txt", "User-agent: inkseal-monitor\nCrawl-delay: 0.2\n\nUser-agent: *\nCrawl-delay: 30\n",
                 "text/plain")
        site.put("/", "".join(f'<a href="/p{i}">{i}</a>' for i in range(20)))
        for i in range(20):
            site.put(f"/p{i}", f"<p>{i}</p>")
        m = MonitorStore(home.registry).add(b + "/", "site", 3600, 4)
        settings = MonitorSettings(rate_per_host=0, recheck_cases=False, concurrency=4, max_crawl_delay_s=0.05)
        r = MonitorRunner(home, settings).run(m.id)
        assert r.counts["queued"] == 4 and any("--max-pages" in line for line in r.info)
        crawled = [p for p, _s, ua in site.log if p.startswith("/p") and ua.startswith("inkseal-monitor")
                   and not ua.endswith(" scan")]  # the crawler's requests (a scan asks for a page only when not handed it)
        assert sorted(crawled) == ["/p0", "/p1", "/p2"]  # the start page and 3 of its links, no more
        assert any("crawl-delay" in line.lower() for line in r.info)  # the cap was said
        # the crawl delay is the gate's spacing for this host (not a timing assertion: the setting itself);
        # robotparser reads whole seconds only, so 0.2 is rounded up (slower, never faster)
        from inkseal.monitor.polite import PoliteClient

        client = PoliteClient(MonitorSettings(), allow_private=True)
        try:
            assert client.robots.allowed(b + "/p1")
            assert client.gate._delay.get("127.0.0.1") == 1.0
        finally:
            client.close()


def test_pages_past_the_handover_budget_are_fetched_by_the_scan(home: Inkseal, monkeypatch: pytest.MonkeyPatch) -> None:
    """The fetch phase keeps changed pages' responses for the scan up to a memory budget; the scan asks the
    site again for the rest, and every page is scanned either way."""
    from inkseal.monitor import runs

    with serve(Site()) as site:
        pages = [f"/h{i}" for i in range(4)]
        site.put("/", "".join(f'<a href="{p}">{p}</a>' for p in pages))
        for i, p in enumerate(pages):
            site.put(p, f'<p>{"x" * 2000}</p><img src="/hi{i}.jpg">', validators="none")
            site.put(f"/hi{i}.jpg", jpeg(KODAK[i % 3], (300 + i, 200)), "image/jpeg")
        monkeypatch.setattr(runs, "HANDOVER_MAX_BYTES", 5000)  # the start page and one ~2 kB page fit, no more
        m = MonitorStore(home.registry).add(site.base + "/", "site", 3600, 10)
        r = MonitorRunner(home, FAST).run(m.id)
        assert r.lines == [] and r.counts["changed"] == 5 and r.counts["pages_scanned"] == 5
        assert 1 <= r.counts["pages_handed_over"] < 5
        by_scan = [p for p, _s, ua in site.log if ua.endswith(" scan") and not p.startswith("/hi")]
        assert len(by_scan) == 5 - r.counts["pages_handed_over"]
        assert sorted(x["page_url"].removeprefix(site.base) for x in r.new_matches) == pages


def test_every_request_of_a_run_passes_the_host_gate(home: Inkseal, monkeypatch: pytest.MonkeyPatch) -> None:
    """The per-host gate (rate, concurrency, Crawl-delay) holds for the scan's picture requests too: every
    request the site received, robots.txt, pages and pictures, went through it (the real gate, counted)."""
    from inkseal.monitor.polite import HostGate

    entered: list[str] = []
    real_enter = HostGate.enter

    def counted(self: HostGate, host: str) -> None:
        entered.append(host)
        real_enter(self, host)

    monkeypatch.setattr(HostGate, "enter", counted)
    with serve(Site()) as site:
        site.put("/", '<a href="/g1">1</a><a href="/g2">2</a>')
        for i in (1, 2):
            site.put(f"/g{i}", f'<img src="/gi{i}.jpg"><img src="/gone{i}.jpg">')
            site.put(f"/gi{i}.jpg", jpeg(KODAK[i], (310 + i, 207)), "image/jpeg")
        m = MonitorStore(home.registry).add(site.base + "/", "site", 3600, 10)
        r = MonitorRunner(home, FAST).run(m.id)
        assert r.counts["pages_scanned"] == 3 and r.counts["pictures"] == 4 and len(r.new_matches) == 2
        pictures = [p for p, _s, ua in site.log if ua.endswith(" scan")]
        assert sorted(pictures) == ["/gi1.jpg", "/gi2.jpg", "/gone1.jpg", "/gone2.jpg"]  # 404s are asked too
        assert len(entered) == len(site.log) and set(entered) == {"127.0.0.1"}
