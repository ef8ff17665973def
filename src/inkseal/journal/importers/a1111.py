"""AUTOMATIC1111 / Forge / reForge / SD.Next infotext, in text chunks, EXIF or stealth LSBs.

    <prompt...>
    Negative prompt: <negative...>
    Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1, Size: 512x512, Model hash: ..., Hashes: {...}

Values may be quoted ("a, b") or JSON (Hashes, Civitai resources). The parameter line is read with
a small tokenizer of our own rather than the web UI's regex (AGPL-licensed).
"""

from __future__ import annotations

import re
from typing import Any

from inkseal.journal.importers.base import Generation, to_float, to_int
from inkseal.journal.metadata import RawMetadata
from inkseal.journal.prompts import parse_terms
from inkseal.safejson import loads_limited

PARAM_LINE = re.compile(r"^\s*(Steps|Sampler|CFG scale|Seed|Size|Model|Version)\s*:", re.M)


def parse_param_line(line: str) -> dict[str, Any]:
    """'K: v, K2: "quoted, v", K3: {json}' -> dict, values kept as text unless JSON."""
    out: dict[str, Any] = {}
    i, n = 0, len(line)
    while i < n:
        while i < n and line[i] in " ,":
            i += 1
        colon = line.find(":", i)
        if colon < 0:
            break
        key = line[i:colon].strip()
        i = colon + 1
        while i < n and line[i] == " ":
            i += 1
        if i < n and line[i] == '"':
            j = i + 1
            while j < n and not (line[j] == '"' and line[j - 1] != "\\"):
                j += 1
            raw = line[i + 1:j].replace('\\"', '"')
            i = j + 1
            value: Any = raw
        elif i < n and line[i] in "{[":
            depth, j, in_str = 0, i, False
            while j < n:
                c = line[j]
                if in_str:
                    in_str = not (c == '"' and line[j - 1] != "\\")
                elif c == '"':
                    in_str = True
                elif c in "{[":
                    depth += 1
                elif c in "}]":
                    depth -= 1
                    if depth == 0:
                        break
                j += 1
            raw = line[i:j + 1]
            i = j + 1
            try:
                value = loads_limited(raw, what="infotext JSON value")
            except ValueError:  # MetadataError included: kept as text
                value = raw
        else:
            j = line.find(",", i)
            j = n if j < 0 else j
            value = line[i:j].strip()
            i = j
        if key:
            out[key] = value
    return out


def parse_infotext(text: str) -> tuple[str, str, dict[str, Any]] | None:
    """(prompt, negative prompt, parameters) or None when the text is not an infotext."""
    text = text.strip().replace("\r\n", "\n")
    lines = text.split("\n")
    param_idx = None
    for k in range(len(lines) - 1, -1, -1):
        if PARAM_LINE.match(lines[k]) and ":" in lines[k]:
            param_idx = k
            break
    if param_idx is None:
        return None
    params = parse_param_line(" ".join(lines[param_idx:]))
    if not ({"Steps", "Sampler", "Seed"} & params.keys()):
        return None
    head = lines[:param_idx]
    neg_idx = next((k for k, ln in enumerate(head) if ln.startswith("Negative prompt:")), None)
    if neg_idx is None:
        prompt, negative = "\n".join(head), ""
    else:
        prompt = "\n".join(head[:neg_idx])
        negative = "\n".join(head[neg_idx:]).removeprefix("Negative prompt:").strip()
    return prompt.strip(), negative, params


def generation_from_infotext(text: str, where: str, key: str, tool: str = "AUTOMATIC1111") -> Generation | None:
    parsed = parse_infotext(text)
    if parsed is None:
        return None
    prompt, negative, p = parsed
    g = Generation(tool=tool, where=where, source_key=key)
    g.prompts = [prompt] if prompt else []
    g.negative_prompts = [negative] if negative else []
    g.steps, g.seed = to_int(p.pop("Steps", None)), to_int(p.pop("Seed", None))
    g.sampler = p.pop("Sampler", None)
    g.scheduler = p.pop("Schedule type", None)
    g.cfg_scale = to_float(p.pop("CFG scale", None))
    size = str(p.pop("Size", "") or "")
    if "x" in size:
        g.width, g.height = (to_int(v) for v in size.split("x", 1))
    g.model, g.model_hash = p.pop("Model", None), p.pop("Model hash", None)
    g.vae = p.pop("VAE", None)
    g.denoise = to_float(p.pop("Denoising strength", None))
    g.clip_skip = to_int(p.pop("Clip skip", None))
    g.version = p.pop("Version", None)
    g.hires = {k.removeprefix("Hires ").lower(): p.pop(k) for k in list(p) if k.startswith("Hires ")}
    lora_hashes = {}
    for part in str(p.get("Lora hashes", ""))[:100_000].split(","):
        name, _, h = part.partition(":")
        if name.strip():
            lora_hashes[name.strip()] = h.strip()
    g.loras = [{"name": t.text, "weight": t.weight, "hash": lora_hashes.get(t.text)}
               for t in parse_terms(prompt) if t.kind == "lora"]
    g.loras += _numbered_loras(p)
    if "Civitai resources" in p:
        g.extra["civitai_resources"] = p.pop("Civitai resources")
    g.extra["passes"] = infotext_passes(g, p)
    g.extra.update(p)  # Hashes, ADetailer ..., everything else verbatim
    g.tool = _which_tool(tool, g.version, p, g.extra)
    return g


def _which_tool(default: str, version: str | None, p: dict[str, Any], extra: dict[str, Any]) -> str:
    """Several tools write this infotext; the Version field and their own keys say which."""
    v = str(version or "")
    if v.startswith("Fooocus"):
        return "Fooocus"
    if v.lower().startswith("comfyui"):  # comfy-image-saver (Image Saver) writes "Version: ComfyUI"
        return "ComfyUI Image Saver"
    if any(k.startswith("Lora_0 ") or k.startswith("Embedding_0 ") for k in p) or (not v and "Hashes" in p and
                                                                                 "Sampler" not in p):
        return "ComfyUI SaveImageWithMetaData"
    if v.startswith("f") and v[1:2].isdigit():
        return "Forge"
    if v.startswith(("neo", "classic")):
        return "Forge"
    if "civitai_resources" in extra or "Civitai metadata" in p:
        return "Civitai" if not v else default
    return default


def _numbered_loras(p: dict[str, Any]) -> list[dict[str, Any]]:
    """SaveImageWithMetaData: `Lora_0 Model name: x.safetensors, Lora_0 Model hash: ..., Lora_0 Strength model: 0.8`."""
    out = []
    for k in range(64):
        name = p.get(f"Lora_{k} Model name")
        if name is None:
            break
        out.append({"name": str(name).removesuffix(".safetensors"), "weight": to_float(p.get(f"Lora_{k} Strength model")),
                    "weight_clip": to_float(p.get(f"Lora_{k} Strength clip")), "hash": p.get(f"Lora_{k} Model hash")})
    return out


ADETAILER_SUFFIXES = ("", " 2nd", " 3rd", " 4th", " 5th", " 6th", " 7th", " 8th", " 9th", " 10th")


def infotext_passes(g: Generation, p: dict[str, Any]) -> list[dict[str, Any]]:
    """Every pass the infotext describes, in the order the web UI runs them: the base pass, the refiner
    (switched to part-way), hires fix, each ADetailer unit, then the extras tab's upscale."""
    passes: list[dict[str, Any]] = [{"pass": "base", "steps": g.steps, "sampler": g.sampler, "scheduler": g.scheduler,
                                     "cfg": g.cfg_scale, "seed": g.seed, "size": g.size, "model": g.model}]
    if p.get("Refiner"):
        passes.append({"pass": "refiner", "model": p.get("Refiner"), "switch_at": p.get("Refiner switch at")})
    if g.hires:
        passes.append({"pass": "hires", **g.hires, "denoise": g.denoise})
    for suffix in ADETAILER_SUFFIXES:
        unit = {k.removeprefix("ADetailer ").removesuffix(suffix).strip(): v for k, v in p.items()
                if k.startswith("ADetailer ") and k.endswith(suffix) and
                (suffix or not any(k.endswith(s) for s in ADETAILER_SUFFIXES[1:]))}
        if unit.get("model"):
            passes.append({"pass": "ADetailer", **unit})
    if p.get("Postprocess upscaler") or p.get("Postprocess upscale by"):
        passes.append({"pass": "upscale", "upscaler": p.get("Postprocess upscaler"),
                       "scale": p.get("Postprocess upscale by")})
    return passes


def import_a1111(meta: RawMetadata) -> list[Generation]:
    key = "parameters" if "parameters" in meta.texts else "comment"  # a JPEG COM segment carries it for some savers
    text = meta.texts.get(key)
    if not text or text.lstrip().startswith("{"):
        return []
    g = generation_from_infotext(text, meta.where.get(key, key), key)
    if g and meta.texts.get("exif:Make", "").startswith("Forge"):
        g.tool = "Forge"
    if g and g.tool == "AUTOMATIC1111" and ("prompt" in meta.texts or "workflow" in meta.texts):
        g.tool = "ComfyUI SaveImageWithMetaData"  # the infotext beside ComfyUI's graph
    return [g] if g else []


def import_a1111_stealth(meta: RawMetadata) -> list[Generation]:
    if not meta.stealth:
        return []
    text = meta.stealth
    if text.lstrip().startswith("{"):
        return []  # NovelAI's JSON stealth payload: handled by the NovelAI importer
    g = generation_from_infotext(text, meta.stealth_kind, "stealth")
    return [g] if g else []
