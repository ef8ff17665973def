"""`inkseal demo`: the whole story on the bundled sample photos, in under a minute.

1. A creator registers four works (Kodak sample photos) and publishes one with a visible signature.
2. An infringer's site (served by the demo on 127.0.0.1, the only "network" it uses) has an article
   showing that picture with the signature corner cut off, shrunk and re-encoded as JPEG - the
   situation of Li v. Liu - and a gallery page whose script inserts another copy.
3. A folder holds other attacked copies (mirrored, rotated, overlaid, screenshot in a page,
   collage) and unrelated photos.
4. inkseal scans the site in headless Chromium (screenshots kept as evidence; plain HTTP when no
   Chromium is installed) and the folder, and reports each copy, what is visible, and what was cut.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import io
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

from PIL import Image, ImageDraw, ImageEnhance
from rich.console import Console

from inkseal.app import Inkseal
from inkseal.i18n import describe_localisation, t
from inkseal.match.calibration import odds
from inkseal.seal.service import SealOptions, seal

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
AUTHOR = "Li (demo creator)"
SIGNATURE = "© Li · inkseal demo"
DEMO_PASSPHRASE = "inkseal-demo-passphrase"


def _jpeg(im: Image.Image, path: Path, quality: int = 72) -> None:
    im.convert("RGB").save(path, "JPEG", quality=quality)


def _site(published: Path, works: list[Path], folder: Path) -> None:
    """The infringer's site: an article with the signature corner cut, and a script-built gallery."""
    files = folder / "s" / "article_files"
    files.mkdir(parents=True)
    im = Image.open(published).convert("RGB")
    w, h = im.size
    cut = im.crop((0, 0, int(w * 0.78), int(h * 0.8)))  # the bottom-right corner (signature) is gone
    cut = cut.resize((int(cut.width * 0.7), int(cut.height * 0.7)), Image.LANCZOS)
    _jpeg(cut, files / "spring-breeze.jpg", 70)
    shutil.copy(EXAMPLES / "flowers" / "100080576_f52e8ee070_n.jpg", files / "sidebar-ad.jpg")
    (folder / "s" / "1760000000.html").write_text(
        "<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>春天的诗意 · Poetry of spring</title></head>"
        "<body style='font-family: sans-serif; max-width: 760px; margin: 30px auto'>\n"
        "<article><h1>春天的诗意</h1><p>Found on the Internet; source unknown. 图片来自网络。</p>\n"
        "<figure><img src='./article_files/spring-breeze.jpg' alt='spring' width='420'></figure>\n"
        "<aside><img src='article_files/sidebar-ad.jpg' alt='ad'></aside></article></body></html>\n",
        encoding="utf-8")
    other = Image.open(works[2]).convert("RGB")
    _jpeg(ImageEnhance.Contrast(other).enhance(1.2).resize((other.width * 3 // 5, other.height * 3 // 5)),
          folder / "g1.jpg", 75)
    (folder / "gallery.html").write_text(  # the picture exists only once the script has run
        "<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>Wallpapers 壁纸</title></head><body>\n"
        "<h1>Free wallpapers</h1><div id='grid'></div>\n<script>const img = document.createElement('img');"
        "img.src = 'g1.jpg'; img.width = 460; document.getElementById('grid').appendChild(img);</script>"
        "</body></html>\n", encoding="utf-8")


@contextlib.contextmanager
def _serve(folder: Path) -> Iterator[str]:
    """Serve `folder` on 127.0.0.1 (a free port) for as long as the block runs."""
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _attacked(works: list[Path], folder: Path) -> None:
    folder.mkdir(parents=True)
    a, b, c = (Image.open(p).convert("RGB") for p in works[1:4])
    _jpeg(a.transpose(Image.FLIP_LEFT_RIGHT).resize((a.width // 2, a.height // 2)), folder / "mirrored-small.jpg")
    _jpeg(b.rotate(8, expand=True, fillcolor=(255, 255, 255)), folder / "rotated.jpg")
    jit = ImageEnhance.Color(ImageEnhance.Brightness(c).enhance(1.25)).enhance(0.6)
    d = ImageDraw.Draw(jit)
    d.text((20, jit.height // 2), "REPOST 转载", fill=(255, 255, 255), font_size=int(jit.height * 0.1))
    _jpeg(jit, folder / "recoloured-with-text.jpg", 60)
    page = Image.new("RGB", (1280, 1500), (250, 250, 248))
    page.paste(a.resize((640, int(640 * a.height / a.width))), (320, 420))
    d = ImageDraw.Draw(page)
    for y in range(80, 380, 26):
        d.text((200, y), "A screenshot of a feed post with text around the picture " * 2, fill=(40, 40, 40))
    _jpeg(page, folder / "screenshot.jpg", 80)
    collage = Image.new("RGB", (1200, 420), (255, 255, 255))
    collage.paste(b.resize((560, int(560 * b.height / b.width))), (20, 20))
    collage.paste(c.resize((560, int(560 * c.height / c.width))), (620, 20))
    buf = io.BytesIO()
    collage.save(buf, "PNG")
    (folder / "collage.png").write_bytes(buf.getvalue())
    for name in ("100930342_92e8746431_n.jpg", "10094729603_eeca3f2cb6.jpg"):
        shutil.copy(EXAMPLES / "flowers" / name, folder / f"unrelated-{name}")


def run_demo(app: Inkseal, workdir: Path, out: Console, err: Console) -> int:
    lang = app.settings.lang
    works = sorted((EXAMPLES / "kodak").glob("*.png"))
    if len(works) < 4:
        err.print(f"sample photos not found under {EXAMPLES / 'kodak'}")
        return 3
    out.rule("1. register and publish / 登记与发布")
    report = app.register(works, author=AUTHOR)
    ids = [i.work_id for i in report.items]
    for i in report.items:
        w = app.work(i.work_id)  # type: ignore[arg-type]
        out.print(f"  work {w.id}: {w.title}" + (f"  ({i.skipped})" if i.skipped else ""), highlight=False)
    first = app.work(ids[0])  # type: ignore[arg-type]
    if not app.keys.exists():
        app.keys.init(DEMO_PASSPHRASE, creator=AUTHOR)
        out.print(f"  created demo keys (passphrase '{DEMO_PASSPHRASE}' - make your own with `inkseal keys init`)",
                  highlight=False)
    app.journal.import_paths(works, passphrase=DEMO_PASSPHRASE)  # files without generation parameters
    path = app.settings.home / "published" / f"work{first.id}-sealed.png"
    published = next((f for f in first.files if f.role == "published" and (f.regions or {}).get("watermark")), None)
    if published is None:
        path.parent.mkdir(parents=True, exist_ok=True)
        result = seal(app, first.id, path, SealOptions(signature=SIGNATURE), DEMO_PASSPHRASE)
        regions = result.regions
        app.journal.curate("published", work_id=first.id, file=path, where="https://www.xiaohongshu.com/ (demo)",
                           note="sealed and published", passphrase=DEMO_PASSPHRASE)
    else:
        path.write_bytes(app.registry.objects.get(published.sha256))
        regions = published.regions
    out.print(f"  sealed work {first.id}: signature {regions['signature']}, AI label {regions.get('ai_label')}, "
              f"watermark, XMP label, C2PA → {path}", highlight=False)

    out.rule("2. the infringing site and other copies / 侵权网站与其他副本")
    if workdir.exists():
        shutil.rmtree(workdir)
    _site(path, works, workdir / "site")
    _attacked(works, workdir / "found")
    with _serve(workdir / "site") as site:
        pages = [f"{site}/s/1760000000.html", f"{site}/gallery.html"]
        out.print("  " + "\n  ".join(pages) + f"\n  {workdir / 'found'}/ "
                  f"({len(list((workdir / 'found').iterdir()))} files)", highlight=False)

        out.rule("3. scan / 扫描")
        from inkseal.match.sources.browser import BrowserUnavailable

        try:
            result = app.scan([*pages, str(workdir / "found")], browser=True)
        except BrowserUnavailable as exc:
            err.print(f"  {exc}\n  → scanning over plain HTTP: no screenshots, and script-built pictures are not "
                      f"seen / 改用普通 HTTP 扫描：无截图，脚本生成的图片不可见", highlight=False)
            result = app.scan([*pages, str(workdir / "found")])
    for r in result.results:
        if r.error:
            err.print(t("item_failed", lang, item=r.item.label, reason=r.error))
        for m in r.matches:
            w = app.work(m.work_id)
            loc = m.localisation
            out.print(f"[bold]{Path(r.item.source).name}[/bold] → work {w.id} '{w.title}'  "
                      f"score {m.score:.1f} ({t('meaning', lang, odds=odds(m.score))})", highlight=False)
            if r.item.page_url:
                box = r.item.location.get("box")
                out.print(f"    on page {r.item.page_url} — '{r.item.location.get('page_title', '')}' at "
                          f"{r.item.location.get('dom_path')}" + (f", box {box} on the screenshot" if box else ""),
                          highlight=False)
            for line in describe_localisation(loc, lang):
                out.print(f"    {line}", highlight=False)
        if not r.matches and not r.error and r.item.location.get("shown_via") == "page-screenshot":
            out.print(f"[dim]{Path(r.item.source).name}: the whole page checked, nothing beyond its pictures / "
                      f"整页截图已检查，无其他作品[/dim]", highlight=False)
        elif not r.matches and not r.error:
            out.print(f"[dim]{Path(r.item.source).name}: no registered work[/dim]", highlight=False)
    out.print(t("scan_summary", lang, items=len(result.results), matches=sum(len(r.matches) for r in result.matched),
                failed=len(result.failed), suppressed=result.suppressed))
    article = next((m for r in result.results if r.item.page_url and "/s/" in r.item.page_url for m in r.matches),
                   None)
    if article is not None:
        figure = workdir / f"match-{article.id}.png"
        app.match_figure(article.id).save(figure)
        out.print(f"Side-by-side figure of the article copy / 侵权文章副本对比图: {figure}", highlight=False)
    copy = workdir / "site" / "s" / "article_files" / "spring-breeze.jpg"
    from inkseal.seal.inspect import inspect_bytes

    report = inspect_bytes(app, copy.read_bytes(), lang=lang)
    wm = report["watermark"] or {}
    out.rule("4. inspect the copy / 检查副本")
    out.print(f"  watermark: {'work ' + str(wm.get('work_id')) if wm.get('detected') else 'not found'} "
              f"({wm.get('agreement')} bits, false-positive probability {wm.get('false_positive_probability', 1):.1e})",
              highlight=False)
    for f in report["findings"]:
        out.print(f"  ! {f['message']}", highlight=False)
    if article is not None:
        out.rule("5. evidence pack / 证据包")
        pack = app.evidence(article.id, workdir / "evidence-pack", passphrase=DEMO_PASSPHRASE, lang=lang)
        from inkseal.evidence.verify import verify_lines, verify_pack

        checked = verify_pack(pack)
        for line in verify_lines(checked, lang):  # each check, then each fact with its proof level and reason
            out.print("  " + line, highlight=False)
        out.print(f"  {pack}/report.pdf, drafts/, MANIFEST.sha256 + MANIFEST.sig "
                  f"(check again: inkseal evidence verify {pack})", highlight=False)
        if not checked.ok:
            return 1
    out.print("See them again with / 再次查看: inkseal cases; inkseal case show ID; inkseal match show ID -o figure.png; "
              "inkseal inspect FILE", highlight=False)
    out.rule("6. the desk / 工作台")
    out.print("  Start it with / 启动：.venv/bin/inkseal serve  → http://127.0.0.1:8000 (works, match inbox, cases, "
              "packs, journal, inspect; API under /api/v1, OpenAPI at /api/v1/openapi.json). On this machine no "
              "sign-in is needed / 本机使用无需登录。", highlight=False)
    return 1 if result.failed else 0
