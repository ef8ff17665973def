"""Every fixture in ../shared/data/sd-tools imports to its expected values (expected.json)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from inkseal.journal.importers import Generation, import_file

SD = Path(__file__).resolve().parents[2] / "shared" / "data" / "sd-tools"
EXPECTED = {k: v for k, v in json.loads((SD / "expected.json").read_text()).items() if not k.startswith("_")}


def same(a: Any, b: Any) -> bool:
    """Compare by value: numbers may be strings in the files."""
    if isinstance(b, float | int) and not isinstance(b, bool):
        try:
            return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9)
        except (TypeError, ValueError):
            return False
    return a == b


def field(g: Generation, key: str) -> Any:
    direct = {"size": g.size, "img2img_source": g.source_image, "resolution": [g.width, g.height],
              "ip_adapter": (g.extra.get("ip_adapters") or [None])[0]}
    if key in direct:
        return direct[key]
    if hasattr(g, key):
        return getattr(g, key)
    return g.extra.get(key)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_imports_to_expected_values(name: str) -> None:
    expected = EXPECTED[name]
    data = (SD / name).read_bytes()
    meta, gens, problems = import_file(data)
    if "error" in expected:  # zero-byte file: a clear problem, nothing imported
        assert gens == [] and problems and "\n" not in problems[0]
        return
    if expected.get("tool", "missing") is None:
        assert gens == []
        return
    if "tool" not in expected:  # text after IDAT: read if present, never crash
        assert all(g.prompts for g in gens)
        return
    assert gens, f"nothing imported from {name}: {problems}"
    g = gens[0]
    for key, want in expected.items():
        if key in ("where", "note"):
            continue
        if key == "prompts_start":
            assert g.prompts[0].startswith(want[0]), (key, g.prompts)
        elif key == "negative_prompts_start":
            assert g.negative_prompts[0].startswith(want), (key, g.negative_prompts)
        elif key == "prompts_include":
            for p in want:
                assert p in g.prompts, (key, p, g.prompts)
        elif key == "postprocessing":
            assert g.extra["postprocessing"] == want
        elif isinstance(want, list):
            got = field(g, key)
            assert len(got) == len(want) and all(same(x, y) for x, y in zip(got, want, strict=True)), (key, got, want)
        else:
            assert same(field(g, key), want), (key, field(g, key), want)


@pytest.mark.parametrize("name", ["parsers/ComfyUI/noisy_latents_3_subjects_cropped.png",
                                  "parsers/ComfyUI/unclip_2pass_cropped.png",
                                  "parsers/ComfyUI/night_evening_day_morning_cropped.png"])
def test_comfyui_imports_every_sampler_in_order(name: str) -> None:
    _meta, (g,), _ = import_file((SD / name).read_bytes())
    passes = g.extra["passes"]
    graph = g.workflow["api"]
    samplers = {k for k, v in graph.items() if "Sampler" in v["class_type"]}
    assert {p["node"] for p in passes} == samplers
    order = [p["pass"] for p in passes]
    assert order == sorted(order) and order[0] == 1
    for p in passes:
        assert p["prompts"] and p["model"] and p["sampler"]
        if p["latent"].get("from_sampler"):
            earlier = next(q for q in passes if q["node"] == p["latent"]["from_sampler"])
            assert earlier["pass"] < p["pass"]
    if "unclip" in name:
        second = passes[-1]
        assert second["latent"].get("source_image") is None  # the first pass's unCLIP images are not its source
        assert any(n["class_type"] == "unCLIPConditioning" for n in passes[0]["conditioning"])
