"""Bounded work on hostile pages: linear-time extraction, per-page caps with a one-line note, and a
page a cap cut short counted as failed (exit 1), never as a clean empty scan."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from inkseal.cli import app as cli
from inkseal.match.sources import iter_source
from inkseal.match.sources.html import PageLimits, parse_page
from inkseal.match.sources.markup import css_rules, css_urls, cut_deep_nesting, srcset_urls

N = 100_000
# Each of these took from minutes to forever before; now each is read in well under a second.
HOSTILE = {
    "imgs": "<html><body>" + "".join(f"<img src=a{i}.png>" for i in range(N)),
    "srcset": "<img srcset='" + ", ".join(f"x{i}.png {i}w" for i in range(N)) + "'>",
    "url_bomb": "<style>.a{background:" + "url(" * 40_000 + "}</style>",  # 160 KB of url(
    "nesting": "<div>" * N + "<img src=deep.png>",
    "style": "<style>" + ".a{background:url(b.png)}" * 50_000 + "</style><img src=after.png>",
}


def test_hostile_pages_are_read_in_bounded_work_with_a_note() -> None:
    pages = {name: parse_page(html) for name, html in HOSTILE.items()}
    assert len(pages["imgs"].images) == 5_000 and pages["imgs"].images[-1].url == "a4999.png"
    assert pages["imgs"].images[4999].dom_path == "body:nth-of-type(1) > img:nth-of-type(5000)"
    assert pages["imgs"].truncated == ["only the first 5,000 pictures on the page were read"]
    assert [r.url for r in pages["srcset"].images] == [f"x{i}.png" for i in range(64)]
    assert "srcset listed more than 64" in pages["srcset"].truncated[0]
    assert pages["url_bomb"].images == [] and "unclosed url(" in pages["url_bomb"].truncated[0]
    assert "nested more than 1,000 levels" in pages["nesting"].truncated[0]
    assert [r.url for r in pages["style"].images] == ["b.png", "after.png"]
    assert "style text over 1,000,000 bytes" in pages["style"].truncated[0]
    for page in pages.values():
        assert all("\n" not in note for note in page.truncated)


def test_limits_come_from_settings() -> None:
    page = parse_page(HOSTILE["imgs"], limits=PageLimits(max_images=10, max_srcset_entries=2, max_style_bytes=10))
    assert len(page.images) == 10 and "first 10 pictures" in page.truncated[0]


def test_a_cut_page_is_a_failed_item_and_a_failed_scan(tmp_path: Path) -> None:
    page = tmp_path / "bomb.html"
    page.write_text(HOSTILE["url_bomb"])
    (item,) = list(iter_source(str(page), max_bytes=1 << 20))
    assert item.error.startswith("page only partly read: CSS with an unclosed url(") and "\n" not in item.error
    many = tmp_path / "many.html"
    many.write_text(HOSTILE["imgs"][:2000])
    items = list(iter_source(str(many), max_bytes=1 << 20, limits=PageLimits(max_images=3)))
    assert len(items) == 4 and items[0].location["page_truncated"] and "first 3 pictures" in items[-1].error
    r = CliRunner().invoke(cli, ["--home", str(tmp_path / "home"), "--lang", "en", "scan", str(page)],
                           catch_exceptions=False)
    assert r.exit_code == 1 and "page only partly read" in r.output  # not a clean "0 items, exit 0"


def test_srcset_follows_the_html_rules() -> None:
    assert srcset_urls("a.jpg 1x,b.jpg 2x", 64) == (["a.jpg", "b.jpg"], False)
    assert srcset_urls(" a.jpg, b.jpg 480w ,, c.jpg", 64) == (["a.jpg", "b.jpg", "c.jpg"], False)
    assert srcset_urls("data:image/png;base64,iVBO= 1x, d.jpg 2x", 64) == (["data:image/png;base64,iVBO=", "d.jpg"], False)
    assert srcset_urls("a.jpg 1x, b.jpg 2x, c.jpg 3x", 2) == (["a.jpg", "b.jpg"], True)
    assert srcset_urls("a.jpg 1x, b.jpg 2x, ", 2) == (["a.jpg", "b.jpg"], False)


def test_css_urls_and_rules() -> None:
    assert css_urls("a{background:url( 'x.png' ) , URL(y.png) url(\"z w.png\")}") == (["x.png", "y.png", "z w.png"], False)
    assert css_urls("url(a.png) url('b.png") == (["a.png"], True)
    assert css_rules("@media screen { .a { background:url(x) } } p{color:red}") == [
        (".a", " background:url(x) "), ("p", "color:red")]


def test_nesting_cut_keeps_ordinary_pages_whole() -> None:
    ordinary = "<ul>" + "<li><p>item <img src=a.png><br>" * 5_000 + "</ul><!-- <div><div> --><script>'<div>'</script>"
    assert cut_deep_nesting(ordinary, 50) == (ordinary, False)  # void, optional-end and hidden tags: no depth
    cut, was_cut = cut_deep_nesting("<div>" * 60 + "tail", 50)
    assert was_cut and cut == "<div>" * 50


def test_fuzzed_markup_gives_a_result() -> None:
    """A deterministic few hundred mutants of a page full of references: every one parses (no
    exception), within the caps, with one-line notes."""
    import random

    rng = random.Random(8)
    seed = ("<html><head><title>t</title><style>.a{background:url('x.png')} @media p{.b{background:url(y.png)}}"
            "</style></head><body><div id=m><img src=a.jpg srcset='b.jpg 1x, c.jpg 2x' alt=q>"
            "<picture><source srcset='d.webp'><img src=e.jpg></picture><input type=image src=f.png>"
            "<video poster=g.jpg></video><p style=\"background:url(h.png)\">x</div></body></html>")
    pieces = ["<", ">", "url(", ")", "'", '"', ",", " ", "{", "}", "<div>", "</div>", "<img src=", "srcset=",
              "<!--", "-->", "<style>", "</style>", "<script>", "\x00", "data:image/png;base64,", "\ufffd", "&#0;"]
    limits = PageLimits(max_images=40, max_srcset_entries=8, max_style_bytes=2_000, max_depth=50)
    for _ in range(600):
        html = seed
        for _ in range(rng.randint(1, 12)):
            at = rng.randrange(len(html) + 1)
            op = rng.random()
            if op < 0.5:
                html = html[:at] + rng.choice(pieces) * rng.randint(1, 300) + html[at:]
            elif op < 0.8:
                html = html[:at] + html[at + rng.randint(1, 40):]
            else:
                html = html[:at] + html[at:][::-1]
        page = parse_page(html, base_url="https://example.test/p", limits=limits)
        assert len(page.images) <= 40 and all("\n" not in n for n in page.truncated)
