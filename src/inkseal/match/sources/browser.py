"""A page as a reader saw it: headless Chromium (Debian's) driven through Playwright.

`scan URL --browser` opens each page in a real browser instead of parsing its HTML, because what
counts as evidence is what the page *showed*: images added by scripts, lazy loading, CSS
backgrounds, and their place on the rendered page. One visit yields:

- a full-page screenshot (PNG, height capped at MAX_SHOT_HEIGHT CSS px) and the rendered DOM;
- every image the page displays (`<img>`, and CSS background images of visible elements), with
  its box on the screenshot, natural size and alt text;
- the exact bytes the browser received for each of them (from the network responses, capped at
  max_bytes), so the suspect is what was served, not a later re-download;
- pictures the rendered page names but did not show (lazy attributes no script swapped in,
  `<noscript>` fallbacks, `og:image`, JSON state in scripts: `html.parse_page` on the rendered DOM),
  fetched by inkseal's fetcher;
- last, the screenshot itself as a suspect, for pictures no image list holds (canvas, iframes,
  blob: URLs); the scan keeps from it only works not already found on the page.

Before collecting, the page is scrolled to the bottom in viewport steps (bounded: MAX_SCROLL_PX and
MAX_SCROLL_S) so that lazy loaders fire, then back to the top for the screenshot. Each item carries a
WARC (`warcwrite`) of the page's and its picture's exchanges as served, plus the screenshot as a
resource record.

The screenshot and the rendered DOM travel with each item as attachments; the scan keeps them in
the object store when the item matches, and the evidence pack shows the screenshot with the copy
outlined. Playwright's own browser download is never used: we launch the Chromium found on the
machine (`INKSEAL_CHROMIUM` or the `chromium` setting, else chromium / chromium-browser /
google-chrome on PATH). Why Playwright rather than `chromium --screenshot`: the command-line flags
give neither full-page shots nor element boxes nor the response bodies.

Network policy: every request the page makes is intercepted (`BrowserContext.route`). GET requests
are made by inkseal's own `Fetcher` - the same limits, whole-fetch deadline, address pinning and
SSRF policy as a plain scan - and handed to Chromium, one redirect hop at a time so each hop is
checked; Chromium itself resolves no host for them. Other methods (a script's POST) and WebSockets
are checked against the policy and then left to Chromium (which resolves the host again: a
residual DNS-rebinding risk for those only). A refused request is aborted and reported in one line.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin, urlparse

from inkseal.match.sources.base import Attachment, SuspectItem
from inkseal.match.sources.fetch import REDIRECT_CODES, Fetcher, FetchError, Refused, looks_like_html
from inkseal.match.sources.html import _abbrev, decode_data_uri, parse_page
from inkseal.match.sources.netpolicy import RefusedAddress, ResolveError
from inkseal.match.sources.pictures import refused_scheme
from inkseal.match.sources.warcwrite import Exchange, page_warc, picture_warc
from inkseal.errors import one_line

MAX_REFUSALS_LISTED = 20
FORWARDED = ("user-agent", "accept", "accept-language", "referer")  # request headers passed on from Chromium
NOT_REPLAYED = {"content-encoding", "content-length", "transfer-encoding", "connection", "keep-alive"}
MAX_SHOT_HEIGHT = 20_000
VIEWPORT = {"width": 1280, "height": 900}
CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "chrome", "headless_shell")
MAX_SCROLL_PX = 2 * MAX_SHOT_HEIGHT  # an endless page is scrolled this far, no further
MAX_SCROLL_S = 8.0
NOT_PICTURES = ("text/css", "text/javascript", "application/javascript", "application/json", "font/", "video/",
                "audio/", "application/wasm")
MAX_KEPT_EXCHANGES = 2_000  # requests of one page kept for its WARC (documents, pictures, redirects)

# Scrolls the page down one viewport at a time, two animation frames per step (what scroll-driven and
# IntersectionObserver lazy loaders react to), within a distance and time budget; then back to the top.
_SCROLL_JS = """async ([maxPx, maxMs]) => {
  const start = Date.now(); const step = Math.max(200, window.innerHeight - 100); let y = 0, steps = 0;
  const frame = () => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
  while (y < Math.min(document.documentElement.scrollHeight, maxPx) && Date.now() - start < maxMs) {
    y += step; window.scrollTo(0, y); steps++; await frame();
  }
  window.scrollTo(0, 0); await frame();
  return {steps, bottom: y, height: document.documentElement.scrollHeight, ms: Date.now() - start};
}"""

# Runs in the page: every displayed <img> (currentSrc, so srcset choices count) and every visible
# element with a CSS background image, in document order, with boxes in page coordinates.
_COLLECT_JS = """(maxItems) => {
  const out = [];
  const path = (el) => { const parts = []; for (let e = el; e && e.nodeType === 1 && parts.length < 12; e = e.parentElement) {
      let s = e.tagName.toLowerCase(); if (e.id) s += '#' + e.id; parts.unshift(s); } return parts.join(' > '); };
  const box = (el) => { const r = el.getBoundingClientRect();
      return [r.left + window.scrollX, r.top + window.scrollY, r.width, r.height]; };
  for (const el of document.querySelectorAll('*')) {
    if (out.length >= maxItems) break;
    const b = box(el);
    if (b[2] < 2 || b[3] < 2) continue;
    if (el.tagName === 'IMG' && el.currentSrc) {
      out.push({src: el.currentSrc, box: b, natural: [el.naturalWidth, el.naturalHeight], alt: el.alt || null,
                dom_path: path(el), via: 'img'});
      continue;
    }
    const bg = getComputedStyle(el).backgroundImage;
    if (bg && bg !== 'none') {
      for (const m of bg.matchAll(/url\\(["']?([^"')]+)["']?\\)/g)) {
        out.push({src: new URL(m[1], document.baseURI).href, box: b, natural: null, alt: null,
                  dom_path: path(el), via: 'css-background'});
      }
    }
  }
  return out;
}"""


class BrowserUnavailable(RuntimeError):
    """No Chromium or no Playwright: the message says what to install."""


def find_chromium(configured: str | None = None) -> str:
    for candidate in (configured, os.environ.get("INKSEAL_CHROMIUM")):
        if candidate:
            if shutil.which(candidate) or os.access(candidate, os.X_OK):
                return shutil.which(candidate) or candidate
            raise BrowserUnavailable(f"configured Chromium not found: {candidate}")
    for name in CANDIDATES:
        if path := shutil.which(name):
            return path
    raise BrowserUnavailable("no Chromium found: install Debian's 'chromium' package (apt-get install chromium) "
                             "or set INKSEAL_CHROMIUM to a Chromium/Chrome executable")


@dataclass
class PageCapture:
    requested_url: str
    final_url: str
    title: str
    status: int | None
    captured_at: datetime
    screenshot: bytes  # PNG, full page
    rendered_html: bytes
    images: list[dict[str, Any]] = field(default_factory=list)
    bodies: dict[str, tuple[bytes, str]] = field(default_factory=dict)  # url -> (bytes, content type)
    oversize: dict[str, int] = field(default_factory=dict)  # url -> bytes, when over max_bytes
    page_size: tuple[int, int] = (0, 0)
    refused: dict[str, str] = field(default_factory=dict)  # url -> one-line reason (network policy)
    failed: dict[str, str] = field(default_factory=dict)  # url -> why inkseal's fetch of it failed
    truncated: list[str] = field(default_factory=list)  # one line per page limit the capture ran into
    exchanges: dict[str, Exchange] = field(default_factory=dict)  # URL -> its first exchange (for the WARC)
    navigation: str = ""  # the URL the page was opened at (its exchange starts the page's redirect chain)
    scrolled: dict[str, Any] = field(default_factory=dict)


class _RequestGuard:
    """Routes one capture's requests through the fetcher (see the module's docstring)."""

    def __init__(self, fetcher: Fetcher, url: str) -> None:
        self.fetcher, self.url = fetcher, url
        self.started = False
        self.redirected_from: dict[str, str] = {}  # a redirect's target -> the URL that redirected there
        self.refused: dict[str, str] = {}
        self.failed: dict[str, str] = {}
        self.navigation_error: str | None = None  # why the user's URL itself could not be fetched
        self.exchanges: dict[str, Exchange] = {}

    def _found_on(self, request: Any) -> str | None:
        if not self.started:  # a fresh context's first request is the navigation to the user's URL
            self.started = True
            return None
        if request.url in self.redirected_from:
            return self.redirected_from[request.url]
        try:
            frame_url = request.frame.url
        except Exception:  # noqa: BLE001 - requests without a frame (workers): judged as the page's
            frame_url = ""
        return frame_url if frame_url.startswith(("http://", "https://")) else self.url

    def handle(self, route: Any) -> None:
        try:
            self._handle(route)
        except Exception as exc:  # noqa: BLE001 - a malformed URL, a closed page: that request fails alone
            self.failed[route.request.url] = f"{one_line(exc, with_type=True)}"
            try:
                route.abort("failed")
            except Exception:  # noqa: BLE001 - already handled or the page is gone
                pass

    def _handle(self, route: Any) -> None:
        request = route.request
        target = request.url
        if not target.startswith(("http://", "https://")):
            route.continue_()
            return
        found_on = self._found_on(request)
        if request.method != "GET":
            try:
                self.fetcher.policy.check(target, found_on)
            except (RefusedAddress, ResolveError) as exc:
                self.refused[target] = str(exc)
                route.abort("blockedbyclient")
                return
            route.continue_()
            return
        headers = {k: v for k, v in request.headers.items() if k.lower() in FORWARDED}
        got: list[Exchange] = []
        try:
            status, resp_headers, body = self.fetcher.get_one(target, found_on, headers, exchanges=got)
        except FetchError as exc:
            (self.refused if isinstance(exc, Refused) else self.failed)[target] = str(exc)
            if found_on is None:
                self.navigation_error = str(exc)
            route.abort("blockedbyclient" if isinstance(exc, Refused) else "failed")
            return
        location = resp_headers.get("location")
        if status in REDIRECT_CODES and location:
            self.redirected_from[urljoin(target, location)] = target
        kind = resp_headers.get("content-type", "").lower()
        if got and len(self.exchanges) < MAX_KEPT_EXCHANGES and target not in self.exchanges and (
                found_on is None or not kind.startswith(NOT_PICTURES)):
            self.exchanges[target] = got[0]  # what a WARC of the page and its pictures needs (a type may lie)
        route.fulfill(status=status, body=body,
                      headers={k: v for k, v in resp_headers.items() if k.lower() not in NOT_REPLAYED})

    def handle_websocket(self, ws: Any) -> None:
        http_url = "http" + ws.url[2:] if ws.url.startswith("ws") else ws.url
        try:
            self.fetcher.policy.check(http_url, self.url)
        except (RefusedAddress, ResolveError) as exc:
            self.refused[ws.url] = str(exc)
            ws.close()
            return
        ws.connect_to_server()


class PageBrowser:
    """One Chromium for a whole scan; each `capture` uses a fresh context (no shared cookies)."""

    def __init__(self, *, chromium: str | None = None, timeout_s: float = 20.0, max_bytes: int = 64 << 20,
                 fetcher: Fetcher | None = None) -> None:
        """`fetcher`: fetches the pages' resources (pass the scan's, built from its settings)."""
        try:
            from playwright.sync_api import sync_playwright
        except ImportError:  # pragma: no cover - the dependency is declared; this guards broken installs
            raise BrowserUnavailable("Playwright is not installed: pip install playwright") from None
        self.executable = find_chromium(chromium)
        self.timeout_ms = timeout_s * 1000
        self.max_bytes = max_bytes
        self._own_fetcher = fetcher is None
        self.fetcher = fetcher or Fetcher(max_bytes=max_bytes, timeout_s=timeout_s)
        self._pw = sync_playwright().start()
        try:
            # --no-sandbox: CI and containers run as root, where Chromium's sandbox refuses to start;
            # --disable-dev-shm-usage: containers often have a 64 MB /dev/shm, too small for long pages;
            # WebRTC may not probe the local network (it bypasses request interception).
            self._browser = self._pw.chromium.launch(executable_path=self.executable, headless=True,
                                                     args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                                                           "--hide-scrollbars",
                                                           "--force-webrtc-ip-handling-policy=disable_non_proxied_udp"])
        except Exception as exc:
            self._pw.stop()
            raise BrowserUnavailable(f"cannot start {self.executable}: {one_line(exc)}") from None

    def capture(self, url: str) -> PageCapture:
        ctx = self._browser.new_context(viewport=VIEWPORT, device_scale_factor=1, service_workers="block")
        guard = _RequestGuard(self.fetcher, url)
        try:
            ctx.route("**/*", guard.handle)
            if hasattr(ctx, "route_web_socket"):
                ctx.route_web_socket("**/*", guard.handle_websocket)
            page = ctx.new_page()
            page.set_default_timeout(self.timeout_ms)
            responses: list[Any] = []
            page.on("response", lambda r: responses.append(r))
            try:
                resp = page.goto(url, wait_until="load")
            except Exception:
                if guard.navigation_error:  # inkseal's own reason, not Chromium's "net::ERR_FAILED"
                    raise RuntimeError(guard.navigation_error) from None
                raise
            scrolled: dict[str, Any] = {}
            try:  # lazy loaders fire on scroll; a page that blocks scripting is captured as it is
                scrolled = page.evaluate(_SCROLL_JS, [MAX_SCROLL_PX, MAX_SCROLL_S * 1000])
            except Exception:  # noqa: BLE001
                pass
            try:  # lazy images and late scripts: give the network a moment to settle, never forever
                page.wait_for_load_state("networkidle", timeout=min(self.timeout_ms, 5000))
            except Exception:  # noqa: BLE001 - a page that never goes idle is still captured as it is
                pass
            limit = self.fetcher.limits.max_images
            images = page.evaluate(_COLLECT_JS, limit + 1)
            truncated = [f"only the first {limit:,} pictures on the page were read"] if len(images) > limit else []
            images = images[:limit]
            size = page.evaluate("() => [document.documentElement.scrollWidth, document.documentElement.scrollHeight]")
            height = min(int(size[1]), MAX_SHOT_HEIGHT)
            shot = page.screenshot(full_page=True, type="png",
                                   clip=None if height == int(size[1]) else
                                   {"x": 0, "y": 0, "width": VIEWPORT["width"], "height": height})
            bodies: dict[str, tuple[bytes, str]] = {}
            oversize: dict[str, int] = {}
            wanted = {img["src"] for img in images}
            for r in responses:
                if r.url not in wanted or r.url in bodies or not (200 <= r.status < 300):
                    continue
                declared = r.headers.get("content-length")
                if declared and declared.isdigit() and int(declared) > self.max_bytes:
                    oversize[r.url] = int(declared)
                    continue
                try:
                    body = r.body()
                except Exception:  # noqa: BLE001 - evicted from the cache; the item says so below
                    continue
                if len(body) > self.max_bytes:
                    oversize[r.url] = len(body)
                    continue
                bodies[r.url] = (body, r.headers.get("content-type", ""))
            return PageCapture(requested_url=url, final_url=page.url, title=page.title(),
                               status=resp.status if resp else None, captured_at=datetime.now(UTC),
                               screenshot=shot, rendered_html=page.content().encode("utf-8"), images=images,
                               bodies=bodies, oversize=oversize, page_size=(int(size[0]), int(size[1])),
                               refused=guard.refused, failed=guard.failed, truncated=truncated,
                               exchanges=guard.exchanges, navigation=url, scrolled=scrolled or {})
        finally:
            ctx.close()

    def close(self) -> None:
        try:
            self._browser.close()
        finally:
            self._pw.stop()
            if self._own_fetcher:
                self.fetcher.close()


def iter_browser_page(url: str, browser: PageBrowser) -> Iterator[SuspectItem]:
    if urlparse(url).scheme not in ("http", "https"):
        yield SuspectItem(kind="url", source=url, error=f"unsupported URL scheme: {url}")
        return
    try:
        cap = browser.capture(url)
    except Exception as exc:  # noqa: BLE001 - navigation errors, timeouts, crashed tabs: one line each
        msg = one_line(exc)
        yield SuspectItem(kind="url", source=url, error=f"browser could not load the page: {msg}")
        return
    if cap.status is not None and cap.status >= 400:
        yield SuspectItem(kind="url", source=url, error=f"HTTP {cap.status}")
        return
    attachments = {"page_screenshot": cap.screenshot, "page_rendered_html": cap.rendered_html}
    shot = (cap.screenshot, cap.captured_at)
    direct = not cap.images and cap.final_url in cap.bodies  # the URL was an image itself
    page_part, page_notes = (b"", []) if direct else page_warc(cap.final_url, _chain(cap, cap.navigation))

    def warc(src: str, exchanges: list[Exchange] | None = None) -> dict[str, Attachment]:
        """The page's attachments plus this picture's WARC, written only if the scan keeps the item (none when
        nothing was fetched for it)."""
        chain = exchanges if exchanges is not None else _chain(cap, src)
        if not chain and src != f"{cap.final_url}#page-screenshot":
            return attachments
        record = partial(picture_warc, b"", [], None, chain) if direct else \
            partial(picture_warc, page_part, page_notes, cap.final_url, chain, shot)
        return attachments | {"warc_record": record}

    if direct:
        cap.images = [{"src": cap.final_url, "box": None, "natural": None, "alt": None, "dom_path": None, "via": "url"}]
    seen: set[str] = set()
    yield from _shown_items(cap, url, browser, seen, warc)
    if not direct:
        yield from _markup_items(cap, url, browser, seen, warc)
    # Requests the policy refused that no image item reported (scripts, frames, a picture never shown).
    others = [u for u in cap.refused if u not in seen]
    for u in others[:MAX_REFUSALS_LISTED]:
        yield SuspectItem(kind="url", source=_abbrev(u), page_url=cap.final_url, error=cap.refused[u],
                          location={"requested": url, "shown_via": "refused-request"})
    if len(others) > MAX_REFUSALS_LISTED:
        yield SuspectItem(kind="url", source=cap.final_url, page_url=cap.final_url,
                          error=f"{len(others) - MAX_REFUSALS_LISTED} more requests refused by the network policy",
                          location={"requested": url, "shown_via": "refused-request"})
    if cap.truncated:
        yield SuspectItem(kind="url", source=cap.final_url, page_url=cap.final_url,
                          error="page only partly read: " + "; ".join(cap.truncated),
                          location={"requested": url, "page_truncated": cap.truncated})
    # Last, the page as it looked: pictures drawn on a canvas, shown in an iframe or from a blob: URL are
    # in no image list, but they are on the screenshot. The scan drops works already found on this page.
    yield SuspectItem(kind="url", source=f"{cap.final_url}#page-screenshot", page_url=cap.final_url,
                      data=cap.screenshot, captured_at=cap.captured_at,
                      attachments=warc(f"{cap.final_url}#page-screenshot", []),
                      location={"page_title": cap.title, "shown_via": "page-screenshot", "requested": url,
                                "browser": os.path.basename(browser.executable), "page_size": list(cap.page_size),
                                "scrolled": cap.scrolled})


def _chain(cap: PageCapture, url: str) -> list[Exchange]:
    """The exchanges that fetched `url`: its redirect hops in order, then the answer."""
    out: list[Exchange] = []
    while url in cap.exchanges and len(out) <= 5 and all(ex.url != url for ex in out):
        ex = cap.exchanges[url]
        out.append(ex)
        location = next((v for k, v in ex.response_headers if k.lower() == "location"), None)
        if ex.status not in REDIRECT_CODES or not location:
            break
        url = urljoin(url, location)
    return out


def _shown_items(cap: PageCapture, url: str, browser: PageBrowser, seen: set[str],
                 warc: Any) -> Iterator[SuspectItem]:
    """The pictures the page displayed, with their boxes and the bytes the browser received."""
    for order, img in enumerate(cap.images):
        src = img["src"]
        if src in seen:  # the same image shown twice is one suspect; the first place is recorded
            continue
        seen.add(src)
        loc = {"page_title": cap.title, "dom_path": img["dom_path"], "order": order, "alt": img["alt"],
               "box": [round(v, 1) for v in img["box"]] if img["box"] else None, "natural_size": img["natural"],
               "shown_via": img["via"], "how": img["via"], "requested": url,
               "browser": os.path.basename(browser.executable), "page_size": list(cap.page_size)}
        item = SuspectItem(kind="url", source=_abbrev(src), page_url=cap.final_url, location=loc,
                           captured_at=cap.captured_at, attachments=warc(src) if src in cap.bodies else warc(""))
        if src in cap.bodies:
            item.data, loc["content_type"] = cap.bodies[src]
        elif src.startswith("data:"):
            try:
                item.data = decode_data_uri(src)
            except ValueError as exc:
                item.error = str(exc)
        elif src in cap.oversize:
            item.error = f"too large: {cap.oversize[src]:,} bytes"
        elif src in cap.refused or src in cap.failed:
            item.error = cap.refused.get(src) or cap.failed[src]
        else:
            item.error = "the browser did not receive this image (blocked, failed or evicted)"
        yield item


def _markup_items(cap: PageCapture, url: str, browser: PageBrowser, seen: set[str],
                  warc: Any) -> Iterator[SuspectItem]:
    """Pictures the rendered page names but did not show (a lazy attribute no script swapped in, a
    <noscript> fallback, og:image, JSON state), fetched through inkseal's fetcher like a plain scan."""
    page = parse_page(cap.rendered_html.decode("utf-8", errors="replace"), base_url=cap.final_url,
                      limits=browser.fetcher.limits)
    for ref in page.images:
        if ref.url.startswith("data:"):
            continue  # an inline picture the page did not show: nothing was served, nothing to capture
        loc = {"page_title": cap.title, "dom_path": ref.dom_path, "order": ref.order, "alt": ref.alt,
               "shown_via": "markup", "how": ref.how, "ref": ref.url[:200], "requested": url,
               "browser": os.path.basename(browser.executable)}
        if (scheme := refused_scheme(ref.url)) is not None:
            if ref.url not in seen:
                seen.add(ref.url)
                yield SuspectItem(kind="url", source=_abbrev(ref.url)[:200], page_url=cap.final_url, location=loc,
                                  error=f"not fetched: a {scheme} URL in {ref.how}")
            continue
        try:
            absolute = urljoin(cap.final_url, ref.url)
        except ValueError:
            continue
        if absolute in seen:
            continue
        seen.add(absolute)
        item = SuspectItem(kind="url", source=absolute, page_url=cap.final_url, location=loc)
        exchanges: list[Exchange] = []
        try:
            data, ctype, _final = browser.fetcher.get(absolute, found_on=cap.final_url, exchanges=exchanges)
            item.captured_at = datetime.now(UTC)
            loc["content_type"] = ctype
            if looks_like_html(data):
                item.error = f"HTML where an image was expected (served as {ctype or 'no content type'})"
            else:
                item.data, item.attachments = data, warc(absolute, exchanges)
        except FetchError as exc:
            item.error = str(exc)
        yield item
