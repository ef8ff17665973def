"""Drafts (takedown notice, demand letter; Chinese and English) and the report (HTML + PDF), all filled
from evidence.json so that nothing in them says more than the evidence does."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader

from inkseal.evidence.safe_render import check_html, html_env, write_pdf

FACT_NAMES = {
    "work_exists_and_original": ("The work exists and is original", "作品存在且具有独创性"),
    "claimant_made_it": ("The claimant made it", "权利人是作者"),
    "when": ("When it was made and registered", "创作及登记时间"),
    "published_with_signature": ("It was published with a signature", "作品发布时带有署名"),
    "suspect_use": ("The suspect use", "被控侵权使用"),
    "same_image": ("It is the same image", "系同一图片"),
    "signature_removed": ("The signature was removed / rights information stripped", "署名被去除 / 权利管理信息被删除"),
    "scale_of_use": ("Scale of use on the same site", "同一网站的使用规模"),
}


def fact_detail(f: dict, lang: str) -> str:
    """A fact's detail in `lang` (packs from before the Chinese details have only the English one)."""
    return (f.get("detail_zh") if lang == "zh" else None) or f["detail"]


TEMPLATES = Path(__file__).parent / "templates"
_BREAKS = re.compile(r"[\r\n\u2028\u2029\x0b\x0c\x85]+")


def plain_text(value: object) -> object:
    """A page-derived string as it may appear in a plain-text letter: one line (no injected paragraphs),
    no control or bidi-override characters (no text that reads differently than it is), and no `<`/`>`
    (fullwidth forms instead), so the draft stays inert wherever it is pasted - mail, web form, HTML."""
    if not isinstance(value, str):
        return "" if value is None else value
    value = _BREAKS.sub(" ", value)
    value = "".join(ch for ch in value if unicodedata.category(ch) not in ("Cc", "Cf"))
    return value.replace("<", "\uff1c").replace(">", "\uff1e")


def url_text(value: object) -> str:
    """A URL percent-encoded where RFC 3986 does not allow a character (a valid URL stays unchanged)."""
    return quote(str(value or ""), safe=":/?#[]@!$&'()*+,;=%-._~")


def _env(autoescape: bool) -> Environment:
    if autoescape:
        env = html_env(TEMPLATES, trim_blocks=True, lstrip_blocks=True)
    else:
        env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=False, trim_blocks=True,
                          lstrip_blocks=True, finalize=plain_text)
    env.filters["url"] = url_text
    env.globals["fact_name"] = lambda key, lang: FACT_NAMES[key][1 if lang == "zh" else 0]
    env.globals["fact_detail"] = fact_detail
    return env


def render_drafts(evidence: dict) -> dict[str, str]:
    env = _env(False)
    out = {}
    for kind in ("takedown", "demand"):
        for lang in ("zh", "en"):
            out[f"{kind}.{lang}.txt"] = env.get_template(f"{kind}.txt.j2").render(e=evidence, lang=lang, zh=lang == "zh")
    return out


def render_report(evidence: dict, lang: str, root: Path) -> None:
    html = _env(True).get_template("report.html.j2").render(e=evidence, lang=lang, zh=lang == "zh")
    check_html(html, root)
    (root / "report.html").write_text(html, encoding="utf-8")
    write_pdf(html, root, root / "report.pdf")
