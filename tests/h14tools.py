"""Files written the way each generator writes them (issue 14), with the values an importer must read.

Each writer follows the tool's public source for where and how it stores its parameters:
- piexif.helper.UserComment.dump(text, encoding="unicode") is b"UNICODE\\0" + UTF-16 big-endian (A1111,
  comfy-image-saver, SaveImageWithMetaData, Civitai); Pillow's Exif writes the same bytes here;
- Save Image Extended sets `exif[UserComment] = json.dumps({"prompt": ..., "workflow": ...})` (a str in IFD0);
- ComfyUI core's WebP saver (and JPEG savers modelled on it) put "prompt:{json}" in 0x0110 and
  "workflow:{json}" in 0x010F;
- Gradio copies `image.info` into PNG text chunks one key each;
- Draw Things writes XMP with a JSON UserComment; Midjourney a Description ending "Job ID: <uuid>".
Used by tests/test_h14_tools.py and benchmarks/import_coverage.py.
"""

from __future__ import annotations

import gzip
import io
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image, PngImagePlugin

TRAINED = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"


@dataclass
class Sample:
    name: str
    tool: str  # the tool name the importer must report
    data: bytes
    expected: dict[str, Any] = field(default_factory=dict)  # fields an importer must read (compare by value)
    family: str = ""  # the writer (save node, service) when several share one importer's tool name

    @property
    def writer(self) -> str:
        return self.family or self.tool


# -- carriers ------------------------------------------------------------------------------------------------
def png(texts: dict[str, str] | None = None, size: tuple[int, int] = (16, 16), mode: str = "RGB",
        pixels: np.ndarray | None = None) -> bytes:
    info = PngImagePlugin.PngInfo()
    for k, v in (texts or {}).items():
        if k == "XML:com.adobe.xmp" or any(ord(c) > 255 for c in v):
            info.add_itxt(k, v)
        else:
            info.add_text(k, v)
    im = Image.fromarray(pixels) if pixels is not None else Image.new(mode, size, (90, 120, 200, 255)[:len(mode)])
    buf = io.BytesIO()
    im.save(buf, "PNG", pnginfo=info)
    return buf.getvalue()


def user_comment_unicode(text: str) -> bytes:
    """piexif.helper.UserComment.dump(text, encoding="unicode")."""
    return b"UNICODE\0" + text.encode("utf-16-be")


def with_exif(fmt: str, *, comment: bytes | str | None = None, ifd0: dict[int, str] | None = None,
              exif_ifd: dict[int, Any] | None = None, xmp: str | None = None, size: tuple[int, int] = (16, 16),
              mode: str = "RGB") -> bytes:
    exif = Image.Exif()
    for tag, value in (ifd0 or {}).items():
        exif[tag] = value
    sub = exif.get_ifd(0x8769)
    if isinstance(comment, str):
        exif[0x9286] = comment  # Save Image Extended: a str in IFD0
    elif comment is not None:
        sub[0x9286] = comment
    for tag, value in (exif_ifd or {}).items():
        sub[tag] = value
    buf = io.BytesIO()
    kwargs: dict[str, Any] = {"exif": exif.tobytes()}
    if xmp is not None:
        kwargs["xmp"] = xmp.encode()
    Image.new(mode, size, (40, 80, 160, 255)[:len(mode)]).save(buf, fmt, **kwargs)
    return buf.getvalue()


def xmp_packet(description: str | None = None, creator_tool: str | None = None, user_comment: str | None = None,
               extra: str = "") -> str:
    def esc(s: str) -> str:
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    parts = []
    if description is not None:
        parts.append(f'<dc:description><rdf:Alt><rdf:li xml:lang="x-default">{esc(description)}</rdf:li></rdf:Alt></dc:description>')
    if user_comment is not None:
        parts.append(f'<exif:UserComment><rdf:Alt><rdf:li xml:lang="x-default">{esc(user_comment)}</rdf:li></rdf:Alt></exif:UserComment>')
    tool = f' xmp:CreatorTool="{esc(creator_tool)}"' if creator_tool else ""
    return ('<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/">'
            '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" '
            'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:xmp="http://ns.adobe.com/xap/1.0/" '
            'xmlns:exif="http://ns.adobe.com/exif/1.0/" xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/" '
            f'xmlns:TC260="http://www.tc260.org.cn/ns/AIGC/1.0/"{tool}>'
            + "".join(parts) + extra + '</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>')


def stealth_alpha(payload: bytes, size: tuple[int, int] = (64, 64), compressed: bool = True) -> np.ndarray:
    """NovelAI / A1111 stealth: magic + 32-bit bit length + payload in alpha LSBs, column-major."""
    magic = b"stealth_pngcomp" if compressed else b"stealth_pnginfo"
    body = gzip.compress(payload) if compressed else payload
    bits = np.unpackbits(np.frombuffer(magic + (len(body) * 8).to_bytes(4, "big") + body, np.uint8))
    w, h = size
    assert len(bits) <= w * h, "payload does not fit"
    rgba = np.full((h, w, 4), 255, np.uint8)
    rgba[..., :3] = (30, 60, 90)
    alpha = rgba[..., 3].T.copy().reshape(-1)  # column-major
    alpha[:len(bits)] = (alpha[:len(bits)] & 0xFE) | bits
    rgba[..., 3] = alpha.reshape(w, h).T
    return rgba


# -- graphs --------------------------------------------------------------------------------------------------
def comfy_graph(prompt: str, negative: str, *, ckpt: str = "sdxl_base.safetensors", seed: int = 42, steps: int = 25,
                cfg: float = 6.0, sampler: str = "dpmpp_2m", scheduler: str = "karras", w: int = 832,
                h: int = 1216) -> dict[str, Any]:
    return {
        "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": ckpt}},
        "5": {"class_type": "EmptyLatentImage", "inputs": {"width": w, "height": h, "batch_size": 1}},
        "6": {"class_type": "CLIPTextEncode", "inputs": {"text": prompt, "clip": ["4", 1]}},
        "7": {"class_type": "CLIPTextEncode", "inputs": {"text": negative, "clip": ["4", 1]}},
        "3": {"class_type": "KSampler", "inputs": {"seed": seed, "steps": steps, "cfg": cfg, "sampler_name": sampler,
                                                   "scheduler": scheduler, "denoise": 1.0, "model": ["4", 0],
                                                   "positive": ["6", 0], "negative": ["7", 0],
                                                   "latent_image": ["5", 0]}},
        "8": {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": ["4", 2]}},
        "9": {"class_type": "SaveImage", "inputs": {"images": ["8", 0], "filename_prefix": "ComfyUI"}},
    }


UI_WORKFLOW = {"last_node_id": 9, "nodes": [{"id": 3, "type": "KSampler"}], "links": [], "version": 0.4}
BASE = {"sampler": "dpmpp_2m", "scheduler": "karras", "steps": 25, "cfg_scale": 6.0, "seed": 42,
        "model": "sdxl_base.safetensors", "size": "832x1216"}
INFOTEXT_TAIL = ("Steps: 30, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 5.5, Seed: 1234567890, Size: 832x1216, "
                 "Model hash: 31e35c80fc, Model: sd_xl_base_1.0")
INFOTEXT_VALUES = {"sampler": "DPM++ 2M", "scheduler": "Karras", "steps": 30, "cfg_scale": 5.5, "seed": 1234567890,
                   "size": "832x1216", "model": "sd_xl_base_1.0", "model_hash": "31e35c80fc"}


# -- one writer per tool ----------------------------------------------------------------------------------------
def civitai_comfy_jpeg() -> Sample:
    """Civitai on-site generator (txt2img-hires): the API graph with resource-stack loaders in UserComment."""
    graph = {
        "resource-stack": {"class_type": "CheckpointLoaderSimple",
                           "inputs": {"ckpt_name": "urn:air:sdxl:checkpoint:civitai:133005@782002"}},
        "resource-stack-1": {"class_type": "LoraLoader", "inputs": {
            "lora_name": "urn:air:sdxl:lora:civitai:251417@283697", "strength_model": 0.8, "strength_clip": 1,
            "model": ["resource-stack", 0], "clip": ["resource-stack", 1]}},
        "6": {"class_type": "smZ CLIPTextEncode", "inputs": {"text": "a lighthouse at dusk, oil painting",
                                                             "clip": ["resource-stack-1", 1]}},
        "7": {"class_type": "smZ CLIPTextEncode", "inputs": {"text": "blurry, lowres", "clip": ["resource-stack-1", 1]}},
        "5": {"class_type": "EmptyLatentImage", "inputs": {"width": 832, "height": 1216, "batch_size": 1}},
        "11": {"class_type": "KSampler", "inputs": {"seed": 1785937, "steps": 25, "cfg": 4.5, "sampler_name": "euler_ancestral",
                                                    "scheduler": "normal", "denoise": 1, "model": ["resource-stack-1", 0],
                                                    "positive": ["6", 0], "negative": ["7", 0], "latent_image": ["5", 0]}},
        "12": {"class_type": "LatentUpscale", "inputs": {"upscale_method": "nearest-exact", "width": 1248, "height": 1824,
                                                         "crop": "disabled", "samples": ["11", 0]}},
        "13": {"class_type": "KSampler", "inputs": {"seed": 1785937, "steps": 15, "cfg": 4.5, "sampler_name": "euler_ancestral",
                                                    "scheduler": "normal", "denoise": 0.4, "model": ["resource-stack-1", 0],
                                                    "positive": ["6", 0], "negative": ["7", 0], "latent_image": ["12", 0]}},
        "extra": {"airs": ["urn:air:sdxl:checkpoint:civitai:133005@782002", "urn:air:sdxl:lora:civitai:251417@283697"]},
        "extraMetadata": json.dumps({"prompt": "a lighthouse at dusk, oil painting", "negativePrompt": "blurry, lowres",
                                     "steps": 25, "cfgScale": 4.5, "sampler": "Euler a", "seed": 1785937,
                                     "workflowId": "txt2img-hires", "clipSkip": 2,
                                     "resources": [{"modelVersionId": 782002, "strength": 1},
                                                   {"modelVersionId": 283697, "strength": 0.8}]}),
    }
    data = with_exif("JPEG", comment=user_comment_unicode(json.dumps(graph)))
    return Sample("civitai_generator.jpeg", "Civitai", data, {
        "prompts": ["a lighthouse at dusk, oil painting"], "negative_prompts": ["blurry, lowres"], "steps": 25,
        "cfg_scale": 4.5, "sampler": "Euler a", "seed": 1785937, "clip_skip": 2, "size": "832x1216",
        "model": "urn:air:sdxl:checkpoint:civitai:133005@782002",
        "lora_version_ids": ["283697"], "hires_denoise": 0.4, "hires_steps": 15, "civitai_workflow": "txt2img-hires"}, family="Civitai on-site generator (JSON)")


def civitai_a1111_jpeg() -> Sample:
    text = ("a red fox in snow, <lora:fur_detail:0.6>\nNegative prompt: cartoon\nSteps: 28, Sampler: DPM++ 2M Karras, "
            "CFG scale: 7, Seed: 3141592653, Size: 512x768, Clip skip: 2, Created Date: 2025-03-01T10:00:00.0000000Z, "
            'Civitai resources: [{"type":"checkpoint","modelVersionId":128713},{"type":"lora","weight":0.6,'
            '"modelVersionId":87153}], Civitai metadata: {"remixOfId":123}')
    data = with_exif("JPEG", comment=user_comment_unicode(text))
    return Sample("civitai_a1111.jpeg", "Civitai", data, {
        "prompts": ["a red fox in snow, <lora:fur_detail:0.6>"], "negative_prompts": ["cartoon"], "steps": 28,
        "sampler": "DPM++ 2M Karras", "cfg_scale": 7, "seed": 3141592653, "size": "512x768", "clip_skip": 2,
        "lora_names": ["fur_detail"], "civitai_version_ids": [128713, 87153]}, family="Civitai (A1111 infotext)")


def image_saver(fmt: str) -> Sample:
    """comfy-image-saver (Image Saver): A1111 infotext with Hashes and Version: ComfyUI in UserComment."""
    text = ("portrait of an astronaut, studio light\nNegative prompt: text, watermark\n" + INFOTEXT_TAIL +
            ', Hashes: {"model": "31e35c80fc"}, Version: ComfyUI')
    data = with_exif(fmt, comment=user_comment_unicode(text))
    return Sample(f"image_saver.{fmt.lower()}", "ComfyUI Image Saver", data, {
        "prompts": ["portrait of an astronaut, studio light"], "negative_prompts": ["text, watermark"], **INFOTEXT_VALUES})


def save_image_extended_webp() -> Sample:
    graph = comfy_graph("a koi pond, ukiyo-e", "photo")
    data = with_exif("WEBP", comment=json.dumps({"prompt": graph, "workflow": UI_WORKFLOW}))
    return Sample("save_image_extended.webp", "ComfyUI", data, {
        "prompts": ["a koi pond, ukiyo-e"], "negative_prompts": ["photo"], **BASE, "has_ui_workflow": True}, family="ComfyUI Save Image Extended")


def saveimage_exif_tags_jpeg() -> Sample:
    """ComfyUI core-style EXIF tags (SaveAnimatedWEBP; SaveImage+ style JPEG savers): prompt:/workflow: in 0x0110/0x010F."""
    graph = comfy_graph("misty bamboo forest", "people")
    data = with_exif("JPEG", ifd0={0x0110: "prompt:" + json.dumps(graph), 0x010F: "workflow:" + json.dumps(UI_WORKFLOW)})
    return Sample("comfy_exif_tags.jpeg", "ComfyUI", data, {
        "prompts": ["misty bamboo forest"], "negative_prompts": ["people"], **BASE, "has_ui_workflow": True}, family="ComfyUI EXIF-tag savers (SaveAnimatedWEBP style)")


def save_image_with_metadata_jpeg() -> Sample:
    text = ("cyberpunk alley, rain\nNegative prompt: daylight\n" + INFOTEXT_TAIL +
            ", Clip skip: 2, Lora_0 Model name: neon_lights.safetensors, Lora_0 Model hash: 9a8b7c6d5e, "
            'Lora_0 Strength model: 0.75, Lora_0 Strength clip: 0.5, Hashes: {"model": "31e35c80fc", "lora:neon_lights": '
            '"9a8b7c6d5e"}')
    data = with_exif("JPEG", comment=user_comment_unicode(text))
    return Sample("save_image_with_metadata.jpeg", "ComfyUI SaveImageWithMetaData", data, {
        "prompts": ["cyberpunk alley, rain"], "negative_prompts": ["daylight"], **INFOTEXT_VALUES, "clip_skip": 2,
        "lora_names": ["neon_lights"], "lora_weights": [0.75]})


def comfyroll_png() -> Sample:
    graph = comfy_graph("", "worst quality")
    graph["20"] = {"class_type": "CR Prompt Text", "inputs": {"prompt": "a castle on a cliff, matte painting"}}
    graph["6"]["inputs"]["text"] = ["20", 0]
    graph["21"] = {"class_type": "CR LoRA Stack", "inputs": {
        "switch_1": "On", "lora_name_1": "castle_style.safetensors", "model_weight_1": 0.9, "clip_weight_1": 0.8,
        "switch_2": "Off", "lora_name_2": "unused.safetensors", "model_weight_2": 1, "clip_weight_2": 1,
        "switch_3": "On", "lora_name_3": "detail.safetensors", "model_weight_3": 0.4, "clip_weight_3": 0.4}}
    graph["22"] = {"class_type": "CR Apply LoRA Stack", "inputs": {"model": ["4", 0], "clip": ["4", 1],
                                                                  "lora_stack": ["21", 0]}}
    graph["3"]["inputs"]["model"] = ["22", 0]
    data = png({"prompt": json.dumps(graph), "workflow": json.dumps(UI_WORKFLOW)})
    return Sample("comfyroll.png", "ComfyUI", data, {
        "prompts": ["a castle on a cliff, matte painting"], "negative_prompts": ["worst quality"], **BASE,
        "lora_names": ["castle_style.safetensors", "detail.safetensors"], "lora_weights": [0.9, 0.4]}, family="ComfyUI ComfyRoll nodes")


def rgthree_png() -> Sample:
    graph = comfy_graph("", "")
    graph["30"] = {"class_type": "Power Prompt (rgthree)", "inputs": {"prompt": "a snowy owl, macro photo", "opt_clip": ["4", 1]}}
    graph["31"] = {"class_type": "Power Prompt - Simple (rgthree)", "inputs": {"prompt": "lowres, jpeg artifacts",
                                                                                "opt_clip": ["4", 1]}}
    graph["32"] = {"class_type": "Power Lora Loader (rgthree)", "inputs": {
        "lora_1": {"on": True, "lora": "owl_feathers.safetensors", "strength": 0.7},
        "lora_2": {"on": False, "lora": "off.safetensors", "strength": 1},
        "model": ["4", 0], "clip": ["4", 1]}}
    graph["33"] = {"class_type": "Context Big (rgthree)", "inputs": {"model": ["32", 0], "positive": ["30", 0],
                                                                    "negative": ["31", 0], "latent": ["5", 0]}}
    graph["3"]["inputs"].update({"model": ["33", 1], "positive": ["33", 4], "negative": ["33", 5]})
    del graph["6"], graph["7"]
    data = png({"prompt": json.dumps(graph), "workflow": json.dumps(UI_WORKFLOW)})
    return Sample("rgthree.png", "ComfyUI", data, {
        "prompts": ["a snowy owl, macro photo"], "negative_prompts": ["lowres, jpeg artifacts"], **BASE,
        "lora_names": ["owl_feathers.safetensors"], "lora_weights": [0.7]}, family="ComfyUI rgthree nodes")


def group_node_png() -> Sample:
    """A group node is expanded in the API graph into ids 'group:inner'."""
    base = comfy_graph("a paper boat on a river", "noise")
    graph = {(f"10:{k}" if k in ("6", "7", "3") else k): v for k, v in base.items()}
    for node in graph.values():
        for name, value in node["inputs"].items():
            if isinstance(value, list) and value[0] in ("6", "7", "3"):
                node["inputs"][name] = [f"10:{value[0]}", value[1]]
    data = png({"prompt": json.dumps(graph), "workflow": json.dumps(UI_WORKFLOW)})
    return Sample("group_node.png", "ComfyUI", data, {"prompts": ["a paper boat on a river"], "negative_prompts": ["noise"],
                                                       **BASE}, family="ComfyUI group nodes")


def efficiency_nodes_png() -> Sample:
    """Efficiency nodes: Efficient Loader holds the prompts, the LoRA and the latent size itself."""
    graph = {
        "1": {"class_type": "Efficient Loader", "inputs": {
            "ckpt_name": "dreamshaper_8.safetensors", "vae_name": "Baked VAE", "clip_skip": -2,
            "lora_name": "paper_cut.safetensors", "lora_model_strength": 0.65, "lora_clip_strength": 1.0,
            "positive": "a paper-cut fox in a forest", "negative": "photo, 3d render", "token_normalization": "none",
            "weight_interpretation": "comfy", "empty_latent_width": 512, "empty_latent_height": 768, "batch_size": 1}},
        "2": {"class_type": "KSampler (Efficient)", "inputs": {
            "seed": 8080, "steps": 24, "cfg": 6.5, "sampler_name": "euler", "scheduler": "normal", "denoise": 1.0,
            "preview_method": "auto", "vae_decode": "true", "model": ["1", 0], "positive": ["1", 1],
            "negative": ["1", 2], "latent_image": ["1", 3], "optional_vae": ["1", 4]}},
        "3": {"class_type": "SaveImage", "inputs": {"images": ["2", 5], "filename_prefix": "eff"}},
    }
    data = png({"prompt": json.dumps(graph), "workflow": json.dumps(UI_WORKFLOW)})
    return Sample("efficiency_nodes.png", "ComfyUI", data, {
        "prompts": ["a paper-cut fox in a forest"], "negative_prompts": ["photo, 3d render"], "seed": 8080, "steps": 24,
        "cfg_scale": 6.5, "sampler": "euler", "model": "dreamshaper_8.safetensors", "size": "512x768",
        "lora_names": ["paper_cut.safetensors"], "lora_weights": [0.65]}, family="ComfyUI Efficiency nodes")


def gradio_chunks_png() -> Sample:
    texts = {"prompt": "an astronaut riding a horse on mars", "negative_prompt": "low quality", "seed": "12345",
             "num_inference_steps": "4", "guidance_scale": "0.0", "width": "1024", "height": "1024",
             "model": "stabilityai/sdxl-turbo", "Software": "gradio 5.9.1", "space": "user/sdxl-turbo-demo"}
    return Sample("gradio_space.png", "Hugging Face Space (Gradio)", png(texts), {
        "prompts": [texts["prompt"]], "negative_prompts": ["low quality"], "seed": 12345, "steps": 4, "cfg_scale": 0.0,
        "size": "1024x1024", "model": "stabilityai/sdxl-turbo", "extra_space": "user/sdxl-turbo-demo"})


def gradio_json_png() -> Sample:
    params = {"prompt": "a watercolor hummingbird", "negative_prompt": "", "seed": 777, "guidance_scale": 3.5,
              "num_inference_steps": 28, "width": 768, "height": 768, "model_id": "black-forest-labs/FLUX.1-dev",
              "scheduler": "FlowMatchEulerDiscreteScheduler", "lora_scale": 0.9}
    return Sample("gradio_json.png", "Hugging Face Space (Gradio)", png({"parameters": json.dumps(params)}), {
        "prompts": ["a watercolor hummingbird"], "seed": 777, "cfg_scale": 3.5, "steps": 28, "size": "768x768",
        "model": "black-forest-labs/FLUX.1-dev", "sampler": "FlowMatchEulerDiscreteScheduler", "extra_lora_scale": 0.9})


def ruined_fooocus_png() -> Sample:
    params = {"Prompt": "a teapot shaped like a snail", "Negative": "ugly", "steps": 30, "cfg": 7.0, "width": 1152,
              "height": 896, "seed": 424242, "sampler_name": "dpmpp_2m_sde_gpu", "scheduler": "karras",
              "base_model_name": "sd_xl_base_1.0.safetensors", "base_model_hash": "31e35c80fc4829d14f90153f4c74cd59",
              "loras": [["snail_lora.safetensors", 0.6]], "start_step": 0, "denoise": None, "clip_skip": 1,
              "software": "RuinedFooocus"}
    return Sample("ruined_fooocus.png", "RuinedFooocus", png({"parameters": json.dumps(params)}), {
        "prompts": [params["Prompt"]], "negative_prompts": ["ugly"], "steps": 30, "cfg_scale": 7.0, "size": "1152x896",
        "seed": 424242, "sampler": "dpmpp_2m_sde_gpu", "scheduler": "karras", "model": "sd_xl_base_1.0.safetensors",
        "lora_names": ["snail_lora.safetensors"], "lora_weights": [0.6]})


FOOOCUS_JSON = {"prompt": "a glass apple", "negative_prompt": "", "styles": "['Fooocus V2', 'Fooocus Sharp']",
                "performance": "Speed", "steps": 30, "resolution": "(1024, 1024)", "guidance_scale": 4,
                "sharpness": 2, "adm_guidance": "(1.5, 0.8, 0.3)", "base_model": "juggernautXL_v8Rundiffusion",
                "refiner_model": "None", "refiner_switch": 0.5, "sampler": "dpmpp_2m_sde_gpu", "scheduler": "karras",
                "seed": "5551234", "loras": [["sd_xl_offset_example-lora_1.0", 0.1]], "version": "Fooocus v2.5.5",
                "metadata_scheme": "fooocus"}


def fooocus_jpeg() -> Sample:
    """Fooocus JPEG/WebP: parameters in UserComment (0x9286), version in Software, scheme in MakerNote."""
    data = with_exif("JPEG", comment=json.dumps(FOOOCUS_JSON), ifd0={0x0131: "Fooocus v2.5.5"},
                     exif_ifd={0x927C: b"fooocus"})
    return Sample("fooocus.jpeg", "Fooocus", data, {
        "prompts": ["a glass apple"], "steps": 30, "cfg_scale": 4, "seed": 5551234, "sampler": "dpmpp_2m_sde_gpu",
        "scheduler": "karras", "model": "juggernautXL_v8Rundiffusion", "size": "1024x1024", "version": "Fooocus v2.5.5",
        "lora_names": ["sd_xl_offset_example-lora_1.0"]})


def fooocus_a1111_png() -> Sample:
    text = ("a glass apple\nNegative prompt: \nSteps: 30, Sampler: DPM++ 2M SDE Karras, Seed: 5551234, CFG scale: 4, "
            "Size: 1024x1024, Model: juggernautXL_v8Rundiffusion, Model hash: aeb7e9e689, "
            'Styles: "[\'Fooocus V2\']", Version: Fooocus v2.5.5')
    return Sample("fooocus_a1111.png", "Fooocus", png({"parameters": text, "fooocus_scheme": "a1111"}), {
        "prompts": ["a glass apple"], "steps": 30, "seed": 5551234, "cfg_scale": 4, "size": "1024x1024",
        "model": "juggernautXL_v8Rundiffusion", "model_hash": "aeb7e9e689", "version": "Fooocus v2.5.5"})


def a1111_passes_png() -> Sample:
    text = ("a samurai in the rain, (cinematic:1.2)\nNegative prompt: blurry\n" + INFOTEXT_TAIL +
            ", Denoising strength: 0.35, Hires upscale: 2, Hires steps: 12, Hires upscaler: 4x-UltraSharp, "
            "Refiner: sd_xl_refiner_1.0 [7440042bbd], Refiner switch at: 0.8, ADetailer model: face_yolov8n.pt, "
            'ADetailer prompt: "detailed face, sharp eyes", ADetailer denoising strength: 0.4, ADetailer model 2nd: '
            "hand_yolov8n.pt, ADetailer denoising strength 2nd: 0.3, ADetailer version: 24.1.2, "
            "Postprocess upscale by: 2, Postprocess upscaler: R-ESRGAN 4x+, Version: v1.10.1")
    return Sample("a1111_passes.png", "AUTOMATIC1111", png({"parameters": text}), {
        "prompts": ["a samurai in the rain, (cinematic:1.2)"], "negative_prompts": ["blurry"], **INFOTEXT_VALUES,
        "denoise": 0.35, "pass_kinds": ["base", "refiner", "hires", "ADetailer", "ADetailer", "upscale"],
        "adetailer_models": ["face_yolov8n.pt", "hand_yolov8n.pt"], "version": "v1.10.1"})


def forge_webp() -> Sample:
    text = "a lotus pond\nNegative prompt: murky\n" + INFOTEXT_TAIL + ", Version: f2.0.1v1.10.1-previous-313"
    data = with_exif("WEBP", comment=user_comment_unicode(text))
    return Sample("forge.webp", "Forge", data, {"prompts": ["a lotus pond"], "negative_prompts": ["murky"],
                                                **INFOTEXT_VALUES})


def draw_things_png() -> Sample:
    settings = {"c": "a lighthouse keeper's cat, gouache", "uc": "photo, 3d", "model": "flux_1_schnell_q5p.ckpt",
                "sampler": "Euler A Trailing", "scale": 1, "seed": 2680391, "seed_mode": "Scale Alike",
                "size": "1024x768", "steps": 4, "strength": 1, "lora": [{"file": "gouache_f16.ckpt", "weight": 0.8}],
                "v2": {"refinerModel": "sd_xl_refiner_1.0_f16.ckpt", "refinerStart": 0.85, "hiresFix": True,
                       "hiresFixStartWidth": 8, "hiresFixStartHeight": 6, "hiresFixStrength": 0.7, "clipSkip": 1}}
    desc = "a lighthouse keeper's cat, gouache\n-photo, 3d\nSteps: 4, Sampler: Euler A Trailing, Guidance Scale: 1.0"
    xmp = xmp_packet(desc, "Draw Things", json.dumps(settings))
    return Sample("draw_things.png", "Draw Things", png({"XML:com.adobe.xmp": xmp}), {
        "prompts": [settings["c"]], "negative_prompts": ["photo, 3d"], "model": settings["model"],
        "sampler": "Euler A Trailing", "cfg_scale": 1, "seed": 2680391, "size": "1024x768", "steps": 4,
        "lora_names": ["gouache_f16.ckpt"], "pass_kinds": ["base", "refiner", "hires"]})


MJ_JOB = "1b2c3d4e-5f60-4a1b-9c2d-3e4f5a6b7c8d"


def midjourney_png() -> Sample:
    desc = f"a brutalist library in a forest, golden hour --ar 16:9 --v 6.1 --stylize 250 --seed 98765 Job ID: {MJ_JOB}"
    xmp = xmp_packet(extra=f"<Iptc4xmpExt:DigImageGUID>{MJ_JOB}</Iptc4xmpExt:DigImageGUID>"
                     f"<Iptc4xmpExt:DigitalSourceType>{TRAINED}</Iptc4xmpExt:DigitalSourceType>")
    data = png({"Description": desc, "Author": "inkartist", "Creation Time": "2025-05-01T10:00:00Z",
                "XML:com.adobe.xmp": xmp})
    return Sample("midjourney.png", "Midjourney", data, {
        "prompts": ["a brutalist library in a forest, golden hour"], "seed": 98765, "version": "6.1",
        "job_id": MJ_JOB, "aspect_ratio": "16:9", "author": "inkartist"})


def midjourney_jpeg() -> Sample:
    desc = f"https://s.mj.run/abc123 koi in ink wash --ar 2:3 --niji 6 --no text Job ID: {MJ_JOB}"
    data = with_exif("JPEG", xmp=xmp_packet(desc, "Midjourney"))
    return Sample("midjourney.jpeg", "Midjourney", data, {
        "prompts": ["https://s.mj.run/abc123 koi in ink wash"], "negative_prompts": ["text"], "job_id": MJ_JOB,
        "aspect_ratio": "2:3", "image_prompts": ["https://s.mj.run/abc123"]})


def krea_jpeg() -> Sample:
    """Krea's exact layout is not published: XMP CreatorTool naming Krea with the prompt as description."""
    data = with_exif("JPEG", xmp=xmp_packet("a neon jellyfish city", "Krea AI"))
    return Sample("krea.jpeg", "Krea", data, {"prompts": ["a neon jellyfish city"]})


NAI_COMMENT = {"prompt": "1girl, library, reading", "steps": 28, "height": 1216, "width": 832, "scale": 5.0,
               "uncond_scale": 1.0, "cfg_rescale": 0.0, "seed": 3141592, "n_samples": 1, "noise_schedule": "karras",
               "sampler": "k_euler_ancestral", "uc": "lowres, bad anatomy",
               "v4_prompt": {"caption": {"base_caption": "1girl, library, reading", "char_captions": [
                   {"char_caption": "girl, glasses, red scarf", "centers": [{"x": 0.3, "y": 0.5}]},
                   {"char_caption": "cat, sleeping", "centers": [{"x": 0.7, "y": 0.7}]}]},
                   "use_coords": True, "use_order": True},
               "v4_negative_prompt": {"caption": {"base_caption": "lowres, bad anatomy", "char_captions": [
                   {"char_caption": "extra fingers", "centers": [{"x": 0.3, "y": 0.5}]}]}},
               "signed_hash": "AAAA", "request_type": "PromptGenerateRequest"}


def _nai_texts(comment: dict) -> dict[str, str]:
    return {"Title": "NovelAI generated image", "Description": comment["prompt"], "Software": "NovelAI",
            "Source": "NovelAI Diffusion V4.5 4BDE2A90", "Generation time": "3.1", "Comment": json.dumps(comment)}


NAI_EXPECTED = {"prompts": ["1girl, library, reading", "girl, glasses, red scarf", "cat, sleeping"],
                "negative_prompts": ["lowres, bad anatomy", "extra fingers"], "steps": 28, "cfg_scale": 5.0,
                "seed": 3141592, "sampler": "k_euler_ancestral", "size": "832x1216", "model": "NovelAI Diffusion V4.5",
                "model_hash": "4BDE2A90", "character_count": 2}


def novelai_v4_png() -> Sample:
    return Sample("novelai_v4.png", "NovelAI", png(_nai_texts(NAI_COMMENT)), dict(NAI_EXPECTED))


def novelai_webp_exif() -> Sample:
    data = with_exif("WEBP", comment=user_comment_unicode(json.dumps(_nai_texts(NAI_COMMENT))))
    return Sample("novelai_exif.webp", "NovelAI", data, dict(NAI_EXPECTED))


def novelai_webp_stealth() -> Sample:
    payload = json.dumps(_nai_texts(NAI_COMMENT)).encode()
    rgba = stealth_alpha(payload, (96, 96))
    buf = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buf, "WEBP", lossless=True)
    return Sample("novelai_stealth.webp", "NovelAI", buf.getvalue(), dict(NAI_EXPECTED))


def swarmui_jpeg() -> Sample:
    params = {"sui_image_params": {"prompt": "a mossy stone bridge", "negativeprompt": "people", "model": "sdxl_base",
                                   "seed": 9, "steps": 25, "cfgscale": 5.5, "sampler": "euler", "scheduler": "normal",
                                   "width": 1024, "height": 1024, "swarm_version": "0.9.4"}}
    data = with_exif("JPEG", comment=b"UNICODE\0" + json.dumps(params).encode("utf-16-le"))
    return Sample("swarmui.jpeg", "SwarmUI", data, {"prompts": ["a mossy stone bridge"], "negative_prompts": ["people"],
                                                    "seed": 9, "steps": 25, "cfg_scale": 5.5, "size": "1024x1024"})


LABEL = {"Label": "1", "ContentProducer": "001191310000MA1XXXXX00000", "ProduceID": "img-20250901-0001",
         "ReservedCode1": "", "ContentPropagator": "", "PropagateID": "", "ReservedCode2": ""}


def label_xmp_png() -> Sample:
    xmp = xmp_packet(extra=f"<TC260:AIGC>{json.dumps(LABEL)}</TC260:AIGC>")
    return Sample("aigc_label_xmp.png", "AIGC label (001191310000MA1XXXXX00000)", png({"XML:com.adobe.xmp": xmp}),
                  {"label_carrier": "XMP TC260:AIGC", "label_producer": LABEL["ContentProducer"], "label_id": LABEL["ProduceID"]})


def label_exif_jpeg() -> Sample:
    data = with_exif("JPEG", comment=user_comment_unicode(json.dumps({"AIGC": LABEL})))
    return Sample("aigc_label_exif.jpeg", "AIGC label (001191310000MA1XXXXX00000)", data,
                  {"label_carrier": "EXIF UserComment", "label_producer": LABEL["ContentProducer"], "label_id": LABEL["ProduceID"]})


def label_png_text_with_generation() -> Sample:
    text = "a plum blossom branch\nNegative prompt: blurry\n" + INFOTEXT_TAIL + ", Version: v1.10.1"
    data = png({"parameters": text, "AIGC": json.dumps(LABEL)})
    return Sample("aigc_label_text.png", "AUTOMATIC1111", data, {
        "prompts": ["a plum blossom branch"], **INFOTEXT_VALUES, "label_carrier": "PNG tEXt chunk 'AIGC'",
        "label_producer": LABEL["ContentProducer"], "label_id": LABEL["ProduceID"]})


def c2pa_sample(name: str, tool: str, generator: dict, agent: dict | str | None, fmt: str = "PNG",
                ingredient_title: str | None = None) -> Sample:
    import c2pa

    from inkseal.seal.certs import make_credentials

    creds = make_credentials(generator["name"])
    action: dict[str, Any] = {"action": "c2pa.created", "digitalSourceType": TRAINED}
    if agent:
        action["softwareAgent"] = agent
    actions = [action]
    if ingredient_title:
        actions.append({"action": "c2pa.edited", "softwareAgent": agent} if agent else {"action": "c2pa.edited"})
    manifest = {"claim_generator_info": [generator], "title": name,
                "assertions": [{"label": "c2pa.actions", "data": {"actions": actions}}]}
    signer = c2pa.Signer.from_info(c2pa.C2paSignerInfo(b"es256", creds.chain_pem, creds.leaf_key_pem, None))
    builder = c2pa.Builder(manifest)
    mime = "image/png" if fmt == "PNG" else "image/jpeg"
    if ingredient_title:
        ing = io.BytesIO()
        Image.new("RGB", (16, 16), (1, 1, 1)).save(ing, "PNG")
        ing.seek(0)
        builder.add_ingredient({"title": ingredient_title, "relationship": "parentOf"}, "image/png", ing)
    src = io.BytesIO()
    Image.new("RGB", (32, 32), (200, 10, 10)).save(src, fmt)
    src.seek(0)
    dest = io.BytesIO()
    builder.sign(signer, mime, src, dest)
    expected: dict[str, Any] = {"c2pa_created": True, "digital_source_type": TRAINED,
                                "generator_version": generator.get("version")}
    if ingredient_title:
        expected["ingredient"] = ingredient_title
    return Sample(name, tool, dest.getvalue(), expected)


def c2pa_samples() -> list[Sample]:
    return [
        c2pa_sample("chatgpt.png", "ChatGPT / DALL·E (C2PA)", {"name": "OpenAI Media Service API", "version": "1.0"},
                    {"name": "GPT-4o"}),
        c2pa_sample("gemini.png", "Gemini / Imagen (C2PA)", {"name": "Google C2PA Core Generator Library",
                                                             "version": "760539330"}, None),
        c2pa_sample("firefly.jpeg", "Adobe Firefly (C2PA)", {"name": "Adobe Firefly", "version": "3.0"},
                    {"name": "Adobe Firefly Image 3"}, fmt="JPEG", ingredient_title="reference.png"),
    ]


def all_samples(with_c2pa: bool = True) -> list[Sample]:
    out = [civitai_comfy_jpeg(), civitai_a1111_jpeg(), image_saver("JPEG"), image_saver("WEBP"),
           save_image_extended_webp(), saveimage_exif_tags_jpeg(), save_image_with_metadata_jpeg(), comfyroll_png(),
           rgthree_png(), group_node_png(), efficiency_nodes_png(), gradio_chunks_png(), gradio_json_png(), ruined_fooocus_png(),
           fooocus_jpeg(), fooocus_a1111_png(), a1111_passes_png(), forge_webp(), draw_things_png(), midjourney_png(),
           midjourney_jpeg(), krea_jpeg(), novelai_v4_png(), novelai_webp_exif(), novelai_webp_stealth(),
           swarmui_jpeg(), label_xmp_png(), label_exif_jpeg(), label_png_text_with_generation()]
    if with_c2pa:
        out += c2pa_samples()
    return out


# -- reading a generation against `expected` ------------------------------------------------------------------
def field_value(g: Any, key: str) -> Any:
    """The value of one asserted field in a Generation (derived fields computed here)."""
    extra = g.extra or {}
    labels = extra.get("implicit_labels") or []
    c2pa_info = extra.get("c2pa") or {}
    passes = extra.get("passes") or []
    derived = {
        "size": lambda: g.size,
        "lora_names": lambda: [x.get("name") for x in g.loras],
        "lora_weights": lambda: [x.get("weight") for x in g.loras],
        "lora_version_ids": lambda: [x.get("version_id") for x in g.loras],
        "civitai_version_ids": lambda: [r.get("modelVersionId") for r in extra.get("civitai_resources") or []],
        "hires_denoise": lambda: g.hires.get("denoise"),
        "hires_steps": lambda: g.hires.get("steps"),
        "has_ui_workflow": lambda: bool((g.workflow or {}).get("ui")),
        "pass_kinds": lambda: [p.get("pass") for p in passes],
        "adetailer_models": lambda: [p.get("model") for p in passes if p.get("pass") == "ADetailer"],
        "character_count": lambda: len(extra.get("characters") or []),
        "label_carrier": lambda: labels[0]["carrier"] if labels else None,
        "label_producer": lambda: labels[0]["label"].get("ContentProducer") if labels else None,
        "label_id": lambda: labels[0]["label"].get("ProduceID") if labels else None,
        "c2pa_created": lambda: "c2pa.created" in (c2pa_info.get("actions") or []),
        "digital_source_type": lambda: c2pa_info.get("digital_source_type") or extra.get("digital_source_type"),
        "generator_version": lambda: c2pa_info.get("generator_version"),
        "ingredient": lambda: next((i.get("title") for i in c2pa_info.get("ingredients") or []), None),
    }
    if key in derived:
        return derived[key]()
    if key.startswith("extra_"):
        return extra.get(key.removeprefix("extra_"))
    if hasattr(g, key):
        return getattr(g, key)
    return extra.get(key)
