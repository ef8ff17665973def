"""Civitai's on-site generator, Hugging Face Spaces (Gradio), RuinedFooocus, Draw Things, Midjourney, Krea.

Layouts, as each tool writes them (read from their public source and sample files):

- Civitai on-site generator (ComfyUI behind it): JPEG EXIF UserComment (UTF-16) holding the API
  graph, whose loaders are named `resource-stack`, `resource-stack-1` ... with AIR URNs
  (`urn:air:sdxl:lora:civitai:<modelId>@<versionId>`), plus `"extra": {"airs": [...]}` and
  `"extraMetadata": "<JSON string>"` (prompt, negativePrompt, steps, cfgScale, sampler, seed,
  clipSkip, workflowId, resources [{modelVersionId, strength}]). Older on-site images carry an
  A1111 infotext with `Civitai resources` (the A1111 importer reads those).
- Gradio keeps a PIL image's `info` as PNG text chunks, so a Space writes whatever keys its author
  chose: one JSON chunk (`parameters`, `metadata`) or one chunk per parameter (`prompt`, `seed` ...).
  Recognised by the usual diffusers argument names.
- RuinedFooocus: PNG `parameters` JSON with `"software": "RuinedFooocus"`, `Prompt`, `Negative`,
  `base_model_name`, `base_model_hash`, `loras` ([[name, weight]] or [[hash, "name"]]).
- Draw Things: XMP (PNG iTXt or JPEG APP1) with `xmp:CreatorTool` "Draw Things", the prompt in
  `dc:description` and a JSON object in `exif:UserComment`: c (prompt), uc (negative), model,
  sampler, scale, seed, size "WxH", steps, strength, lora [{file, weight}], v2 {refiner, hires ...}.
- Midjourney: the prompt and parameters in PNG `Description` / XMP `dc:description` / IPTC caption,
  ending "Job ID: <uuid>"; `Author` the user; IPTC digital source type trainedAlgorithmicMedia.
- Krea: XMP / EXIF with CreatorTool or Software naming Krea and the prompt in the description.
"""

from __future__ import annotations

import re
from typing import Any

from inkseal.journal.importers.base import Generation, load_json, to_float, to_int
from inkseal.journal.importers.comfyui import generation_from_graph
from inkseal.journal.importers.xmpfields import xmp_values
from inkseal.journal.metadata import RawMetadata

AIR = re.compile(r"urn:air:(?P<eco>[\w.-]+):(?P<type>[\w.-]+):(?P<source>[\w.-]+):(?P<id>[\w.-]+)(?:@(?P<version>[\w.-]+))?")


def _obj(text: Any) -> Any:
    if isinstance(text, str) and text.lstrip().startswith(("{", "[")):
        return load_json(text)
    return text


def air(urn: Any) -> dict[str, Any] | None:
    m = AIR.search(str(urn or ""))
    if not m:
        return None
    return {"urn": m.group(0), "ecosystem": m.group("eco"), "type": m.group("type"), "source": m.group("source"),
            "model_id": m.group("id"), "version_id": m.group("version")}


# -- Civitai -----------------------------------------------------------------------------------------------
def import_civitai(meta: RawMetadata) -> list[Generation]:
    data = _obj(meta.texts.get("parameters"))
    if not isinstance(data, dict):
        return []
    extra_meta = _obj(data.get("extraMetadata"))
    airs = (data.get("extra") or {}).get("airs") if isinstance(data.get("extra"), dict) else None
    if extra_meta is None and airs is None and not any(str(k).startswith("resource-stack") for k in data):
        return []
    graph = {k: v for k, v in data.items() if isinstance(v, dict) and "class_type" in v}
    where = meta.where.get("parameters", "parameters") + " (Civitai JSON)"
    g = (generation_from_graph(graph, where, "parameters", tool="Civitai") if graph else None) \
        or Generation(tool="Civitai", where=where, source_key="parameters")
    if isinstance(extra_meta, dict):  # what the user set on the site: preferred to the graph's internals
        em = extra_meta
        if em.get("prompt"):
            g.prompts = [em["prompt"]]
        if em.get("negativePrompt"):
            g.negative_prompts = [em["negativePrompt"]]
        g.steps = to_int(em.get("steps")) or g.steps
        g.cfg_scale = to_float(em.get("cfgScale")) if em.get("cfgScale") is not None else g.cfg_scale
        g.sampler = em.get("sampler") or g.sampler
        g.seed = to_int(em.get("seed")) if em.get("seed") is not None else g.seed
        g.clip_skip = to_int(em.get("clipSkip")) or g.clip_skip
        g.denoise = to_float(em.get("denoise")) if em.get("denoise") is not None else g.denoise
        g.width, g.height = to_int(em.get("width")) or g.width, to_int(em.get("height")) or g.height
        g.extra["civitai_workflow"] = em.get("workflowId")
        g.extra["civitai_resources"] = em.get("resources")
        g.extra["civitai_extra_metadata"] = {k: v for k, v in em.items() if k not in ("prompt", "negativePrompt")}
    resources = [r for r in (air(a) for a in (airs if isinstance(airs, list) else [])[:256]) if r]
    g.extra["airs"] = resources
    model_air = air(g.model)
    if model_air:
        g.extra["model_air"] = model_air
    elif g.model is None:
        ckpt = next((r for r in resources if r["type"] == "checkpoint"), None)
        g.model = ckpt["urn"] if ckpt else None
    for lora in g.loras:
        found = air(lora.get("name"))
        if found:
            lora.update({"model_id": found["model_id"], "version_id": found["version_id"]})
    passes = g.extra.get("passes") or []
    if len(passes) > 1:  # txt2img-hires: the second sampler works on the upscaled latent
        second = passes[1]
        g.hires = {"steps": second.get("steps"), "denoise": second.get("denoise"), "sampler": second.get("sampler")}
    return [g]


# -- Hugging Face Spaces / Gradio (diffusers argument names) -------------------------------------------------
GRADIO_JSON_KEYS = ("parameters", "metadata", "generation_parameters", "params", "Comment", "gradio")
NAMES = {
    "prompt": ("prompt", "positive_prompt", "Prompt"),
    "negative": ("negative_prompt", "negative", "Negative prompt", "negativePrompt"),
    "seed": ("seed", "Seed", "generator_seed"),
    "steps": ("num_inference_steps", "steps", "Steps", "inference_steps"),
    "cfg": ("guidance_scale", "cfg_scale", "cfg", "CFG scale", "guidance"),
    "width": ("width", "Width"), "height": ("height", "Height"),
    "model": ("model", "model_id", "model_name", "pretrained_model_name_or_path", "base_model", "checkpoint"),
    "sampler": ("scheduler", "sampler", "sampler_name"),
    "strength": ("strength", "denoise", "denoising_strength"),
}


def _pick(src: dict[str, Any], what: str) -> Any:
    return next((src[k] for k in NAMES[what] if k in src and src[k] not in (None, "")), None)


def import_gradio(meta: RawMetadata) -> list[Generation]:
    source: dict[str, Any] | None = None
    key = "gradio"
    for k in GRADIO_JSON_KEYS:
        value = meta.texts.get(k)
        if value and value.lstrip().startswith("{"):
            obj = load_json(value)
            if isinstance(obj, dict) and isinstance(_pick(obj, "prompt"), str):
                source, key = obj, k
                break
    if source is None:
        source = {k: v for k, v in meta.texts.items() if not v.lstrip().startswith(("{", "["))}
    prompt = _pick(source, "prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        return []
    if _pick(source, "steps") is None and _pick(source, "cfg") is None and _pick(source, "seed") is None:
        return []  # a bare "prompt" text is not yet a generation record
    if "use_stable_diffusion_model" in source or "sui_image_params" in source or "software" in source:
        return []  # Easy Diffusion / SwarmUI / RuinedFooocus have their own importers
    g = Generation(tool="Hugging Face Space (Gradio)", where=meta.where.get(key, "PNG text chunks") +
                   ("" if key == "gradio" else " (JSON)"), source_key=key)
    g.prompts = [prompt]
    neg = _pick(source, "negative")
    g.negative_prompts = [neg] if isinstance(neg, str) and neg else []
    g.seed, g.steps, g.cfg_scale = to_int(_pick(source, "seed")), to_int(_pick(source, "steps")), to_float(_pick(source, "cfg"))
    g.width, g.height = to_int(_pick(source, "width")), to_int(_pick(source, "height"))
    g.model, g.sampler, g.denoise = _pick(source, "model"), _pick(source, "sampler"), to_float(_pick(source, "strength"))
    used = {k for names in NAMES.values() for k in names}
    g.extra = {k: v for k, v in source.items() if k not in used}
    if meta.texts.get("Software") or meta.texts.get("exif:Software"):
        g.version = meta.texts.get("Software") or meta.texts.get("exif:Software")
    return [g]


# -- RuinedFooocus -----------------------------------------------------------------------------------------
def import_ruined_fooocus(meta: RawMetadata) -> list[Generation]:
    p = _obj(meta.texts.get("parameters"))
    if not isinstance(p, dict) or not (str(p.get("software", "")).startswith("RuinedFooocus")
                                       or ("Prompt" in p and "base_model_name" in p)):
        return []
    g = Generation(tool="RuinedFooocus", where=meta.where.get("parameters", "parameters") + " (JSON)",
                   source_key="parameters", version=p.get("software"))
    g.prompts = [p["Prompt"]] if p.get("Prompt") else []
    g.negative_prompts = [p["Negative"]] if p.get("Negative") else []
    g.model, g.model_hash = p.get("base_model_name"), p.get("base_model_hash")
    g.steps, g.seed, g.cfg_scale = to_int(p.get("steps")), to_int(p.get("seed")), to_float(p.get("cfg"))
    g.sampler, g.scheduler = p.get("sampler_name"), p.get("scheduler")
    g.width, g.height = to_int(p.get("width")), to_int(p.get("height"))
    g.denoise, g.clip_skip = to_float(p.get("denoise")), to_int(p.get("clip_skip"))
    loras = p.get("loras") or []
    g.loras = []
    for item in loras if isinstance(loras, list) else []:
        if isinstance(item, list | tuple) and len(item) == 2:
            a, b = item
            # [[weight-or-hash, "name"]] in some releases, [["name", weight]] in others
            name, weight = (b, a) if isinstance(b, str) and not isinstance(a, str) else (a, b)
            g.loras.append({"name": str(name), "weight": to_float(weight)} if to_float(weight) is not None
                           else {"name": str(b), "hash": str(a)})
    g.extra = {k: v for k, v in p.items() if k not in ("Prompt", "Negative", "loras")}
    return [g]


# -- XMP / description carriers: Draw Things, Midjourney, Krea ----------------------------------------------
def _xmp(meta: RawMetadata) -> dict[str, str]:
    if not meta.xmp:
        return {}
    values, problem = xmp_values(meta.xmp)
    if problem and problem not in meta.problems:
        meta.problems.append(problem)
    return values


def import_draw_things(meta: RawMetadata) -> list[Generation]:
    x = _xmp(meta)
    tool = x.get("xmp:CreatorTool", "") or meta.texts.get("exif:Software", "")
    data = _obj(x.get("exif:UserComment"))
    if "Draw Things" not in tool and not (isinstance(data, dict) and "c" in data and "sampler" in data):
        return []
    if not isinstance(data, dict):
        data = {}
    g = Generation(tool="Draw Things", where="XMP exif:UserComment (JSON)", source_key="xmp")
    prompt = data.get("c") or x.get("dc:description", "").split("\n-", 1)[0]
    g.prompts = [prompt] if prompt else []
    g.negative_prompts = [data["uc"]] if data.get("uc") else []
    g.model, g.sampler = data.get("model"), data.get("sampler")
    g.seed, g.steps, g.cfg_scale = to_int(data.get("seed")), to_int(data.get("steps")), to_float(data.get("scale"))
    g.denoise = to_float(data.get("strength"))
    size = str(data.get("size") or "")
    if "x" in size:
        g.width, g.height = (to_int(v) for v in size.split("x", 1))
    g.loras = [{"name": item.get("file"), "weight": to_float(item.get("weight"))}
               for item in data.get("lora") or [] if isinstance(item, dict)]
    v2 = data.get("v2") if isinstance(data.get("v2"), dict) else {}
    g.clip_skip = to_int(v2.get("clipSkip"))
    passes: list[dict[str, Any]] = [{"pass": "base", "model": g.model, "steps": g.steps, "sampler": g.sampler}]
    if v2.get("refinerModel"):
        passes.append({"pass": "refiner", "model": v2["refinerModel"], "switch_at": v2.get("refinerStart")})
    if v2.get("hiresFix"):
        g.hires = {"start_width": v2.get("hiresFixStartWidth"), "start_height": v2.get("hiresFixStartHeight"),
                   "denoise": v2.get("hiresFixStrength")}
        passes.append({"pass": "hires", **g.hires})
    if data.get("upscaler") or v2.get("upscaler"):
        passes.append({"pass": "upscale", "upscaler": data.get("upscaler") or v2.get("upscaler")})
    g.extra = {"passes": passes, **{k: v for k, v in data.items() if k not in ("c", "uc", "lora")},
               "creator_tool": tool or None}
    return [g]


MJ_JOB = re.compile(r"Job ID:\s*([0-9a-fA-F-]{36})")
MJ_PARAM = re.compile(r"\s--([a-zA-Z]+)(?:\s+((?:(?!\s--)[^\s]+)(?:\s+(?!--)[^\s]+)*?))?(?=\s--|\s*$)")


def parse_midjourney(text: str) -> dict[str, Any]:
    """'https://s.mj.run/x a cat --ar 3:2 --v 6.1 --seed 7 Job ID: 0f1e...' -> prompt, parameters, job id."""
    job = MJ_JOB.search(text)
    body = text[:job.start()] if job else text
    body = body.strip()
    first = re.search(r"\s--[a-zA-Z]", " " + body)
    prompt = (" " + body)[:first.start()].strip() if first else body
    params = {m.group(1): (m.group(2) or True) for m in MJ_PARAM.finditer(" " + body[len(prompt):])}
    image_prompts = re.findall(r"https?://\S+", prompt)
    return {"prompt": prompt, "params": params, "job_id": job.group(1) if job else None, "image_prompts": image_prompts}


def import_midjourney(meta: RawMetadata) -> list[Generation]:
    x = _xmp(meta)
    candidates = [("Description", meta.texts.get("Description")), ("xmp dc:description", x.get("dc:description")),
                  ("iptc:Caption-Abstract", meta.texts.get("iptc:Caption-Abstract")),
                  ("exif:ImageDescription", meta.texts.get("exif:ImageDescription"))]
    tools = " ".join(filter(None, (x.get("xmp:CreatorTool"), meta.texts.get("Software"), meta.texts.get("exif:Software"))))
    for where, text in candidates:
        if not text or not (MJ_JOB.search(text) or "midjourney" in tools.lower()):
            continue
        if meta.texts.get("Software", "").startswith("NovelAI"):
            return []
        d = parse_midjourney(text)
        g = Generation(tool="Midjourney", where=where, source_key="Description" if where == "Description" else "mj")
        g.prompts = [d["prompt"]] if d["prompt"] else []
        p = d["params"]
        g.negative_prompts = [p["no"]] if isinstance(p.get("no"), str) else []
        g.seed = to_int(p.get("seed"))
        g.version = str(p.get("v") or p.get("version") or "") or (f"niji {p['niji']}" if "niji" in p else None)
        g.extra = {"job_id": d["job_id"] or x.get("Iptc4xmpExt:DigImageGUID"), "parameters": p,
                   "image_prompts": d["image_prompts"], "author": meta.texts.get("Author") or x.get("dc:creator"),
                   "digital_source_type": x.get("Iptc4xmpExt:DigitalSourceType")}
        if "ar" in p:
            g.extra["aspect_ratio"] = p["ar"]
        return [g]
    return []


def import_krea(meta: RawMetadata) -> list[Generation]:
    x = _xmp(meta)
    tools = " ".join(filter(None, (x.get("xmp:CreatorTool"), meta.texts.get("Software"),
                                   meta.texts.get("exif:Software"), meta.texts.get("exif:Make"))))
    if "krea" not in tools.lower():
        return []
    prompt = x.get("dc:description") or meta.texts.get("Description") or meta.texts.get("exif:ImageDescription") \
        or meta.texts.get("iptc:Caption-Abstract") or meta.texts.get("prompt")
    g = Generation(tool="Krea", where="XMP / EXIF description", source_key="krea", version=tools.strip())
    g.prompts = [prompt] if prompt else []
    g.model = x.get("xmp:Model") or meta.texts.get("exif:Model") or meta.texts.get("model")
    g.seed = to_int(meta.texts.get("seed"))
    g.extra = {"digital_source_type": x.get("Iptc4xmpExt:DigitalSourceType")}
    return [g]
