"""Drafts (takedown notice, demand letter; Chinese and English) and the report (HTML + PDF), all filled
from evidence.json so that nothing in them says more than the evidence does."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader

from inkseal.evidence.damages import yuan
from inkseal.evidence.facts import level_name, level_of
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
ASK = {"contact_name": ("your name", "姓名"), "contact_email": ("your e-mail", "电子邮箱"),
       "contact_address": ("your postal address", "通讯地址"), "contact_phone": ("your telephone", "电话")}


def ask(field: str, lang: str) -> str:
    """A blank the creator must fill before sending, naming the setting that fills it next time."""
    en, zh = ASK[field]
    return f"【请填写{zh}（config.toml 中的 {field}）】" if lang == "zh" else f"[FILL IN {en} (set {field} in config.toml)]"


def letter_detail(f: dict, lang: str) -> str:
    """A fact as a letter states it: the first clause only (no capture notes, scores of checks or boxes)."""
    text = str(fact_detail(f, lang))
    return text.split("；" if lang == "zh" else "; ")[0]


def target(e: dict, lang: str) -> str:
    """Where the use is: its page, else the image URL; a local file is no address to write to."""
    s = e.get("suspect") or {}
    url = s.get("page_url") or (s.get("source") if "://" in str(s.get("source") or "") else None)
    if url:
        return url_text(url)
    return ("【请填写侵权网址：本机上的文件不是第三方的使用】" if lang == "zh"
            else "[FILL IN the infringing address: a file on this computer is not a use by a third party]")


def source_text(value: object, lang: str) -> str:
    text = "" if value is None else str(value)
    return "本地文件 " + text[len("local file "):] if lang == "zh" and text.startswith("local file ") else text


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
    env.globals["letter_detail"] = letter_detail
    env.globals["level_name"] = level_name
    env.globals["level_of"] = level_of
    env.globals["yuan"] = yuan
    env.globals["ask"] = ask
    env.globals["source_text"] = source_text
    env.globals["target"] = target
    env.globals["pack_paths"] = lambda keys, files: [files[k] for k in keys if k in files]
    return env




def render_drafts(evidence: dict, *, platform: bool = False) -> dict[str, str]:
    env = _env(False)
    out = {}
    for kind in ("takedown",) if platform else ("takedown", "demand"):
        for lang in ("zh", "en"):
            out[f"{kind}.{lang}.txt"] = env.get_template(f"{kind}.txt.j2").render(e=evidence, lang=lang, zh=lang == "zh")
    return out


def render_report(evidence: dict, lang: str, root: Path) -> None:
    html = _env(True).get_template("report.html.j2").render(e=evidence, lang=lang, zh=lang == "zh")
    check_html(html, root)
    (root / "report.html").write_text(html, encoding="utf-8")
    write_pdf(html, root, root / "report.pdf")
