"""Authorship statement: the creative process of one work, told from its journal, citing entries.

Every sentence that states a fact carries the journal entries (#seq) that prove it. Written as
HTML (Jinja2) and PDF (WeasyPrint renders the same HTML), in English and Chinese, with a chart of
the process (matplotlib).
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from inkseal.journal.log import VerifyReport
from inkseal.journal.prompts import Term, diff_terms, parse_terms

PARAMS = ("model", "sampler", "scheduler", "steps", "cfg_scale", "size", "denoise", "clip_skip", "vae")
LABELS = {
    "en": {"model": "model", "sampler": "sampler", "scheduler": "scheduler", "steps": "steps", "cfg_scale": "CFG scale",
           "size": "size", "denoise": "denoising strength", "clip_skip": "CLIP skip", "vae": "VAE"},
    "zh": {"model": "模型", "sampler": "采样器", "scheduler": "调度器", "steps": "步数", "cfg_scale": "提示词相关性 (CFG)",
           "size": "尺寸", "denoise": "重绘幅度", "clip_skip": "CLIP 跳过层", "vae": "VAE"},
}


@dataclass
class Revision:
    prompt: str
    negative: str
    entries: list[int]
    diff: dict[str, Any] | None = None  # vs the previous revision


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
            f.revisions.append(Revision(prompt, negative, [e["seq"]], diff))
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
    f.kept = [e["seq"] for e in f.curation if e["data"]["action"] in ("selected", "published")]
    return f


def _duration(a: str | None, b: str | None) -> str:
    if not a or not b:
        return "-"
    secs = (datetime.fromisoformat(b.replace("Z", "+00:00")) - datetime.fromisoformat(a.replace("Z", "+00:00"))).total_seconds()
    h, rem = divmod(int(secs), 3600)
    return f"{h} h {rem // 60} min" if h else f"{rem // 60} min {rem % 60} s"


def chart_png(facts: Facts) -> bytes:
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
    ax.scatter(xs, ys, c=cs, cmap="viridis", s=36, zorder=3, label="generation / 生成")
    for e in facts.curation:
        if t0 is None:
            break
        t = datetime.fromisoformat(_when(e).replace("Z", "+00:00"))
        ax.scatter([(t - t0).total_seconds() / 60], [len(facts.revisions) + 0.6], marker="*", s=160, color="#d62728",
                   zorder=4, label=f"{e['data']['action']} / 选定" if e["data"]["action"] == "selected" else None)
    ax.set_xlabel("minutes since first generation / 自首次生成起的分钟数")
    ax.set_ylabel("prompt revision / 提示词版本")
    ax.grid(alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def render(facts: Facts, report: VerifyReport, lang: str, out_dir: Path, *, pdf: bool = True) -> dict[str, Path]:
    from inkseal.evidence.safe_render import check_html, html_env, write_pdf

    env = html_env(Path(__file__).parent / "templates")  # autoescape on: prompts and file names are data
    chart = base64.b64encode(chart_png(facts)).decode()
    html = env.get_template("statement.html.j2").render(
        f=facts, report=report, lang=lang, chart=chart, labels=LABELS[lang], duration=_duration(facts.first, facts.last),
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
