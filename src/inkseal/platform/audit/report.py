"""The audit's report: findings.parquet (every item), summary.json + summary.html (counts and examples,
registry matches side by side) and notices/ (one per creator whose registered works were found, zh + en).

The HTML is a static file with a Content-Security-Policy that allows no script at all, its CSS in a file beside
it, and every value escaped (Jinja2 autoescape; StrictUndefined so a missing value fails loudly here, not as
an empty cell in a report someone relies on).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from inkseal.platform.audit.runner import SHARDS_DIR

OPTOUT_SIGNALS = ("c2pa", "iptc", "tdmrep", "robots", "ai_txt", "x_robots_tag")
EXAMPLES = 12
HERE = Path(__file__).parent
CSS = """body{font-family:system-ui,sans-serif;margin:2rem;max-width:72rem}table{border-collapse:collapse}
td,th{border:1px solid #ccc;padding:.3rem .6rem;text-align:left;vertical-align:top}
.pair img{max-width:160px;max-height:160px;margin-right:.5rem}.num{text-align:right}code{word-break:break-all}"""


def load_findings(report_dir: Path) -> pa.Table:
    files = sorted((report_dir / SHARDS_DIR).glob("*.parquet"))
    tables = [pq.read_table(f) for f in files]
    if not tables:
        return pa.table({"item_id": pa.array([], pa.string())})
    return pa.concat_tables(tables, promote_options="permissive")


def _rows(table: pa.Table) -> list[dict[str, Any]]:
    rows = table.drop_columns([c for c in ("thumb",) if c in table.column_names]).to_pylist()
    for r in rows:
        for key in ("optouts", "robots_ai_disallowed"):
            if isinstance(r.get(key), str):
                r[key] = json.loads(r[key])
    return rows


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    optouts = Counter(s for r in rows for s in r.get("optouts") or [])
    errors = Counter(r.get("error_kind") for r in rows if r.get("error_kind"))
    tiers = Counter(r.get("registry_tier") for r in rows if r.get("registry_tier"))
    return {
        "items": len(rows),
        "ok": sum(1 for r in rows if r.get("status") == "ok"),
        "errors": dict(errors),
        "errors_total": sum(errors.values()),
        "registry": dict(tiers),
        "registry_checked": sum(1 for r in rows if r.get("registry_checked")),
        "watermark": dict(Counter(str(r.get("watermark")) for r in rows if r.get("watermark"))),
        "tc260_labelled": sum(1 for r in rows if r.get("tc260_label")),
        "optouts": {s: optouts.get(s, 0) for s in OPTOUT_SIGNALS},
        "opted_out_items": sum(1 for r in rows if r.get("optouts")),
        "not_analysed_noai": sum(1 for r in rows if r.get("not_analysed")),
    }


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9\u4e00-\u9fff._-]+", "_", text).strip("_")[:80] or "creator"


def write_report(report_dir: str | Path, home: str | None = None) -> dict[str, Any]:
    """Merge the shard files and write findings.parquet, summary.json, summary.html and notices/."""
    report_dir = Path(report_dir)
    table = load_findings(report_dir)
    pq.write_table(table, report_dir / "findings.parquet")
    rows = _rows(table)
    summary = summarise(rows)
    matches = _matches(report_dir, table, home)
    summary["creators_notified"] = _notices(report_dir, matches)
    (report_dir / "summary.json").write_text(json.dumps(summary, indent=1, ensure_ascii=False))
    examples = {
        "errors": [r for r in rows if r.get("error_kind")][:EXAMPLES],
        "optouts": [r for r in rows if r.get("optouts")][:EXAMPLES],
    }
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=True, undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True)
    html = env.get_template("summary.html.j2").render(summary=summary, examples=examples, matches=matches[:EXAMPLES * 4],
                                                      signals=OPTOUT_SIGNALS)
    (report_dir / "summary.css").write_text(CSS)
    (report_dir / "summary.html").write_text(html, encoding="utf-8")
    return summary


def _matches(report_dir: Path, table: pa.Table, home: str | None) -> list[dict[str, Any]]:
    """Registry copies and derivatives, with both pictures written to thumbs/ for the side-by-side view
    and the work's title and creator read from the registry (once, here on the driver)."""
    if "registry_tier" not in table.column_names:
        return []
    hits = [r for r in table.to_pylist() if r.get("registry_tier")]
    if not hits:
        return []
    from PIL import Image

    from inkseal.app import Inkseal
    from inkseal.platform.audit.signals import THUMB_SIDE

    thumbs = report_dir / "thumbs"
    thumbs.mkdir(exist_ok=True)
    app = Inkseal.open(home)
    out = []
    try:
        for i, r in enumerate(hits):
            work_id, file_id = int(r["registry_work_id"]), int(r["registry_file_id"])
            try:
                work = app.work(work_id)
                title, creator = work.title, work.author.name
                wf = app.registry.file(file_id)
                ref_name = f"work-{work_id}-{file_id}.jpg"
                if not (thumbs / ref_name).exists():
                    import io

                    im = Image.open(io.BytesIO(app.registry.objects.get(wf.sha256))).convert("RGB")
                    im.thumbnail((THUMB_SIDE, THUMB_SIDE))
                    im.save(thumbs / ref_name, "JPEG", quality=80)
            except Exception:  # noqa: BLE001 - a work removed since the audit: the finding stays, unnamed
                title, creator, ref_name = f"work {work_id} (no longer registered)", "", ""
            item_name = f"item-{i:06d}.jpg"
            if r.get("thumb"):
                (thumbs / item_name).write_bytes(r["thumb"])
            out.append({"item_id": r["item_id"], "source": r["source"], "tier": r["registry_tier"],
                        "score": r.get("registry_score"), "work_id": work_id, "title": title, "creator": creator,
                        "item_thumb": f"thumbs/{item_name}" if r.get("thumb") else "",
                        "work_thumb": f"thumbs/{ref_name}" if ref_name else "",
                        "optouts": json.loads(r["optouts"]) if isinstance(r.get("optouts"), str) else r.get("optouts") or []})
    finally:
        app.close()
    return out


def _notices(report_dir: Path, matches: list[dict[str, Any]]) -> int:
    by_creator: dict[str, list[dict[str, Any]]] = {}
    for m in matches:
        if m["creator"]:
            by_creator.setdefault(m["creator"], []).append(m)
    folder = report_dir / "notices"
    folder.mkdir(exist_ok=True)
    for creator, found in by_creator.items():
        lines_zh = [f"致 {creator}：", "", f"在本次训练数据审计中，发现 {len(found)} 个数据项与您登记的作品相同或由其衍生：", ""]
        lines_en = [f"To {creator}:", "", f"This training-data audit found {len(found)} item(s) that copy or derive from "
                    "your registered works:", ""]
        for m in found:
            tier_zh = {"copy": "复制", "derivative": "衍生"}.get(m["tier"], m["tier"])
            lines_zh.append(f"- 作品 #{m['work_id']}《{m['title']}》— {tier_zh}（评分 {m['score']}）：{m['source']}")
            lines_en.append(f"- work #{m['work_id']} \"{m['title']}\" — {m['tier']} (score {m['score']}): {m['source']}")
        text = "\n".join([*lines_zh, "", "---", "", *lines_en, ""])
        (folder / f"{_slug(creator)}.txt").write_text(text, encoding="utf-8")
    return len(by_creator)
