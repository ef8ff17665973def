"""Issue 13 part 1: pictures wherever pages put them - lazy attributes, <noscript>, og:image, JSON
state in scripts - in pages built after the public markup of WeChat official-account articles,
Zhihu, Xiaohongshu notes, Weibo, Toutiao and Baijiahao; saved pages named by the URL they were
saved from or by their local file, never an invented URL; hostile scripts and URLs, one line each.

Plain HTTP scans run against a real server on 127.0.0.1; the fetcher's resolver seam sends every
host name (mmbiz.qpic.cn, sinaimg.cn, ...) to it, so the pages keep their platforms' CDN URLs."""

from __future__ import annotations

import http.server
import json
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from badfiles import jpeg_bytes, photo, png_bytes
from inkseal.match.sources import iter_source
from inkseal.match.sources.html import PageLimits, parse_page
from inkseal.match.sources.scripts import json_value
from inkseal.match.sources.urls import Fetcher, iter_url

GIF_1PX = "data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7"
SVG_BOX = "data:image/svg+xml;utf8,&lt;svg xmlns='http://www.w3.org/2000/svg' width='1080' height='720'&gt;&lt;/svg&gt;"


def wechat(host: str) -> str:
    """A WeChat official-account article: pictures in data-src on img.rich_pages, the cover in msg_cdn_url."""
    return f"""<!DOCTYPE html><html><head><meta charset="utf-8">
<meta property="og:title" content="转载文章"><meta property="og:image" content="{host}/mmbiz_jpg/cover/0?wx_fmt=jpeg">
<title>转载文章</title></head><body id="activity-detail"><div class="rich_media_content" id="js_content">
<p><img class="rich_pages wxw-img" data-ratio="0.75" data-s="300,640" data-src="{host}/mmbiz_jpg/copy/640?wx_fmt=jpeg"
 data-type="jpeg" data-w="1080" style="width: 100%;" src="{GIF_1PX}"></p>
<p><img class="rich_pages wxw-img" data-src="{host}/mmbiz_png/second/640?wx_fmt=png" data-type="png"></p>
</div><script>var msg_cdn_url = "{host}/mmbiz_jpg/cover/0?wx_fmt=jpeg"; var msg_link = "https://mp.weixin.qq.com/s/abc";
var ct = "1700000000";</script></body></html>"""


def zhihu(host: str) -> str:
    """A Zhihu answer: a <noscript> copy, an SVG placeholder with data-original / data-actualsrc."""
    return f"""<html><head><title>知乎回答</title></head><body><div class="RichContent-inner"><figure data-size="normal">
<noscript><img src="{host}/v2-abc_b.jpg" data-rawwidth="1080" data-rawheight="720" class="origin_image"></noscript>
<img src="{SVG_BOX}" data-rawwidth="1080" class="origin_image zh-lightbox-thumb lazy" width="1080"
 data-original="{host}/v2-abc_r.jpg" data-actualsrc="{host}/v2-abc_b.jpg"></figure></div>
<script id="js-initialData" type="text/json">{{"initialState":{{"entities":{{"answers":{{"1":{{"thumbnail":"{host}/v2-thumb_200x0.jpg"}}}}}}}}}}</script>
</body></html>"""


def xiaohongshu(host: str) -> str:
    """A Xiaohongshu note: no <img> for the note's pictures, only window.__INITIAL_STATE__ (a JS
    literal: `undefined` values, "/" written as \\u002F)."""
    h = host.replace("/", "\\u002F")
    return ("<html><head><title>小红书笔记</title></head><body><div id=app></div><script>"
            'window.__INITIAL_STATE__={"global":{"firstVisitUrl":undefined,"referer":""},'
            '"note":{"currentNoteId":"65a1","noteDetailMap":{"65a1":{"note":{"title":"x","user":{"nickname":"n"},'
            f'"imageList":[{{"width":1080,"height":1440,"urlPre":undefined,'
            f'"urlDefault":"{h}\\u002F1040g008\\u002Fcopy!nd_dft_wlteh_webp_3",'
            '"infoList":[{"imageScene":"WB_PRV","url":undefined}]}]}}}}}</script></body></html>')


def weibo(host: str) -> str:
    """m.weibo.cn/detail: the post in `var $render_data = [...][0] || {};`."""
    state = {"status": {"text": "<span class='url-icon'><img src='//h5.sinaimg.cn/emoticon/doge.png'></span>转发",
                        "pics": [{"pid": "abc", "url": f"{host}/orj360/abc.jpg",
                                  "large": {"size": "large", "url": f"{host}/large/abc.jpg"}}]}}
    return (f"<html><head><title>微博正文</title></head><body><script>var $render_data = [{json.dumps(state)}][0] || {{}};"
            "var config = {uid: 1};</script></body></html>")


def toutiao(host: str) -> str:
    """Toutiao: server state URL-encoded in <script id="RENDER_DATA" type="application/json">."""
    state = {"data": {"title": "头条", "image_list": [{"url": f"{host}/tos-cn-i/copy~tplv-tt-origin-web:gif.jpeg"}]}}
    return (f"<html><head><title>头条文章</title></head><body><script id=\"RENDER_DATA\" type=\"application/json\">"
            f"{quote(json.dumps(state), safe='')}</script></body></html>")


def baijiahao(host: str) -> str:
    """Baijiahao: pictures at pics*.baidu.com/feed/*.jpeg@f_auto, and window.jsonData."""
    return (f"<html><head><title>百家号</title></head><body><div class='index-module_articleWrap'>"
            f"<img class='large' data-loadfunc='0' src='{host}/feed/abc.jpeg@f_auto?token=t' data-loaded='0'></div>"
            f"<script>window.jsonData = {{\"bsData\": {{\"header\": {{\"image\": \"{host}/feed/cover.jpeg@f_auto\"}}}}}};"
            "</script></body></html>")


def lazy_zoo(host: str) -> str:
    """The generic lazy loaders (lazysizes, jQuery lazyload, echo.js, NYT), meta and links."""
    return f"""<html><head><title>lazy</title>
<meta name="twitter:image" content="{host}/tw.jpg"><meta property="og:image:secure_url" content="{host}/og-secure.jpg">
<link rel="image_src" href="{host}/link.jpg"></head><body>
<img src="/img/blank.gif" data-lazy-src="{host}/lazy-src.jpg">
<img class="lazyload" data-srcset="{host}/ls-480.jpg 480w, {host}/ls-1080.jpg 1080w" src="{GIF_1PX}">
<img src="{host}/thumb.jpg" data-hi-res-src="{host}/hires.jpg">
<img data-echo="{host}/echo.jpg"><img data-url="{host}/dataurl.jpg"><img src="{host}/shared.png" data-url="/share?id=1">
<picture><source data-srcset="{host}/pic.webp"><img src="{GIF_1PX}" data-src="{host}/pic.jpg"></picture>
<div class="lazy-bg" data-bg="{host}/bg.jpg"></div><a href="{host}/full.jpg"><b>full size</b></a>
<a data-url="{host}/not-a-picture/page">a link</a></body></html>"""


def _found(html: str, host: str = "https://cdn.test") -> dict[str, str]:
    page = parse_page(html, base_url="https://site.test/a")
    return {r.url.replace(host, ""): r.how for r in page.images}


def test_platform_pages_give_up_their_pictures() -> None:
    h = "https://cdn.test"
    assert _found(wechat(h)) == {"/mmbiz_jpg/copy/640?wx_fmt=jpeg": "img[data-src]",
                                 "/mmbiz_png/second/640?wx_fmt=png": "img[data-src]",
                                 "/mmbiz_jpg/cover/0?wx_fmt=jpeg": "meta[og:image]"}  # the 1-px GIF is not a picture
    z = _found(zhihu(h))
    assert z == {"/v2-abc_b.jpg": "noscript img", "/v2-abc_r.jpg": "img[data-original]",
                 "/v2-thumb_200x0.jpg": "script#js-initialData initialState.entities.answers.1.thumbnail"}
    x = _found(xiaohongshu(h))
    assert x == {"/1040g008/copy!nd_dft_wlteh_webp_3":
                 "script: window.__INITIAL_STATE__ note.noteDetailMap.65a1.note.imageList[0].urlDefault"}
    w = _found(weibo(h))  # the emoticon inside the post's HTML text is not a URL value: not taken
    assert w == {"/orj360/abc.jpg": "script: $render_data [0].status.pics[0].url",
                 "/large/abc.jpg": "script: $render_data [0].status.pics[0].large.url"}
    assert _found(toutiao(h)) == {"/tos-cn-i/copy~tplv-tt-origin-web:gif.jpeg":
                                  "script#RENDER_DATA data.image_list[0].url"}
    assert _found(baijiahao(h)) == {"/feed/abc.jpeg@f_auto?token=t": "img",
                                    "/feed/cover.jpeg@f_auto": "script: window.jsonData bsData.header.image"}
    lazy = _found(lazy_zoo(h))
    assert lazy == {"/lazy-src.jpg": "img[data-lazy-src]", "/ls-480.jpg": "srcset[data-srcset]",
                    "/ls-1080.jpg": "srcset[data-srcset]", "/thumb.jpg": "img", "/hires.jpg": "img[data-hi-res-src]",
                    "/echo.jpg": "img[data-echo]", "/dataurl.jpg": "img[data-url]", "/shared.png": "img", "/pic.webp": "picture[data-srcset]",
                    "/pic.jpg": "img[data-src]", "/bg.jpg": "div[data-bg]", "/full.jpg": "a[href]",
                    "/tw.jpg": "meta[twitter:image]", "/og-secure.jpg": "meta[og:image:secure_url]",
                    "/link.jpg": "link[rel=image_src]"}


def test_a_picture_is_reported_where_the_article_shows_it() -> None:
    """og:image and script state usually repeat an article picture: it keeps its place in the article."""
    page = parse_page(wechat("https://cdn.test").replace("cover/0", "copy/640"))
    first = page.images[0]
    assert first.how == "img[data-src]" and first.dom_path.startswith("div#js_content")
    assert len(page.images) == 2


def test_script_state_reading_is_bounded_and_tolerant() -> None:
    assert json_value('x = {"a": undefined, "b": "}{\\"", "c": [1, {}]}; y', 4, 1000) == (
        '{"a": null, "b": "}{\\"", "c": [1, {}]}', "", 47)
    assert json_value('{"a": "unclosed', 0, 1000) == (None, "unclosed string", 0)
    assert json_value('{"a": ' + "1," * 600 + "}", 0, 1000)[0] is None  # over the cap: never parsed
    bad = "<script>window.__INITIAL_STATE__ = {note: {imageList: [1]}}</script><img src='https://c.test/after.jpg'>"
    page = parse_page(bad)
    assert [r.url for r in page.images] == ["https://c.test/after.jpg"]  # the rest of the page is read
    assert page.truncated == ["script state window.__INITIAL_STATE__: invalid JSON "
                              "(Expecting property name enclosed in double quotes: line 1 column 2 (char 1)); not read"]
    giant = ("<script>window.__INITIAL_STATE__ = {\"pad\": \"" + "x" * 5_000_000 + "\"}</script>"
             "<img data-src='https://c.test/lazy.jpg'>")
    page = parse_page(giant)
    assert [r.url for r in page.images] == ["https://c.test/lazy.jpg"]
    assert page.truncated == ["a script over 4,000,000 characters was not read for pictures"]
    deep = "<script type='application/json'>" + "[" * 50_000 + "]" * 50_000 + "</script><img src='https://c.test/x.png'>"
    page = parse_page(deep)
    assert [r.url for r in page.images] == ["https://c.test/x.png"] and "nested too deeply" in page.truncated[0]
    ordinary = "<script>var config = {debug: true}; var s = 'a = [';</script>"  # plain JS: no note, no picture
    assert parse_page(ordinary).images == [] and parse_page(ordinary).truncated == []
    small = parse_page("<script>window.__INITIAL_STATE__={\"u\":\"https://c.test/p.jpg\"}</script>",
                       limits=PageLimits(max_script_bytes=10))
    assert small.images == [] and "over 10 characters" in small.truncated[0]
    for page in (parse_page(bad), parse_page(giant), parse_page(deep)):
        assert all("\n" not in note for note in page.truncated)


def test_hostile_lazy_urls_are_failed_items_never_read(tmp_path: Path) -> None:
    (tmp_path / "secret.jpg").write_bytes(jpeg_bytes(photo(1)))
    page = tmp_path / "page.html"
    page.write_text(f"<img src='javascript:alert(1)' data-src='file://{tmp_path}/secret.jpg'>"
                    "<img data-original='vbscript:x'><img src='ok.png'>")
    (tmp_path / "ok.png").write_bytes(png_bytes(photo(2)))
    items = list(iter_source(str(page), max_bytes=1 << 20))
    errors = [i.error for i in items if i.error]
    assert errors == ["not fetched: a javascript: URL in img", "not fetched: a file: URL in img[data-src]",
                      "not fetched: a vbscript: URL in img[data-original]"]
    assert [i.source for i in items if i.data] == ["ok.png"]


# -- saved pages: the URL a picture was saved from, or its local file --------------------------------------
def _save(folder: Path, html: str, files: dict[str, bytes]) -> Path:
    (folder / "article_files").mkdir(parents=True)
    for name, data in files.items():
        (folder / "article_files" / name).write_bytes(data)
    page = folder / "article.html"
    page.write_text(html, encoding="utf-8")
    return page


def test_saved_page_pictures_keep_the_url_they_were_saved_from(tmp_path: Path) -> None:
    copy, other, cover = jpeg_bytes(photo(1)), jpeg_bytes(photo(2)), jpeg_bytes(photo(3))
    html = ("<!-- saved from url=(0045)https://mp.weixin.qq.com/s/abcdefghijklmnop -->\n<html><head><title>t</title>"
            "</head><body><img class='rich_pages' src='./article_files/640.jpeg'"
            " data-src='https://mmbiz.qpic.cn/mmbiz_jpg/copy/640?wx_fmt=jpeg'>"  # loaded, saved locally
            "<img src='https://mmbiz.qpic.cn/mmbiz_png/other/cover.png'>"  # a remote src, its copy saved by name
            "<img src='/static/logo.png'>"  # the page's own relative src, not saved
            "<img src='article_files/gone.jpg'>"  # into the saved folder, missing
            "<img src='article_files/local.jpg'></body></html>")  # a local copy, nothing says where from
    page = _save(tmp_path, html, {"640.jpeg": copy, "cover.png": other, "local.jpg": cover})
    items = {i.location["ref"]: i for i in iter_source(str(page), max_bytes=1 << 20)}
    assert set(items) == {"./article_files/640.jpeg", "https://mmbiz.qpic.cn/mmbiz_png/other/cover.png",
                          "/static/logo.png", "article_files/gone.jpg", "article_files/local.jpg"}
    lazy = items["./article_files/640.jpeg"]
    assert lazy.source == "https://mmbiz.qpic.cn/mmbiz_jpg/copy/640?wx_fmt=jpeg" and lazy.data == copy
    assert lazy.page_url == "https://mp.weixin.qq.com/s/abcdefghijklmnop" and lazy.location["saved_from_attribute"]
    remote = items["https://mmbiz.qpic.cn/mmbiz_png/other/cover.png"]
    assert remote.source == "https://mmbiz.qpic.cn/mmbiz_png/other/cover.png" and remote.data == other
    logo = items["/static/logo.png"]
    assert logo.source == "https://mp.weixin.qq.com/static/logo.png" and "not saved with the page" in logo.error
    gone = items["article_files/gone.jpg"]  # never "https://mp.weixin.qq.com/s/article_files/gone.jpg"
    assert gone.source == "article_files/gone.jpg" and "not saved with the page" in gone.error
    local = items["article_files/local.jpg"]
    assert local.source == "article_files/local.jpg" and local.data == cover and "image_url" not in local.location


def test_saved_page_without_a_url_names_pictures_by_their_local_files(tmp_path: Path) -> None:
    copy = jpeg_bytes(photo(4))
    html = ("<html><head><title>t</title></head><body><img src='article_files/a%20b.jpg'>"
            f"<img src='{GIF_1PX}' data-src='article_files/lazy.jpg'></body></html>")
    page = _save(tmp_path, html, {"a b.jpg": copy, "lazy.jpg": copy})
    items = list(iter_source(str(page), max_bytes=1 << 20))
    assert [(i.source, i.error) for i in items] == [("article_files/a b.jpg", None), ("article_files/lazy.jpg", None)]
    assert all(i.page_url == str(page) and "image_url" not in i.location for i in items)
    assert items[1].location["how"] == "img[data-src]"


# -- plain HTTP: the same pages served by a local server ---------------------------------------------------
class _Site(http.server.BaseHTTPRequestHandler):
    routes: dict[str, tuple[str, bytes]] = {}
    hits: Counter = Counter()

    def do_GET(self) -> None:  # noqa: N802
        self.hits[self.path] += 1
        ctype, body = self.routes.get(self.path, ("text/plain", b""))
        self.send_response(200 if body else 404)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def platform_site() -> Iterator[dict]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Site)
    port = server.server_address[1]
    pictures = {f"/p{i}": jpeg_bytes(photo(10 + i)) for i in range(12)}
    cdn = {"wechat": f"http://mmbiz.qpic.cn:{port}", "zhihu": f"http://pic1.zhimg.com:{port}",
           "xiaohongshu": f"http://sns-webpic-qc.xhscdn.com:{port}", "weibo": f"http://wx1.sinaimg.cn:{port}",
           "toutiao": f"http://p3-sign.toutiaoimg.com:{port}", "baijiahao": f"http://pics7.baidu.com:{port}"}
    builders = {"wechat": wechat, "zhihu": zhihu, "xiaohongshu": xiaohongshu, "weibo": weibo, "toutiao": toutiao,
                "baijiahao": baijiahao}
    routes: dict[str, tuple[str, bytes]] = {}
    for name, build in builders.items():
        routes[f"/{name}"] = ("text/html; charset=utf-8", build(cdn[name]).encode())
    for url, _how in ((u, h) for name in builders for u, h in _found(builders[name](cdn[name]), "").items()):
        routes[url.split(f":{port}", 1)[1]] = ("image/jpeg", pictures["/p0"])
    routes["/lying"] = ("image/png", b"<!DOCTYPE html><html><body><img data-src='/p1'></body></html>")
    routes["/lying-page"] = ("text/html", b"<img data-src='/lying'><img data-original='/p1' src='/img/loading.gif'>")
    routes["/p1"] = ("application/octet-stream", pictures["/p1"])  # a picture served with the wrong type
    routes["/jpeg-as-html"] = ("text/html", pictures["/p1"])  # a picture a server calls a page
    _Site.routes, _Site.hits = routes, Counter()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield {"base": f"http://127.0.0.1:{port}", "cdn": cdn, "copy": pictures["/p0"], "other": pictures["/p1"]}
    server.shutdown()
    server.server_close()


def _local_fetcher() -> Fetcher:
    # Every host name is this machine: the pages keep their platforms' CDN host names.
    return Fetcher(max_bytes=1 << 20, timeout_s=5, deadline_s=10, resolver=lambda host, port: ["127.0.0.1"])


@pytest.mark.parametrize("platform", ["wechat", "zhihu", "xiaohongshu", "weibo", "toutiao", "baijiahao"])
def test_a_plain_fetch_finds_the_copy_on_platform_pages(platform_site: dict, platform: str) -> None:
    fetcher = _local_fetcher()
    try:
        items = list(iter_url(f"{platform_site['base']}/{platform}", fetcher))
    finally:
        fetcher.close()
    assert items and all(i.error is None for i in items), [(i.source, i.error) for i in items]
    assert all(i.data == platform_site["copy"] for i in items)
    assert all(i.source.startswith(platform_site["cdn"][platform]) for i in items)
    assert all(i.location["how"] and i.location["page_title"] for i in items)
    assert all("warc_record" in i.attachments for i in items)


def test_lying_content_types_and_lazy_pictures_over_http(platform_site: dict) -> None:
    fetcher = _local_fetcher()
    try:
        items = list(iter_url(f"{platform_site['base']}/lying-page", fetcher))
    finally:
        fetcher.close()
    by = {i.location["ref"]: i for i in items}
    assert set(by) == {"/lying", "/p1"}  # the loading.gif placeholder is not a picture to scan
    assert by["/lying"].error == "HTML where an image was expected (served as image/png)"
    assert by["/p1"].data == platform_site["other"] and by["/p1"].location["how"] == "img[data-original]"
    fetcher = _local_fetcher()
    try:
        (item,) = list(iter_url(f"{platform_site['base']}/jpeg-as-html", fetcher))
    finally:
        fetcher.close()
    assert item.data == platform_site["other"] and item.error is None and item.location["content_type"] == "text/html"


def test_the_browser_reads_what_the_rendered_page_names_but_did_not_show(platform_site: dict) -> None:
    """No script of these test pages swaps the lazy pictures in: the browser still finds them in the
    rendered page's markup and state, fetches them through inkseal's fetcher, and keeps a WARC."""
    from inkseal.match.sources.browser import PageBrowser, iter_browser_page

    fetcher = _local_fetcher()
    browser = PageBrowser(timeout_s=10, fetcher=fetcher)
    try:
        pages = {name: list(iter_browser_page(f"{platform_site['base']}/{name}", browser))
                 for name in ("xiaohongshu", "wechat")}
    finally:
        browser.close()
        fetcher.close()
    xhs = [i for i in pages["xiaohongshu"] if i.location.get("shown_via") == "markup"]
    assert [i.location["how"] for i in xhs] == [
        "script: window.__INITIAL_STATE__ note.noteDetailMap.65a1.note.imageList[0].urlDefault"]
    assert xhs[0].data == platform_site["copy"] and "warc_record" in xhs[0].attachments
    assert xhs[0].source.startswith(platform_site["cdn"]["xiaohongshu"])
    wechat_hows = sorted(i.location["how"] for i in pages["wechat"] if i.location.get("shown_via") == "markup")
    assert wechat_hows == ["img[data-src]", "img[data-src]", "meta[og:image]"]
    assert pages["xiaohongshu"][-1].location["shown_via"] == "page-screenshot"
    assert all(i.error is None for p in pages.values() for i in p), [(i.source, i.error) for p in pages.values() for i in p]


def test_fuzzed_script_state_gives_a_result() -> None:
    """Mutants of the platform pages' script state: every one parses, notes stay one line each."""
    import random

    rng = random.Random(13)
    seed = xiaohongshu("https://c.test") + weibo("https://c.test") + zhihu("https://c.test") + toutiao("https://c.test")
    pieces = ["{", "}", "[", "]", '"', "\\", "undefined", ":", ",", "</script>", "<script>", "=", "%7B", "\\u002F",
              "window.__INITIAL_STATE__=", "var $render_data = ", "\x00", "\ufffd"]
    limits = PageLimits(max_images=40, max_script_bytes=20_000)
    for _ in range(300):
        html = seed
        for _ in range(rng.randint(1, 10)):
            at = rng.randrange(len(html) + 1)
            op = rng.random()
            if op < 0.6:
                html = html[:at] + rng.choice(pieces) * rng.randint(1, 200) + html[at:]
            else:
                html = html[:at] + html[at + rng.randint(1, 40):]
        page = parse_page(html, base_url="https://example.test/p", limits=limits)
        assert len(page.images) <= 40 and all("\n" not in n for n in page.truncated)
