"""`scan --browser`: real headless Chromium (Debian's) on pages from a real HTTP server on 127.0.0.1,
and the captured page and WARC record as checked evidence in the pack."""

from __future__ import annotations

import hashlib
import http.server
import io
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from badfiles import jpeg_bytes, photo, png_bytes
from inkseal.cli import app as cli
from inkseal.demo import DEMO_PASSPHRASE
from inkseal.evidence.capture import check_screenshot, check_warc
from inkseal.evidence.verify import verify_pack
from inkseal.match.sources.browser import MAX_SHOT_HEIGHT, PageBrowser, iter_browser_page

runner = CliRunner()


def run(home: Path, *args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(cli, ["--home", str(home), "--lang", "en", *args], catch_exceptions=False)


class _Site(http.server.BaseHTTPRequestHandler):
    routes: dict[str, tuple[int, str, bytes]] = {}

    def do_GET(self) -> None:  # noqa: N802
        status, ctype, body = self.routes.get(self.path.split("?")[0], (404, "text/plain", b"nope"))
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def site(kodak: list[Path]) -> Iterator[dict]:
    work = Image.open(kodak[6]).convert("RGB")
    copy = jpeg_bytes(work.crop((0, 0, 600, 420)).resize((450, 315)), quality=75)
    bg = jpeg_bytes(photo(3))
    _Site.routes = {
        "/article": (200, "text/html; charset=utf-8", (
            "<!DOCTYPE html><html><head><meta charset='utf-8'><title>转载 Repost</title>"
            "<style>.hero{width:320px;height:240px;background:url(/bg.jpg)}</style></head><body>"
            "<h1>An article</h1><div class='hero'></div><p>text</p>"
            "<img src='/static.png' width='100' alt='logo'><img src='/gone.png'>"
            "<div id='slot'></div><script>const i=document.createElement('img');i.src='/copy.jpg';"
            "i.alt='inserted';document.getElementById('slot').appendChild(i);</script></body></html>").encode()),
        "/copy.jpg": (200, "image/jpeg", copy),
        "/bg.jpg": (200, "image/jpeg", bg),
        "/static.png": (200, "image/png", png_bytes(photo(4, (100, 60)))),
        "/plain.jpg": (200, "image/jpeg", copy),
        "/canvas": (200, "text/html", (  # drawn on a canvas: in no image list, only on the screenshot
            "<html><head><title>Canvas</title></head><body><p>drawn</p><canvas id='c' width='480' height='336'></canvas>"
            "<script>const im = new Image(); im.onload = () => document.getElementById('c').getContext('2d')"
            ".drawImage(im, 0, 0, 480, 336); im.src = '/copy2.jpg';</script></body></html>").encode()),
        "/copy2.jpg": (200, "image/jpeg", jpeg_bytes(work.crop((100, 60, 740, 508)), quality=80)),
        "/hostile": (200, "text/html", (  # dialogs, pop-ups and an endless page must not stall or blow up the scan
            "<html><body><script>alert('x'); confirm('y'); window.open('http://127.0.0.1:9/');</script>"
            "<img src='/static.png'><div style='height:90000px'></div></body></html>").encode()),
    }
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Site)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield {"url": f"http://127.0.0.1:{server.server_address[1]}", "copy": copy, "work": kodak[6]}
    server.shutdown()
    server.server_close()


def test_browser_sees_what_the_page_showed(site: dict) -> None:
    browser = PageBrowser(timeout_s=10)
    try:
        items = list(iter_browser_page(site["url"] + "/article", browser))
        unreachable = list(iter_browser_page("http://127.0.0.1:9/closed", browser))
        missing = list(iter_browser_page(site["url"] + "/no-such-page", browser))
        direct = list(iter_browser_page(site["url"] + "/plain.jpg", browser))
        hostile = list(iter_browser_page(site["url"] + "/hostile", browser))
    finally:
        browser.close()
    by = {i.source.removeprefix(site["url"]): i for i in items}
    assert set(by) == {"/bg.jpg", "/static.png", "/gone.png", "/copy.jpg", "/article#page-screenshot"}
    assert by["/article#page-screenshot"].data == by["/copy.jpg"].attachments["page_screenshot"]  # the page, last
    inserted = by["/copy.jpg"]  # added by the page's script: invisible to an HTML parser
    assert inserted.data == site["copy"]  # the exact bytes the browser received
    assert inserted.location["alt"] == "inserted" and inserted.location["shown_via"] == "img"
    assert inserted.location["page_title"] == "转载 Repost" and inserted.page_url == site["url"] + "/article"
    x, y, w, h = inserted.location["box"]
    assert (w, h) == (450, 315) and y > 240  # below the 240 px hero
    assert by["/bg.jpg"].location["shown_via"] == "css-background" and by["/bg.jpg"].location["box"][2:] == [320, 240]
    assert by["/gone.png"].error and not by["/gone.png"].data
    shot = Image.open(io.BytesIO(inserted.attachments["page_screenshot"]))
    assert shot.format == "PNG" and shot.width == 1280 and shot.height >= y + h
    assert b"inserted" in inserted.attachments["page_rendered_html"]  # the DOM after the script ran
    rgb = np.asarray(Image.open(io.BytesIO(site["copy"])).convert("RGB"))
    ok, detail = check_screenshot(inserted.attachments["page_screenshot"], rgb, inserted.location["box"])
    assert ok, detail
    assert not check_screenshot(inserted.attachments["page_screenshot"], rgb, by["/bg.jpg"].location["box"])[0]
    assert len(unreachable) == 1 and "browser could not load the page" in unreachable[0].error
    assert "\n" not in unreachable[0].error
    assert len(missing) == 1 and missing[0].error == "HTTP 404"
    assert len(direct) == 2 and direct[0].data == site["copy"]  # an image URL is its own suspect
    assert [i.error for i in hostile] == [None, None]
    assert Image.open(io.BytesIO(hostile[-1].data)).size == (1280, MAX_SHOT_HEIGHT)  # capped, not 90,000 px


@pytest.fixture
def home(site: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A creator's home with the site's work registered and keys made (passphrase from the environment)."""
    monkeypatch.setenv("INKSEAL_PASSPHRASE", DEMO_PASSPHRASE)
    home = tmp_path / "home"
    assert run(home, "register", str(site["work"]), "--author", "Li").exit_code == 0
    assert run(home, "keys", "init").exit_code == 0
    return home


def test_scan_with_browser_keeps_the_screenshot_as_evidence(site: dict, home: Path, tmp_path: Path) -> None:
    r = run(home, "scan", site["url"] + "/article", site["url"] + "/canvas", "--browser", "--json")
    assert r.exit_code == 1, r.output  # /gone.png failed; the rest of the page was scanned
    rep = json.loads(r.stdout)
    m, drawn = rep["matches"]  # the article's copy once (not again from its screenshot), and the canvas
    assert drawn["suspect"]["source"] == site["url"] + "/canvas#page-screenshot"
    assert drawn["suspect"]["location"]["shown_via"] == "page-screenshot" and drawn["work_id"] == m["work_id"]
    loc = m["suspect"]["location"]
    assert m["suspect"]["source"] == site["url"] + "/copy.jpg" and loc["box"][2:] == [450, 315]
    assert set(loc["attachments"]) == {"page_screenshot", "page_rendered_html", "warc_record"}

    pack = tmp_path / "pack"
    r = run(home, "evidence", str(m["id"]), "-o", str(pack), "--lang", "en")
    assert r.exit_code == 0, r.output
    assert (pack / "suspect" / "page-screenshot.png").is_file() and (pack / "figures" / "page_screenshot_marked.png").is_file()
    assert "page_screenshot_marked.png" in (pack / "report.html").read_text(encoding="utf-8")
    report = verify_pack(pack)
    facts = {f["fact"]: f for f in report.facts}
    # 127.0.0.1 is not a public address: the capture is our own record ("supported"), not a third party's public use
    assert report.ok and report.checks["screenshot"][0]
    assert facts["suspect_use"]["level"] == "supported" and facts["suspect_use"]["consistent"]
    assert facts["scale_of_use"]["level"] == "supported" and "2 distinct places" in facts["scale_of_use"]["detail"]

    pack2 = tmp_path / "pack-canvas"  # a copy found only on the page's screenshot: the screenshot is the suspect
    assert run(home, "evidence", str(drawn["id"]), "-o", str(pack2), "--lang", "zh").exit_code == 0
    assert verify_pack(pack2).ok and (pack2 / "figures" / "page_screenshot_marked.png").is_file()


def test_no_chromium_is_a_clear_error_and_records_nothing(site: dict, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INKSEAL_CHROMIUM", str(tmp_path / "no-such-chromium"))
    home = tmp_path / "home"
    r = run(home, "scan", site["url"] + "/article", "--browser")
    assert r.exit_code == 3 and "configured Chromium not found" in r.output
    assert json.loads(run(home, "matches", "--json").stdout) == []


def test_warc_record_travels_with_the_match_and_is_checked(site: dict, home: Path, tmp_path: Path) -> None:
    archive = tmp_path / "crawl.warc.gz"
    with archive.open("wb") as fh:
        writer = WARCWriter(fh, gzip=True)
        for uri, body in (("https://blog.example/a.jpg", jpeg_bytes(photo(1))), ("https://blog.example/c.jpg", site["copy"])):
            headers = StatusAndHeaders("200 OK", [("Content-Type", "image/jpeg")], protocol="HTTP/1.1")
            writer.write_record(writer.create_warc_record(uri, "response", payload=io.BytesIO(body), http_headers=headers))
    r = run(home, "scan", str(archive), "--json")
    (m,) = json.loads(r.stdout)["matches"]
    pack = tmp_path / "pack"
    assert run(home, "evidence", str(m["id"]), "-o", str(pack)).exit_code == 0
    record = (pack / "suspect" / "record.warc.gz").read_bytes()
    report = verify_pack(pack)
    assert report.ok and report.checks["warc"][0], report.checks
    facts = {f["fact"]: f for f in report.facts}
    assert facts["scale_of_use"]["level"] == "not_applicable"  # one copy on this site: nothing to count, never invented
    sha = hashlib.sha256(site["copy"]).hexdigest()
    assert check_warc(record, sha, "https://blog.example/c.jpg")[0]
    assert not check_warc(record, sha, "https://blog.example/a.jpg")[0]  # wrong URL
    assert not check_warc(record, "0" * 64, "https://blog.example/c.jpg")[0]  # wrong bytes
    assert not check_warc(record[:-20], sha, "https://blog.example/c.jpg")[0]  # damaged record
