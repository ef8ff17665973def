"""ComfyUI: walk the API graph (`prompt`) from every sampler node to what fed it.

For each sampler (KSampler, KSamplerAdvanced, SamplerCustom..., anything with positive/negative
conditioning inputs) we follow links
    positive / negative -> conditioning nodes (combine, set-area, unCLIP...) -> text encoders
    model               -> LoRA loaders -> checkpoint / UNet loader
    latent_image        -> EmptyLatentImage (size) | VAEEncode -> LoadImage (img2img) | an earlier sampler
and record the text, weights, areas, model chain, seed, steps, cfg, sampler, scheduler and denoise.
Samplers are ordered by dependency (first pass first); the first pass gives the top-level fields,
every pass is kept in `extra["passes"]`, and the UI `workflow` graph is stored whole.
"""

from __future__ import annotations

from typing import Any

from inkseal.journal.importers.base import Generation, load_json, to_float, to_int
from inkseal.journal.metadata import RawMetadata

MAX_SAMPLERS = 64  # each sampler walks the graph: a hostile 10,000-sampler graph must not cost minutes
# inputs holding prompt text in encoders and prompt nodes (core, SDXL, rgthree Power Prompt, ComfyRoll
# CR Prompt Text, WAS / Impact wildcard nodes)
PROMPT_INPUTS = ("text", "text_g", "text_l", "prompt", "populated_text", "wildcard_text", "text_positive")
TEXT_KEYS = ("text", "text_g", "text_l", "prompt", "string", "value", "positive", "wildcard_text", "populated_text")


# rgthree Context nodes: output k carries input CONTEXT_SLOTS[k] (or the same slot of base_ctx)
CONTEXT_SLOTS = ("base_ctx", "model", "clip", "vae", "positive", "negative", "latent", "images", "seed")


def _is_link(v: Any) -> bool:
    return isinstance(v, list) and len(v) == 2 and isinstance(v[0], str | int) and isinstance(v[1], int)


class Graph:
    def __init__(self, nodes: dict[str, dict]) -> None:
        self.nodes = {str(k): v for k, v in nodes.items() if isinstance(v, dict)}

    def node(self, link: Any) -> tuple[str, dict] | None:
        if not _is_link(link):
            return None
        nid = str(link[0])
        return (nid, self.nodes[nid]) if nid in self.nodes else None

    def resolve(self, value: Any, depth: int = 0) -> Any:
        """A literal, or the literal a link points at (primitive / string nodes)."""
        found = self.node(value)
        if found is None or depth > 8:
            return value
        inputs = self.inputs(found[1])
        for key in TEXT_KEYS + ("seed", "noise_seed", "int", "float"):
            if key in inputs:
                return self.resolve(inputs[key], depth + 1)
        return value

    def samplers(self) -> list[str]:
        out = []
        for nid, node in self.nodes.items():
            inputs = self.inputs(node)
            ctype = str(node.get("class_type", ""))
            if ("positive" in inputs and "negative" in inputs and ("latent_image" in inputs or "noise" in inputs)) \
                    or ("Sampler" in ctype and "guider" in inputs):
                out.append(nid)
        return out

    def inputs(self, node: dict) -> dict[str, Any]:
        inputs = node.get("inputs")
        return inputs if isinstance(inputs, dict) else {}

    def upstream(self, link: Any, stop: set[str] = frozenset()) -> list[tuple[str, dict]]:
        """Depth-first (pre-order) list of the nodes feeding `link`, in input order; `stop` nodes are
        listed but not entered (another sampler's own inputs belong to that sampler). An explicit
        stack, not recursion: a hostile chain of thousands of nodes must not exhaust the stack."""
        seen: set[Any] = set()
        out: list[tuple[str, dict]] = []
        pending = [link]
        while pending:
            current = pending.pop()
            found = self.node(current)
            if found is None:
                continue
            inputs = self.inputs(found[1])
            slots = CONTEXT_SLOTS if "Context" in str(found[1].get("class_type", "")) else None
            # a context node bundles both prompts: only the input behind the output used is followed
            visit = (found[0], current[1]) if slots else found[0]
            if visit in seen:
                continue
            seen.add(visit)
            out.append(found)
            if found[0] in stop:
                continue
            if slots and 0 < current[1] < len(slots):
                name = slots[current[1]]
                nxt = inputs.get(name) if _is_link(inputs.get(name)) else inputs.get("base_ctx")
                if _is_link(nxt):
                    pending.append(nxt if name in inputs else [nxt[0], current[1]])
                continue
            pending.extend(reversed([v for v in inputs.values() if _is_link(v)]))
        return out


def _texts(graph: Graph, link: Any, side: str = "positive") -> tuple[list[str], list[dict]]:
    """Prompts reaching a conditioning input, and the area / unCLIP settings met on the way."""
    texts, notes = [], []
    for nid, node in graph.upstream(link):
        inputs, ctype = graph.inputs(node), str(node.get("class_type", ""))
        # loaders that encode the prompt themselves (Efficiency nodes' Efficient Loader): the text sits
        # in their own `positive` / `negative` input
        own = graph.resolve(inputs.get(side)) if "Loader" in ctype else None
        if isinstance(own, str) and own.strip() and own.strip() not in texts:
            texts.append(own.strip())
        if "Conditioning" in ctype and ("x" in inputs or "strength" in inputs) or "unCLIP" in ctype:
            notes.append({"node": nid, "class_type": ctype,
                          **{k: v for k, v in inputs.items() if not _is_link(v)}})
        if "Encode" in ctype or "Text" in ctype or "Prompt" in ctype:
            for key in PROMPT_INPUTS:
                if key in inputs:
                    value = graph.resolve(inputs[key])
                    if isinstance(value, str) and value.strip() and value.strip() not in texts:
                        texts.append(value.strip())
    return texts, notes


def _stack_loras(inputs: dict[str, Any]) -> list[dict]:
    """LoRAs listed inside one stack node: rgthree Power Lora Loader ({"on", "lora", "strength"} per
    slot), rgthree Lora Loader Stack (lora_01 / strength_01), ComfyRoll CR LoRA Stack (switch_1,
    lora_name_1, model_weight_1, clip_weight_1), Efficiency LoRA Stacker (lora_name_1, lora_wt_1)."""
    out = []
    for key, value in inputs.items():
        if isinstance(value, dict) and "lora" in value:  # rgthree Power Lora Loader slot
            if value.get("on", True) and value.get("lora") not in (None, "None"):
                out.append({"name": str(value["lora"]), "weight": to_float(value.get("strength")),
                            "weight_clip": to_float(value.get("strengthTwo"))})
            continue
        if not isinstance(value, str) or value in ("None", "") or not key.startswith(("lora_name_", "lora_0", "lora_")):
            continue
        n = key.rsplit("_", 1)[-1]
        if not n.isdigit():
            continue
        if str(inputs.get(f"switch_{n}", "On")).lower() == "off":
            continue
        weight = next((inputs[k] for k in (f"strength_{n}", f"model_weight_{n}", f"lora_wt_{n}",
                                           f"model_str_{n}") if k in inputs), None)
        clip = next((inputs[k] for k in (f"clip_weight_{n}", f"clip_str_{n}") if k in inputs), None)
        out.append({"name": value, "weight": to_float(weight), "weight_clip": to_float(clip)})
    return out


def _model_chain(graph: Graph, link: Any) -> tuple[str | None, list[dict]]:
    model, loras = None, []
    for _nid, node in graph.upstream(link):
        inputs, ctype = graph.inputs(node), str(node.get("class_type", ""))
        if "lora_name" in inputs and not _is_link(inputs["lora_name"]):
            if inputs["lora_name"] not in (None, "None", ""):
                loras.append({"name": inputs["lora_name"],
                              "weight": to_float(inputs.get("strength_model", inputs.get("lora_model_strength"))),
                              "weight_clip": to_float(inputs.get("strength_clip", inputs.get("lora_clip_strength")))})
            loras.extend(_stack_loras({k: v for k, v in inputs.items() if k != "lora_name"}))
        else:
            loras.extend(_stack_loras(inputs))
        for key in ("ckpt_name", "unet_name", "model_name"):
            if key in inputs and model is None and not _is_link(inputs[key]) and "Loader" in ctype:
                model = str(inputs[key])
    return model, loras


def _latent(graph: Graph, link: Any, samplers: set[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for nid, node in graph.upstream(link, stop=samplers):
        inputs, ctype = graph.inputs(node), str(node.get("class_type", ""))
        if nid in samplers and "from_sampler" not in out:
            out["from_sampler"] = nid
        for wk, hk in (("width", "height"), ("empty_latent_width", "empty_latent_height")):
            if wk in inputs and hk in inputs and "size" not in out:
                out["size"] = (to_int(graph.resolve(inputs[wk])), to_int(graph.resolve(inputs[hk])))
                out["size_from"] = ctype
        if ctype.startswith("LoadImage") and "image" in inputs and "source_image" not in out:
            out["source_image"] = str(inputs["image"])
        if "Inpaint" in ctype or "mask" in inputs:
            out["inpaint"] = True
    return out


def _levels(feeds: dict[str, str | None]) -> dict[str, int]:
    """How many samplers run before each one (`feeds`: sampler -> the sampler its latent comes from).
    Iterative, and a cycle (only a hostile graph has one) counts as a first pass."""
    levels: dict[str, int] = {}
    for start in feeds:
        chain, node = [], start
        while node in feeds and node not in levels and node not in chain:
            chain.append(node)
            node = feeds[node]
        base = levels.get(node, -1) if node in feeds and node not in chain else -1
        for k, nid in enumerate(reversed(chain)):
            levels[nid] = base + 1 + k
    return levels


def graph_of(text: str | None) -> dict | None:
    """The API graph in a text, or None: `{id: {class_type, inputs}}`, or a saver's `{"prompt": graph}`."""
    if not text or not text.lstrip().startswith("{"):
        return None
    data = load_json(text)
    if isinstance(data, dict) and isinstance(data.get("prompt"), dict | str) and "class_type" not in data:
        inner = data["prompt"]
        data = load_json(inner) if isinstance(inner, str) and inner.lstrip().startswith("{") else inner
    if not isinstance(data, dict) or not any(isinstance(v, dict) and "class_type" in v for v in data.values()):
        return None
    return data


def import_comfyui(meta: RawMetadata) -> list[Generation]:
    """The core `prompt` chunk / EXIF tag; else a saver's JSON in `parameters` (UserComment: SaveImage+,
    Save Image Extended write `{"prompt": ..., "workflow": ...}` or the bare graph there)."""
    for key in ("prompt", "parameters"):
        data = graph_of(meta.texts.get(key))
        if data is None:
            continue
        wf = meta.texts.get("workflow")
        outer = load_json(meta.texts[key]) if key == "parameters" else None
        if isinstance(outer, dict) and outer.get("workflow") is not None:
            wf = outer["workflow"]
        g = generation_from_graph(data, meta.where.get(key, key), key, wf)
        return [g] if g else []
    return []


def generation_from_graph(data: dict, where: str, key: str, wf: Any = None, tool: str = "ComfyUI") -> Generation | None:
    graph = Graph(data)
    sampler_ids = graph.samplers()
    if not sampler_ids:
        return None
    total_samplers = len(sampler_ids)
    sampler_ids = sampler_ids[:MAX_SAMPLERS]
    ids = set(sampler_ids)
    passes = []
    for sid in sampler_ids:
        inputs = graph.inputs(graph.nodes[sid])
        pos, pos_notes = _texts(graph, inputs.get("positive"))
        neg, _ = _texts(graph, inputs.get("negative"), "negative")
        model, loras = _model_chain(graph, inputs.get("model"))
        latent = _latent(graph, inputs.get("latent_image"), ids - {sid})
        passes.append({
            "node": sid, "class_type": graph.nodes[sid].get("class_type"),
            "seed": to_int(graph.resolve(inputs.get("seed", inputs.get("noise_seed")))),
            "steps": to_int(graph.resolve(inputs.get("steps"))), "cfg": to_float(graph.resolve(inputs.get("cfg"))),
            "sampler": graph.resolve(inputs.get("sampler_name")), "scheduler": graph.resolve(inputs.get("scheduler")),
            "denoise": to_float(inputs.get("denoise")),
            "start_at_step": inputs.get("start_at_step"), "end_at_step": inputs.get("end_at_step"),
            "prompts": pos, "negative_prompts": neg, "conditioning": pos_notes,
            "model": model, "loras": loras, "latent": latent,
        })
    # First pass first: a sampler whose latent comes from another sampler runs after it.
    levels = _levels({p["node"]: p["latent"].get("from_sampler") for p in passes})
    passes.sort(key=lambda p: (levels[p["node"]], int(p["node"]) if str(p["node"]).isdigit() else 0))
    for p in passes:
        p["pass"] = levels[p["node"]] + 1
    first = passes[0]
    g = Generation(tool=tool, where=where, source_key=key)
    g.prompts, g.negative_prompts = first["prompts"], first["negative_prompts"]
    g.model, g.loras = first["model"], first["loras"]
    g.seed, g.steps, g.cfg_scale = first["seed"], first["steps"], first["cfg"]
    g.sampler, g.scheduler, g.denoise = first["sampler"], first["scheduler"], first["denoise"]
    if "size" in first["latent"]:
        g.width, g.height = first["latent"]["size"]
    g.source_image = first["latent"].get("source_image")
    g.extra["passes"] = passes
    g.extra["sampler_count"] = total_samplers
    try:
        g.workflow = {"api": data, "ui": load_json(wf) if isinstance(wf, str) else wf}
    except ValueError:
        g.workflow = {"api": data, "ui": None}
    return g
