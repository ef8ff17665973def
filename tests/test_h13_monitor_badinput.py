"""Bad input on monitored sites: each problem is one clear line (English / Chinese), nothing is fetched
that should not be, and the run goes on to find the copy on the good page."""

from __future__ import annotations

import zlib
from collections.abc import Iterator

import httpcore
import pytest

from h13monitor import Site, endless, gz, redirect_to, rss, serve, sitemap_index, slow, urlset
from inkseal import Inkseal
from inkseal.match.sources.netpolicy import system_resolver
from inkseal.monitor.runs import MonitorRunner
from inkseal.monitor.settings import MonitorSettings
from inkseal.monitor.sitemaps import SitemapError, inflate
from inkseal.registry.monitors import MonitorStore
from test_h13_monitor_crawl import KODAK, jpeg

PUBLIC_IP = "93.184.216.34"
SETTINGS = MonitorSettings(rate_per_host=0, recheck_cases=False, page_max_bytes=256 * 1024, deadline_s=1.5,
                           timeout_s=1.5, sitemap_max_bytes=1024 * 1024, sitemap_max_urls=40)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Inkseal]:
    app = Inkseal.open(tmp_path_factory.mktemp("h13bad") / "home")
    assert not app.register(KODAK[:1], author="Kodak").failed
    yield app
    app.close()


def test_one_line_each_and_the_run_goes_on(home: Inkseal) -> None:
    with serve(Site()) as site:
        b = site.base
        site.put("/robots.txt", f"Sitemap: {b}/sitemap_index.xml\n", "text/plain")
        site.put("/", '<a href="/post/good">good</a> <a href="/loop1">loop</a> <a href="/endless">endless</a> '
                      '<a href="/slow">slow</a> <a href="/post/liar">liar</a> <a href="file:///etc/passwd">f</a> '
                      '<a href="ftp://files.example/x">ftp</a> <link rel="alternate" type="application/rss+xml" '
                      'href="/feed.xml">')
        site.routes["/loop1"] = redirect_to("/loop2")
        site.routes["/loop2"] = redirect_to("/loop1")
        site.put("/endless", endless)
        site.put("/slow", slow(4))
        site.put("/post/liar", '<html><img src="/img/1.jpg"></html>', "image/jpeg")  # says image, is HTML
        site.put("/post/good", '<img src="/img/1.jpg">')
        site.put("/img/1.jpg", jpeg(KODAK[0]), "image/jpeg")
        site.put("/feed.xml", "<rss><channel><item><link>unclosed", "application/rss+xml")
        bomb = gz(b"\0" * (20 * 1024 * 1024))  # 20 MB of zeros in ~20 KB
        laughs = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>'
                  '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>&lol2;</loc></url></urlset>')
        site.put("/sitemap_index.xml", sitemap_index([f"{b}/sm/{n}" for n in (
            "bomb.xml.gz", "bad.xml", "laughs.xml", "nested.xml", "page.html", "huge.xml")]), "application/xml")
        site.put("/sm/huge.xml", urlset(["ftp://files.example/y", f"{b}/post/good"] + [f"{b}/n/{i}" for i in range(100)]),
                 "application/xml")
        site.put("/sm/bomb.xml.gz", bomb, "application/gzip")
        site.put("/sm/bad.xml", "<urlset><url><loc>x</loc></url", "application/xml")
        site.put("/sm/laughs.xml", laughs, "application/xml")
        site.put("/sm/nested.xml", sitemap_index([f"{b}/sm/nested2.xml"]), "application/xml")
        site.put("/sm/page.html", "<html><body>not a sitemap</body></html>", "text/html")
        for i in range(100):
            site.put(f"/n/{i}", "<p>plain</p>")

        store = MonitorStore(home.registry)
        m = store.add(b + "/", "site", 3600, 500)
        r = MonitorRunner(home, SETTINGS).run(m.id)
        lines = r.lines

        def one(*needles: str) -> str:
            hits = [line for line in lines if all(n in line for n in needles)]
            assert len(hits) == 1, (needles, lines)
            assert any("\u4e00" <= ch <= "\u9fff" for ch in hits[0]), hits[0]  # English and Chinese
            return hits[0]

        one("/loop1", "redirect loop")
        one("/endless", "too large")
        one("/slow", "timed out")
        one("file:///etc/passwd", "not fetched")
        one("ftp://files.example/x", "not fetched")
        one("ftp://files.example/y", "not fetched")
        one("bomb.xml.gz", "gzip bomb")
        one("bad.xml", "invalid XML")
        one("laughs.xml", "entities or a DTD")
        one("nested2.xml", "nested deeper")
        one("page.html", "not a sitemap")
        one("over 40 URLs")
        one("feed.xml", "invalid XML")
        one("/post/liar", "HTML where an image was expected")
        assert not site.hits("/sm/nested2.xml") and len(site.hits("/loop1")) <= 2
        # the run went on: the good page's copy was found, the run is done, the good pages are known
        assert [x["page_url"] for x in r.new_matches] == [b + "/post/good"]
        assert store.runs(m.id)[-1].state == "done"


def test_gzip_bomb_is_refused_before_it_inflates() -> None:
    bomb = gz(b"\0" * (64 * 1024 * 1024))
    with pytest.raises(SitemapError, match="gzip bomb"):
        inflate(bomb, 1024 * 1024, "sitemap x")
    assert inflate(gz(b"<urlset/>"), 1024, "ok") == b"<urlset/>"
    with pytest.raises(SitemapError, match="not valid gzip"):
        inflate(b"\x1f\x8b" + zlib.compress(b"x"), 1024, "sitemap y")


class _Dial(httpcore.SyncBackend):
    """Real sockets; the test's public address is connected to 127.0.0.1. Every dial is logged."""

    def __init__(self) -> None:
        self.dialled: list[str] = []

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):  # type: ignore[no-untyped-def]
        self.dialled.append(host)
        return super().connect_tcp("127.0.0.1" if host == PUBLIC_IP else host, port, timeout, local_address,
                                   socket_options)


def _resolver(host: str, port: int) -> list[str]:
    return [PUBLIC_IP] if host == "public.test" else system_resolver(host, port)


def test_a_public_feed_cannot_make_the_monitor_fetch_private_addresses(home: Inkseal) -> None:
    with serve(Site()) as site:
        port = site.base.rsplit(":", 1)[1]
        pub, private = f"http://public.test:{port}", f"http://127.0.0.1:{port}"
        site.put("/feed.xml", rss([f"{private}/intranet", f"{pub}/go", f"{pub}/ok"]), "application/rss+xml")
        site.routes["/go"] = redirect_to(f"{private}/intranet2")
        site.put("/ok", "<p>ok</p>")
        site.put("/intranet", "<p>secret</p>")
        site.put("/intranet2", "<p>secret</p>")
        dial = _Dial()
        m = MonitorStore(home.registry).add(f"{pub}/feed.xml", "feed", 3600, 10)
        r = MonitorRunner(home, SETTINGS, resolver=_resolver, dial=dial).run(m.id)
        refused = [line for line in r.lines if line.startswith("refused") or ": refused" in line]
        assert len(refused) == 2, r.lines
        assert any("/intranet " in line or "/intranet was" in line for line in refused)
        assert any("intranet2" in line for line in refused)
        assert not site.hits("/intranet")  # never requested, by the monitor nor by the scan
        assert set(dial.dialled) == {PUBLIC_IP}
        assert site.hits("/ok") and site.hits("/go")  # the run went on

        # the same feed is allowed to reach private addresses when the settings say so
        allowed = MonitorSettings(**{**SETTINGS.__dict__, "allow_private_addresses": True})
        m2 = MonitorStore(home.registry).add(f"{pub}/feed.xml", "feed", 3600, 10)
        r2 = MonitorRunner(home, allowed, resolver=_resolver, dial=_Dial()).run(m2.id)
        assert not [line for line in r2.lines if "refused" in line] and site.hits("/intranet")


@pytest.mark.parametrize("status, crawled", [(503, False), (429, False), (403, True), (404, True)])
def test_robots_txt_errors_are_read_as_rfc_9309_says(home: Inkseal, status: int, crawled: bool) -> None:
    """A 5xx or 429 robots.txt: nothing is fetched from the site this run, and one line says why; a 4xx one
    means no rules (the error body's Disallow lines are not rules)."""
    with serve(Site()) as site:
        site.put("/robots.txt", "User-agent: *\nDisallow: /\n", "text/plain", status=status)
        site.put("/", '<a href="/p">p</a>')
        site.put("/p", "<p>page</p>")
        r = MonitorRunner(home, SETTINGS).run(MonitorStore(home.registry).add(site.base + "/", "site", 3600, 10).id)
        asked = [p for p, _s, _ua in site.log if p != "/robots.txt"]
        if crawled:
            assert r.lines == [] and {"/", "/p"} <= set(asked) and r.counts["pages_scanned"] == 2
        else:
            assert asked == [] and r.counts["pages_scanned"] == 0
            assert any(f"robots.txt HTTP {status}" in line and "不从该站抓取" in line for line in r.lines), r.lines


def test_robots_rules_table() -> None:
    from inkseal.match.sources.robots import robots_rules

    text = "User-agent: GPTBot\nDisallow: /\n\nUser-agent: *\nCrawl-delay: 0.5\n"
    ok = robots_rules(200, text)
    assert ok.read and not ok.unreachable and not ok.can_fetch("GPTBot", "https://a.example/x")
    assert ok.can_fetch("inkseal", "https://a.example/x") and ok.parser.crawl_delay("inkseal") == 1  # 0.5 -> 1
    for status in (401, 403, 404, 410):
        r = robots_rules(status, None)
        assert not r.read and not r.unreachable and r.can_fetch("GPTBot", "https://a.example/x"), status
    assert robots_rules(200, None).can_fetch("GPTBot", "https://a.example/x")  # an HTML page: no rules file
    for status, error in ((500, ""), (503, ""), (429, ""), (None, "connection refused"), (0, "timed out")):
        r = robots_rules(status, None, error)
        assert r.unreachable and not r.read and not r.can_fetch("inkseal", "https://a.example/x"), status
        assert "不从该站抓取" in r.reason and (error in r.reason if error else f"HTTP {status}" in r.reason)
