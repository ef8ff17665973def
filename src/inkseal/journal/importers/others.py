"""NovelAI, InvokeAI (v3+, v2, legacy Dream), Fooocus, SwarmUI, Stability Matrix, TensorArt, Easy Diffusion."""

from __future__ import annotations

import ast
import re
import shlex
from typing import Any

from inkseal.journal.importers.a1111 import generation_from_infotext
from inkseal.journal.importers.base import Generation, load_json, to_float, to_int
from inkseal.journal.metadata import RawMetadata


def _json(meta: RawMetadata, key: str) -> Any:
    text = meta.texts.get(key)
    if not text or not text.lstrip().startswith(("{", "[")):
        return None
    return load_json(text)


# -- NovelAI -----------------------------------------------------------------------------------
def import_novelai(meta: RawMetadata) -> list[Generation]:
    comment = None
    where = ""
    if meta.texts.get("Software", "").startswith("NovelAI") or "Comment" in meta.texts and "Description" in meta.texts:
        comment = _json(meta, "Comment")
        where = "PNG text chunks 'Description' / 'Comment'"
    else:
        # WebP: the same text keys as one JSON object, in EXIF UserComment or in the alpha channel's
        # stealth payload (gzip(JSON of the text keys))
        for text, kind in ((meta.texts.get("parameters"), meta.where.get("parameters", "")),
                           (meta.stealth, meta.stealth_kind)):
            if not text or not text.lstrip().startswith("{"):
                continue
            outer = load_json(text)
            if isinstance(outer, dict) and "Comment" in outer and (
                    str(outer.get("Software", "")).startswith("NovelAI") or "Description" in outer or kind == meta.stealth_kind):
                for k, v in outer.items():
                    if isinstance(v, str) and k != "parameters":
                        meta.texts.setdefault(k, v)
                comment = load_json(outer["Comment"]) if isinstance(outer["Comment"], str) else outer["Comment"]
                where = kind + " (NovelAI JSON)"
                break
    if not isinstance(comment, dict):
        return []
    g = Generation(tool="NovelAI", where=where, source_key="Comment")
    prompt = meta.texts.get("Description") or comment.get("prompt") or ""
    characters, char_negatives = _v4_characters(comment.get("v4_prompt")), _v4_characters(comment.get("v4_negative_prompt"))
    v4 = comment.get("v4_prompt") or {}
    if isinstance(v4, dict) and isinstance(v4.get("caption"), dict):
        prompt = prompt or v4["caption"].get("base_caption", "")
        g.extra["v4_char_captions"] = v4["caption"].get("char_captions", [])
        g.extra["v4_use_coords"], g.extra["v4_use_order"] = v4.get("use_coords"), v4.get("use_order")
    # the base caption first, then each character's caption in the order NovelAI applies them
    g.prompts = ([prompt] if prompt else []) + [c["caption"] for c in characters if c["caption"]]
    g.extra["characters"] = characters
    uc = comment.get("uc") or ""
    g.negative_prompts = ([uc] if uc else []) + [c["caption"] for c in char_negatives if c["caption"]]
    source = meta.texts.get("Source", "")
    if source:
        parts = source.rsplit(" ", 1)
        is_hash = len(parts) == 2 and re.fullmatch(r"[0-9A-Fa-f]{8}", parts[1])
        g.model, g.model_hash = (parts[0], parts[1]) if is_hash else (source, None)
    g.steps, g.seed = to_int(comment.get("steps")), to_int(comment.get("seed"))
    g.sampler, g.cfg_scale = comment.get("sampler"), to_float(comment.get("scale"))
    g.width, g.height = to_int(comment.get("width")), to_int(comment.get("height"))
    g.extra.update({k: v for k, v in comment.items() if k not in ("prompt", "uc", "steps", "seed", "sampler", "scale",
                                                                  "width", "height", "v4_prompt",
                                                                  "v4_negative_prompt")})
    if "signed_hash" in comment:
        g.extra["signed_hash"] = comment["signed_hash"]  # NovelAI's own Ed25519 signature, kept for checking
    return [g]


def _v4_characters(v4: Any) -> list[dict[str, Any]]:
    """NovelAI v4 multi-character captions: [{caption, centers: [{x, y}]}] (positions on a 5x5 grid, 0..1)."""
    cap = v4.get("caption") if isinstance(v4, dict) else None
    chars = cap.get("char_captions") if isinstance(cap, dict) else None
    out = []
    for c in chars if isinstance(chars, list) else []:
        if isinstance(c, dict):
            centers = c.get("centers") if isinstance(c.get("centers"), list) else []
            out.append({"caption": str(c.get("char_caption") or ""),
                        "centers": [{"x": to_float(p.get("x")), "y": to_float(p.get("y"))}
                                    for p in centers[:16] if isinstance(p, dict)]})
    return out[:32]


# -- InvokeAI ----------------------------------------------------------------------------------
DREAM_FLAGS = {"-s": "steps", "-S": "seed", "-W": "width", "-H": "height", "-C": "cfg_scale", "-A": "sampler",
               "-G": "gfpgan_strength", "-cf": "codeformer_fidelity", "-U": "upscale", "-f": "strength",
               "-I": "init_img"}


def parse_dream(text: str) -> dict[str, Any]:
    """Legacy InvokeAI: '"prompt [negative]" -s 50 -S 42 -W 512 -H 768 -C 5 -A k_lms ...'."""
    try:
        tokens = shlex.split(text)
    except ValueError:
        tokens = text.split()
    out: dict[str, Any] = {"prompt": tokens[0] if tokens else ""}
    i = 1
    while i < len(tokens):
        flag = tokens[i]
        if flag in DREAM_FLAGS:
            values = []
            i += 1
            while i < len(tokens) and not tokens[i].startswith("-"):
                values.append(tokens[i])
                i += 1
            out[DREAM_FLAGS[flag]] = values[0] if len(values) == 1 else values
        else:
            i += 1
    m = re.search(r"\[([^\[\]]*)\]\s*$", out["prompt"])
    if m:  # the trailing [bracketed] part is the negative prompt
        out["negative"] = m.group(1).strip()
        out["prompt"] = out["prompt"][: m.start()].strip()
    return out


def _name(v: Any) -> str | None:
    if isinstance(v, dict):
        return v.get("model_name") or v.get("name") or v.get("key")
    return v if isinstance(v, str) else None


def import_invokeai(meta: RawMetadata) -> list[Generation]:
    inv = _json(meta, "invokeai_metadata")
    if isinstance(inv, dict):
        g = Generation(tool="InvokeAI", where="PNG text chunk 'invokeai_metadata' (v3+)", source_key="invokeai_metadata")
        g.version = inv.get("app_version")
        g.prompts = [inv["positive_prompt"]] if inv.get("positive_prompt") else []
        g.negative_prompts = [inv["negative_prompt"]] if inv.get("negative_prompt") else []
        g.width, g.height, g.seed = to_int(inv.get("width")), to_int(inv.get("height")), to_int(inv.get("seed"))
        g.steps, g.cfg_scale = to_int(inv.get("steps")), to_float(inv.get("cfg_scale"))
        g.sampler = inv.get("scheduler")  # InvokeAI calls its sampler "scheduler"
        model = inv.get("model") or {}
        g.model, g.vae = _name(model), _name(inv.get("vae"))
        g.model_hash = model.get("hash") if isinstance(model, dict) else None
        g.denoise = to_float(inv.get("strength"))
        g.loras = [{"name": _name(x.get("model") or x.get("lora")), "weight": to_float(x.get("weight"))}
                   for x in inv.get("loras") or [] if isinstance(x, dict)]
        g.extra = {"base_model": model.get("base_model") if isinstance(model, dict) else None,
                   "generation_mode": inv.get("generation_mode"),
                   "ip_adapters": [_name(a.get("ip_adapter_model")) for a in inv.get("ipAdapters") or []
                                   if isinstance(a, dict)],
                   **{k: v for k, v in inv.items() if k not in ("positive_prompt", "negative_prompt", "model", "vae",
                                                                 "loras", "ipAdapters")}}
        graph = _json(meta, "invokeai_graph") or _json(meta, "invokeai_workflow")
        g.workflow = graph
        return [g]
    sd = _json(meta, "sd-metadata")
    if isinstance(sd, dict) and isinstance(sd.get("image"), dict):
        img = sd["image"]
        g = Generation(tool="InvokeAI", where=f"PNG text chunk 'sd-metadata' (v2, app_version {sd.get('app_version')})",
                       source_key="sd-metadata", version=sd.get("app_version"))
        prompt = img.get("prompt")
        text = prompt[0].get("prompt", "") if isinstance(prompt, list) and prompt and isinstance(prompt[0], dict) \
            else str(prompt or "")
        dream = parse_dream(f'"{text}"')
        g.prompts = [dream["prompt"]] if dream["prompt"] else []
        g.negative_prompts = [dream["negative"]] if dream.get("negative") else []
        g.model, g.model_hash = sd.get("model_weights"), sd.get("model_hash")
        g.width, g.height, g.seed = to_int(img.get("width")), to_int(img.get("height")), to_int(img.get("seed"))
        g.steps, g.cfg_scale, g.sampler = to_int(img.get("steps")), to_float(img.get("cfg_scale")), img.get("sampler")
        g.extra = {"postprocessing": [p.get("type") for p in img.get("postprocessing") or [] if isinstance(p, dict)],
                   "type": img.get("type"), "variations": img.get("variations"), "hires_fix": img.get("hires_fix")}
        return [g]
    dream_text = meta.texts.get("Dream")
    if dream_text:
        d = parse_dream(dream_text)
        g = Generation(tool="InvokeAI", where="PNG text chunk 'Dream' (legacy)", source_key="Dream")
        g.prompts = [d["prompt"]] if d["prompt"] else []
        g.negative_prompts = [d["negative"]] if d.get("negative") else []
        g.steps, g.seed = to_int(d.get("steps")), to_int(d.get("seed"))
        g.width, g.height, g.cfg_scale = to_int(d.get("width")), to_int(d.get("height")), to_float(d.get("cfg_scale"))
        g.sampler = d.get("sampler")
        g.source_image = d.get("init_img")
        g.extra = {k: v for k, v in d.items() if k not in ("prompt", "negative", "steps", "seed", "width", "height",
                                                           "cfg_scale", "sampler", "init_img")}
        return [g]
    return []


# -- Fooocus -----------------------------------------------------------------------------------
LITERAL_MAX_CHARS = 65_536  # ast builds a node per element: a 16 MiB list literal would cost GBs


def _literal(v: Any) -> Any:
    if isinstance(v, str) and v[:1] in "([{" and len(v) <= LITERAL_MAX_CHARS:
        try:
            return ast.literal_eval(v)  # Fooocus writes Python reprs: "(768, 1280)", "['Fooocus V2']"
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):  # "too many nested parentheses"
            return v
    return v


def import_fooocus(meta: RawMetadata) -> list[Generation]:
    p = _json(meta, "parameters")
    if not isinstance(p, dict) or not (meta.texts.get("fooocus_scheme") or p.get("metadata_scheme") == "fooocus"
                                       or str(p.get("version", "")).startswith("Fooocus")):
        return []
    g = Generation(tool="Fooocus", where=meta.where.get("parameters", "parameters") + " (JSON)", source_key="parameters")
    g.version = p.get("version")
    g.prompts = [p["prompt"]] if p.get("prompt") else []
    g.negative_prompts = [p["negative_prompt"]] if p.get("negative_prompt") else []
    g.model, g.model_hash = p.get("base_model"), p.get("base_model_hash")
    g.sampler, g.scheduler = p.get("sampler"), p.get("scheduler")
    g.steps, g.seed = to_int(p.get("steps")), to_int(p.get("seed"))
    g.cfg_scale = to_float(p.get("guidance_scale"))
    g.clip_skip = to_int(p.get("clip_skip"))
    res = _literal(p.get("resolution"))
    if isinstance(res, tuple | list) and len(res) == 2:
        g.width, g.height = to_int(res[0]), to_int(res[1])
    g.vae = p.get("vae")
    g.loras = [{"name": x[0], "weight": to_float(x[1])} if isinstance(x, list | tuple) else {"name": x}
               for x in _literal(p.get("loras")) or []]
    g.extra = {k: _literal(v) for k, v in p.items() if k not in ("prompt", "negative_prompt", "base_model",
                                                                  "base_model_hash", "sampler", "scheduler", "steps",
                                                                  "seed", "guidance_scale", "resolution", "loras")}
    return [g]


# -- SwarmUI -----------------------------------------------------------------------------------
def import_swarmui(meta: RawMetadata) -> list[Generation]:
    p = _json(meta, "parameters")
    if not isinstance(p, dict) or "sui_image_params" not in p:
        return []
    s = p["sui_image_params"]
    if not isinstance(s, dict):
        return []
    g = Generation(tool="SwarmUI", where=meta.where.get("parameters", "parameters") + " (JSON)", source_key="parameters")
    g.version = s.get("swarm_version")
    g.prompts = [s["prompt"]] if s.get("prompt") else []
    g.negative_prompts = [s["negativeprompt"]] if s.get("negativeprompt") else []
    g.model, g.seed, g.steps = s.get("model"), to_int(s.get("seed")), to_int(s.get("steps"))
    g.cfg_scale, g.sampler, g.scheduler = to_float(s.get("cfgscale")), s.get("sampler"), s.get("scheduler")
    g.width, g.height = to_int(s.get("width")), to_int(s.get("height"))
    g.vae = s.get("vae")
    g.loras = [{"name": n, "weight": to_float(w)} for n, w in zip(s.get("loras") or [], s.get("loraweights") or [],
                                                                  strict=False)]
    g.extra = {"sui_extra_data": p.get("sui_extra_data"), "sui_models": p.get("sui_models"),
               **{k: v for k, v in s.items() if k not in ("prompt", "negativeprompt", "model", "seed", "steps",
                                                          "cfgscale", "sampler", "scheduler", "width", "height")}}
    return [g]


# -- Stability Matrix, TensorArt, Easy Diffusion -----------------------------------------------
def import_stability_matrix(meta: RawMetadata) -> list[Generation]:
    if "smproj" not in meta.texts and "parameters-json" not in meta.texts:
        return []
    pj = _json(meta, "parameters-json")
    if isinstance(pj, dict):
        g = Generation(tool="Stability Matrix", where="PNG text chunk 'parameters-json'", source_key="parameters-json")
        g.prompts = [pj["PositivePrompt"]] if pj.get("PositivePrompt") else []
        g.negative_prompts = [pj["NegativePrompt"]] if pj.get("NegativePrompt") else []
        g.model, g.model_hash = pj.get("ModelName"), pj.get("ModelHash")
        g.seed, g.steps, g.cfg_scale = to_int(pj.get("Seed")), to_int(pj.get("Steps")), to_float(pj.get("CfgScale"))
        g.sampler, g.scheduler = pj.get("Sampler"), pj.get("Scheduler")
        g.width, g.height = to_int(pj.get("Width")), to_int(pj.get("Height"))
        g.extra = {k: v for k, v in pj.items() if k not in ("PositivePrompt", "NegativePrompt")}
        if meta.texts.get("smproj"):
            g.workflow = _json(meta, "smproj")
        return [g]
    text = meta.texts.get("parameters")
    g2 = generation_from_infotext(text, "PNG text chunk 'parameters'", "parameters", tool="Stability Matrix") if text else None
    return [g2] if g2 else []


def import_tensorart(meta: RawMetadata) -> list[Generation]:
    data = _json(meta, "generation_data")
    if not isinstance(data, dict):
        return []
    g = Generation(tool="TensorArt", where="PNG text chunk 'generation_data'", source_key="generation_data")
    g.prompts = [data["prompt"]] if data.get("prompt") else []
    g.negative_prompts = [data["negativePrompt"]] if data.get("negativePrompt") else []
    base = data.get("baseModel") or {}
    g.model = base.get("modelFileName") or base.get("modelId") if isinstance(base, dict) else None
    g.model_hash = base.get("hash") if isinstance(base, dict) else None
    g.seed, g.steps, g.cfg_scale = to_int(data.get("seed")), to_int(data.get("steps")), to_float(data.get("cfgScale"))
    g.sampler, g.clip_skip = data.get("samplerName"), to_int(data.get("clipSkip"))
    g.width, g.height = to_int(data.get("width")), to_int(data.get("height"))
    g.loras = [{"name": m.get("modelFileName") or m.get("modelId"), "weight": to_float(m.get("weight"))}
               for m in data.get("models") or [] if isinstance(m, dict) and m.get("type") == "LORA"]
    g.extra = {k: v for k, v in data.items() if k not in ("prompt", "negativePrompt")}
    return [g]


def import_easy_diffusion(meta: RawMetadata) -> list[Generation]:
    keys = {"prompt", "num_inference_steps", "guidance_scale", "use_stable_diffusion_model"}
    data = _json(meta, "parameters") if meta.texts.get("parameters", "").lstrip().startswith("{") else None
    source = data if isinstance(data, dict) else meta.texts
    if not keys <= set(source):
        return []
    g = Generation(tool="Easy Diffusion", where="PNG text chunks", source_key="prompt")
    g.prompts = [source["prompt"]] if source.get("prompt") else []
    neg = source.get("negative_prompt")
    g.negative_prompts = [neg] if neg else []
    g.model, g.seed = source.get("use_stable_diffusion_model"), to_int(source.get("seed"))
    g.steps, g.cfg_scale = to_int(source.get("num_inference_steps")), to_float(source.get("guidance_scale"))
    g.sampler, g.vae = source.get("sampler_name"), source.get("use_vae_model")
    g.width, g.height = to_int(source.get("width")), to_int(source.get("height"))
    g.clip_skip = to_int(source.get("clip_skip"))
    g.extra = {k: v for k, v in source.items() if k not in ("prompt", "negative_prompt")}
    return [g]
