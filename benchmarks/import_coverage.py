"""Import coverage: over every sample, how many of the generation fields asserted per tool the importers read.

Samples: the real files in ../shared/data/sd-tools (values in its expected.json), the real generated
pictures in ../shared/data/hardneg whose values its SOURCE.md states (InvokeAI "banana sushi" with the
seed in the file name; A1111 "girl background", Euler a, 20 steps, CFG 7, 512x704, model hash a64573359a),
and the files written the way each tool writes them in tests/h14tools.py. A field counts as found when the importer's
value equals the asserted one (numbers compared by value). Prints a markdown table.

    .venv/bin/python benchmarks/import_coverage.py [--no-c2pa]
"""

from __future__ import annotations

import json
import math
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from h14tools import all_samples, field_value  # noqa: E402
from inkseal.journal.importers import import_file  # noqa: E402

SD = ROOT.parent / "shared" / "data" / "sd-tools"
HARDNEG = ROOT.parent / "shared" / "data" / "hardneg"
SKIP = {"where", "note", "tool", "error"}


def same(a: Any, b: Any) -> bool:
    if isinstance(b, list):
        return isinstance(a, list) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(b, int | float) and not isinstance(b, bool):
        try:
            return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9)
        except (TypeError, ValueError):
            return False
    return a == b


def sd_value(g: Any, key: str) -> Any:
    """expected.json's field names (see tests/test_journal_import.py) on a Generation."""
    if key == "prompts_start":
        return g.prompts[:1]
    if key == "negative_prompts_start":
        return g.negative_prompts[0] if g.negative_prompts else None
    if key == "resolution":
        return [g.width, g.height]
    if key == "img2img_source":
        return g.source_image
    if key == "ip_adapter":
        return (g.extra.get("ip_adapters") or [None])[0]
    return field_value(g, key)


def sd_found(g: Any, key: str, want: Any) -> bool:
    got = sd_value(g, key)
    if key == "prompts_start":
        return bool(got) and got[0].startswith(want[0])
    if key == "negative_prompts_start":
        return isinstance(got, str) and got.startswith(want)
    if key == "prompts_include":
        return all(p in g.prompts for p in want)
    return same(got, want)


def hardneg_samples() -> list[tuple[Path, str, dict[str, Any]]]:
    out: list[tuple[Path, str, dict[str, Any]]] = []
    for p in sorted((HARDNEG / "ai_invoke_banana_sushi").glob("*.png")):
        out.append((p, "InvokeAI (real, hardneg)", {"prompts": ["banana sushi"], "seed": int(p.name.split(".")[1])}))
    for p in sorted((HARDNEG / "ai_sd_girl_background").glob("*.png")):
        out.append((p, "AUTOMATIC1111 (real, hardneg)", {
            "prompts": ["girl background"], "sampler": "Euler a", "steps": 20, "cfg_scale": 7, "size": "512x704",
            "model_hash": "a64573359a"}))
    return out


def main() -> None:
    rows: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # tool -> files, asserted, found
    misses: list[str] = []
    expected = {k: v for k, v in json.loads((SD / "expected.json").read_text()).items() if not k.startswith("_")}
    for name, exp in sorted(expected.items()):
        if not exp.get("tool"):
            continue  # bad files and text-after-IDAT checks are robustness cases, not fields
        _m, gens, _p = import_file((SD / name).read_bytes())
        g = gens[0] if gens else None
        row = rows[exp["tool"]]
        row[0] += 1
        for key, want in exp.items():
            if key in SKIP:
                continue
            row[1] += 1
            if g is not None and sd_found(g, key, want):
                row[2] += 1
            else:
                misses.append(f"{name}: {key}")
    for path, tool, exp in hardneg_samples():
        _m, gens, _p = import_file(path.read_bytes())
        g = gens[0] if gens else None
        row = rows[tool]
        row[0] += 1
        for key, want in exp.items():
            row[1] += 1
            if g is not None and same(field_value(g, key), want):
                row[2] += 1
            else:
                misses.append(f"{path.name}: {key}")
    for s in all_samples(with_c2pa="--no-c2pa" not in sys.argv):
        _m, gens, _p = import_file(s.data)
        g = next((x for x in gens if x.tool == s.tool), None)
        row = rows[s.writer]
        row[0] += 1
        for key, want in s.expected.items():
            row[1] += 1
            if g is not None and same(field_value(g, key), want):
                row[2] += 1
            else:
                misses.append(f"{s.name}: {key}")
    total = [sum(r[i] for r in rows.values()) for i in range(3)]
    print("| tool / writer | files | fields asserted | fields found | % |")
    print("|---|---:|---:|---:|---:|")
    for tool, (files, asserted, found) in sorted(rows.items(), key=lambda kv: kv[0].lower()):
        print(f"| {tool} | {files} | {asserted} | {found} | {100 * found / max(asserted, 1):.1f} |")
    writers = {t.removesuffix(" (real, hardneg)") for t in rows}
    print(f"| **all: {len(writers)} tools / writers** | {total[0]} | {total[1]} | {total[2]} | "
          f"**{100 * total[2] / max(total[1], 1):.1f}** |")
    if misses:
        print("\nfields not found: " + "; ".join(misses))


if __name__ == "__main__":
    main()
