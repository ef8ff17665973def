"""Network policy (SSRF), whole-fetch deadlines and the HTML-for-an-image sniff, against real
servers on 127.0.0.1.

A "public" page needs a public address, which a test cannot bind: the fetcher's two network seams
are used instead - its resolver says `public.test` is 93.184.216.34 (so the policy classifies the
page as public), and its dial backend connects that one address to 127.0.0.1. Every other address
is dialled as asked, and every dial is logged, so "nothing was requested" is checked twice: no dial
to the refused address, no hit on the real listener.
"""

from __future__ import annotations

import http.server
import socket
import threading
from collections import Counter
from collections.abc import Iterator

import ipaddress

import httpcore
import pytest

from badfiles import jpeg_bytes, photo
from inkseal.match.sources.html import PageLimits
from inkseal.match.sources.netpolicy import NetPolicy, address_class, system_resolver
from inkseal.match.sources.urls import FetchError, Fetcher, iter_url

PUBLIC_IP = "93.184.216.34"
PICTURE = jpeg_bytes(photo(5))


class _Site(http.server.BaseHTTPRequestHandler):
    routes: dict[str, tuple[int, dict[str, str], bytes]] = {}
    hits: Counter = Counter()

    def do_GET(self) -> None:  # noqa: N802
        self.hits[self.path] += 1
        status, headers, body = self.routes.get(self.path.split("?")[0], (404, {"Content-Type": "text/plain"}, b"nope"))
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


class _Dial(httpcore.SyncBackend):
    """Opens real sockets; the test's one public address is connected to 127.0.0.1."""

    def __init__(self) -> None:
        self.dialled: list[str] = []

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):  # type: ignore[no-untyped-def]
        self.dialled.append(host)
        return super().connect_tcp("127.0.0.1" if host == PUBLIC_IP else host, port, timeout, local_address,
                                   socket_options)


def _resolver(host: str, port: int) -> list[str]:
    table = {"public.test": [PUBLIC_IP], "intranet.test": ["10.1.2.3"], "mixed.test": [PUBLIC_IP, "192.168.1.9"]}
    return table.get(host) or system_resolver(host, port)


@pytest.fixture
def site() -> Iterator[dict]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Site)
    port = server.server_address[1]
    html = {"Content-Type": "text/html"}
    secrets = [f"http://127.0.0.1:{port}/secret-loopback.png", f"http://localhost:{port}/secret-localhost.png",
               f"http://[::1]:{port}/secret-v6.png", "http://169.254.169.254/latest/meta-data/",
               "http://10.0.0.7/secret-lan.png", "http://intranet.test/secret.png", "http://mixed.test/secret.png",
               f"http://[::ffff:127.0.0.1]:{port}/secret-mapped.png"]
    page = "".join(f"<img src='{u}'>" for u in secrets)
    _Site.hits = Counter()
    _Site.routes = {
        "/page": (200, html, f"<html><title>Public</title><body><img src='/ok.jpg'>{page}"
                             f"<img srcset='/redirect-out 2x'><div style=\"background:url('/redirect-ok')\"></div>"
                             "</body></html>".encode()),
        "/ok.jpg": (200, {"Content-Type": "image/jpeg"}, PICTURE),
        "/secret-loopback.png": (200, {"Content-Type": "image/jpeg"}, PICTURE),
        "/redirect-out": (302, {"Location": f"http://127.0.0.1:{port}/secret-loopback.png"}, b""),
        "/redirect-ok": (302, {"Location": "/ok.jpg"}, b""),
        "/local-page": (200, html, f"<img src='http://127.0.0.1:{port}/secret-loopback.png'>"
                                   "<img src='http://169.254.169.254/latest/meta-data/'>".encode()),
        "/fake.png": (200, {"Content-Type": "image/png"}, b"<!DOCTYPE html><html><body>Log in</body></html>"),
        "/page-with-fake": (200, html, b"<img src='/fake.png'>"),
    }
    server_thread = threading.Thread(target=server.serve_forever, daemon=True)
    server_thread.start()
    yield {"port": port, "public": f"http://public.test:{port}", "local": f"http://127.0.0.1:{port}",
           "secrets": secrets}
    server.shutdown()
    server.server_close()


def _fetcher(**kw: object) -> tuple[Fetcher, _Dial]:
    dial = _Dial()
    return Fetcher(max_bytes=1 << 20, timeout_s=5, deadline_s=10, resolver=_resolver, dial=dial, **kw), dial  # type: ignore[arg-type]


def test_addresses_are_classified_after_resolution() -> None:
    kinds = {a: address_class(ipaddress.ip_address(a)) for a in (
        "127.0.0.1", "::1", "10.1.2.3", "172.16.0.1", "192.168.0.1", "169.254.169.254", "fd00:ec2::254",
        "169.254.10.10", "fe80::1", "fc00::5", "224.0.0.1", "ff02::1", "0.0.0.0", "240.0.0.1", "100.64.0.1",
        "::ffff:10.0.0.1", PUBLIC_IP, "2606:4700:4700::1111")}
    assert kinds[PUBLIC_IP] is None and kinds["2606:4700:4700::1111"] is None
    assert kinds["127.0.0.1"] == kinds["::1"] == "loopback"
    assert kinds["169.254.169.254"] == kinds["fd00:ec2::254"] == "cloud-metadata"
    assert kinds["fe80::1"] == kinds["169.254.10.10"] == "link-local" and kinds["fc00::5"] == "unique-local"
    assert kinds["224.0.0.1"] == kinds["ff02::1"] == "multicast" and kinds["::ffff:10.0.0.1"] == "private"
    assert all(kinds[a] for a in ("10.1.2.3", "172.16.0.1", "192.168.0.1", "0.0.0.0", "240.0.0.1", "100.64.0.1"))


def test_public_page_cannot_reach_private_addresses(site: dict) -> None:
    fetcher, dial = _fetcher()
    try:
        items = list(iter_url(site["public"] + "/page", fetcher))
    finally:
        fetcher.close()
    by = {i.source: i for i in items}
    assert by[site["public"] + "/ok.jpg"].data == PICTURE  # same public host: fetched
    assert by[site["public"] + "/redirect-ok"].data == PICTURE  # a redirect staying public: followed
    for url in site["secrets"]:
        err = by[url].error or ""
        assert err.startswith("refused:") and "\n" not in err and "allow_private_addresses" in err, (url, err)
    assert "cloud-metadata" in by["http://169.254.169.254/latest/meta-data/"].error
    assert "loopback" in by[site["secrets"][0]].error and "private address (10.0.0.7)" in by[site["secrets"][4]].error
    redirected = by[site["public"] + "/redirect-out"]  # public -> 127.0.0.1 by redirect: refused at the hop
    assert redirected.error.startswith("refused:") and "loopback" in redirected.error
    assert not [p for p in _Site.hits if p.startswith("/secret")]  # the listener never saw a secret request
    assert set(dial.dialled) == {PUBLIC_IP}  # nothing else was even connected to


def test_user_named_and_private_pages_reach_private_addresses(site: dict) -> None:
    fetcher, dial = _fetcher()
    try:
        direct = list(iter_url(site["local"] + "/secret-loopback.png", fetcher))  # the user named it
        local_page = list(iter_url(site["local"] + "/local-page", fetcher))  # a page on 127.0.0.1 (tests, the demo)
        with pytest.raises(FetchError, match="refused: .*loopback"):  # a user-named public URL redirecting inwards
            fetcher.get(site["public"] + "/redirect-out")
    finally:
        fetcher.close()
    assert direct[0].data == PICTURE
    assert local_page[0].data == PICTURE
    assert "cloud-metadata" in local_page[1].error  # metadata is refused to every found URL
    assert _Site.hits["/secret-loopback.png"] == 2


def test_allow_private_addresses_lets_found_urls_through(site: dict) -> None:
    fetcher, _dial = _fetcher(allow_private=True)
    try:
        items = list(iter_url(site["public"] + "/page", fetcher))
    finally:
        fetcher.close()
    by = {i.source: i for i in items}
    assert by[site["secrets"][0]].data == PICTURE and by[site["public"] + "/redirect-out"].data == PICTURE


def test_the_address_checked_is_the_address_connected() -> None:
    """DNS rebinding: a host is resolved once; a second, different answer is never used."""
    answers = iter([["93.184.216.34"], ["127.0.0.1"]])
    policy = NetPolicy(resolver=lambda host, port: next(answers))
    first = policy.addresses("rebind.test", 80)
    assert policy.addresses("rebind.test", 80) == first == [ipaddress.ip_address("93.184.216.34")]


def test_html_where_an_image_was_expected_fails(site: dict) -> None:
    fetcher, _dial = _fetcher()
    try:
        (named,) = list(iter_url(site["local"] + "/fake.png", fetcher))
        (found,) = list(iter_url(site["local"] + "/page-with-fake", fetcher))
    finally:
        fetcher.close()
    for item in (named, found):
        assert item.data is None and item.error.startswith("HTML where an image was expected (served as image/png)")


# -- whole-fetch deadline ---------------------------------------------------------------------------
class _RawServer:
    """A TCP server that answers each connection with `script(conn)`; counts connections."""

    def __init__(self, script) -> None:  # type: ignore[no-untyped-def]
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.script = script
        self.stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._run, args=(conn,), daemon=True).start()

    def _run(self, conn: socket.socket) -> None:
        try:
            conn.recv(65536)
            self.script(conn, self.stop)
        except OSError:
            pass
        finally:
            conn.close()

    def close(self) -> None:
        self.stop.set()
        self.sock.close()


def _trickle(prefix: bytes):  # type: ignore[no-untyped-def]
    def script(conn: socket.socket, stop: threading.Event) -> None:
        conn.sendall(prefix)
        # One byte every 0.3 s for at most 30 s: a fetch without a total deadline would end here
        # with a whole body, and the test would fail.
        for _ in range(100):
            if stop.wait(0.3):
                return
            conn.sendall(b"x")
    return script


@pytest.mark.parametrize("prefix", [
    b"HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\nContent-Length: 100\r\n\r\n",  # a body, byte by byte
    b"HTTP/1.1 200 OK\r\nX-Slow: ",  # headers, byte by byte
], ids=["body", "headers"])
def test_a_trickling_server_is_cut_off_at_the_deadline(prefix: bytes) -> None:
    server = _RawServer(_trickle(prefix))
    fetcher = Fetcher(max_bytes=1 << 20, timeout_s=2.0, deadline_s=1.5)
    try:
        with pytest.raises(FetchError, match=r"timed out: the whole fetch took over 1.5 s"):
            fetcher.get(f"http://127.0.0.1:{server.port}/drip.jpg")
    finally:
        fetcher.close()
        server.close()


def test_a_silent_server_costs_one_timeout() -> None:
    server = _RawServer(lambda conn, stop: stop.wait(30))
    fetcher = Fetcher(max_bytes=1 << 20, timeout_s=0.5, deadline_s=20)
    try:  # (were the timeout not applied, the server's hang-up after 30 s would give another error)
        with pytest.raises(FetchError, match="^timed out$"):
            fetcher.get(f"http://127.0.0.1:{server.port}/silent.jpg")
    finally:
        fetcher.close()
        server.close()
    assert server.connections == 1  # no retry: the timeout is paid once


# -- the same policy inside --browser ----------------------------------------------------------------
def test_browser_page_cannot_reach_private_addresses(site: dict) -> None:
    """Chromium gets every GET through the fetcher, so the same seams make `public.test` public
    for it too; a script's POST goes through the policy check alone."""
    from inkseal.match.sources.browser import PageBrowser, iter_browser_page

    port = site["port"]
    _Site.routes["/browser-page"] = (200, {"Content-Type": "text/html"}, (
        "<html><title>Public</title><body><img src='/ok.jpg' width=64 height=48>"
        + "".join(f"<img src='{u}' width=20 height=20>" for u in site["secrets"][:5])
        + "<img src='/redirect-out' width=20 height=20>"
        f"<script>fetch('http://127.0.0.1:{port}/secret-post', {{method: 'POST', body: 'x'}}).catch(() => 0);</script>"
        "</body></html>").encode())
    _Site.routes["/crowded"] = (200, {"Content-Type": "text/html"},
                                "".join(f"<img src='/ok.jpg?{i}' width=20 height=20>" for i in range(12)).encode())
    fetcher, dial = _fetcher(limits=PageLimits(max_images=10))
    browser = PageBrowser(timeout_s=15, fetcher=fetcher)
    try:
        items = list(iter_browser_page(site["public"] + "/browser-page", browser))
        crowded = list(iter_browser_page(site["public"] + "/crowded", browser))
    finally:
        browser.close()
        fetcher.close()
    by = {i.source: i for i in items}
    assert by[site["public"] + "/ok.jpg"].data == PICTURE  # the public page's own picture came through
    refused = {u: i.error for u, i in by.items() if (i.error or "").startswith("refused:")}
    assert set(site["secrets"][:5]) <= set(refused), refused
    assert "cloud-metadata" in refused["http://169.254.169.254/latest/meta-data/"]
    assert "loopback" in refused[site["public"] + "/redirect-out"]  # refused at the redirect hop
    assert "loopback" in refused[f"http://127.0.0.1:{port}/secret-post"]  # the script's POST
    assert all("\n" not in e for e in refused.values())
    assert not [p for p in _Site.hits if p.startswith("/secret")]
    assert set(dial.dialled) == {PUBLIC_IP}
    assert sum(1 for i in crowded if i.data == PICTURE) == 10  # the page's cap holds in the browser too
    assert [i.error for i in crowded if i.error] == ["page only partly read: only the first 10 pictures on the page were read"]
