"""The desk's pages in real headless Chromium (Playwright driving Debian's chromium) against a real uvicorn
server on 127.0.0.1: sign in, register through the page, scan, confirm with the keyboard, build and download
an evidence pack, switch to Chinese, inspect. Every page is screenshotted and checked not blank, with no
console error and no CSP violation. With INKSEAL_WRITE_SCREENSHOTS=1 the screenshots go to docs/img/desk-*.png."""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from h9web import accounts_for, attacked_copy, live_server, static_site
from inkseal import Inkseal
from inkseal.evidence.verify import verify_pack
from inkseal.match.sources.browser import BrowserUnavailable, find_chromium

PW = "h10-pages-passphrase"
USER, PASSWORD = "ana", "correct horse battery"
HOSTILE = '<script>alert("p")</script>"><img src=x onerror=alert(2)>'
ROOT = Path(__file__).resolve().parents[1]

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect
expect.set_options(timeout=120_000)  # a bound on a hang (a scan on 2 cores), not a timing claim


def chromium() -> str:
    try:
        return find_chromium()
    except BrowserUnavailable as exc:
        pytest.skip(str(exc))


def hostile_png(path: Path, prompt: str = "a lake", seed: int = 10) -> Path:
    """A picture whose A1111 parameters (prompt) carry markup: the pages must show it as text only."""
    rng = np.random.default_rng(seed)
    im = Image.fromarray(rng.integers(0, 255, (192, 256, 3), dtype=np.uint8))
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", f"{prompt} {HOSTILE}\nNegative prompt: blur\n"
                                "Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 42, Size: 256x192, Model: m1")
    im.save(path, "PNG", pnginfo=info)
    return path


class Shots:
    """Screenshots of every page, each checked not blank; under tmp, or docs/img when asked for."""

    def __init__(self, tmp: Path) -> None:
        self.for_docs = os.environ.get("INKSEAL_WRITE_SCREENSHOTS") == "1"
        self.dir = ROOT / "docs" / "img" if self.for_docs else tmp
        self.dir.mkdir(parents=True, exist_ok=True)
        self.taken: list[Path] = []

    def take(self, page, name: str, full_page: bool = True) -> Path:  # type: ignore[no-untyped-def]
        path = self.dir / f"desk-{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        im = Image.open(path).convert("RGB")
        colours = im.getcolors(1 << 14)  # None: more than that many colours
        assert colours is None or len(colours) > 24, f"{name}: the page looks blank ({len(colours)} colours)"
        if self.for_docs:  # committed files: 256 colours keep them a few hundred kB, still readable
            im.quantize(256, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)
        self.taken.append(path)
        return path


@pytest.fixture
def browser() -> Iterator[object]:
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=chromium(), headless=True,
                               args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"])
        try:
            yield b
        finally:
            b.close()


# A drop of real files, as a person dragging them from a file manager makes it.
DROP_FILES = """(files) => {
  const dt = new DataTransfer();
  for (const f of files) {
    const bin = atob(f.b64);
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    dt.items.add(new File([bytes], f.name, { type: "image/png" }));
  }
  return dt;
}"""

# Pages the story answers with an error status on purpose (wrong password, wrong passphrase): Chromium logs
# "Failed to load resource" for those documents, which is expected; any other console error is a problem.
EXPECTED_ERROR_PAGES = re.compile(r"/login/page$|/cases/\d+/pack$")


def watch(page) -> list[str]:  # type: ignore[no-untyped-def]
    """Console errors (a CSP violation is one) and uncaught page errors, as they happen."""
    problems: list[str] = []

    def on_console(msg) -> None:  # type: ignore[no-untyped-def]
        url = (msg.location or {}).get("url", "")
        if msg.type == "error" and not (msg.text.startswith("Failed to load resource") and EXPECTED_ERROR_PAGES.search(url)):
            problems.append(f"console {msg.type}: {msg.text} ({url})")

    page.on("console", on_console)
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    return problems


def test_creator_story_in_the_browser(tmp_path: Path, kodak: list[Path], browser) -> None:  # type: ignore[no-untyped-def]
    ink = Inkseal.open(tmp_path / "home")
    accounts = accounts_for(ink)
    ana = accounts.add_user(USER, PASSWORD)
    author = ink.author(ana.id)  # keys and journal are per account
    author.keys.init(PW, creator="Ana")
    hostile = hostile_png(tmp_path / "hostile.png")
    item = ink.register([hostile], author=USER, title=f"title {HOSTILE}").items[0]
    assert item.work_id is not None
    accounts.set_owner(item.work_id, ana.id)
    later = hostile_png(tmp_path / "hostile-2.png", "a lake at dusk", seed=11)  # a second prompt revision
    author.journal.import_paths([hostile, later], work_id=item.work_id, passphrase=PW)
    reposts = [tmp_path / "repost-a.jpg", tmp_path / "repost-b.jpg"]
    for path, original in zip(reposts, kodak[:2], strict=True):
        path.write_bytes(attacked_copy(original))
    shots = Shots(tmp_path / "shots")

    with live_server(ink) as base:
        context = browser.new_context(base_url=base, accept_downloads=True, viewport={"width": 1280, "height": 860})
        page = context.new_page()
        page.set_default_timeout(120_000)  # a bound on a hang (a scan on 2 cores), not a timing claim
        problems = watch(page)

        # -- sign in (accounts mode): any page sends a stranger to the login form first
        page.goto("/works?x=1")
        assert page.url.endswith("/login?next=/works%3Fx%3D1")
        shots.take(page, "login")
        page.fill("input[name=name]", USER)
        page.fill("input[name=password]", "wrong password")
        page.click("form button[type=submit]")
        assert page.locator("p.error").inner_text() == "wrong name or password"
        page.fill("input[name=name]", USER)
        page.fill("input[name=password]", PASSWORD)
        page.click("form button[type=submit]")
        page.wait_for_url(f"{base}/works?x=1")

        # -- register 2 pictures dropped on the page (the JS uploader: one POST /api/v1/works per file)
        dropped = page.evaluate_handle(DROP_FILES, [{"name": p.name, "b64": base64.b64encode(p.read_bytes()).decode()}
                                                    for p in kodak[:2]])
        page.dispatch_event("#drop", "drop", {"dataTransfer": dropped})
        assert page.locator("#progress-text").inner_text() == "kodim01.png, kodim02.png"
        page.click("#upload button[type=submit]")
        # (locator waits, not wait_for_function: the strict CSP forbids the eval that one needs)
        expect(page.locator("#upload-results li.ok")).to_have_count(2)
        assert "2 of 2 file(s)" in page.locator("#progress-text").inner_text() or \
            page.locator("#progress-text").inner_text().startswith("Registered 2")
        expect(page.locator(".gallery .tile")).to_have_count(3)
        assert page.locator(".gallery .tile img").count() == 3
        page.wait_for_load_state("networkidle")
        shots.take(page, "works")
        works = {w.title: w.id for w in ink.works()}
        assert set(works) == {"kodim01", "kodim02", f"title {HOSTILE}"}

        # -- scan two attacked copies through the scans page
        page.goto("/scans")
        page.set_input_files("input[name=file]", [str(p) for p in reposts])
        page.click("#scan button[type=submit]")
        page.wait_for_selector("p.big")
        assert re.search(r"2 item\(s\), 2 match\(es\), 0 failed", page.locator("p.big").inner_text())
        shots.take(page, "scans")
        page.goto("/")
        assert page.locator("p.big").inner_text() == "2 new match(es) to review"
        page.wait_for_load_state("networkidle")
        shots.take(page, "dashboard")

        # -- the inbox shows them; move down (j) and confirm (c) with the keyboard, ignore the other in bulk
        page.goto("/matches")
        rows = page.locator("article.match")
        assert rows.count() == 2 and "copies work" in page.locator("p.verdict").first.inner_text()
        second = int(rows.nth(1).get_attribute("data-id"))
        page.wait_for_load_state("networkidle")
        shots.take(page, "inbox")
        page.keyboard.press("j")
        page.keyboard.press("c")
        page.wait_for_url(re.compile(r"/matches\?done="))
        assert page.locator("p.ok").inner_text() == f"Match {second}: confirmed"
        assert page.locator("article.match").count() == 1  # the inbox shows what is still new
        page.check("article.match input[name=ids]")
        page.select_option(".bulk select[name=status]", "ignored")
        page.click(".bulk button[type=submit]")
        page.wait_for_url(re.compile(r"/matches\?done=.*ignored"))
        assert page.locator("article.match").count() == 0
        (m,) = ink.matches("confirmed")
        assert m.id == second and len(ink.matches("ignored")) == 1

        # -- case page: timeline, then build and download the pack
        page.goto(f"/cases/{m.case_id}")
        assert "first seen" in page.locator("table.timeline").inner_text()
        page.wait_for_load_state("networkidle")
        shots.take(page, "case")
        page.select_option("select[name=lang]", "en")
        page.fill("input[name=passphrase]", "not the passphrase")
        page.click("#pack button[type=submit]")
        assert "wrong passphrase" in page.locator("p.error").inner_text()
        page.select_option("select[name=lang]", "en")
        page.fill("input[name=passphrase]", PW)
        with page.expect_download(timeout=300_000) as dl:
            page.click("#pack button[type=submit]")
        pack = tmp_path / "pack.zip"
        dl.value.save_as(pack)
        report = verify_pack(pack)
        assert report.ok, report.as_dict()

        # -- work detail and its journal: the hostile prompt and title are text, never markup
        page.goto(f"/works/{works[f'title {HOSTILE}']}/journal")
        assert HOSTILE in page.locator("pre.prompt").first.inner_text()
        assert page.locator(".diff ins").inner_text() == " at dusk"  # the prompt's revision, word by word
        shots.take(page, "journal")
        page.goto(f"/works/{works['kodim02']}")
        page.wait_for_load_state("networkidle")
        shots.take(page, "work")

        # -- inspect: the same report as POST /api/v1/inspect, the full prompt in a <pre>
        page.goto("/inspect")
        page.set_input_files("input[name=file]", str(hostile))
        page.click("form.card button[type=submit]")
        page.wait_for_selector("section.report")
        assert HOSTILE in page.locator("pre.prompt").first.inner_text()
        assert page.locator("img[onerror]").count() == 0
        assert [s.get_attribute("src") for s in page.locator("script").all()] == ["/static/desk.js"]
        shots.take(page, "inspect")

        # -- Chinese: the switch on every page, kept in a cookie
        page.goto("/")
        page.click("a.lang")
        page.wait_for_url(f"{base}/")
        assert page.locator("h1").inner_text() == "概览"
        page.goto("/matches?status=confirmed")
        assert page.locator("h1").inner_text() == "匹配收件箱"
        assert "复制了作品" in page.locator("p.verdict").inner_text()  # the CLI's sentence, in Chinese
        page.wait_for_load_state("networkidle")
        shots.take(page, "inbox-zh")
        page.goto("/")
        page.wait_for_load_state("networkidle")
        shots.take(page, "dashboard-zh")

        # -- a phone screen: nothing wider than the viewport
        phone = context.new_page()
        problems += watch(phone)
        phone.set_viewport_size({"width": 390, "height": 844})
        for path in ("/", "/works", f"/cases/{m.case_id}", "/matches?status=confirmed"):
            phone.goto(path)
            phone.wait_for_load_state("networkidle")
            assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), path
        shots.take(phone, "inbox-phone")

        # -- the page source itself has no live markup from the title or the prompt
        cookies = {c["name"]: c["value"] for c in context.cookies()}
        with httpx.Client(base_url=base, cookies=cookies, timeout=120) as c:
            for path in ("/works", f"/works/{works[f'title {HOSTILE}']}/journal", "/"):
                html = c.get(path).text
                assert "<script>alert" not in html and "<img src=x" not in html, path
            assert "&lt;script&gt;alert" in c.get("/works").text
            statement = c.get(f"/works/{works[f'title {HOSTILE}']}/statement", params={"lang": "en"})
            assert statement.status_code == 200 and "<script>alert" not in statement.text
            assert "sandbox" in statement.headers["content-security-policy"]
            # the inbox's date filter
            assert c.get("/matches", params={"status": "", "since": "2000-01-01"}).text.count("<article") == 2
            assert c.get("/matches", params={"status": "", "until": "2000-01-01"}).text.count("<article") == 0
            assert c.get("/works").headers["content-security-policy"].startswith("default-src 'self'; script-src 'self'")
        context.close()
        assert problems == [], problems
    assert len(shots.taken) == 12


def test_local_user_opens_the_dashboard_without_login(tmp_path: Path, browser) -> None:  # type: ignore[no-untyped-def]
    ink = Inkseal.open(tmp_path / "home")
    with live_server(ink) as base:
        page = browser.new_page(base_url=base)
        problems = watch(page)
        page.goto("/")
        assert page.url == f"{base}/" and page.locator("h1").inner_text() == "Dashboard"
        assert page.locator("form[action='/logout/page']").count() == 0  # nobody to sign out
        assert problems == [], problems
        page.goto("/works/999")  # an unknown id: the 404 as a page, in words
        assert page.locator("p.error").inner_text() == "no work 999"
        page.close()


def test_pages_refuse_a_write_without_the_csrf_token(tmp_path: Path, kodak: list[Path]) -> None:
    ink = Inkseal.open(tmp_path / "home")
    accounts_for(ink).add_user(USER, PASSWORD)
    with live_server(ink) as base, httpx.Client(base_url=base, timeout=120) as c:
        r = c.post("/login/page", data={"name": USER, "password": PASSWORD, "next": "/works"})
        assert r.status_code == 303 and r.headers["location"] == "/works"
        page = c.get("/works").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        upload = {"file": ("k.png", kodak[0].read_bytes(), "image/png")}
        refused = c.post("/works", files=upload)
        assert refused.status_code == 403 and "CSRF" in refused.text and ink.works() == []
        done = c.post("/works", files=upload, data={"csrf_token": token})
        assert done.status_code == 200 and len(ink.works()) == 1
        bad = c.post("/works", files={"file": ("x.png", b"\x89PNG broken", "image/png")}, data={"csrf_token": token})
        assert bad.status_code == 422 and "x.png:" in bad.text and "Traceback" not in bad.text
        out = c.post("/logout/page", data={"csrf_token": token})
        assert out.status_code == 303 and c.get("/").status_code == 303


def test_another_users_objects_are_404_pages(tmp_path: Path, kodak: list[Path]) -> None:
    """Every page that takes an id answers 404 for another account's object, reads and writes alike."""
    ink = Inkseal.open(tmp_path / "home")
    accounts = accounts_for(ink)
    ana = accounts.add_user(USER, PASSWORD)
    accounts.add_user("bo", PASSWORD)
    work_id = ink.register([kodak[0]], author=USER).items[0].work_id
    assert work_id is not None
    accounts.set_owner(work_id, ana.id)
    copy = tmp_path / "copy.jpg"
    copy.write_bytes(attacked_copy(kodak[0]))
    ink.scan([str(copy)])
    (m,) = ink.matches()
    file_id = ink.work(work_id).files[0].id
    with live_server(ink) as base, httpx.Client(base_url=base, timeout=120) as c:
        assert c.post("/login/page", data={"name": "bo", "password": PASSWORD}).status_code == 303
        token = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/").text).group(1)
        for path in (f"/works/{work_id}", f"/works/{work_id}/journal", f"/works/{work_id}/statement",
                     f"/works/{work_id}/seal", f"/works/{work_id}/seal/preview.png",
                     f"/cases/{m.case_id}", f"/cases/{m.case_id}/screenshot", f"/matches/{m.id}/suspect",
                     f"/api/v1/works/{work_id}/files/{file_id}/image"):
            r = c.get(path)
            assert r.status_code == 404, (path, r.status_code)
        for path, data in (("/matches/decide", {"act": f"{m.id}:confirmed"}),
                           (f"/cases/{m.case_id}/status", {"status": "confirmed"}),
                           (f"/cases/{m.case_id}/pack", {"passphrase": "whatever-it-is"}),
                           (f"/cases/{m.case_id}/drafts", {"passphrase": "whatever-it-is"}),
                           (f"/works/{work_id}/seal", {"passphrase": "whatever-it-is", "signature": "x"})):
            r = c.post(path, data={**data, "csrf_token": token})
            assert r.status_code == 404, (path, r.status_code)
        assert "<article" not in c.get("/matches", params={"status": ""}).text
        assert "kodim01" not in c.get("/works").text and "kodim01" not in c.get("/").text
    assert ink.matches()[0].status == "new"


def test_every_page_string_has_both_languages() -> None:
    from inkseal.web.pages_text import TEXT

    used = set()
    for template in (ROOT / "src" / "inkseal" / "web" / "templates").glob("*.html.j2"):
        used |= set(re.findall(r"""_\(\s*["']([a-z_0-9]+)["']\s*[,)]""", template.read_text(encoding="utf-8")))
    used |= {"tier_copy", "tier_derivative"}  # built as "tier_" + tier
    assert used and not used - set(TEXT), sorted(used - set(TEXT))
    untranslated = [key for key, (en, zh) in TEXT.items() if not en.strip() or not zh.strip() or en == zh]
    assert untranslated == [], untranslated


def test_case_page_shows_the_page_screenshot_with_the_copy(tmp_path: Path, kodak: list[Path], browser) -> None:  # type: ignore[no-untyped-def]
    """A copy found by `scan --browser`: the case page shows the page as the browser saw it, outlined."""
    routes = {
        "/article": ("text/html; charset=utf-8", b"<!doctype html><html><head><meta charset='utf-8'><title>Repost</title>"
                     b"</head><body><h1>Nice barn photos</h1><p>reposted without asking</p>"
                     b"<img src='/copy.jpg' alt='barn'></body></html>"),
        "/copy.jpg": ("image/jpeg", attacked_copy(kodak[1])),
    }
    ink = Inkseal.open(tmp_path / "home")  # the single-user install: the local user owns it all
    ink.register([kodak[1]], author="local")
    with static_site(routes) as site_url:
        # in a thread of its own: this thread already drives the test's Playwright (one sync API per thread)
        with ThreadPoolExecutor(1) as pool:
            report = pool.submit(ink.scan, [f"{site_url}/article"], browser=True).result(timeout=300)
    (m,) = [m for r in report.matched for m in r.matches]
    shots = Shots(tmp_path / "shots")
    with live_server(ink) as base:
        page = browser.new_page(base_url=base, viewport={"width": 1280, "height": 860})
        problems = watch(page)
        page.goto(f"/cases/{m.case_id}")
        shot = page.locator("img.shot")
        expect(shot).to_be_visible()
        assert page.evaluate("document.querySelector('img.shot').naturalWidth") == 1280  # the browser's page width
        assert "/article" in page.locator("body").inner_text()
        page.wait_for_load_state("networkidle")
        shots.take(page, "case-page-screenshot")
        page.goto("/")
        assert "127.0.0.1" in page.locator("table").first.inner_text()  # open cases by site
        page.close()
        assert problems == [], problems
