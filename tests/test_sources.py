"""Scan sources: saved pages, WARC archives and URL lists fetched from a real local HTTP server."""

from __future__ import annotations

import base64
import gzip
import http.server
import io
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from badfiles import jpeg_bytes, photo, png_bytes
from inkseal.match.sources import iter_source, source_kind
from inkseal.match.sources.html import parse_page
from inkseal.match.sources.urls import Fetcher

MB = 1024 * 1024

PAGE = """<!DOCTYPE html>
<!-- saved from url=(0033)https://news.example.com/a/1.html -->
<html><head><title>An article</title>
<style>.hero {{ background-image: url("page_files/hero.png"); }}</style></head>
<body><div id="main"><p>text</p>
<img src="page_files/a.jpg" alt="first" width="300" height="200">
<img src="page_files/a.jpg" alt="same again">
<img srcset="page_files/small.jpg 480w, page_files/big.jpg 1080w" alt="responsive">
<picture><source srcset="page_files/pic.webp" type="image/webp"><img src="page_files/pic.jpg"></picture>
<div style="background: url('page_files/bg.jpg') no-repeat">x</div>
<img src="data:image/png;base64,{data_png}">
<img src="data:image/png;base64,@@@not-base64">
<img src="page_files/missing.jpg">
<img src="../../etc/passwd">
<p>unclosed <b>tags <i>everywhere
</div></body></html>
"""


@pytest.fixture
def saved_page(tmp_path: Path) -> Path:  # the page and its page_files/ folder
    files = tmp_path / "page_files"
    files.mkdir()
    for i, name in enumerate(["a.jpg", "small.jpg", "big.jpg", "pic.jpg", "bg.jpg"]):
        (files / name).write_bytes(jpeg_bytes(photo(i)))
    (files / "hero.png").write_bytes(png_bytes(photo(9)))
    (files / "pic.webp").write_bytes(b"RIFF\x00\x00\x00\x00WEBPbroken")
    tiny = base64.b64encode(png_bytes(photo(7, (64, 48)))).decode()
    page = tmp_path / "page.html"
    page.write_text(PAGE.format(data_png=tiny), encoding="utf-8")
    return page


def test_parse_page_finds_every_kind_of_reference(saved_page: Path) -> None:
    info = parse_page(saved_page.read_text())
    assert info.url == "https://news.example.com/a/1.html" and info.title == "An article"
    hows = [(r.how, r.url.split("/")[-1][:12]) for r in info.images]
    assert ("css", "hero.png") in hows and ("img", "a.jpg") in hows
    assert ("srcset", "small.jpg") in hows and ("srcset", "big.jpg") in hows
    assert ("picture", "pic.webp") in hows and ("img", "pic.jpg") in hows and ("css", "bg.jpg") in hows
    assert sum(1 for r in info.images if r.url.endswith("a.jpg")) == 1  # the same URL once
    first = next(r for r in info.images if r.url.endswith("a.jpg"))
    assert first.dom_path.startswith("div#main") and first.alt == "first" and first.declared_size == "300x200"


def test_saved_page_items_have_page_context_and_clear_errors(saved_page: Path) -> None:
    items = list(iter_source(str(saved_page), max_bytes=MB))
    ok = [i for i in items if i.data]
    bad = {i.location.get("ref", i.source): i.error for i in items if i.error}
    assert len(ok) == 8  # 6 files (incl. the broken webp bytes) + hero + data: URI
    for i in ok:
        assert i.page_url == "https://news.example.com/a/1.html" and i.location["page_title"] == "An article"
    a = next(i for i in ok if i.location["ref"].endswith("a.jpg"))
    # The page says where it was saved from, but not where this picture came from: it is named by its
    # local file, never by the local folder appended to the page's host (a URL that never existed).
    assert a.source == "page_files/a.jpg" and "image_url" not in a.location
    assert any("not saved with the page" in e for e in bad.values())
    assert any("outside the page's folder" in e for e in bad.values())
    assert any("base64" in e for e in bad.values()) or any(i.data == b"" for i in items)


def _warc(path: Path, *, gz: bool, broken_tail: bool) -> None:
    with open(path, "wb") as fh:
        writer = WARCWriter(fh, gzip=gz)

        def response(uri: str, ctype: str, body: bytes, status: str = "200 OK") -> None:
            headers = StatusAndHeaders(status, [("Content-Type", ctype)], protocol="HTTP/1.1")
            rec = writer.create_warc_record(uri, "response", payload=io.BytesIO(body), http_headers=headers,
                                            warc_headers_dict={"WARC-Date": "2023-03-02T10:00:00Z"})
            writer.write_record(rec)

        response("https://site.example/a.jpg", "image/jpeg", jpeg_bytes(photo(1)))
        response("https://site.example/index.html", "text/html", b"<html><img src=a.jpg></html>")
        response("https://site.example/mislabelled", "application/octet-stream", png_bytes(photo(2)))
        response("https://site.example/gone.jpg", "image/jpeg", b"not found", status="404 Not Found")
        response("https://site.example/corrupt.jpg", "image/jpeg", b"\xff\xd8\xff garbage")
    if broken_tail:
        with open(path, "ab") as fh:
            record = (b"WARC/1.0\r\nWARC-Type: response\r\nWARC-Target-URI: https://site.example/cut.jpg\r\n"
                      b"Content-Type: application/http; msgtype=response\r\nContent-Length: 99999\r\n\r\n"
                      b"HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\n\r\n\xff\xd8\xff cut short")
            fh.write(gzip.compress(record)[:-12] if gz else record)


@pytest.mark.parametrize("gz", [False, True])
def test_warc_images_with_uri_and_date(tmp_path: Path, gz: bool) -> None:
    path = tmp_path / ("crawl.warc.gz" if gz else "crawl.warc")
    _warc(path, gz=gz, broken_tail=True)
    assert source_kind(str(path)) == "warc"
    items = list(iter_source(str(path), max_bytes=MB))
    sources = [i.source for i in items if i.data]
    assert sources == ["https://site.example/a.jpg", "https://site.example/mislabelled", "https://site.example/corrupt.jpg"]
    first = items[0]
    assert first.captured_at is not None and first.captured_at.year == 2023
    assert isinstance(first.location["warc_offset"], int)
    assert items[-1].error and "\n" not in items[-1].error  # the broken tail is one error item


class _Handler(http.server.BaseHTTPRequestHandler):
    routes: dict[str, tuple[int, str, bytes]] = {}

    def do_GET(self) -> None:  # noqa: N802
        if self.path == "/slow":
            time.sleep(3)
        status, ctype, body = self.routes.get(self.path, (404, "text/plain", b"nope"))
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except BrokenPipeError:
            pass

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def http_server() -> Iterator[str]:
    picture = jpeg_bytes(photo(5))
    _Handler.routes = {
        "/pic.jpg": (200, "image/jpeg", picture),
        "/article": (200, "text/html; charset=utf-8",
                     b"<html><head><title>Repost</title></head><body><img src='/pic.jpg'><img src='/404.png'>"
                     b"<img srcset='/big.bin 2x'></body></html>"),
        "/big.bin": (200, "image/jpeg", b"\xff" * (2 * MB)),
        "/slow": (200, "image/jpeg", picture),
    }
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_url_list_fetches_pages_and_images_with_limits(tmp_path: Path, http_server: str) -> None:
    urls = tmp_path / "urls.txt"
    urls.write_text(f"# suspects\n{http_server}/pic.jpg\n\n{http_server}/article\n{http_server}/slow\n"
                    f"ftp://example.com/x.jpg\nhttp://127.0.0.1:9/closed-port.jpg\n")
    items = list(iter_source(str(urls), max_bytes=MB, fetcher=Fetcher(max_bytes=MB, timeout_s=1.0)))
    by = {i.source.replace(http_server, ""): i for i in items}
    assert by["/pic.jpg"].data and by["/pic.jpg"].captured_at
    page_img = [i for i in items if i.page_url and i.page_url.endswith("/article") and i.data]
    assert len(page_img) == 1 and page_img[0].location["page_title"] == "Repost"
    assert "HTTP 404" in by["/404.png"].error
    assert "too large" in by["/big.bin"].error
    assert "timed out" in by["/slow"].error
    assert "unsupported URL scheme" in by["ftp://example.com/x.jpg"].error
    assert by["http://127.0.0.1:9/closed-port.jpg"].error
    assert all("\n" not in (i.error or "") for i in items)


def test_unreadable_and_garbage_pages_fail_alone(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.html"
    garbage.write_bytes(bytes(range(256)) * 50)  # not HTML at all: parsed leniently, no images
    assert list(iter_source(str(garbage), max_bytes=MB)) == []
    missing = list(iter_source(str(tmp_path / "missing.html"), max_bytes=MB))
    assert len(missing) == 1 and "cannot read page" in missing[0].error
    huge = tmp_path / "huge.html"
    huge.write_bytes(b"<html>" + b" " * (MB + 10))
    (item,) = list(iter_source(str(huge), max_bytes=MB))
    assert "too large" in item.error


def test_folder_scans_pages_once_with_their_context(tmp_path: Path, saved_page: Path) -> None:
    """A folder holding a saved page: its _files images come through the page, not again as loose files."""
    (saved_page.parent / "loose.jpg").write_bytes(jpeg_bytes(photo(11)))
    items = list(iter_source(str(saved_page.parent), max_bytes=MB))
    loose = [i for i in items if i.kind == "file"]
    assert [Path(i.source).name for i in loose] == ["loose.jpg"]
    assert all(i.page_url for i in items if i.kind == "page")
