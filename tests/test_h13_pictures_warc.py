"""Issue 13 part 3: captures that hold as evidence. A real HTTP server on 127.0.0.1 serves an
infringing page (the copy lazy-loaded, behind a redirect); the scan keeps a WARC of the page and the
picture as served; the evidence pack carries it and `evidence verify` re-checks it offline; one
byte changed and it fails. With --browser the page is scrolled so lazy loaders fire, and the WARC
also holds the screenshot."""

from __future__ import annotations

import hashlib
import http.server
import io
import json
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner
from warcio.archiveiterator import ArchiveIterator

from badfiles import jpeg_bytes
from inkseal.cli import app as cli
from inkseal.demo import DEMO_PASSPHRASE
from inkseal.evidence.capture import check_warc
from inkseal.evidence.verify import verify_pack
from inkseal.match.sources.warcwrite import MAX_PAGE_BODY

runner = CliRunner()
GIF_1PX = "data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7"


def run(home: Path, *args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(cli, ["--home", str(home), "--lang", "en", *args], catch_exceptions=False)


class _Site(http.server.BaseHTTPRequestHandler):
    routes: dict[str, tuple[int, dict[str, str], bytes]] = {}

    def do_GET(self) -> None:  # noqa: N802
        status, headers, body = self.routes.get(self.path, (404, {"Content-Type": "text/plain"}, b"nope"))
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


# Scrolling reveals the copy: the <img> is made only once the page has been scrolled past 2,000 px, and its
# URL is assembled in the script, so no reading of the markup could find it - only a scroll can.
SCROLL_PAGE = """<html><head><title>Scroll</title></head><body><h1>Long read</h1><div style="height:3000px">text</div>
<div id="slot"></div><script>let done = false; window.addEventListener('scroll', () => {
  if (done || window.scrollY < 2000) return; done = true;
  const i = document.createElement('img'); i.src = '/co' + 'py' + '.jpg'; i.alt = 'revealed';
  document.getElementById('slot').appendChild(i); });</script></body></html>"""


@pytest.fixture(scope="module")
def site(kodak: list[Path]) -> Iterator[dict]:
    work = Image.open(kodak[6]).convert("RGB")
    copy = jpeg_bytes(work.crop((0, 0, 600, 420)).resize((450, 315)), quality=80)
    html = {"Content-Type": "text/html; charset=utf-8"}
    article = (f"<html><head><title>转载 Repost</title></head><body><p>text</p>"
               f"<img class='rich_pages' src='{GIF_1PX}' data-src='/cdn/copy?wx_fmt=jpeg'></body></html>")
    padding = "<p>" + "padding " * (MAX_PAGE_BODY // 8 + 1000) + "</p>"
    _Site.routes = {
        "/article": (200, html, article.encode()),
        "/cdn/copy?wx_fmt=jpeg": (302, {"Location": "/copy.jpg"}, b""),
        "/copy.jpg": (200, {"Content-Type": "image/jpeg", "Last-Modified": "Tue, 01 Oct 2024 08:00:00 GMT"}, copy),
        "/huge": (200, html, f"<html><title>Huge</title><body><img data-src='/copy.jpg'>{padding}</body></html>".encode()),
        "/scroll": (200, html, SCROLL_PAGE.encode()),
    }
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Site)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield {"url": f"http://127.0.0.1:{server.server_address[1]}", "copy": copy, "work": kodak[6]}
    server.shutdown()
    server.server_close()


@pytest.fixture
def home(site: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("INKSEAL_PASSPHRASE", DEMO_PASSPHRASE)
    home = tmp_path / "home"
    assert run(home, "register", str(site["work"]), "--author", "Li").exit_code == 0
    assert run(home, "keys", "init").exit_code == 0
    return home


def _records(warc: bytes) -> list[tuple[str, str, str, bytes]]:
    """(type, target URI, WARC-Date, payload) of every record."""
    out = []
    for rec in ArchiveIterator(io.BytesIO(warc)):
        out.append((rec.rec_type, rec.rec_headers.get_header("WARC-Target-URI") or "",
                    rec.rec_headers.get_header("WARC-Date") or "", rec.content_stream().read()))
    return out


def _tampered(pack: Path, tmp_path: Path) -> Path:
    """The pack with one byte of the copy's bytes changed inside the WARC (each record re-compressed
    as its own gzip member, so the WARC still parses: only the content is wrong)."""
    import gzip
    import zlib

    bad = tmp_path / "pack-tampered"
    shutil.copytree(pack, bad)
    record = bad / "suspect" / "record.warc.gz"
    members, rest = [], record.read_bytes()
    while rest:
        member = zlib.decompressobj(31)
        members.append(member.decompress(rest))
        rest = member.unused_data
    at = members[-1].rindex(b"\xff\xd9") - 100  # inside the last record: the picture's response payload
    members[-1] = members[-1][:at] + bytes([members[-1][at] ^ 0x01]) + members[-1][at + 1:]
    record.write_bytes(b"".join(gzip.compress(m) for m in members))
    return bad


def test_a_plain_scan_keeps_a_warc_that_verifies_and_catches_one_changed_byte(site: dict, home: Path,
                                                                              tmp_path: Path) -> None:
    r = run(home, "scan", site["url"] + "/article", "--json")
    assert r.exit_code == 0, r.output
    (m,) = json.loads(r.stdout)["matches"]
    source = site["url"] + "/cdn/copy?wx_fmt=jpeg"
    assert m["suspect"]["source"] == source and m["suspect"]["location"]["how"] == "img[data-src]"
    assert set(m["suspect"]["location"]["attachments"]) == {"warc_record"}

    pack = tmp_path / "pack"
    assert run(home, "evidence", str(m["id"]), "-o", str(pack), "--lang", "en").exit_code == 0
    warc = (pack / "suspect" / "record.warc.gz").read_bytes()
    records = _records(warc)
    kinds = [(t, uri.removeprefix(site["url"])) for t, uri, _d, _p in records]
    assert kinds == [("warcinfo", ""), ("request", "/article"), ("response", "/article"),
                     ("request", "/cdn/copy?wx_fmt=jpeg"), ("response", "/cdn/copy?wx_fmt=jpeg"),
                     ("request", "/copy.jpg"), ("response", "/copy.jpg")]
    assert records[-1][3] == site["copy"] and b"data-src='/cdn/copy?wx_fmt=jpeg'" in records[2][3]
    assert all(date.endswith("Z") for t, _u, date, _p in records if t != "warcinfo")
    report = verify_pack(pack)
    assert report.ok and report.checks["warc"][0], report.checks
    assert "redirected to " + site["url"] + "/copy.jpg" in report.checks["warc"][1]
    assert run(home, "evidence", "verify", str(pack)).exit_code == 0

    bad = _tampered(pack, tmp_path)
    report = verify_pack(bad)  # the manifest catches the changed file; the WARC check fails with it
    assert not report.ok and not report.checks["warc"][0] and "not an intact file" in report.checks["warc"][1]
    assert run(home, "evidence", "verify", str(bad)).exit_code != 0
    sha = hashlib.sha256(site["copy"]).hexdigest()  # and the WARC itself no longer holds the suspect's bytes
    changed = check_warc((bad / "suspect" / "record.warc.gz").read_bytes(), sha, source)
    assert not changed[0] and "≠ the suspect" in changed[1]

    assert check_warc(warc, sha, source, site["url"] + "/article")[0]
    detail = check_warc(warc, sha, source, site["url"] + "/elsewhere")
    assert not detail[0] and "no record of the page" in detail[1]
    assert not check_warc(warc, sha, site["url"] + "/other.jpg")[0]


def test_a_huge_page_is_cut_in_the_capture_and_the_check_says_so(site: dict, home: Path, tmp_path: Path) -> None:
    r = run(home, "scan", site["url"] + "/huge", "--json")
    (m,) = json.loads(r.stdout)["matches"]
    pack = tmp_path / "pack"
    assert run(home, "evidence", str(m["id"]), "-o", str(pack), "--lang", "en").exit_code == 0
    warc = (pack / "suspect" / "record.warc.gz").read_bytes()
    page = next(p for t, uri, _d, p in _records(warc) if t == "response" and uri.endswith("/huge"))
    assert len(page) == MAX_PAGE_BODY and len(warc) < MAX_PAGE_BODY // 4  # cut, and compressed
    report = verify_pack(pack)
    assert report.ok and report.checks["warc"][0]
    assert "left out or cut" in report.checks["warc"][1] and "body cut at 4,194,304" in report.checks["warc"][1]


def test_the_browser_scrolls_and_its_warc_holds_the_screenshot(site: dict, home: Path, tmp_path: Path) -> None:
    r = run(home, "scan", site["url"] + "/scroll", "--browser", "--json")
    assert r.exit_code == 0, r.output
    (m,) = json.loads(r.stdout)["matches"]
    loc = m["suspect"]["location"]
    assert m["suspect"]["source"] == site["url"] + "/copy.jpg" and loc["alt"] == "revealed"
    assert loc["shown_via"] == "img" and loc["box"][1] > 3000  # shown below the fold, after scrolling
    pack = tmp_path / "pack"
    assert run(home, "evidence", str(m["id"]), "-o", str(pack), "--lang", "en").exit_code == 0
    records = _records((pack / "suspect" / "record.warc.gz").read_bytes())
    kinds = [(t, uri.removeprefix(site["url"])) for t, uri, _d, _p in records]
    assert kinds == [("warcinfo", ""), ("request", "/scroll"), ("response", "/scroll"), ("request", "/copy.jpg"),
                     ("response", "/copy.jpg"), ("resource", "/scroll#page-screenshot")]
    assert records[4][3] == site["copy"]
    assert records[5][3] == (pack / "suspect" / "page-screenshot.png").read_bytes()
    report = verify_pack(pack)
    assert report.ok and report.checks["warc"][0] and report.checks["screenshot"][0], report.checks
