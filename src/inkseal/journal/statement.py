"""Authorship statement: the creative process of one work, told from its journal, citing entries.

Every sentence that states a fact carries the journal entries (#seq) that prove it. Written as
HTML (Jinja2) and PDF (WeasyPrint renders the same HTML), in English and Chinese, with a chart of
the process (matplotlib).
"""

from __future__ import annotations

import base64
import difflib
import io
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from inkseal.errors import InksealError
from inkseal.journal.log import VerifyReport
from inkseal.journal.prompts import Term, diff_terms, parse_terms

PARAMS = ("model", "sampler", "scheduler", "steps", "cfg_scale", "size", "denoise", "clip_skip", "vae")
LABELS = {
    "en": {"model": "model", "sampler": "sampler", "scheduler": "scheduler", "steps": "steps", "cfg_scale": "CFG scale",
           "size": "size", "denoise": "denoising strength", "clip_skip": "CLIP skip", "vae": "VAE"},
    "zh": {"model": "模型", "sampler": "采样器", "scheduler": "调度器", "steps": "步数", "cfg_scale": "提示词相关性 (CFG)",
           "size": "尺寸", "denoise": "重绘幅度", "clip_skip": "CLIP 跳过层", "vae": "VAE"},
}


ACTIONS = {"selected": ("selected", "选定"), "rejected": ("rejected", "弃用"), "edited": ("edited", "修改"),
           "published": ("published", "发布")}


class NoJournal(InksealError):
    """A statement tells the process from the journal: with no entries there is nothing to state."""


@dataclass
class Revision:
    prompt: str
    negative: str
    entries: list[int]
    diff: dict[str, Any] | None = None  # vs the previous revision (terms: added, removed, moved, reweighted)
    words: list[tuple[str, str]] | None = None  # word-level diff vs the previous revision: (op, text), op in = + -


_WORDS = re.compile(r"\s+|[^\s,()\[\]<>:|]+|[,()\[\]<>:|]")


def word_diff(before: str, after: str) -> list[tuple[str, str]]:
    """Word-level diff of two prompts: runs of (op, text) where op is "=" kept, "-" removed, "+" added.
    Words, punctuation and spaces are separate tokens, so a changed word shows as that word alone."""
    a, b = _WORDS.findall(before), _WORDS.findall(after)
    out: list[tuple[str, str]] = []
    for op, i0, i1, j0, j1 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            out.append(("=", "".join(a[i0:i1])))
            continue
        if i1 > i0:
            out.append(("-", "".join(a[i0:i1])))
        if j1 > j0:
            out.append(("+", "".join(b[j0:j1])))
    return out


@dataclass
class Facts:
    work_id: int
    title: str
    author: str
    generations: list[dict] = field(default_factory=list)
    curation: list[dict] = field(default_factory=list)
    files: list[dict] = field(default_factory=list)
    revisions: list[Revision] = field(default_factory=list)
    params: dict[str, dict[str, list[int]]] = field(default_factory=dict)  # param -> value -> entries
    seeds: dict[str, list[int]] = field(default_factory=dict)
    tools: dict[str, list[int]] = field(default_factory=dict)
    first: str | None = None
    last: str | None = None
    kept: list[int] = field(default_factory=list)
    file_times: bool = False  # some times come from file modification times (anyone can change them)

    def range_of(self, param: str) -> str | None:
        """'min – max' when a numeric parameter took several values."""
        try:
            nums = sorted(float(v) for v in self.params.get(param, {}))
        except ValueError:
            return None
        if len(nums) < 2:
            return None
        return f"{nums[0]:g} – {nums[-1]:g}"


def _when(entry: dict) -> str:
    d = entry.get("data", {})
    return d.get("file_time") or entry.get("time")


def gather(entries: list[dict], work_id: int, title: str, author: str) -> Facts:
    f = Facts(work_id, title, author)
    gens = sorted((e for e in entries if e["kind"] == "generation"), key=lambda e: (_when(e), e["seq"]))
    f.generations = gens
    f.curation = [e for e in entries if e["kind"] == "curation"]
    f.files = [e for e in entries if e["kind"] == "file"]
    prev_terms: list[Term] | None = None
    for e in gens:
        g = e["data"]["generation"]
        prompt = "\n".join(g.get("prompts") or [])
        negative = "\n".join(g.get("negative_prompts") or [])
        f.tools.setdefault(g.get("tool") or "?", []).append(e["seq"])
        if f.revisions and f.revisions[-1].prompt == prompt and f.revisions[-1].negative == negative:
            f.revisions[-1].entries.append(e["seq"])
        else:
            terms = parse_terms(prompt)
            diff = diff_terms(prev_terms, terms).as_dict() if prev_terms is not None else None
            words = word_diff(f.revisions[-1].prompt, prompt) if f.revisions else None
            f.revisions.append(Revision(prompt, negative, [e["seq"]], diff, words))
            prev_terms = terms
        for p in PARAMS:
            v = g.get(p)
            if v not in (None, ""):
                f.params.setdefault(p, {}).setdefault(str(v), []).append(e["seq"])
        for lora in g.get("loras") or []:
            f.params.setdefault("LoRA", {}).setdefault(f"{lora.get('name')} ({lora.get('weight')})", []).append(e["seq"])
        if g.get("seed") is not None:
            f.seeds.setdefault(str(g["seed"]), []).append(e["seq"])
    times = [_when(e) for e in gens + f.curation + f.files if _when(e)]
    f.first, f.last = (min(times), max(times)) if times else (None, None)
    f.file_times = any((e.get("data") or {}).get("file_time") for e in gens + f.curation + f.files)
    f.kept = [e["seq"] for e in f.curation if e["data"]["action"] in ("selected", "published")]
    return f


def _duration(a: str | None, b: str | None, lang: str = "en") -> str:
    if not a or not b:
        return "-"
    secs = (datetime.fromisoformat(b.replace("Z", "+00:00")) - datetime.fromisoformat(a.replace("Z", "+00:00"))).total_seconds()
    h, rem = divmod(int(secs), 3600)
    if lang == "zh":
        return f"{h} 小时 {rem // 60} 分" if h else f"{rem // 60} 分 {rem % 60} 秒"
    return f"{h} h {rem // 60} min" if h else f"{rem // 60} min {rem % 60} s"


def action_name(action: str, lang: str) -> str:
    en, zh = ACTIONS.get(action, (action, action))
    return zh if lang == "zh" else en


def chart_png(facts: Facts, lang: str = "en") -> bytes:
    """Timeline: each generation as a point, coloured by prompt revision; selections as stars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from inkseal.fonts import font_path

    if font_path():
        from matplotlib import font_manager

        font_manager.fontManager.addfont(font_path())
        plt.rcParams["font.family"] = font_manager.FontProperties(fname=font_path()).get_name()
    fig, ax = plt.subplots(figsize=(8, 3.2), dpi=120)
    rev_of = {s: i for i, r in enumerate(facts.revisions) for s in r.entries}
    t0 = None
    xs, ys, cs = [], [], []
    for n, e in enumerate(facts.generations):
        t = datetime.fromisoformat(_when(e).replace("Z", "+00:00"))
        t0 = t0 or t
        xs.append((t - t0).total_seconds() / 60)
        ys.append(rev_of.get(e["seq"], 0) + 1)
        cs.append(n)
    zh = lang == "zh"
    ax.scatter(xs, ys, c=cs, cmap="viridis", s=36, zorder=3, label="生成" if zh else "generation")
    for e in facts.curation:
        if t0 is None:
            break
        t = datetime.fromisoformat(_when(e).replace("Z", "+00:00"))
        ax.scatter([(t - t0).total_seconds() / 60], [len(facts.revisions) + 0.6], marker="*", s=160, color="#d62728",
                   zorder=4, label=action_name("selected", lang) if e["data"]["action"] == "selected" else None)
    if facts.file_times:  # say where the times come from, on the figure itself
        ax.set_title("时间来自文件修改时间" if zh else "times from file modification times", fontsize=8)
    if not xs:  # files journaled without generation parameters: say so rather than draw empty axes
        ax.set_axis_off()
        ax.text(0.5, 0.5, "日志中没有带生成参数的记录" if zh else "no generation with parameters in the journal",
                ha="center", va="center", fontsize=11, transform=ax.transAxes)
    ax.set_xlabel("自首次生成起的分钟数" if zh else "minutes since first generation")
    ax.set_ylabel("提示词版本" if zh else "prompt revision")
    ax.grid(alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    if handles and xs:
        ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def render(facts: Facts, report: VerifyReport, lang: str, out_dir: Path, *, pdf: bool = True,
           subset: bool = False) -> dict[str, Path]:
    """`subset`: `report` checks one work's entries with their inclusion proofs (an evidence pack), not a
    whole journal, and the integrity section says so."""
    from inkseal.evidence.safe_render import check_html, html_env, write_pdf

    if not (facts.generations or facts.curation or facts.files):
        raise NoJournal(f"work {facts.work_id} has no journal entries: nothing to state (journal its pictures with "
                        f"`inkseal journal import --work {facts.work_id} FILES`) / 作品 {facts.work_id} 没有创作日志记录，"
                        "无法生成创作过程说明（请先用 inkseal journal import 记录）")
    env = html_env(Path(__file__).parent / "templates")  # autoescape on: prompts and file names are data
    chart = base64.b64encode(chart_png(facts, lang)).decode()
    html = env.get_template("statement.html.j2").render(
        f=facts, report=report, subset=subset, lang=lang, chart=chart, labels=LABELS[lang],
        duration=_duration(facts.first, facts.last, lang), action_name=action_name,
        cite=lambda seqs: ", ".join(f"#{s}" for s in seqs[:12]) + (f" … (+{len(seqs) - 12})" if len(seqs) > 12 else ""),
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    check_html(html, out_dir, allow_data_images=True)  # the chart is inline; nothing else may load
    paths = {"html": out_dir / f"statement-{facts.work_id}.{lang}.html"}
    paths["html"].write_text(html, encoding="utf-8")
    if pdf:
        paths["pdf"] = out_dir / f"statement-{facts.work_id}.{lang}.pdf"
        write_pdf(html, out_dir, paths["pdf"], allow_data_images=True)
    return paths
