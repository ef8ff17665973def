"""`inkseal generate`: run a local Stable Diffusion model through diffusers and journal everything.

Optional extra (`pip install inkseal[generate]`): torch, diffusers, transformers. Never downloads:
the model is a local diffusers folder or an already-cached hub id, opened with local_files_only.

What is journaled, so that the picture can be regenerated bit for bit on the same set-up and the
process shown step by step: prompt and negative prompt (and their terms), model folder and the
SHA-256 of every weight file, scheduler class and config, steps, CFG, seed, size, the SHA-256 of
the latents after every denoising step (callback_on_step_end), the output's SHA-256 and PDQ, and
the versions of torch / diffusers / transformers / numpy with device and dtype (PyTorch promises
identical results only on the same versions and hardware). `replay` regenerates and compares.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import platform
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import PngImagePlugin

from inkseal.errors import InksealError

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".ckpt", ".pt", ".pth", ".onnx")


@dataclass
class GenerationRun:
    image_png: bytes
    record: dict[str, Any]
    step_hashes: list[str] = field(default_factory=list)


def _require() -> tuple[Any, Any]:
    try:
        import diffusers
        import torch
    except ImportError:
        raise InksealError("`inkseal generate` needs the generate extra: pip install 'inkseal[generate]'") from None
    return torch, diffusers


def weight_hashes(model_dir: Path) -> dict[str, str]:
    out = {}
    for p in sorted(model_dir.rglob("*")):
        if p.is_file() and p.suffix in WEIGHT_SUFFIXES:
            h = hashlib.sha256()
            with p.open("rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    h.update(chunk)
            out[str(p.relative_to(model_dir))] = h.hexdigest()
    return out


def load_pipeline(model: str) -> Any:
    torch, diffusers = _require()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # belt and braces: no network, ever
    try:
        pipe = diffusers.DiffusionPipeline.from_pretrained(model, local_files_only=True, safety_checker=None,
                                                           requires_safety_checker=False)
    except (OSError, ValueError) as exc:
        raise InksealError(f"cannot open model {model!r} locally (no downloads are made): {exc}") from None
    pipe.set_progress_bar_config(disable=True)
    return pipe.to("cpu")


def versions() -> dict[str, str]:
    import numpy

    torch, diffusers = _require()
    out = {"torch": torch.__version__, "diffusers": diffusers.__version__, "numpy": numpy.__version__,
           "python": platform.python_version(), "machine": platform.machine()}
    try:
        import transformers

        out["transformers"] = transformers.__version__
    except ImportError:
        pass
    return out


def run(pipe: Any, *, model: str, prompt: str, negative_prompt: str = "", steps: int = 30, cfg_scale: float = 7.0,
        seed: int = 0, width: int = 512, height: int = 512) -> GenerationRun:
    torch, _diffusers = _require()
    step_hashes: list[str] = []

    def on_step(_pipe: Any, step: int, _t: Any, kwargs: dict) -> dict:
        lat = kwargs["latents"].detach().to("cpu").contiguous()
        step_hashes.append(hashlib.sha256(lat.numpy().tobytes()).hexdigest())
        return kwargs

    generator = torch.Generator(device="cpu").manual_seed(int(seed))
    result = pipe(prompt=prompt, negative_prompt=negative_prompt or None, num_inference_steps=int(steps),
                  guidance_scale=float(cfg_scale), width=int(width), height=int(height), generator=generator,
                  callback_on_step_end=on_step, callback_on_step_end_tensor_inputs=["latents"], output_type="pil")
    image = result.images[0]
    dtype = str(next(pipe.unet.parameters()).dtype) if hasattr(pipe, "unet") else "unknown"
    record = {
        "tool": "inkseal generate (diffusers)", "prompts": [prompt], "negative_prompts": [negative_prompt] if negative_prompt else [],
        "model": model, "model_weights_sha256": weight_hashes(Path(model)) if Path(model).is_dir() else {},
        "sampler": type(pipe.scheduler).__name__, "scheduler_config": json.loads(json.dumps(dict(pipe.scheduler.config), default=str)),
        "pipeline": type(pipe).__name__, "steps": int(steps), "cfg_scale": float(cfg_scale), "seed": int(seed),
        "width": int(width), "height": int(height), "device": "cpu", "dtype": dtype, "generator": "torch.Generator(cpu)",
        "versions": versions(), "step_latent_sha256": step_hashes,
    }
    info = PngImagePlugin.PngInfo()
    # Also an A1111-style infotext, so that every other tool (and our importers) can read the file.
    neg = f"\nNegative prompt: {negative_prompt}" if negative_prompt else ""
    info.add_text("parameters", f"{prompt}{neg}\nSteps: {steps}, Sampler: {record['sampler']}, CFG scale: {cfg_scale}, "
                                f"Seed: {seed}, Size: {width}x{height}, Model: {Path(model).name}")
    info.add_itxt("inkseal_generation", json.dumps(record, sort_keys=True))
    buf = io.BytesIO()
    image.save(buf, "PNG", pnginfo=info)
    record["output_sha256"] = hashlib.sha256(buf.getvalue()).hexdigest()
    record["pixels_sha256"] = hashlib.sha256(image.tobytes()).hexdigest()
    return GenerationRun(buf.getvalue(), record, step_hashes)


def compare(recorded: dict[str, Any], replayed: dict[str, Any]) -> dict[str, Any]:
    """Which step diverged first, and whether the set-up differed (the usual reason)."""
    a, b = recorded.get("step_latent_sha256") or [], replayed.get("step_latent_sha256") or []
    first = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), None)
    if first is None and len(a) != len(b):
        first = min(len(a), len(b))
    setup = {k: (recorded.get("versions", {}).get(k), replayed.get("versions", {}).get(k))
             for k in set(recorded.get("versions", {})) | set(replayed.get("versions", {}))
             if recorded.get("versions", {}).get(k) != replayed.get("versions", {}).get(k)}
    return {"identical": first is None and recorded.get("pixels_sha256") == replayed.get("pixels_sha256"),
            "first_diverging_step": first, "steps": len(a), "setup_differences": setup,
            "weights_match": recorded.get("model_weights_sha256") == replayed.get("model_weights_sha256")}
