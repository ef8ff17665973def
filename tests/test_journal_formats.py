"""Importers for formats with no fixture in sd-tools, on files written the way each tool writes them."""

from __future__ import annotations

import gzip
import io
import json

import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from inkseal.journal.importers import import_file

INFOTEXT = ("masterpiece, (girl:1.2), <lora:hanfu:0.7>, spring\nNegative prompt: lowres\nSteps: 28, Sampler: DPM++ 2M, "
            "Schedule type: Karras, CFG scale: 6.5, Seed: 42, Size: 512x768, Model hash: 1a2b3c4d5e, Model: dreamy, "
            'Denoising strength: 0.45, Hires upscale: 2, Hires steps: 10, Hires upscaler: 4x-UltraSharp, '
            'Lora hashes: "hanfu: 0123abcd", ADetailer model: face_yolov8n.pt, '
            'Hashes: {"model": "1a2b3c4d5e", "lora:hanfu": "0123abcd"}, Version: f2.0.1')


def png(**texts: str) -> bytes:
    info = PngImagePlugin.PngInfo()
    for k, v in texts.items():
        if any(ord(c) > 255 for c in v):
            info.add_itxt(k, v)
        else:
            info.add_text(k, v)
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (1, 2, 3)).save(buf, "PNG", pnginfo=info)
    return buf.getvalue()


def exif_comment(fmt: str, text: str, order: str) -> bytes:
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9286] = b"UNICODE\0" + text.encode("utf-16-be" if order == "be" else "utf-16-le")
    buf = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buf, fmt, exif=exif.tobytes())
    return buf.getvalue()


def test_a1111_full_infotext_with_hires_lora_adetailer_hashes() -> None:
    _m, (g,), _ = import_file(png(parameters=INFOTEXT))
    assert (g.steps, g.seed, g.cfg_scale, g.width, g.height) == (28, 42, 6.5, 512, 768)
    assert g.scheduler == "Karras" and g.denoise == 0.45 and g.version == "f2.0.1"
    assert g.hires == {"upscale": "2", "steps": "10", "upscaler": "4x-UltraSharp"}
    assert g.loras == [{"name": "hanfu", "weight": 0.7, "hash": "0123abcd"}]
    assert g.extra["Hashes"] == {"model": "1a2b3c4d5e", "lora:hanfu": "0123abcd"}
    assert g.extra["ADetailer model"] == "face_yolov8n.pt"
    terms = g.terms()
    assert {"text": "girl", "weight": 1.2, "kind": "text"} in terms


def test_non_latin_prompt_in_itxt_and_civitai_resources() -> None:
    text = "古风少女，春风，桃花\nNegative prompt: 模糊\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 7, Size: 64x64, " \
           'Civitai resources: [{"type":"checkpoint","modelVersionId":123}]'
    _m, (g,), _ = import_file(png(parameters=text))
    assert g.prompts == ["古风少女，春风，桃花"] and g.negative_prompts == ["模糊"]
    assert g.extra["civitai_resources"] == [{"type": "checkpoint", "modelVersionId": 123}]


def test_utf16_user_comment_in_either_byte_order() -> None:
    for fmt in ("JPEG", "WEBP"):
        for order in ("be", "le"):
            meta, (g,), _ = import_file(exif_comment(fmt, INFOTEXT, order))
            assert g.seed == 42 and g.prompts[0].startswith("masterpiece"), (fmt, order)
            assert "EXIF UserComment" in g.where


def test_swarmui_json_parameters() -> None:
    params = {"sui_image_params": {"prompt": "a fox", "negativeprompt": "blurry", "model": "sdxl_base", "seed": 9,
                                   "steps": 25, "cfgscale": 5.5, "sampler": "euler", "scheduler": "normal",
                                   "width": 1024, "height": 1024, "swarm_version": "0.9.4"},
              "sui_extra_data": {"date": "2025-01-01"}, "sui_models": [{"name": "sdxl_base", "hash": "0xabc"}]}
    _m, gens, _ = import_file(png(parameters=json.dumps(params)))
    assert [g.tool for g in gens] == ["SwarmUI"]  # not also mistaken for an A1111 infotext
    g = gens[0]
    assert (g.prompts, g.negative_prompts, g.seed, g.cfg_scale, g.version) == (["a fox"], ["blurry"], 9, 5.5, "0.9.4")
    # SwarmUI writes JPEG/WebP UserComment little-endian
    _m, gens, _ = import_file(exif_comment("JPEG", json.dumps(params), "le"))
    assert gens[0].tool == "SwarmUI"


def test_comfyui_animated_webp_exif() -> None:
    graph = {"3": {"class_type": "KSampler", "inputs": {"seed": 5, "steps": 8, "cfg": 4.0, "sampler_name": "euler",
                                                        "scheduler": "normal", "denoise": 1.0, "model": ["4", 0],
                                                        "positive": ["6", 0], "negative": ["7", 0],
                                                        "latent_image": ["5", 0]}},
             "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "anim.safetensors"}},
             "5": {"class_type": "EmptyLatentImage", "inputs": {"width": 256, "height": 256, "batch_size": 4}},
             "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "dancing flame", "clip": ["4", 1]}},
             "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "static", "clip": ["4", 1]}}}
    exif = Image.Exif()
    exif[0x0110] = "prompt:" + json.dumps(graph)
    exif[0x010F] = "workflow:" + json.dumps({"nodes": []})
    frames = [Image.new("RGB", (16, 16), (i * 40, 0, 0)) for i in range(3)]
    buf = io.BytesIO()
    frames[0].save(buf, "WEBP", save_all=True, append_images=frames[1:], exif=exif.tobytes())
    _m, (g,), _ = import_file(buf.getvalue())
    assert (g.tool, g.prompts, g.model, g.seed, g.width) == ("ComfyUI", ["dancing flame"], "anim.safetensors", 5, 256)
    assert g.workflow["ui"] == {"nodes": []}


def test_novelai_stealth_alpha_payload() -> None:
    comment = {"prompt": "1girl, hanfu", "steps": 28, "sampler": "k_euler", "seed": 77, "scale": 5.0, "uc": "lowres",
               "signed_hash": "c2lnbmF0dXJl"}
    outer = json.dumps({"Description": "1girl, hanfu", "Software": "NovelAI", "Source": "NovelAI Diffusion V4 4F49EC75",
                        "Comment": json.dumps(comment)}).encode()
    payload = gzip.compress(outer)
    bits = np.unpackbits(np.frombuffer(b"stealth_pngcomp" + (len(payload) * 8).to_bytes(4, "big") + payload, np.uint8))
    w, h = 64, 64
    alpha = np.full(w * h, 254, np.uint8)
    alpha[: len(bits)] |= bits
    rgba = np.zeros((h, w, 4), np.uint8)
    rgba[..., 3] = alpha.reshape(w, h).T  # column-major order
    buf = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buf, "PNG")
    _m, gens, problems = import_file(buf.getvalue())
    (g,) = gens
    assert g.tool == "NovelAI" and g.seed == 77 and g.prompts == ["1girl, hanfu"] and g.model_hash == "4F49EC75"
    assert g.extra["signed_hash"] == "c2lnbmF0dXJl" and "stealth" in g.where


def test_tensorart_stability_matrix_easy_diffusion() -> None:
    ta = {"prompt": "castle", "negativePrompt": "ugly", "seed": "3", "steps": 20, "cfgScale": 7, "samplerName": "Euler",
          "width": 512, "height": 512, "baseModel": {"modelFileName": "ta_base.safetensors", "hash": "ff00"},
          "models": [{"type": "LORA", "modelFileName": "gothic", "weight": 0.6}]}
    (g,) = import_file(png(generation_data=json.dumps(ta)))[1]
    assert (g.tool, g.seed, g.model, g.loras[0]["name"]) == ("TensorArt", 3, "ta_base.safetensors", "gothic")
    sm = {"PositivePrompt": "river", "NegativePrompt": "", "ModelName": "sm_model", "Seed": 8, "Steps": 30,
          "CfgScale": 6, "Sampler": "Euler", "Width": 640, "Height": 480}
    gens = import_file(png(**{"parameters-json": json.dumps(sm), "parameters": "river\nSteps: 30, Sampler: Euler, "
                                                                             "CFG scale: 6, Seed: 8, Size: 640x480",
                              "smproj": json.dumps({"v": 1})}))[1]
    assert gens[0].tool == "Stability Matrix" and gens[0].seed == 8 and gens[0].workflow == {"v": 1}
    ed = {"prompt": "owl", "negative_prompt": "", "seed": "11", "num_inference_steps": "25", "guidance_scale": "7.5",
          "use_stable_diffusion_model": "sd-v1-5", "sampler_name": "plms", "width": "512", "height": "512"}
    (g,) = import_file(png(**ed))[1]
    assert (g.tool, g.seed, g.steps, g.cfg_scale, g.model) == ("Easy Diffusion", 11, 25, 7.5, "sd-v1-5")


def test_hostile_metadata_fails_alone() -> None:
    bomb = PngImagePlugin.PngInfo()
    bomb.add_text("parameters", "x", zip=True)
    data = bytearray(png(prompt="{not json", workflow="[]", parameters="Steps: abc, Seed: , Size: 9x"))
    meta, gens, problems = import_file(bytes(data))
    assert all("\n" not in p for p in problems)
    # a zTXt chunk that inflates to 40 MB is refused, the rest of the file still reads
    import struct
    import zlib

    body = b"parameters\0\0" + zlib.compress(b"A" * 40_000_000, 9)
    chunk = struct.pack(">I", len(body)) + b"zTXt" + body + struct.pack(">I", zlib.crc32(b"zTXt" + body) & 0xFFFFFFFF)
    good = png(Title="ok")
    bombed = good[:-12] + chunk + good[-12:]
    meta, gens, problems = import_file(bombed)
    assert any("16 MiB" in p for p in problems) and meta.texts.get("Title") == "ok"


def c2pa_signed_png(tmp_generator: str = "Example Image Service/2.1") -> tuple[bytes, bytes]:
    """A PNG signed the way AI services sign theirs: c2pa.created, trainedAlgorithmicMedia."""
    import c2pa

    from inkseal.seal.certs import make_credentials

    creds = make_credentials("Example Image Service")
    manifest = {
        "claim_generator_info": [{"name": tmp_generator, "version": "2.1"}],
        "title": "generated.png",
        "assertions": [{"label": "c2pa.actions", "data": {"actions": [{
            "action": "c2pa.created",
            "digitalSourceType": "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"}]}}],
    }
    signer = c2pa.Signer.from_info(c2pa.C2paSignerInfo(b"es256", creds.chain_pem, creds.leaf_key_pem, None))
    builder = c2pa.Builder(manifest)
    src = io.BytesIO()
    Image.new("RGB", (32, 32), (200, 10, 10)).save(src, "PNG")
    src.seek(0)
    dest = io.BytesIO()
    builder.sign(signer, "image/png", src, dest)
    return dest.getvalue(), creds.ca_cert_pem


def test_c2pa_manifest_generator_actions_and_signer() -> None:
    data, _ca = c2pa_signed_png()
    meta, gens, problems = import_file(data)
    assert meta.has_c2pa
    (g,) = [g for g in gens if g.source_key == "c2pa"]
    info = g.extra["c2pa"]
    assert "Example Image Service" in g.tool
    assert info["actions"] == ["c2pa.created"]
    assert info["digital_source_type"].endswith("trainedAlgorithmicMedia")
    assert info["signer"] and "Example Image Service" in info["signer"]
    assert info["validation_state"] in ("Valid", "Trusted")


# -- hostile metadata: every case gives generations or one-line problems, never an exception -------------
def _exif_jpeg(comment: object) -> bytes:
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9286] = comment
    buf = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buf, "JPEG", exif=exif.tobytes())
    return buf.getvalue()


def _canonical(gens: list) -> None:
    """What the journal stores must be writable as canonical JSON (no NaN / inf, no odd types)."""
    for g in gens:
        json.dumps(g.as_dict(), sort_keys=True, allow_nan=False)


@pytest.mark.parametrize("comment", [5, (1, 2, 3), (70000, 2), 2.5, b"UNICODE\0\xff\xfeA\0B"],
                         ids=["int", "tuple", "tuple-wide", "float", "utf16-bom-odd-length"])
def test_user_comment_of_any_type_or_odd_utf16_is_read_or_skipped(comment: object) -> None:
    meta, gens, problems = import_file(_exif_jpeg(comment))
    assert meta.format == "JPEG"
    assert all("\n" not in p for p in problems)
    _canonical(gens)


def test_decode_user_comment_is_total() -> None:
    from inkseal.journal.metadata import decode_user_comment

    assert decode_user_comment(b"UNICODE\0\xfe\xff\0A\0") == "A\ufffd"  # odd length: replacement, not a crash
    assert decode_user_comment(5) == "" and decode_user_comment((65, 66)) == "AB"


def test_twelve_hundred_nested_parentheses_parse() -> None:
    prompt = "(" * 1200 + "girl" + ")" * 1200 + ", spring"
    text = prompt + "\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1, Size: 64x64"
    _m, (g,), problems = import_file(png(parameters=text))
    terms = g.terms()
    assert terms[-1] == {"text": "spring", "weight": 1.0, "kind": "text"}
    assert any(t["text"].endswith("girl") for t in terms)
    _canonical([g])


def test_nan_and_infinity_are_kept_as_strings() -> None:
    text = "girl, (hat:1e999)\nSteps: 20, Sampler: Euler a, CFG scale: nan, Seed: inf, Size: 64x64, " \
           'Hashes: {"model": NaN, "x": Infinity}, Denoising strength: -inf'
    _m, (g,), _ = import_file(png(parameters=text))
    assert g.cfg_scale == "NaN" and g.seed is None and g.denoise == "-Infinity"
    assert g.extra["Hashes"] == {"model": "NaN", "x": "Infinity"}
    _canonical([g])
    swarm = json.dumps({"sui_image_params": {"prompt": "x", "cfgscale": float("nan"), "seed": float("inf"),
                                             "steps": [1], "width": {"a": 1}, "model": ["m"]}})
    _m, gens, problems = import_file(png(parameters=swarm))
    assert gens and gens[0].cfg_scale == "NaN" and gens[0].steps is None and gens[0].model == '["m"]'
    _canonical(gens)


def test_deeply_nested_json_is_refused_with_one_line() -> None:
    deep = '{"a":' * 5000 + "1" + "}" * 5000
    for texts in ({"prompt": deep}, {"parameters": deep}, {"invokeai_metadata": deep}, {"generation_data": deep}):
        _m, gens, problems = import_file(png(**texts))
        assert not gens
        assert any("nested" in p for p in problems), problems
        assert all("\n" not in p for p in problems)


def test_a_long_comfyui_chain_does_not_exhaust_the_stack() -> None:
    nodes = {"1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "m.safetensors"}},
             "2": {"class_type": "CLIPTextEncode", "inputs": {"text": "girl", "clip": ["1", 1]}}}
    prev = "2"
    for i in range(3, 5003):  # 5,000 conditioning nodes in a row
        nodes[str(i)] = {"class_type": "ConditioningCombine", "inputs": {"conditioning_1": [prev, 0]}}
        prev = str(i)
    samplers = {}
    for k in range(200):  # 200 samplers, each fed by the previous one: more than are walked
        samplers[str(10_000 + k)] = {"class_type": "KSampler", "inputs": {
            "positive": [prev, 0], "negative": ["2", 0], "model": ["1", 0], "seed": k, "steps": 20, "cfg": 7,
            "latent_image": [str(10_000 + k - 1), 0] if k else ["1", 2]}}
    nodes.update(samplers)
    _m, (g,), problems = import_file(png(prompt=json.dumps(nodes)))
    assert g.prompts == ["girl"] and g.model == "m.safetensors" and g.seed == 0
    assert g.extra["sampler_count"] == 200 and len(g.extra["passes"]) == 64
    assert [p["pass"] for p in g.extra["passes"]][:3] == [1, 2, 3]


def test_ztxt_bomb_costs_bounded_memory() -> None:
    """200 zTXt chunks of 16 MiB each (3 MB on disk) cost 3.4 GB; now the file's budget is 32 MiB."""
    import tracemalloc

    from badfiles import ztxt_bomb

    data = ztxt_bomb(200, 16)
    assert len(data) < 4_000_000
    tracemalloc.start()
    try:
        meta, _gens, problems = import_file(data)
        _cur, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 200 << 20, peak  # 32 MiB of text (+ its str copies), not gigabytes
    assert any("skipped" in p and "32 MiB" in p for p in problems), problems
    assert len(problems) < 25


def test_fooocus_python_literal_bombs_are_kept_as_text() -> None:
    p = {"metadata_scheme": "fooocus", "prompt": "x", "loras": "[" * 200 + "]" * 200,
         "resolution": "(" + "1," * 100_000 + ")"}
    _m, gens, problems = import_file(png(parameters=json.dumps(p), fooocus_scheme="fooocus"))
    assert all("\n" not in q for q in problems)
    _canonical(gens)
