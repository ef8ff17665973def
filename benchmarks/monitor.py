"""Monitors at site scale: one command.

    nice .venv/bin/python benchmarks/monitor.py [--pages 5000] [--decoy-every 10] [--copies-per-form 4] [--keep DIR]

A local site on 127.0.0.1 (served by a separate process, so it does not share the monitor's GIL) with
`--pages` article pages, listing pages with pagination (`?page=N`, 50 links each), a sitemap index with
gzip parts of 1,000 URLs, and an RSS feed of the newest 100 articles. Every `--decoy-every`-th article
carries an unrelated picture (a flower photo, its own bytes); `--copies-per-form` articles per form hide a
JPEG copy of a registered Kodak photo (each copy its own size and quality, so each is its own case) in
each of the forms pages use: plain src, srcset, <picture>, CSS background, the lazy attributes
(data-src, data-srcset, data-original, data-lazy-src, data-actualsrc), <noscript>, og:image,
twitter:image, and pictures kept in script state (window.__INITIAL_STATE__ JSON, WeChat's msg_cdn_url).

Run 1 (everything new) reports pages/s (discovery + conditional fetch + scan, end to end), pictures/s
(the scan phase), and recall of the hidden copies per form. Run 2 (nothing changed) reports what a re-run
costs: requests, bytes of bodies received, pages scanned (0 expected: ETag -> 304), and its wall time.
Settings: rate_per_host 0 (no politeness delay: a local site), concurrency 4; everything else default.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import multiprocessing
import shutil
import sys
import tempfile
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
PLACEHOLDER = "data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7"
FORMS = ["src", "srcset", "picture", "css", "data-src", "data-srcset", "data-original", "data-lazy-src",
         "data-actualsrc", "noscript", "og:image", "twitter:image", "json-state", "wechat-cdn-url"]


def hide(form: str, url: str) -> tuple[str, str]:
    """(head, body) markup that shows the picture at `url` the way `form` does."""
    if form == "src":
        return "", f'<img src="{url}" alt="">'
    if form == "srcset":
        return "", f'<img srcset="{url} 2x" alt="">'
    if form == "picture":
        return "", f'<picture><source srcset="{url}" type="image/jpeg"><img src="{PLACEHOLDER}"></picture>'
    if form == "css":
        return "", f'<div style="background-image:url(\'{url}\');width:300px;height:200px"></div>'
    if form in ("data-src", "data-original", "data-lazy-src", "data-actualsrc"):
        return "", f'<img src="{PLACEHOLDER}" {form}="{url}" class="lazy">'
    if form == "data-srcset":
        return "", f'<img src="{PLACEHOLDER}" data-srcset="{url} 1x" class="lazyload">'
    if form == "noscript":
        return "", f'<img class="lazy" src="{PLACEHOLDER}"><noscript><img src="{url}"></noscript>'
    if form == "og:image":
        return f'<meta property="og:image" content="{url}">', ""
    if form == "twitter:image":
        return f'<meta name="twitter:image" content="{url}">', ""
    if form == "json-state":
        state = json.dumps({"article": {"title": "t", "images": [{"url": url, "width": 480}]}})
        return "", f"<script>window.__INITIAL_STATE__ = {state};</script>"
    if form == "wechat-cdn-url":
        return "", f'<script>var msg_cdn_url = "{url}"; var msg_title = "t";</script>'
    raise ValueError(form)


def jpeg(img: Image.Image, width: int, quality: int) -> bytes:
    h = round(img.height * width / img.width)
    buf = io.BytesIO()
    img.convert("RGB").resize((width, h)).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def build_site(pages: int, decoy_every: int, copies_per_form: int, works: list[Path], flowers: list[Path],
               base: str) -> tuple[dict[str, tuple[bytes, str]], dict[str, tuple[str, int]]]:
    """path -> (body, content type); hidden: page path -> (form, work index)."""
    routes: dict[str, tuple[bytes, str]] = {}
    hidden: dict[str, tuple[str, int]] = {}
    plan: dict[int, tuple[str, int]] = {}
    n_hidden = len(FORMS) * copies_per_form
    stride = max(1, pages // (n_hidden + 1))
    k = 0
    for form in FORMS:
        for c in range(copies_per_form):
            plan[(k + 1) * stride - 1] = (form, k % len(works))
            k += 1
    originals = [Image.open(p) for p in works]
    decoys = iter(flowers)
    for i in range(pages):
        head, body = "", f"<p>article {i}: words words words.</p>"
        if i in plan:
            form, w = plan[i]
            url = f"{base}/img/copy{i}.jpg"
            routes[f"/img/copy{i}.jpg"] = (jpeg(originals[w], 420 + i % 97, 70 + i % 25), "image/jpeg")
            h, b = hide(form, url)
            head, body = head + h, body + b
            hidden[f"/post/{i}"] = (form, w)
        elif decoy_every and i % decoy_every == 0:
            flower = next(decoys)
            routes[f"/img/d{i}.jpg"] = (jpeg(Image.open(flower), 256, 80), "image/jpeg")
            body += f'<img src="/img/d{i}.jpg" alt="">'
        routes[f"/post/{i}"] = (f"<!doctype html><html><head><title>post {i}</title>{head}</head>"
                                f"<body>{body}</body></html>".encode(), "text/html; charset=utf-8")
    per = 50
    listings = (pages + per - 1) // per
    for n in range(1, listings + 1):
        links = "".join(f'<a href="/post/{i}">post {i}</a> ' for i in range((n - 1) * per, min(pages, n * per)))
        nav = f'<a rel="next" href="/?page={n + 1}">next</a>' if n < listings else ""
        path = "/" if n == 1 else f"/?page={n}"
        feed = '<link rel="alternate" type="application/rss+xml" href="/feed.xml">' if n == 1 else ""
        routes[path] = (f"<html><head>{feed}</head><body>{links}{nav}</body></html>".encode(), "text/html")
    parts = []
    for n, start in enumerate(range(0, pages, 1000)):
        urls = "".join(f"<url><loc>{base}/post/{i}</loc></url>" for i in range(start, min(pages, start + 1000)))
        xml = f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'
        routes[f"/sitemaps/part{n}.xml.gz"] = (gzip.compress(xml.encode()), "application/gzip")
        parts.append(f"<sitemap><loc>{base}/sitemaps/part{n}.xml.gz</loc></sitemap>")
    routes["/sitemap_index.xml"] = (('<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/'
                                     f'sitemap/0.9">{"".join(parts)}</sitemapindex>').encode(), "application/xml")
    items = "".join(f"<item><title>post {i}</title><link>{base}/post/{i}</link></item>"
                    for i in range(pages - 1, max(-1, pages - 101), -1))
    routes["/feed.xml"] = (f'<?xml version="1.0"?><rss version="2.0"><channel><title>site</title>{items}'
                           "</channel></rss>".encode(), "application/rss+xml")
    routes["/robots.txt"] = (f"User-agent: *\nDisallow: /admin/\nSitemap: {base}/sitemap_index.xml\n".encode(),
                             "text/plain")
    return routes, hidden


def serve(routes: dict[str, tuple[bytes, str]], port: int, ready: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    etags = {p: '"' + hashlib.sha256(b).hexdigest()[:20] + '"' for p, (b, _) in routes.items()}

    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a: object) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802
            got = routes.get(self.path)
            if got is None:
                body, status, ctype, etag = b"not found", 404, "text/plain", None
            else:
                (body, ctype), status, etag = got, 200, etags[self.path]
                if self.headers.get("If-None-Match") == etag:
                    body, status = b"", 304
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            if etag:
                self.send_header("ETag", etag)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", port), H)
    server.daemon_threads = True
    ready.put("ready")
    server.serve_forever()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pages", type=int, default=5000)
    ap.add_argument("--decoy-every", type=int, default=10)
    ap.add_argument("--copies-per-form", type=int, default=4)
    ap.add_argument("--works", type=int, default=8)
    ap.add_argument("--keep", type=Path, default=None, help="Keep the home here (default: a temporary folder).")
    args = ap.parse_args()

    import socket

    from inkseal import Inkseal
    from inkseal.monitor.runs import MonitorRunner
    from inkseal.monitor.settings import MonitorSettings
    from inkseal.registry.monitors import MonitorStore

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    works = sorted((DATA / "kodak").glob("*.png"))[: args.works]
    flowers = sorted((DATA / "flowers").glob("*/*.jpg"))
    t0 = time.perf_counter()
    routes, hidden = build_site(args.pages, args.decoy_every, args.copies_per_form, works, flowers, base)
    print(f"site built: {len(routes):,} URLs, {len(hidden)} hidden copies ({time.perf_counter() - t0:.1f} s)",
          file=sys.stderr)
    ready: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
    server = multiprocessing.Process(target=serve, args=(routes, port, ready), daemon=True)
    server.start()
    assert ready.get(timeout=120) == "ready"
    home = args.keep or Path(tempfile.mkdtemp(prefix="inkseal-monitor-bench-"))
    app = Inkseal.open(home / "home")
    try:
        assert not app.register(works, author="Kodak").failed
        settings = MonitorSettings(rate_per_host=0, concurrency=4, concurrency_per_host=4, recheck_cases=False)
        store = MonitorStore(app.registry)
        m = store.add(base + "/", "site", 86_400, args.pages + 1_000)
        marks: dict[str, float] = {}

        def progress(step: str, done: int, total: int) -> None:
            marks.setdefault(step.split(":")[0], time.perf_counter())

        t1 = time.perf_counter()
        first = MonitorRunner(app, settings, progress=progress).run(m.id)
        t2 = time.perf_counter()
        scan_s = t2 - marks.get("scanning pages", t1)
        fetch_s = marks.get("scanning pages", t2) - t1
        again = MonitorRunner(app, settings).run(m.id)
        t3 = time.perf_counter()
    finally:
        app.close()
        server.terminate()
    c, c2 = first.counts, again.counts
    found = {(x["page_url"].removeprefix(base), x["work_title"]) for x in first.new_matches}
    titles = [p.stem for p in works]
    per_form: dict[str, list[int]] = {f: [0, 0] for f in FORMS}
    for path, (form, w) in hidden.items():
        per_form[form][1] += 1
        per_form[form][0] += (path, titles[w]) in found
    hits = sum(v[0] for v in per_form.values())
    false = [f for f in found if f[0] not in hidden]
    rows = [
        ("pages on the site (articles + listings)", f"{args.pages:,} + {(args.pages + 49) // 50}"),
        ("pages discovered / fetched / scanned (run 1)", f"{c['discovered']:,} / {c['fetched']:,} / {c['pages_scanned']:,}"),
        ("pictures scanned (run 1)", f"{c['pictures']:,} ({c['pictures_failed']} failed)"),
        ("run 1 wall time", f"{t2 - t1:.1f} s (discovery + fetch {fetch_s:.1f} s, scan {scan_s:.1f} s)"),
        ("pages/s, end to end (run 1)", f"{c['pages_scanned'] / (t2 - t1):.1f}"),
        ("pages/s, discovery + conditional fetch", f"{c['fetched'] / max(fetch_s, 1e-9):.1f}"),
        ("pictures/s, scan phase", f"{c['pictures'] / max(scan_s, 1e-9):.1f}"),
        ("recall of hidden copies (all forms)", f"{hits}/{len(hidden)} = {hits / max(1, len(hidden)):.0%}"),
        ("matches on pages without a hidden copy", str(len(false))),
        ("re-run, nothing changed: wall time", f"{t3 - t2:.1f} s"),
        ("re-run: requests / 304s (pages + discovery documents) / body bytes",
         f"{c2['requests']:,} / {c2['not_modified']:,} + {c2['documents_not_modified']:,} / {c2['bytes']:,}"),
        ("re-run: pages scanned / pictures fetched", f"{c2['pages_scanned']} / {c2['pictures']}"),
        ("run 1: requests / body bytes", f"{c['requests']:,} / {c['bytes']:,}"),
        ("run 1: changed pages the scan read from the crawler's responses / asked the site for again",
         f"{c['pages_handed_over']:,} / {c['pages_scanned'] - c['pages_handed_over']:,}"),
    ]
    print("| measure | value |\n|---|---|")
    for k, v in rows:
        print(f"| {k} | {v} |")
    print("\n| form | found |\n|---|---|")
    for form, (h, n) in per_form.items():
        print(f"| {form} | {h}/{n} |")
    print(json.dumps({"run1": c, "run2": c2, "problems": first.lines[:20], "recall": per_form}, default=str),
          file=sys.stderr)
    if not args.keep:
        shutil.rmtree(home, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
